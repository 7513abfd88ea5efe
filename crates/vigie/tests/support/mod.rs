//! Helpers of the real-daemon MRT test (`tests/daemon_mrt.rs`).

pub mod bgpdump_replay;
pub mod daemon_lab;
pub mod vigie_cli;
