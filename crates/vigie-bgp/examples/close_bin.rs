//! The cost of closing one BGP bin at a full table's scale: each of
//! 150,000 origin ASes announces one /24 through one peer, which gives
//! about 300,000 series (each AS's visible /24s and announcements, plus
//! the countries and regions the embedded geo table puts them in). The
//! bins timed then close with no update in them, so what is measured is
//! writing every series out, the silent ones as 0 (`vigie_model::ZeroFill`).
//!
//! ```sh
//! cargo run --release -p vigie-bgp --example close_bin -- [ASES [BINS]]
//! ```
//!
//! Prints the series per bin and the best and median milliseconds per bin;
//! the figures go to docs/BENCHMARKS.md.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use ipnet::{IpNet, Ipv4Net};
use vigie_bgp::{VisibilityAccounting, VisibilityConfig};
use vigie_geo::GeoDb;

fn main() {
    let mut args = std::env::args().skip(1);
    let ases: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(150_000);
    let bins: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let geo = Arc::new(GeoDb::embedded());
    geo.preload();
    let config = VisibilityConfig {
        full_feed_v4: 0,
        full_feed_v6: 0,
        ..VisibilityConfig::default()
    };
    let mut accounting = VisibilityAccounting::new(config, geo);
    let collector = accounting.collector("bench");
    let peer = accounting.peer(collector, "192.0.2.1".parse().unwrap(), 64500);
    let start = 1_700_000_100;
    accounting.advance_to(start);
    for i in 0..ases {
        let block = Ipv4Addr::from(0x0100_0000 + (i << 8));
        let prefix = IpNet::V4(Ipv4Net::new(block, 24).unwrap());
        accounting.announce(peer, &prefix, None, Some(100_000 + i));
    }
    // The first bin counts the table (not timed).
    let first = accounting.advance_to(start + 300);
    let series = first.iter().map(|b| b.values.len()).max().unwrap_or(0);
    let mut ms = Vec::with_capacity(bins);
    for b in 0..bins as i64 {
        let started = Instant::now();
        let closed = accounting.advance_to(start + 600 + 300 * b);
        ms.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].values.len(), series, "every series every bin");
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "| BGP bin close, {ases} ASes | {series} | {:.1} | {:.1} |",
        ms[0],
        ms[ms.len() / 2]
    );
}
