//! The global send-rate cap: a token bucket.
//!
//! Tokens accrue at `rate_pps` per second up to `burst`; each probe takes one.
//! Over any interval of `t` seconds the bucket lets at most
//! `burst + rate_pps * t` probes through, which is the guarantee the
//! namespace test checks with nftables counters.

use std::time::Duration;

/// The highest probe rate accepted unless raised explicitly
/// ([`RateCeiling::raised_to`]): 20,000 probes/s. IODA's scale, 5.7 million
/// /24 blocks probed once per 10-minute round, needs about 9,500 probes/s
/// plus adaptive probes; a higher rate from one vantage point is more
/// likely a typo than a plan, and floods the networks probed.
pub const DEFAULT_MAX_RATE_PPS: u32 = 20_000;

/// The ceiling a probe rate must stay under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateCeiling(u32);

impl Default for RateCeiling {
    fn default() -> Self {
        RateCeiling(DEFAULT_MAX_RATE_PPS)
    }
}

impl RateCeiling {
    /// The explicit raise (or lowering) of the ceiling to `max_pps`.
    pub fn raised_to(max_pps: u32) -> RateCeiling {
        RateCeiling(max_pps.max(1))
    }

    /// The highest rate accepted, in probes per second.
    pub fn max_pps(self) -> u32 {
        self.0
    }

    /// Ok when `rate_pps` is within the ceiling; else says how to raise it.
    pub fn check(self, rate_pps: u32) -> Result<(), String> {
        if rate_pps <= self.0 {
            return Ok(());
        }
        let default = if self.0 == DEFAULT_MAX_RATE_PPS {
            " (the default ceiling)"
        } else {
            ""
        };
        Err(format!(
            "a rate of {rate_pps} probes/s is above the ceiling of {} probes/s{default}; \
             a higher rate must be allowed explicitly (RateCeiling::raised_to)",
            self.0
        ))
    }
}

/// A token bucket driven by a caller-supplied clock (elapsed time).
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate_pps: f64,
    burst: f64,
    tokens: f64,
    last: Duration,
}

impl TokenBucket {
    /// A bucket allowing `rate_pps` per second with bursts of `burst`
    /// (both at least 1), starting empty at `now` so a start never bursts.
    pub fn new(rate_pps: u32, burst: u32, now: Duration) -> TokenBucket {
        TokenBucket {
            rate_pps: f64::from(rate_pps.max(1)),
            burst: f64::from(burst.max(1)),
            tokens: 0.0,
            last: now,
        }
    }

    /// The configured rate.
    pub fn rate_pps(&self) -> f64 {
        self.rate_pps
    }

    fn refill(&mut self, now: Duration) {
        if now > self.last {
            let gained = (now - self.last).as_secs_f64() * self.rate_pps;
            self.tokens = (self.tokens + gained).min(self.burst);
            self.last = now;
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Duration) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Gives back a token taken for a probe that could not be sent.
    pub fn give_back(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.burst);
    }

    /// How long until the next token, from `now`.
    pub fn wait_for_token(&mut self, now: Duration) -> Duration {
        self.refill(now);
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.rate_pps)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14, finding 7: rates have a documented ceiling that only an
    /// explicit raise lifts.
    #[test]
    fn rates_above_the_ceiling_need_an_explicit_raise() {
        let ceiling = RateCeiling::default();
        assert_eq!(ceiling.max_pps(), DEFAULT_MAX_RATE_PPS);
        assert!(ceiling.check(DEFAULT_MAX_RATE_PPS).is_ok());
        let err = ceiling.check(DEFAULT_MAX_RATE_PPS + 1).unwrap_err();
        assert!(err.contains("ceiling of 20000"), "{err}");
        assert!(RateCeiling::raised_to(1_000_000).check(200_000).is_ok());
        assert!(RateCeiling::raised_to(0).check(1).is_ok());
    }

    #[test]
    fn never_more_than_burst_plus_rate_times_time() {
        let mut bucket = TokenBucket::new(1000, 10, Duration::ZERO);
        let mut sent = 0u32;
        // Ask every 100 µs for 2 s, as greedily as possible.
        for step in 0..=20_000u64 {
            let now = Duration::from_micros(step * 100);
            while bucket.try_take(now) {
                sent += 1;
            }
        }
        assert!(sent <= 10 + 2000, "{sent}");
        assert!(sent >= 1990, "{sent}");
    }

    #[test]
    fn idle_time_accrues_only_up_to_the_burst() {
        let mut bucket = TokenBucket::new(100, 5, Duration::ZERO);
        let mut n = 0;
        while bucket.try_take(Duration::from_secs(60)) {
            n += 1;
        }
        assert_eq!(n, 5);
        assert_eq!(
            bucket.wait_for_token(Duration::from_secs(60)),
            Duration::from_millis(10)
        );
        bucket.give_back();
        assert!(bucket.try_take(Duration::from_secs(60)));
    }
}
