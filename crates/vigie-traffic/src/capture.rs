//! Reading packet captures (pcap and pcapng) and finding the IP packet,
//! or the UDP datagram, inside each frame.

use std::fs::File;
use std::io::{BufReader, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;

/// An error reading a capture file.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What happened.
        source: std::io::Error,
    },
    /// The file is not a pcap or pcapng capture, or its header is damaged.
    #[error("{path}: not a pcap or pcapng capture ({detail}); write captures with tcpdump -w or dumpcap")]
    NotACapture {
        /// The file.
        path: String,
        /// The reader's message.
        detail: String,
    },
}

/// One captured frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Capture time, seconds since the epoch (UTC).
    pub timestamp_secs: i64,
    /// The frame's link type (pcap LINKTYPE_ value).
    pub link: DataLink,
    /// The captured bytes.
    pub data: Vec<u8>,
}

/// Reads every frame of a pcap or pcapng file, calling `each` in file order.
///
/// A damaged record stops the reading: the frames before it are kept and
/// the returned [`CaptureSummary`] names the error and the frame number.
pub fn read_capture(
    path: &Path,
    mut each: impl FnMut(&Frame),
) -> Result<CaptureSummary, CaptureError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| CaptureError::Io {
        path: name.clone(),
        source,
    })?;
    read_capture_from(BufReader::new(file), &name, &mut each)
}

/// What reading a capture gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureSummary {
    /// Frames read.
    pub frames: u64,
    /// The error that stopped the reading early, naming the frame, if any.
    pub truncated: Option<String>,
}

/// Like [`read_capture`], from any reader; `name` is used in messages.
pub fn read_capture_from(
    mut reader: impl Read,
    name: &str,
    each: &mut dyn FnMut(&Frame),
) -> Result<CaptureSummary, CaptureError> {
    let mut magic = [0u8; 4];
    reader
        .read_exact(&mut magic)
        .map_err(|e| CaptureError::NotACapture {
            path: name.to_string(),
            detail: e.to_string(),
        })?;
    let chained = std::io::Cursor::new(magic).chain(reader);
    let mut summary = CaptureSummary::default();
    let not_capture = |e: pcap_file::PcapError| CaptureError::NotACapture {
        path: name.to_string(),
        detail: e.to_string(),
    };
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        let mut ng = PcapNgReader::new(chained).map_err(not_capture)?;
        while let Some(block) = ng.next_block() {
            let block = match block {
                Ok(b) => b,
                Err(e) => {
                    summary.truncated = Some(format!(
                        "{name}: damaged block after frame {}: {e}",
                        summary.frames
                    ));
                    break;
                }
            };
            let (interface, timestamp, data) = match block {
                Block::EnhancedPacket(p) => (p.interface_id, p.timestamp, p.data.into_owned()),
                Block::SimplePacket(p) => (0, std::time::Duration::ZERO, p.data.into_owned()),
                _ => continue,
            };
            let link = ng
                .interfaces()
                .get(interface as usize)
                .map(|i| i.linktype)
                .unwrap_or(DataLink::ETHERNET);
            summary.frames += 1;
            each(&Frame {
                timestamp_secs: timestamp.as_secs() as i64,
                link,
                data,
            });
        }
    } else {
        let mut pcap = PcapReader::new(chained).map_err(not_capture)?;
        let link = pcap.header().datalink;
        while let Some(packet) = pcap.next_packet() {
            match packet {
                Ok(p) => {
                    summary.frames += 1;
                    each(&Frame {
                        timestamp_secs: p.timestamp.as_secs() as i64,
                        link,
                        data: p.data.into_owned(),
                    });
                }
                Err(e) => {
                    summary.truncated = Some(format!(
                        "{name}: damaged record after frame {}: {e}",
                        summary.frames
                    ));
                    break;
                }
            }
        }
    }
    Ok(summary)
}

/// The IP layer of a frame, sliced leniently (truncated payloads are fine).
pub fn slice_ip(link: DataLink, data: &[u8]) -> Option<LaxSlicedPacket<'_>> {
    match link {
        DataLink::ETHERNET => LaxSlicedPacket::from_ethernet(data).ok(),
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => LaxSlicedPacket::from_ip(data).ok(),
        // Linux cooked capture: 16-byte header (v1), protocol in the last two bytes.
        DataLink::LINUX_SLL => data
            .get(16..)
            .and_then(|d| LaxSlicedPacket::from_ip(d).ok()),
        // BSD loopback: 4-byte address family.
        DataLink::NULL | DataLink::LOOP => {
            data.get(4..).and_then(|d| LaxSlicedPacket::from_ip(d).ok())
        }
        _ => None,
    }
}

/// A UDP datagram found in a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    /// Who sent it.
    pub src: SocketAddr,
    /// Where it went.
    pub dst: SocketAddr,
    /// The UDP payload.
    pub payload: &'a [u8],
}

/// The UDP datagram inside a frame, if it holds a complete, unfragmented one.
pub fn udp_datagram(link: DataLink, data: &[u8]) -> Option<UdpDatagram<'_>> {
    let packet = slice_ip(link, data)?;
    let (src, dst): (IpAddr, IpAddr) = match packet.net.as_ref()? {
        LaxNetSlice::Ipv4(v4) => (
            v4.header().source_addr().into(),
            v4.header().destination_addr().into(),
        ),
        LaxNetSlice::Ipv6(v6) => (
            v6.header().source_addr().into(),
            v6.header().destination_addr().into(),
        ),
        LaxNetSlice::Arp(_) => return None,
    };
    match packet.transport.as_ref()? {
        TransportSlice::Udp(udp) => Some(UdpDatagram {
            src: SocketAddr::new(src, udp.source_port()),
            dst: SocketAddr::new(dst, udp.destination_port()),
            payload: udp.payload(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
    use pcap_file::pcapng::PcapNgWriter;
    use std::borrow::Cow;
    use std::time::Duration;

    fn frame() -> Vec<u8> {
        let mut out = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([2, 132, 0, 1], [192, 0, 2, 9], 60)
            .udp(40000, 2055)
            .write(&mut out, b"payload")
            .unwrap();
        out
    }

    #[test]
    fn reads_pcapng_and_finds_the_udp_datagram() {
        let mut writer = PcapNgWriter::new(Vec::new()).unwrap();
        writer
            .write_pcapng_block(InterfaceDescriptionBlock {
                linktype: DataLink::ETHERNET,
                snaplen: 65535,
                options: vec![],
            })
            .unwrap();
        let data = frame();
        writer
            .write_pcapng_block(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: Duration::from_secs(1_700_000_123),
                original_len: data.len() as u32,
                data: Cow::Borrowed(&data),
                options: vec![],
            })
            .unwrap();
        let bytes = writer.into_inner();
        let mut frames = Vec::new();
        let summary =
            read_capture_from(&bytes[..], "t.pcapng", &mut |f| frames.push(f.clone())).unwrap();
        assert_eq!((summary.frames, summary.truncated), (1, None));
        assert_eq!(frames[0].timestamp_secs, 1_700_000_123);
        let udp = udp_datagram(frames[0].link, &frames[0].data).unwrap();
        assert_eq!(udp.src, "2.132.0.1:40000".parse().unwrap());
        assert_eq!(udp.dst, "192.0.2.9:2055".parse().unwrap());
        assert_eq!(udp.payload, b"payload");

        // Cut in the middle of the packet block: the frames before are kept
        // and the damage is reported, not a panic.
        let cut = &bytes[..bytes.len() - 10];
        let summary = read_capture_from(cut, "cut.pcapng", &mut |_| {}).unwrap();
        assert_eq!(summary.frames, 0);
        assert!(summary
            .truncated
            .unwrap()
            .starts_with("cut.pcapng: damaged block after frame 0"));
        assert!(matches!(
            read_capture_from(&b"hello world"[..], "x", &mut |_| {}),
            Err(CaptureError::NotACapture { .. })
        ));
    }
}
