//! The zero-setup country tables, materialised from the `iptocc` crate (RIR
//! delegated statistics compiled into the binary) on first use.
//!
//! `iptocc` only answers point lookups, so the tables are built by looking
//! up one address per block:
//! - IPv4: the first address of every /24 (2^24 lookups), so the IPv4 table
//!   is exact at unit granularity;
//! - IPv6: the first address of every /32 inside the blocks IANA gave the
//!   RIRs (2001::/16, 2400::/12, 2600::/12, 2800::/12, 2a00::/12,
//!   2c00::/12), and every /48 of a /32 takes that /32's country. This is an
//!   approximation: a /32 split between countries below /32 is attributed
//!   wholly to the country of its first address, and space outside those
//!   blocks has no country.
//!
//! Each table is built once per process, the first time it is needed.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use vigie_model::CountryCode;

use crate::range_map::UnitRangeMap;
use crate::registry_country;

struct Built {
    map: UnitRangeMap<CountryCode>,
    build_time: Duration,
}

static V4: OnceLock<Built> = OnceLock::new();
static V6: OnceLock<Built> = OnceLock::new();

/// The IPv6 blocks whose /32s the embedded IPv6 table enumerates, as
/// (first 32 bits of the block, prefix length).
pub const EMBEDDED_V6_BLOCKS: [(u32, u8); 6] = [
    (0x2001_0000, 16),
    (0x2400_0000, 12),
    (0x2600_0000, 12),
    (0x2800_0000, 12),
    (0x2a00_0000, 12),
    (0x2c00_0000, 12),
];

/// The embedded IPv4 table, built on first call (about a second in an
/// optimised build: 2^24 lookups, split across the available cores).
pub(crate) fn v4_table() -> &'static UnitRangeMap<CountryCode> {
    &V4.get_or_init(|| timed(build_v4)).map
}

/// The embedded IPv6 table, built on first call.
pub(crate) fn v6_table() -> &'static UnitRangeMap<CountryCode> {
    &V6.get_or_init(|| timed(build_v6)).map
}

/// How long building each embedded table took in this process, as
/// `(ipv4, ipv6)`; `None` for a table not built yet.
pub fn embedded_build_times() -> (Option<Duration>, Option<Duration>) {
    (
        V4.get().map(|built| built.build_time),
        V6.get().map(|built| built.build_time),
    )
}

fn timed(build: fn() -> UnitRangeMap<CountryCode>) -> Built {
    let started = Instant::now();
    let map = build();
    Built {
        map,
        build_time: started.elapsed(),
    }
}

/// Country runs of IPv4 units `[first, last]`, one lookup per unit.
fn v4_runs(first: u32, last: u32) -> UnitRangeMap<CountryCode> {
    let mut runs = UnitRangeMap::new();
    let mut previous: Option<&'static str> = None;
    let mut previous_code: Option<CountryCode> = None;
    for unit in first..=last {
        let code = iptocc::country_code(Ipv4Addr::from(unit << 8));
        // iptocc hands out the same &'static str for a country, so most
        // lookups skip re-parsing the code.
        if code != previous {
            previous = code;
            previous_code = code.and_then(registry_country);
        }
        if let Some(country) = previous_code {
            runs.push_run(u64::from(unit), u64::from(unit), country);
        }
    }
    runs
}

fn build_v4() -> UnitRangeMap<CountryCode> {
    const UNITS: u32 = 1 << 24;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 16) as u32;
    let chunk = UNITS / threads;
    let bounds: Vec<(u32, u32)> = (0..threads)
        .map(|i| {
            let first = i * chunk;
            let last = if i + 1 == threads {
                UNITS - 1
            } else {
                first + chunk - 1
            };
            (first, last)
        })
        .collect();
    let parts: Vec<UnitRangeMap<CountryCode>> = std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .iter()
            .map(|&(first, last)| scope.spawn(move || v4_runs(first, last)))
            .collect();
        handles
            .into_iter()
            .zip(&bounds)
            // A lookup thread cannot panic on data it generates itself; if it
            // ever did, redo that chunk here rather than lose it.
            .map(|(handle, &(first, last))| handle.join().unwrap_or_else(|_| v4_runs(first, last)))
            .collect()
    });
    let mut map = UnitRangeMap::with_capacity(parts.iter().map(UnitRangeMap::len).sum());
    for part in parts {
        for (first, last, country) in part.iter() {
            map.push_run(first, last, country);
        }
    }
    map.finish();
    map
}

fn build_v6() -> UnitRangeMap<CountryCode> {
    let mut map = UnitRangeMap::new();
    for (block, prefix_len) in EMBEDDED_V6_BLOCKS {
        let count = 1u32 << (32 - prefix_len);
        let mut previous: Option<&'static str> = None;
        let mut previous_code: Option<CountryCode> = None;
        for offset in 0..count {
            let slash32 = block | offset;
            let addr = Ipv6Addr::from(u128::from(slash32) << 96);
            let code = iptocc::country_code(addr);
            if code != previous {
                previous = code;
                previous_code = code.and_then(registry_country);
            }
            if let Some(country) = previous_code {
                let first = u64::from(slash32) << 16;
                map.push_run(first, first | 0xffff, country);
            }
        }
    }
    map.finish();
    map
}
