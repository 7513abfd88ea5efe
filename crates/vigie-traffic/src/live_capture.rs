//! Live capture of a darknet interface into the telescope (Linux).
//!
//! An `AF_PACKET` raw socket bound to one interface receives every frame
//! that arrives on it (frames the host itself sends are skipped: a
//! telescope counts what reaches it). Each frame goes to
//! [`Telescope::add_frame`] stamped with the wall clock, and bins are closed
//! by the clock `grace_secs` after they end, as the flow collector does.
//!
//! Opening the socket needs `CAP_NET_RAW`; without it the error says how to
//! grant it.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pcap_file::DataLink;
use vigie_model::{BinSink, SinkError, UnixSecs};

use crate::telescope::Telescope;

/// `ETH_P_ALL`: every protocol.
const ETH_P_ALL: u16 = 0x0003;
/// `PACKET_OUTGOING`: a frame this host sent.
const PACKET_OUTGOING: u8 = 4;
/// Largest frame read; longer ones are truncated, which keeps their headers.
const SNAPLEN: usize = 65_536;

/// An error of the live capture.
#[derive(Debug, thiserror::Error)]
pub enum LiveCaptureError {
    /// No such interface.
    #[error("no network interface named {0:?}; list them with `ip link`")]
    NoSuchInterface(String),
    /// The process may not open raw sockets.
    #[error(
        "capturing on {0} needs CAP_NET_RAW: run as root, or grant it once with \
         `sudo setcap cap_net_raw+ep $(command -v vigie)`"
    )]
    NotPermitted(String),
    /// Another system error.
    #[error("capturing on {interface}: {source}")]
    Io {
        /// The interface.
        interface: String,
        /// What happened.
        source: io::Error,
    },
    /// The bin sink (for example the store) failed.
    #[error("writing a telescope bin: {0}")]
    Sink(#[from] SinkError),
}

/// A raw socket receiving the frames that arrive on one interface.
pub struct LiveCapture {
    socket: OwnedFd,
    interface: String,
    buffer: Vec<u8>,
}

impl LiveCapture {
    /// Opens a capture on `interface`; reads wait at most `poll` so the
    /// caller can check its stop flag.
    pub fn open(interface: &str, poll: Duration) -> Result<LiveCapture, LiveCaptureError> {
        let name = CString::new(interface)
            .map_err(|_| LiveCaptureError::NoSuchInterface(interface.to_string()))?;
        // SAFETY: if_nametoindex reads a NUL-terminated string we own.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index == 0 {
            return Err(LiveCaptureError::NoSuchInterface(interface.to_string()));
        }
        let io_error = |source: io::Error| {
            if matches!(
                source.raw_os_error(),
                Some(libc::EPERM) | Some(libc::EACCES)
            ) {
                LiveCaptureError::NotPermitted(interface.to_string())
            } else {
                LiveCaptureError::Io {
                    interface: interface.to_string(),
                    source,
                }
            }
        };
        // SAFETY: a plain socket(2) call; the descriptor is owned at once.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_ALL.to_be()),
            )
        };
        if fd < 0 {
            return Err(io_error(io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
        let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        address.sll_family = libc::AF_PACKET as u16;
        address.sll_protocol = ETH_P_ALL.to_be();
        address.sll_ifindex = index as i32;
        // SAFETY: address is a valid sockaddr_ll of the size given.
        let bound = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                &address as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if bound != 0 {
            return Err(io_error(io::Error::last_os_error()));
        }
        let timeout = libc::timeval {
            tv_sec: poll.as_secs() as libc::time_t,
            tv_usec: poll.subsec_micros().max(1000) as libc::suseconds_t,
        };
        // SAFETY: timeout is a valid timeval of the size given.
        let set = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &timeout as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if set != 0 {
            return Err(io_error(io::Error::last_os_error()));
        }
        Ok(LiveCapture {
            socket,
            interface: interface.to_string(),
            buffer: vec![0; SNAPLEN],
        })
    }

    /// The interface captured.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The next frame that arrived on the interface, or `None` when none
    /// came within the poll time. Frames the host sent are skipped.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, LiveCaptureError> {
        loop {
            // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
            let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut from_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: the buffer and address outlive the call, sizes match.
            let received = unsafe {
                libc::recvfrom(
                    self.socket.as_raw_fd(),
                    self.buffer.as_mut_ptr() as *mut libc::c_void,
                    self.buffer.len(),
                    0,
                    &mut from as *mut libc::sockaddr_ll as *mut libc::sockaddr,
                    &mut from_len,
                )
            };
            if received < 0 {
                let error = io::Error::last_os_error();
                return match error.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Ok(None),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(LiveCaptureError::Io {
                        interface: self.interface.clone(),
                        source: error,
                    }),
                };
            }
            if from.sll_pkttype == PACKET_OUTGOING {
                continue;
            }
            let length = (received as usize).min(self.buffer.len());
            return Ok(self.buffer.get(..length));
        }
    }
}

/// The current time in whole Unix seconds.
fn now_secs() -> UnixSecs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as UnixSecs)
}

/// Records the telescope's counts so far as counters of the `metrics`
/// facade (absolute): `vigie_telescope_packets_total`,
/// `vigie_telescope_packets_kept_total` and
/// `vigie_telescope_packets_dropped_total{filter=…}`.
/// [`run_live_telescope`] calls it once a second.
pub fn record_telescope_stats(stats: &crate::telescope::TelescopeStats) {
    metrics::counter!("vigie_telescope_packets_total").absolute(stats.packets);
    metrics::counter!("vigie_telescope_packets_kept_total").absolute(stats.kept);
    for (reason, count) in &stats.dropped {
        metrics::counter!("vigie_telescope_packets_dropped_total", "filter" => reason.name())
            .absolute(*count);
    }
}

/// Feeds `capture` into `telescope` until `stop` is raised or `run_for`
/// has passed, handing each bin to `sink` `grace_secs` after it ends, and
/// every open bin at the end.
pub fn run_live_telescope(
    capture: &mut LiveCapture,
    telescope: &mut Telescope,
    grace_secs: i64,
    stop: &AtomicBool,
    run_for: Option<Duration>,
    sink: &mut dyn BinSink,
) -> Result<(), LiveCaptureError> {
    let started = std::time::Instant::now();
    let mut last_close = 0;
    // Ethernet framing: what AF_PACKET SOCK_RAW gives on Ethernet, veth and
    // loopback interfaces.
    let link = DataLink::ETHERNET;
    loop {
        if stop.load(Ordering::Relaxed) || run_for.is_some_and(|limit| started.elapsed() >= limit) {
            break;
        }
        if let Some(frame) = capture.next_frame()? {
            telescope.add_frame(now_secs(), link, frame);
        }
        let now = now_secs();
        if now != last_close {
            last_close = now;
            record_telescope_stats(telescope.stats());
            for bin in telescope.close_until(now - grace_secs) {
                sink.write(&bin)?;
            }
        }
    }
    for bin in telescope.close_all() {
        sink.write(&bin)?;
    }
    Ok(())
}
