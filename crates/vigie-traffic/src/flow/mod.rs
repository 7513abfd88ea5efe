//! Flow records: decoding export datagrams and aggregating them into signals.

pub mod aggregate;
pub mod collector;
pub mod decode;
pub mod fastpath;
pub mod health;
pub mod limits;
pub mod pipeline;
