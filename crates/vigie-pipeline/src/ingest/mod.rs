//! Files into the store.

pub mod mrt;
pub mod traffic;
