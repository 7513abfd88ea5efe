//! Files into the store.

pub mod mrt;
pub mod notes;
pub mod traffic;
