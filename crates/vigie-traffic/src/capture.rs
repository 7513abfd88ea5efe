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
