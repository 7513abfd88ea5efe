//! Traffic as a content network outside the country sees it: IPFIX export
//! datagrams in a pcap capture (what `vigie ingest pcap --mode flows`
//! reads, and what `vigie collect flows` would receive on UDP), and an nginx
//! access log in the combined format with the country's local time zone.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::Path;

use etherparse::{EtherType, Ethernet2Header, IpNumber, Ipv4Header, UdpHeader};
use ipnet::Ipv4Net;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::Endianness;
use vigie_model::UnixSecs;

use crate::model::{Network, Scenario};
use crate::world::Rng;
use crate::GenerateError;

/// The content network's own prefix (documentation space): traffic "from"
/// and "to" a country is traffic between it and this prefix.
pub const OWN_PREFIX: &str = "198.51.100.0/24";
/// The exporter's address in the capture.
pub const EXPORTER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
/// The collector's address in the capture.
pub const COLLECTOR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 3);
/// The IPFIX port.
pub const IPFIX_PORT: u16 = 4739;
/// Bytes per bin towards the whole country at the busiest hour.
const PEAK_BYTES_TO_COUNTRY: f64 = 6.0e9;
/// Upload is this fraction of download.
const UPLOAD_RATIO: f64 = 0.15;
/// Bytes per packet on average.
const BYTES_PER_PACKET: f64 = 1100.0;
const TEMPLATE_ID: u16 = 256;
const RECORD_LEN: usize = 24;
/// Generation step: one export per 5 minutes.
const STEP_SECS: i64 = 300;

/// A random address inside one of `network`'s prefixes, the prefix picked
/// in proportion to its size (so a /14 gets more clients than a /22).
pub fn random_address(network: &Network, rng: &mut Rng) -> Ipv4Addr {
    let total: u64 = network.prefixes.iter().map(prefix_size).sum();
    let mut pick = rng.below(total.max(1));
    for prefix in &network.prefixes {
        let size = prefix_size(prefix);
        if pick < size {
            let host = 1 + rng.below(size.saturating_sub(2).max(1));
            return Ipv4Addr::from(u32::from(prefix.network()).wrapping_add(host as u32));
        }
        pick -= size;
    }
    network
        .prefixes
        .first()
        .map(|p| p.network())
        .unwrap_or(Ipv4Addr::UNSPECIFIED)
}

fn prefix_size(prefix: &Ipv4Net) -> u64 {
    1u64 << (32 - u32::from(prefix.prefix_len()))
}

/// The flow capture: pcap-file's writer (little-endian, microseconds,
/// Ethernet) of frames whose headers etherparse writes.
struct Pcap {
    out: PcapWriter<BufWriter<File>>,
    ip_id: u16,
}

impl Pcap {
    fn create(path: &Path) -> Result<Pcap, GenerateError> {
        let file = File::create(path).map_err(|e| GenerateError::io(path, e))?;
        let header = PcapHeader {
            endianness: Endianness::Little,
            ..PcapHeader::default()
        };
        let out = PcapWriter::with_header(BufWriter::new(file), header)
            .map_err(|e| GenerateError::io(path, std::io::Error::other(e)))?;
        Ok(Pcap { out, ip_id: 0 })
    }

    /// One Ethernet/IPv4/UDP frame from the exporter to the collector (no
    /// UDP checksum, as exporters often send).
    fn udp(&mut self, at: UnixSecs, payload: &[u8]) -> std::io::Result<()> {
        let frame = udp_frame(self.ip_id, payload)?;
        self.ip_id = self.ip_id.wrapping_add(1);
        let at = std::time::Duration::from_secs(u64::from(at as u32));
        self.out
            .write_packet(&PcapPacket::new(at, frame.len() as u32, &frame))
            .map_err(std::io::Error::other)?;
        Ok(())
    }

    /// Writes out what is buffered.
    fn finish(self) -> std::io::Result<()> {
        self.out.into_writer().flush()
    }
}

/// An Ethernet/IPv4/UDP frame from [`EXPORTER`] to [`COLLECTOR`]'s IPFIX
/// port carrying `payload`, its IPv4 identification `ip_id`.
fn udp_frame(ip_id: u16, payload: &[u8]) -> std::io::Result<Vec<u8>> {
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let ethernet = Ethernet2Header {
        source: [0x02, 0, 0, 0, 0, 0x02],
        destination: [0x02, 0, 0, 0, 0, 0x03],
        ether_type: EtherType::IPV4,
    };
    let udp_len = u16::try_from(UdpHeader::LEN + payload.len())
        .map_err(|_| invalid(format!("a {}-byte datagram", payload.len())))?;
    let mut ip = Ipv4Header::new(
        udp_len,
        64,
        IpNumber::UDP,
        EXPORTER.octets(),
        COLLECTOR.octets(),
    )
    .map_err(|e| invalid(e.to_string()))?;
    ip.identification = ip_id;
    ip.dont_fragment = false;
    ip.header_checksum = ip.calc_header_checksum();
    let udp = UdpHeader {
        source_port: 50_000,
        destination_port: IPFIX_PORT,
        length: udp_len,
        checksum: 0,
    };
    let mut frame =
        Vec::with_capacity(Ethernet2Header::LEN + ip.header_len() + usize::from(udp_len));
    ethernet.write(&mut frame)?;
    ip.write(&mut frame)?;
    udp.write(&mut frame)?;
    frame.extend_from_slice(payload);
    Ok(frame)
}

/// One IPFIX message: header, the template set (sent with every message,
/// as exporters over UDP resend templates), one data set.
fn ipfix_message(
    export_time: UnixSecs,
    sequence: u32,
    records: &[(Ipv4Addr, Ipv4Addr, u64, u64)],
) -> Vec<u8> {
    let template_set_len = 4 + 4 + 4 * 4;
    let data_set_len = 4 + records.len() * RECORD_LEN;
    let total = 16 + template_set_len + data_set_len;
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&10u16.to_be_bytes());
    m.extend_from_slice(&(total as u16).to_be_bytes());
    m.extend_from_slice(&(export_time as u32).to_be_bytes());
    m.extend_from_slice(&sequence.to_be_bytes());
    m.extend_from_slice(&1u32.to_be_bytes()); // observation domain
                                              // Template set: sourceIPv4Address(8), destinationIPv4Address(12),
                                              // octetDeltaCount(1), packetDeltaCount(2).
    m.extend_from_slice(&2u16.to_be_bytes());
    m.extend_from_slice(&(template_set_len as u16).to_be_bytes());
    m.extend_from_slice(&TEMPLATE_ID.to_be_bytes());
    m.extend_from_slice(&4u16.to_be_bytes());
    for (id, len) in [(8u16, 4u16), (12, 4), (1, 8), (2, 8)] {
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&len.to_be_bytes());
    }
    m.extend_from_slice(&TEMPLATE_ID.to_be_bytes());
    m.extend_from_slice(&(data_set_len as u16).to_be_bytes());
    for (src, dst, bytes, packets) in records {
        m.extend_from_slice(&src.octets());
        m.extend_from_slice(&dst.octets());
        m.extend_from_slice(&bytes.to_be_bytes());
        m.extend_from_slice(&packets.to_be_bytes());
    }
    m
}

/// Writes the flow capture (`flows.pcap`); returns the number of flow records.
pub fn write_flows(scenario: &Scenario, path: &Path) -> Result<u64, GenerateError> {
    let mut pcap = Pcap::create(path)?;
    let mut rng = Rng::new(scenario.seed, 2);
    let world = &scenario.world;
    let own: Ipv4Net = OWN_PREFIX
        .parse()
        .map_err(|_| GenerateError::Encode("own prefix".into()))?;
    let mut sequence = 0u32;
    let mut total = 0u64;
    let mut t = scenario.period.start;
    while t < scenario.period.end {
        let mid = t + STEP_SECS / 2;
        let level = world.traffic_level(mid);
        let mut records = Vec::new();
        for network in &world.networks {
            let state = scenario.state(network, mid);
            let noise = (1.0 + world.noise * rng.normal()).max(0.05);
            let down_bytes =
                PEAK_BYTES_TO_COUNTRY * network.traffic_share * level * state.volume_factor * noise;
            let connections =
                world.flows_per_bin * network.traffic_share * level * state.flow_factor;
            for (towards_country, bytes) in [(true, down_bytes), (false, down_bytes * UPLOAD_RATIO)]
            {
                let flows = rng.poisson(connections).max(1);
                let per_flow = (bytes / flows as f64).max(64.0);
                for _ in 0..flows {
                    let far = random_address(network, &mut rng);
                    let near =
                        Ipv4Addr::from(u32::from(own.network()) + 10 + rng.below(200) as u32);
                    let b = (per_flow * (0.8 + 0.4 * rng.unit())).round() as u64;
                    let packets = ((b as f64) / BYTES_PER_PACKET).ceil().max(1.0) as u64;
                    let (src, dst) = if towards_country {
                        (near, far)
                    } else {
                        (far, near)
                    };
                    records.push((src, dst, b, packets));
                }
            }
        }
        // Datagrams of at most 50 records, captured in the middle of the bin.
        for chunk in records.chunks(50) {
            let message = ipfix_message(mid, sequence, chunk);
            pcap.udp(mid, &message)
                .map_err(|e| GenerateError::io(path, e))?;
            sequence = sequence.wrapping_add(chunk.len() as u32);
            total += chunk.len() as u64;
        }
        t += STEP_SECS;
    }
    pcap.finish().map_err(|e| GenerateError::io(path, e))?;
    Ok(total)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const PAGES: [&str; 6] = [
    "/",
    "/news",
    "/live",
    "/search?q=weather",
    "/static/app.js",
    "/api/feed",
];

/// `05/Jan/2022:16:30:00 +0600` for `t` in a zone `offset_secs` from UTC.
pub fn log_time(t: UnixSecs, offset_secs: i64) -> String {
    let local = t + offset_secs;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (year, month, day) = crate::clock::civil_from_days(days);
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let off = offset_secs.abs();
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} {sign}{:02}{:02}",
        MONTHS.get((month - 1) as usize).copied().unwrap_or("Jan"),
        secs / 3600,
        (secs / 60) % 60,
        secs % 60,
        off / 3600,
        (off / 60) % 60
    )
}

/// Writes the access log, gzip-compressed as logrotate leaves it
/// (`access.log.gz`), lines in time order; returns the number of lines.
pub fn write_access_log(scenario: &Scenario, path: &Path) -> Result<u64, GenerateError> {
    let file = File::create(path).map_err(|e| GenerateError::io(path, e))?;
    let mut out = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::fast());
    let mut rng = Rng::new(scenario.seed, 3);
    let world = &scenario.world;
    let mut lines = 0u64;
    let mut t = scenario.period.start;
    let mut batch: Vec<(UnixSecs, Ipv4Addr)> = Vec::new();
    while t < scenario.period.end {
        batch.clear();
        let mid = t + STEP_SECS / 2;
        let level = world.traffic_level(mid);
        for network in &world.networks {
            let state = scenario.state(network, mid);
            let mean =
                world.requests_per_bin * network.traffic_share * level * state.request_factor;
            for _ in 0..rng.poisson(mean) {
                let at = t + rng.below(STEP_SECS as u64) as i64;
                batch.push((at, random_address(network, &mut rng)));
            }
        }
        batch.sort_unstable();
        for (at, client) in &batch {
            let page = PAGES
                .get(rng.below(PAGES.len() as u64) as usize)
                .copied()
                .unwrap_or("/");
            writeln!(
                out,
                "{client} - - [{}] \"GET {page} HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0\"",
                log_time(*at, world.utc_offset_secs),
                500 + rng.below(40_000)
            )
            .map_err(|e| GenerateError::io(path, e))?;
            lines += 1;
        }
        t += STEP_SECS;
    }
    out.finish()
        .and_then(|mut w| w.flush())
        .map_err(|e| GenerateError::io(path, e))?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_times_are_local_with_their_offset() {
        // 2022-01-05T10:30:00Z is 16:30 in Almaty (UTC+6).
        assert_eq!(
            log_time(1_641_378_600, 6 * 3600),
            "05/Jan/2022:16:30:00 +0600"
        );
        assert_eq!(
            log_time(1_296_167_640, 2 * 3600),
            "28/Jan/2011:00:34:00 +0200"
        );
        assert_eq!(log_time(0, -3 * 3600 - 1800), "31/Dec/1969:20:30:00 -0330");
    }

    /// The capture as vigie wrote it by hand before pcap-file and
    /// etherparse: the same bytes, header and frames.
    fn written_by_hand(frames: &[(UnixSecs, u16, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 1] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        for (at, ip_id, payload) in frames {
            let udp_len = 8 + payload.len();
            let ip_len = 20 + udp_len;
            let mut frame = vec![0x02, 0, 0, 0, 0, 0x03, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00];
            let mut ip = [0u8; 20];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
            ip[4..6].copy_from_slice(&ip_id.to_be_bytes());
            ip[8] = 64;
            ip[9] = 17;
            ip[12..16].copy_from_slice(&EXPORTER.octets());
            ip[16..20].copy_from_slice(&COLLECTOR.octets());
            let sum = vigie_probe::icmp::internet_checksum(&ip);
            ip[10..12].copy_from_slice(&sum.to_be_bytes());
            frame.extend_from_slice(&ip);
            frame.extend_from_slice(&50_000u16.to_be_bytes());
            frame.extend_from_slice(&IPFIX_PORT.to_be_bytes());
            frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
            frame.extend_from_slice(&[0, 0]);
            frame.extend_from_slice(payload);
            for word in [*at as u32, 0, frame.len() as u32, frame.len() as u32] {
                out.extend_from_slice(&word.to_le_bytes());
            }
            out.extend_from_slice(&frame);
        }
        out
    }

    #[test]
    fn the_capture_is_byte_for_byte_what_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flows.pcap");
        let message = ipfix_message(
            1_641_378_750,
            7,
            &[
                (EXPORTER, COLLECTOR, 123_456, 789),
                (COLLECTOR, EXPORTER, 1, 1),
            ],
        );
        let mut pcap = Pcap::create(&path).unwrap();
        pcap.udp(1_641_378_750, &message).unwrap();
        pcap.udp(1_641_379_050, &message[..40]).unwrap();
        pcap.udp(1_641_379_350, b"").unwrap();
        pcap.finish().unwrap();
        let expected = written_by_hand(&[
            (1_641_378_750, 0, &message),
            (1_641_379_050, 1, &message[..40]),
            (1_641_379_350, 2, b""),
        ]);
        assert_eq!(std::fs::read(&path).unwrap(), expected);
    }
}
