//! Rate-limited warnings, so a flood of bad packets cannot flood the log.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Prints at most `per_window` messages per key per window to stderr, and
/// then one line saying how many were suppressed when the next window opens.
#[derive(Debug)]
pub struct RateLimitedLog<K: Hash + Eq> {
    window: Duration,
    per_window: u32,
    state: HashMap<K, WindowState>,
    quiet: bool,
}

#[derive(Debug)]
struct WindowState {
    opened: Instant,
    printed: u32,
    suppressed: u64,
}

impl<K: Hash + Eq + std::fmt::Display> RateLimitedLog<K> {
    /// At most `per_window` messages per key every `window`.
    pub fn new(window: Duration, per_window: u32) -> Self {
        RateLimitedLog {
            window,
            per_window,
            state: HashMap::new(),
            quiet: false,
        }
    }

    /// A log that prints nothing (tests, benchmarks); counts stay exact elsewhere.
    pub fn quiet() -> Self {
        let mut log = Self::new(Duration::from_secs(60), 0);
        log.quiet = true;
        log
    }

    /// Logs `message` about `key` unless its budget for this window is spent.
    /// Returns whether the message was printed.
    pub fn warn(&mut self, key: K, message: impl FnOnce() -> String) -> bool {
        if self.quiet {
            return false;
        }
        let now = Instant::now();
        let entry = self.state.entry(key);
        let key_text;
        let state = match entry {
            std::collections::hash_map::Entry::Occupied(o) => {
                key_text = o.key().to_string();
                o.into_mut()
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                key_text = v.key().to_string();
                v.insert(WindowState {
                    opened: now,
                    printed: 0,
                    suppressed: 0,
                })
            }
        };
        if now.duration_since(state.opened) >= self.window {
            if state.suppressed > 0 {
                eprintln!(
                    "vigie: {key_text}: {} more warnings were suppressed in the last {} s",
                    state.suppressed,
                    self.window.as_secs()
                );
            }
            state.opened = now;
            state.printed = 0;
            state.suppressed = 0;
        }
        if state.printed < self.per_window {
            state.printed += 1;
            eprintln!("vigie: {key_text}: {}", message());
            true
        } else {
            state.suppressed += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_per_key() {
        let mut log = RateLimitedLog::new(Duration::from_secs(3600), 2);
        assert!(log.warn("a", || "one".into()));
        assert!(log.warn("a", || "two".into()));
        assert!(!log.warn("a", || "three".into()));
        assert!(log.warn("b", || "other key".into()));
        let mut quiet = RateLimitedLog::<&str>::quiet();
        assert!(!quiet.warn("a", || "never".into()));
    }
}
