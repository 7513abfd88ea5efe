//! BGP as a route collector records it: one RIB dump (TABLE_DUMP_V2) at the
//! start and one gzip update file (BGP4MP) per UTC day, written with
//! bgpkit-parser's encoders, laid out like the RIPE RIS archive
//! (`rrc00/bview.YYYYMMDD.HHMM.gz`, `rrc00/updates.YYYYMMDD.HHMM.gz`).
//!
//! Several collector peers see every prefix of the world. Ordinary churn
//! re-announces prefixes with changed paths (and, now and then, a flap
//! withdrawn and re-announced within a minute); a blackout withdraws the
//! networks' prefixes at every peer, spread over a few minutes, and a
//! restoration announces them again; a burst re-announces many prefixes
//! at once.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use bgpkit_parser::encoder::{MrtRibEncoder, MrtUpdatesEncoder};
use bgpkit_parser::models::{AsPath, BgpElem, ElemType, NetworkPrefix, Origin};
use flate2::write::GzEncoder;
use flate2::Compression;
use ipnet::{IpNet, Ipv4Net};
use vigie_model::{format_utc, UnixSecs};

use crate::model::{EventKind, Scenario, COLLECTOR_PEERS};
use crate::world::Rng;
use crate::GenerateError;

/// The collector's name in the archive layout.
pub const COLLECTOR: &str = "rrc00";

/// One BGP message to write: time, peer index, prefix, announcement or
/// withdrawal, and a path variant.
#[derive(Clone, Copy, Debug)]
struct Update {
    at: f64,
    peer: usize,
    network: usize,
    prefix: Ipv4Net,
    announce: bool,
    variant: u32,
}

/// Name of an archive file for `kind` at `t`: `bview.20220105.0000.gz`.
fn file_name(kind: &str, t: UnixSecs) -> String {
    // format_utc gives 2022-01-05T00:00:00Z.
    let iso = format_utc(t);
    let digits: String = iso.chars().filter(|c| c.is_ascii_digit()).collect();
    let (date, time) = digits.split_at(8.min(digits.len()));
    format!("{kind}.{date}.{}.gz", time.get(..4).unwrap_or("0000"))
}

fn elem(scenario: &Scenario, update: &Update) -> BgpElem {
    let (peer_asn, peer_ip) = COLLECTOR_PEERS
        .get(update.peer)
        .copied()
        .unwrap_or(COLLECTOR_PEERS[0]);
    let world = &scenario.world;
    let origin = world
        .networks
        .get(update.network)
        .map(|n| n.asn)
        .unwrap_or(64_512);
    let upstreams = &world.upstreams;
    let upstream = upstreams
        .get((update.peer + update.variant as usize) % upstreams.len().max(1))
        .copied()
        .unwrap_or(1299);
    let mut path = vec![peer_asn];
    if upstream != peer_asn {
        path.push(upstream);
    }
    // Variants prepend the origin 0..2 times: a path change, same origin.
    for _ in 0..(update.variant % 3) {
        path.push(origin);
    }
    path.push(origin);
    let mut elem = BgpElem {
        timestamp: update.at,
        elem_type: if update.announce {
            ElemType::ANNOUNCE
        } else {
            ElemType::WITHDRAW
        },
        peer_ip: IpAddr::V4(peer_ip),
        peer_asn: peer_asn.into(),
        prefix: NetworkPrefix::new(IpNet::V4(update.prefix), None),
        next_hop: Some(IpAddr::V4(peer_ip)),
        ..Default::default()
    };
    if update.announce {
        elem.as_path = Some(AsPath::from_sequence(path));
        elem.origin = Some(Origin::IGP);
    }
    elem
}

fn gz_file(path: &Path) -> Result<GzEncoder<BufWriter<File>>, GenerateError> {
    let file = File::create(path).map_err(|e| GenerateError::io(path, e))?;
    Ok(GzEncoder::new(BufWriter::new(file), Compression::fast()))
}

fn finish(path: &Path, out: GzEncoder<BufWriter<File>>) -> Result<(), GenerateError> {
    out.finish()
        .and_then(|mut w| w.flush())
        .map_err(|e| GenerateError::io(path, e))
}

/// Writes the RIB dump and the daily update files under `dir/rrc00/`;
/// returns the collector folder and the number of updates written.
pub fn write_mrt(scenario: &Scenario, dir: &Path) -> Result<(PathBuf, u64), GenerateError> {
    let collector_dir = dir.join(COLLECTOR);
    std::fs::create_dir_all(&collector_dir).map_err(|e| GenerateError::io(&collector_dir, e))?;
    let start = scenario.period.start;
    let end = scenario.period.end;
    let networks = &scenario.world.networks;
    let peers = COLLECTOR_PEERS.len();

    // The RIB at the start: every prefix not withdrawn, at every peer.
    let mut rib = MrtRibEncoder::new();
    for (n, network) in networks.iter().enumerate() {
        if scenario.state(network, start).withdrawn {
            continue;
        }
        for prefix in &network.prefixes {
            for peer in 0..peers {
                let update = Update {
                    at: start as f64,
                    peer,
                    network: n,
                    prefix: *prefix,
                    announce: true,
                    variant: 0,
                };
                rib.process_elem(&elem(scenario, &update))
                    .map_err(|e| GenerateError::Encode(format!("RIB entry {prefix}: {e}")))?;
            }
        }
    }
    let rib_path = collector_dir.join(file_name("bview", start));
    let rib_bytes = rib
        .export_bytes()
        .map_err(|e| GenerateError::Encode(format!("the RIB dump: {e}")))?;
    let mut out = gz_file(&rib_path)?;
    out.write_all(&rib_bytes)
        .map_err(|e| GenerateError::io(&rib_path, e))?;
    finish(&rib_path, out)?;

    // Every update of the period, then one file per day.
    let mut updates: Vec<Update> = Vec::new();
    let mut rng = Rng::new(scenario.seed, 1);
    // Routing changes: minute by minute, each network's withdrawn state.
    for (n, network) in networks.iter().enumerate() {
        let mut withdrawn = scenario.state(network, start).withdrawn;
        let mut t = start + 60;
        while t < end {
            let now = scenario.state(network, t).withdrawn;
            if now != withdrawn {
                withdrawn = now;
                for prefix in &network.prefixes {
                    for peer in 0..peers {
                        // Withdrawals and announcements spread over ~3 minutes.
                        let at = t as f64 + rng.unit() * 180.0;
                        if at < end as f64 {
                            updates.push(Update {
                                at,
                                peer,
                                network: n,
                                prefix: *prefix,
                                announce: !now,
                                variant: 0,
                            });
                        }
                    }
                }
            }
            t += 60;
        }
    }
    // Ordinary churn, evenly spaced with jitter so the feed is never silent.
    let all_prefixes: Vec<(usize, Ipv4Net)> = networks
        .iter()
        .enumerate()
        .flat_map(|(n, net)| net.prefixes.iter().map(move |p| (n, *p)))
        .collect();
    let spacing = 3600.0 / scenario.world.bgp_churn_per_hour;
    let mut t = start as f64 + spacing * rng.unit();
    while t < end as f64 {
        let pick = rng.below(all_prefixes.len() as u64) as usize;
        if let Some(&(n, prefix)) = all_prefixes.get(pick) {
            let peer = rng.below(peers as u64) as usize;
            let network = &networks[n];
            let withdrawn = scenario.state(network, t as i64).withdrawn;
            let variant = rng.below(6) as u32;
            let flap = !withdrawn && rng.unit() < 0.1;
            // A flap stays inside its 5-minute bin: the bin's end state is unchanged.
            let bin_left = 300.0 - (t.rem_euclid(300.0));
            if flap && bin_left > 90.0 {
                updates.push(Update {
                    at: t,
                    peer,
                    network: n,
                    prefix,
                    announce: false,
                    variant,
                });
                updates.push(Update {
                    at: t + 30.0 + rng.unit() * 30.0,
                    peer,
                    network: n,
                    prefix,
                    announce: true,
                    variant,
                });
            } else {
                // A withdrawn prefix gets a repeated withdrawal, as real feeds send.
                updates.push(Update {
                    at: t,
                    peer,
                    network: n,
                    prefix,
                    announce: !withdrawn,
                    variant,
                });
            }
        }
        t += spacing * (0.7 + 0.6 * rng.unit());
    }
    // Bursts: re-announcements with new paths of the covered networks.
    for event in scenario
        .events
        .iter()
        .filter(|e| e.kind == EventKind::BgpUpdateBurst)
    {
        let covered: Vec<(usize, Ipv4Net)> = all_prefixes
            .iter()
            .copied()
            .filter(|(n, _)| event.covers(&networks[*n]))
            .collect();
        for window in &event.windows {
            for _ in 0..event.updates {
                let Some(&(n, prefix)) = covered.get(rng.below(covered.len() as u64) as usize)
                else {
                    break;
                };
                let at = window.start as f64 + rng.unit() * (window.end - window.start) as f64;
                if scenario.state(&networks[n], at as i64).withdrawn {
                    continue;
                }
                let peer = rng.below(peers as u64) as usize;
                updates.push(Update {
                    at,
                    peer,
                    network: n,
                    prefix,
                    announce: true,
                    variant: 1 + rng.below(5) as u32,
                });
            }
        }
    }
    updates.sort_by(|a, b| a.at.total_cmp(&b.at));
    let count = updates.len() as u64;
    let mut day_start = start - start.rem_euclid(86_400);
    let mut index = 0;
    while day_start < end {
        let day_end = day_start + 86_400;
        let mut encoder = MrtUpdatesEncoder::new();
        while let Some(update) = updates.get(index) {
            if update.at >= day_end as f64 {
                break;
            }
            encoder.process_elem(&elem(scenario, update));
            index += 1;
        }
        let path = collector_dir.join(file_name("updates", day_start.max(start)));
        let bytes = encoder.export_bytes().map_err(|e| {
            GenerateError::Encode(format!("updates of {}: {e}", format_utc(day_start)))
        })?;
        let mut out = gz_file(&path)?;
        out.write_all(&bytes)
            .map_err(|e| GenerateError::io(&path, e))?;
        finish(&path, out)?;
        day_start = day_end;
    }
    Ok((collector_dir, count))
}
