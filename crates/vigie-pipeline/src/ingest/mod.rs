//! Files into the store.

pub mod archive;
pub mod mrt;
pub mod notes;
pub mod traffic;
