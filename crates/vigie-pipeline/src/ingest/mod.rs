//! Files into the store.

pub mod mrt;
pub mod mrt_notes;
pub mod traffic;
