//! Active probing of the world: a hitlist file in the format `vigie probe
//! --targets` reads, and a simulated network that answers vigie-probe's own
//! [`Engine`] round after round: the engine chooses the probes and builds
//! the ICMP echo requests; the world answers with real ICMP echo replies
//! (IPv4 packets, as the raw socket reads them) when the block is
//! reachable, and the engine's Trinocular beliefs decide UP and DOWN.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use vigie_model::UnixSecs;
use vigie_probe::icmp::internet_checksum;
use vigie_probe::{BeliefParams, Engine, OutgoingProbe, ProbeList, RoundReport};

use crate::model::Scenario;
use crate::world::Rng;
use crate::GenerateError;

/// Round length, as IODA's prober (and `vigie probe`'s default): 10 minutes.
pub const ROUND_SECS: i64 = 600;
/// Fewest probe blocks per network.
pub const MIN_BLOCKS_PER_NETWORK: usize = 12;
/// Addresses listed per block (Trinocular needs 15 responsive ones).
const HOSTS_PER_BLOCK: u32 = 20;

/// How many probe blocks each network gets: `total` shared by /24 count,
/// at least [`MIN_BLOCKS_PER_NETWORK`] each (so one flapping block is not a
/// fifth of a network), at most the network's own /24s.
pub fn blocks_per_network(scenario: &Scenario) -> Vec<usize> {
    let networks = &scenario.world.networks;
    let total_24s: u64 = networks.iter().map(|n| n.slash24s()).sum::<u64>().max(1);
    networks
        .iter()
        .map(|n| {
            let share = n.slash24s() as f64 / total_24s as f64;
            let want = (share * scenario.world.probe_blocks as f64).round() as usize;
            want.max(MIN_BLOCKS_PER_NETWORK).min(n.slash24s() as usize)
        })
        .collect()
}

/// Writes the hitlist (`hitlist.txt`: address and response rate per line);
/// returns the number of blocks.
pub fn write_hitlist(scenario: &Scenario, path: &Path) -> Result<usize, GenerateError> {
    let mut rng = Rng::new(scenario.seed, 4);
    let mut text = String::from(
        "# vigie scenario hitlist: simulated responsiveness, never measured.\n\
         # It drives the simulated network of `vigie demo`; do not probe real networks with it.\n",
    );
    let mut blocks = 0;
    for (network, count) in scenario
        .world
        .networks
        .iter()
        .zip(blocks_per_network(scenario))
    {
        let mut chosen: Vec<u32> = Vec::new();
        let mut attempts = 0;
        while chosen.len() < count && attempts < count * 50 {
            attempts += 1;
            let addr = crate::traffic::random_address(network, &mut rng);
            let block = u32::from(addr) & !0xff;
            if !chosen.contains(&block) {
                chosen.push(block);
            }
        }
        chosen.sort_unstable();
        for block in chosen {
            blocks += 1;
            let mut hosts: Vec<u32> = Vec::new();
            while hosts.len() < HOSTS_PER_BLOCK as usize {
                let host = 1 + rng.below(254) as u32;
                if !hosts.contains(&host) {
                    hosts.push(host);
                }
            }
            hosts.sort_unstable();
            for host in hosts {
                let rate =
                    (scenario.world.probe_availability * (0.8 + 0.4 * rng.unit())).clamp(0.05, 1.0);
                let _ = writeln!(text, "{} {rate:.3}", Ipv4Addr::from(block | host));
            }
        }
    }
    std::fs::write(path, text).map_err(|e| GenerateError::io(path, e))?;
    Ok(blocks)
}

/// The echo reply a host sends to `probe`, as an IPv4 packet.
fn echo_reply(probe: &OutgoingProbe) -> Vec<u8> {
    let mut icmp = probe.packet.to_vec();
    if let Some(kind) = icmp.get_mut(0) {
        *kind = 0; // echo reply
    }
    if let Some(sum) = icmp.get_mut(2..4) {
        sum.copy_from_slice(&[0, 0]);
    }
    let sum = internet_checksum(&icmp);
    if let Some(field) = icmp.get_mut(2..4) {
        field.copy_from_slice(&sum.to_be_bytes());
    }
    let total = 20 + icmp.len();
    let mut packet = vec![0x45, 0];
    packet.extend_from_slice(&(total as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0, 0, 56, 1, 0, 0]);
    packet.extend_from_slice(&probe.target.octets());
    packet.extend_from_slice(&[198, 51, 100, 7]);
    let header_sum = internet_checksum(&packet);
    if let Some(field) = packet.get_mut(10..12) {
        field.copy_from_slice(&header_sum.to_be_bytes());
    }
    packet.extend_from_slice(&icmp);
    packet
}

/// Runs vigie-probe's engine over `list` against the simulated world, one
/// round every [`ROUND_SECS`] from the scenario's start, and calls
/// `on_round(round_end, engine, report)` after each round (the prober
/// stores per-entity counts and logs block changes there).
pub fn simulate_probing<E>(
    scenario: &Scenario,
    list: ProbeList,
    mut on_round: impl FnMut(UnixSecs, &Engine, &RoundReport) -> Result<(), E>,
) -> Result<u64, E> {
    let start = scenario.period.start;
    // Which network each block belongs to.
    let mut owner: HashMap<u32, usize> = HashMap::new();
    for block in list.blocks() {
        let network = u32::from(block.network_addr());
        if let Some(index) = scenario
            .world
            .networks
            .iter()
            .position(|n| n.prefixes.iter().any(|p| p.contains(&block.network_addr())))
        {
            owner.insert(network, index);
        }
    }
    let availability: HashMap<u32, f32> = list
        .blocks()
        .iter()
        .map(|b| (u32::from(b.network_addr()), b.availability))
        .collect();
    let mut engine = Engine::new(list, BeliefParams::default(), 0x7601, scenario.seed);
    let mut rng = Rng::new(scenario.seed, 5);
    let round = Duration::from_secs(ROUND_SECS as u64);
    let mut rounds = 0;
    let mut t = start;
    while t + ROUND_SECS <= scenario.period.end {
        let begin = Duration::from_secs((t - start) as u64);
        engine.start_round(begin, round);
        let mut now = begin;
        let deadline = begin + round;
        while !engine.is_settled() && now < deadline {
            engine.expire(now);
            while let Some(probe) = engine.next_probe(now) {
                engine.probe_sent(&probe, now);
                let block = u32::from(probe.target) & !0xff;
                let at = start + now.as_secs() as i64;
                let reachable = owner.get(&block).is_some_and(|&n| {
                    scenario.world.networks.get(n).is_some_and(|network| {
                        scenario.block_reachable(network, u64::from(block), at)
                    })
                });
                let host_up =
                    rng.unit() < f64::from(availability.get(&block).copied().unwrap_or(0.5));
                // Hosts that are up answer within the timeout.
                if reachable && host_up {
                    engine.handle_packet(&echo_reply(&probe), now);
                }
            }
            now = engine
                .next_wakeup()
                .unwrap_or(now)
                .max(now + Duration::from_millis(1));
        }
        let report = engine.finish_round(begin + round);
        rounds += 1;
        on_round(t + ROUND_SECS, &engine, &report)?;
        t += ROUND_SECS;
    }
    Ok(rounds)
}
