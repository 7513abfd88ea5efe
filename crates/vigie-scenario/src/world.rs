//! What the world looks like at a given time: traffic level by local hour
//! and weekday, and each event's effect on each network. The generators
//! all ask these functions, so every format tells the same story.

use vigie_model::UnixSecs;

use crate::model::{EventKind, Network, Scenario, World};

/// A small deterministic random generator (SplitMix64): same seed, same draws.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` and a `stream` (one per generator, so adding
    /// draws to one format never changes another's).
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut rng = Rng(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        rng.next_u64();
        rng
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, n)`; 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// A standard normal draw (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A Poisson-distributed count of mean `mean` (normal approximation
    /// above 30).
    pub fn poisson(&mut self, mean: f64) -> u64 {
        if mean.is_nan() || mean <= 0.0 {
            return 0;
        }
        if mean > 30.0 {
            return (mean + mean.sqrt() * self.normal()).round().max(0.0) as u64;
        }
        let limit = (-mean).exp();
        let mut product = self.unit();
        let mut count = 0;
        while product > limit {
            product *= self.unit();
            count += 1;
        }
        count
    }
}

/// A stable hash of a few numbers (for per-block, per-time decisions that
/// must not depend on draw order).
pub fn hash64(parts: &[u64]) -> u64 {
    let mut rng = Rng(0x5eed);
    for part in parts {
        rng.0 ^= *part;
        rng.next_u64();
    }
    rng.next_u64()
}

/// A stable uniform number in [0, 1) from a few numbers.
pub fn hash_unit(parts: &[u64]) -> f64 {
    (hash64(parts) >> 11) as f64 / (1u64 << 53) as f64
}

impl World {
    /// The normal traffic level at `t` (0..1 of the busiest hour): the
    /// diurnal curve at the local hour (interpolated between hour centres)
    /// times the local weekday's factor.
    pub fn traffic_level(&self, t: UnixSecs) -> f64 {
        let local = t + self.utc_offset_secs;
        let secs_of_day = local.rem_euclid(86_400) as f64;
        let hour_pos = secs_of_day / 3600.0 - 0.5;
        let h0 = hour_pos.floor();
        let frac = hour_pos - h0;
        let at = |h: f64| {
            let index = (h as i64).rem_euclid(24) as usize;
            self.diurnal.get(index).copied().unwrap_or(1.0)
        };
        let daily = at(h0) * (1.0 - frac) + at(h0 + 1.0) * frac;
        // 1970-01-01 was a Thursday: Monday is day 0 four days later.
        let weekday = (local.div_euclid(86_400) + 3).rem_euclid(7) as usize;
        daily * self.weekly.get(weekday).copied().unwrap_or(1.0)
    }
}

/// The state of one network at one time, all events combined.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct NetworkState {
    /// Its routes are withdrawn.
    pub withdrawn: bool,
    /// Packets are blocked (blackout or data-plane blocking).
    pub blocked: bool,
    /// Share of traffic volume (bytes, packets) passing (1 = normal).
    pub volume_factor: f64,
    /// Share of connections (flow records) passing: throttling slows
    /// connections down without removing them; a block removes them.
    pub flow_factor: f64,
    /// Share of web requests arriving: a throttled page loads slowly but is
    /// still requested; a block removes the requests.
    pub request_factor: f64,
}

impl Scenario {
    /// What the events do to `network` at `t`. Events combine: volumes
    /// multiply; any blackout withdraws the routes; a block lets only the
    /// world's residual through.
    pub fn state(&self, network: &Network, t: UnixSecs) -> NetworkState {
        let mut state = NetworkState {
            withdrawn: false,
            blocked: false,
            volume_factor: 1.0,
            flow_factor: 1.0,
            request_factor: 1.0,
        };
        for event in &self.events {
            if !event.covers(network) || !event.active_at(t) {
                continue;
            }
            match event.kind {
                EventKind::Blackout | EventKind::DataPlaneBlocking => {
                    state.withdrawn |= event.kind == EventKind::Blackout;
                    state.blocked = true;
                }
                EventKind::Throttling => {
                    // Volumes fall; connections and requests keep arriving.
                    state.volume_factor *= event.to;
                }
                EventKind::BgpUpdateBurst => {}
            }
        }
        if state.blocked {
            state.volume_factor = self.world.residual;
            state.flow_factor = self.world.residual;
            state.request_factor = self.world.residual;
        }
        state
    }

    /// True when a probe to block `block_index` of `network` can be answered
    /// at `t`: always, unless the network is blocked and the block is not
    /// one of the residual (data-centre) blocks that still pass.
    pub fn block_reachable(&self, network: &Network, block: u64, t: UnixSecs) -> bool {
        let state = self.state(network, t);
        !state.blocked
            || hash_unit(&[self.seed, u64::from(network.asn), block]) < self.world.residual
    }
}
