//! The prober: ICMP echo over a raw IPv4 socket on tokio, driving an
//! [`Engine`] under a global [`TokenBucket`] rate cap.
//!
//! Opening the socket needs `CAP_NET_RAW`; without it
//! [`IcmpSocket::open`] fails with [`ProbeError::Permission`], whose message
//! says how to grant it. Send errors never stop a round:
//! - a full socket buffer (`EAGAIN`, `ENOBUFS`) puts the probe back in the
//!   queue and waits a millisecond; its token is returned, so the rate cap
//!   still holds;
//! - no route, a refused send, an unreachable network (the vantage point is
//!   cut off): the probe is counted in [`RoundReport::send_errors`] and
//!   gives no evidence, so the blocks keep their beliefs; replies already
//!   received still count.
//!
//! The rate must stay under a [`RateCeiling`] ([`DEFAULT_MAX_RATE_PPS`](crate::rate::DEFAULT_MAX_RATE_PPS)
//! unless raised explicitly), and the host's own addresses are never
//! probed: a discovery scan leaves them out, and a round counts a probe to
//! one of them as not sent.

use std::io::{ErrorKind, Read};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use crate::engine::{Engine, RoundReport};
use crate::icmp::{parse_echo_reply, EchoProbe, ProbeCookie};
use crate::list::ListBuilder;
use crate::rate::{RateCeiling, TokenBucket};
use crate::safety::{host_addresses, TargetPolicy};

/// Errors that stop the prober.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The process may not open raw sockets.
    #[error(
        "cannot open a raw ICMP socket: {0}. Probing needs the CAP_NET_RAW capability: \
         run vigie as root, or grant it once with `sudo setcap cap_net_raw+ep $(which vigie)`"
    )]
    Permission(std::io::Error),
    /// Another socket error.
    #[error("raw ICMP socket: {context}: {source}")]
    Socket {
        /// What was being done.
        context: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// A configuration the prober refuses.
    #[error("{0}")]
    Config(String),
}

/// A non-blocking raw ICMP socket registered with tokio.
#[derive(Debug)]
pub struct IcmpSocket {
    fd: AsyncFd<Socket>,
}

impl IcmpSocket {
    /// Opens the socket; must run inside a tokio runtime with I/O enabled.
    /// The socket belongs to the network namespace of the calling thread.
    pub fn open() -> Result<IcmpSocket, ProbeError> {
        let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).map_err(|e| {
            if matches!(e.kind(), ErrorKind::PermissionDenied)
                || e.raw_os_error() == Some(libc::EPERM)
            {
                ProbeError::Permission(e)
            } else {
                ProbeError::Socket {
                    context: "creating it",
                    source: e,
                }
            }
        })?;
        let context = |context| move |source| ProbeError::Socket { context, source };
        socket
            .set_nonblocking(true)
            .map_err(context("making it non-blocking"))?;
        // Larger buffers absorb bursts of replies; the kernel caps them at
        // net.core.{r,w}mem_max, which is fine.
        let _ = socket.set_recv_buffer_size(8 << 20);
        let _ = socket.set_send_buffer_size(4 << 20);
        // SAFETY: the AsyncFd owns the socket, so the descriptor stays open
        // (and is not reused) until the AsyncFd deregisters it on drop.
        let fd = unsafe { AsyncFd::register(socket) }.map_err(|e| ProbeError::Socket {
            context: "registering it with tokio",
            source: e.into_parts().1,
        })?;
        Ok(IcmpSocket { fd })
    }

    /// Sends one ICMP message to `target`.
    pub fn send(&self, target: Ipv4Addr, packet: &[u8]) -> std::io::Result<usize> {
        let addr = SockAddr::from(SocketAddrV4::new(target, 0));
        self.fd.get_ref().send_to(packet, &addr)
    }

    /// Reads one packet if one is waiting (`WouldBlock` otherwise).
    pub fn try_recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut socket: &Socket = self.fd.get_ref();
        socket.read(buf)
    }

    /// Waits until the socket may have a packet, then clears readiness once
    /// `drain` has read everything.
    async fn wait_readable_then(&self, drain: impl FnOnce()) {
        if let Ok(mut guard) = self.fd.readable().await {
            drain();
            guard.clear_ready();
        }
    }
}

/// True for send errors that mean "try again later".
fn is_buffer_full(error: &std::io::Error) -> bool {
    error.kind() == ErrorKind::WouldBlock || error.raw_os_error() == Some(libc::ENOBUFS)
}

/// Describes a send error for a user.
fn describe_send_error(error: &std::io::Error, target: Ipv4Addr) -> String {
    let hint = match error.raw_os_error() {
        Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH) => {
            " (this vantage point has no route: check its network link and default route)"
        }
        Some(libc::EPERM) | Some(libc::EACCES) => {
            " (a local firewall refused the packet: check nftables/iptables output rules)"
        }
        _ => "",
    };
    format!("sending to {target}: {error}{hint}")
}

/// How the prober paces itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProberConfig {
    /// Global cap on probes per second.
    pub rate_pps: u32,
    /// Probes that may leave back to back after an idle spell (the bucket
    /// size); default `max(1, rate_pps / 100)`, i.e. 10 ms worth.
    pub burst: u32,
    /// Length of a round (IODA: 10 minutes).
    pub round: Duration,
}

impl ProberConfig {
    /// A config with the default burst and round.
    pub fn new(rate_pps: u32) -> ProberConfig {
        ProberConfig {
            rate_pps,
            burst: (rate_pps / 100).max(1),
            round: Duration::from_secs(600),
        }
    }
}

/// An engine bound to a socket and a rate cap.
#[derive(Debug)]
pub struct Prober {
    socket: IcmpSocket,
    engine: Engine,
    bucket: TokenBucket,
    epoch: Instant,
    config: ProberConfig,
    recv_buf: Vec<u8>,
    /// This host's addresses, sorted: never probed.
    own: Vec<Ipv4Addr>,
}

/// This host's addresses, or a configuration error.
fn own_addresses() -> Result<Vec<Ipv4Addr>, ProbeError> {
    host_addresses().map_err(|e| {
        ProbeError::Config(format!(
            "cannot list this host's addresses (getifaddrs), which must never be probed: {e}"
        ))
    })
}

impl Prober {
    /// A prober sending `engine`'s probes through `socket`, at a rate under
    /// the default ceiling ([`DEFAULT_MAX_RATE_PPS`](crate::rate::DEFAULT_MAX_RATE_PPS)).
    pub fn new(
        socket: IcmpSocket,
        engine: Engine,
        config: ProberConfig,
    ) -> Result<Prober, ProbeError> {
        Self::with_rate_ceiling(socket, engine, config, RateCeiling::default())
    }

    /// [`Prober::new`] with an explicit rate ceiling (to allow rates above
    /// [`DEFAULT_MAX_RATE_PPS`](crate::rate::DEFAULT_MAX_RATE_PPS)).
    pub fn with_rate_ceiling(
        socket: IcmpSocket,
        engine: Engine,
        config: ProberConfig,
        ceiling: RateCeiling,
    ) -> Result<Prober, ProbeError> {
        ceiling.check(config.rate_pps).map_err(ProbeError::Config)?;
        if config.rate_pps == 0 {
            return Err(ProbeError::Config(
                "the send rate must be at least 1 probe per second".into(),
            ));
        }
        if config.round.is_zero() {
            return Err(ProbeError::Config(
                "the round length must be positive".into(),
            ));
        }
        let epoch = Instant::now();
        Ok(Prober {
            socket,
            engine,
            bucket: TokenBucket::new(config.rate_pps, config.burst, Duration::ZERO),
            epoch,
            config,
            recv_buf: vec![0; 4096],
            own: own_addresses()?,
        })
    }

    /// The engine (beliefs, list).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn drain(socket: &IcmpSocket, engine: &mut Engine, buf: &mut [u8], now: Duration) {
        loop {
            match socket.try_recv(buf) {
                Ok(n) => {
                    let packet = buf.get(..n).unwrap_or(&[]);
                    engine.handle_packet(packet, now);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break, // WouldBlock, or an error we can only wait out.
            }
        }
    }

    /// Runs one round: paced periodic probes, adaptive probes, timeouts.
    /// Returns when the round's time is up and every probe is settled, or at
    /// the latest one round and one full probe budget of timeouts later.
    pub async fn run_round(&mut self) -> RoundReport {
        let start = self.epoch.elapsed();
        let round_end = start + self.config.round;
        let params = *self.engine.params();
        let budget_time = Duration::from_millis(
            u64::from(params.timeout_ms) * u64::from(params.max_probes_per_round),
        );
        let hard_end = round_end + budget_time;
        self.engine.start_round(start, self.config.round);
        loop {
            let now = self.epoch.elapsed();
            // Replies waiting in the socket count before timeouts: a busy
            // machine that read them late must not call their blocks dark.
            Self::drain(&self.socket, &mut self.engine, &mut self.recv_buf, now);
            self.engine.expire(now);
            let mut buffer_full = false;
            while self.bucket.try_take(now) {
                let Some(probe) = self.engine.next_probe(now) else {
                    self.bucket.give_back();
                    break;
                };
                if self.own.binary_search(&probe.target).is_ok() {
                    self.bucket.give_back();
                    let why = format!("{} is this host's own address: not probed", probe.target);
                    self.engine.probe_failed(&probe, &why);
                    continue;
                }
                match self.socket.send(probe.target, &probe.packet) {
                    Ok(_) => self.engine.probe_sent(&probe, now),
                    Err(e) if is_buffer_full(&e) => {
                        self.engine.probe_deferred(&probe);
                        self.bucket.give_back();
                        buffer_full = true;
                        break;
                    }
                    Err(e) => self
                        .engine
                        .probe_failed(&probe, &describe_send_error(&e, probe.target)),
                }
            }
            Self::drain(&self.socket, &mut self.engine, &mut self.recv_buf, now);
            let now = self.epoch.elapsed();
            if (self.engine.is_settled() && now >= round_end) || now >= hard_end {
                break;
            }
            let mut wake = if self.engine.is_settled() {
                round_end
            } else {
                self.engine.next_wakeup().unwrap_or(round_end)
            };
            if wake <= now {
                // Work is due but no token: wait for one.
                wake = now
                    + self
                        .bucket
                        .wait_for_token(now)
                        .max(Duration::from_micros(20));
            }
            if buffer_full {
                wake = wake.max(now + Duration::from_millis(1));
            }
            let wake = wake.min(hard_end);
            let sleep_for = wake.saturating_sub(now);
            let engine = &mut self.engine;
            let buf = &mut self.recv_buf;
            let socket = &self.socket;
            let epoch = self.epoch;
            tokio::select! {
                _ = socket.wait_readable_then(|| Self::drain(socket, engine, buf, epoch.elapsed())) => {}
                _ = tokio::time::sleep(sleep_for) => {}
            }
        }
        let now = self.epoch.elapsed();
        self.engine.finish_round(now)
    }
}

/// What a discovery scan found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiscoveryReport {
    /// Addresses probed per pass.
    pub addresses: u64,
    /// Probes sent in all.
    pub probes_sent: u64,
    /// Valid replies.
    pub replies: u64,
    /// Addresses that answered at least once.
    pub responsive: u64,
    /// Probes that could not be sent.
    pub send_errors: u64,
    /// The first send error.
    pub first_send_error: Option<String>,
    /// Addresses of the prefixes left out for being this host's own.
    pub own_addresses_excluded: u64,
}

/// The largest scan [`discover`] accepts: 2^24 addresses (a /8) per pass.
pub const MAX_DISCOVERY_ADDRESSES: u64 = 1 << 24;

/// The addresses a discovery of `prefixes` probes, sorted: every address
/// (except each /24's .0 and .255) of prefixes that `policy` accepts whole
/// ([`TargetPolicy::check_prefix`]: a prefix overlapping a refused range is
/// an error naming the parts that may be scanned), less `own` (this host's
/// addresses), with how many of `own` were left out.
pub fn discovery_targets(
    prefixes: &[Ipv4Net],
    policy: &TargetPolicy,
    own: &[Ipv4Addr],
) -> Result<(Vec<u32>, u64), ProbeError> {
    let mut addresses: Vec<u32> = Vec::new();
    for net in prefixes {
        policy
            .check_prefix(net)
            .map_err(|why| ProbeError::Config(format!("discovery of {net}: {why}")))?;
        let (first, last) = (u32::from(net.network()), u32::from(net.broadcast()));
        let count = u64::from(last - first) + 1;
        if addresses.len() as u64 + count > MAX_DISCOVERY_ADDRESSES {
            return Err(ProbeError::Config(format!(
                "discovery of more than {MAX_DISCOVERY_ADDRESSES} addresses per pass refused; scan fewer prefixes at a time"
            )));
        }
        addresses.extend((first..=last).filter(|a| !matches!(a & 0xff, 0 | 255)));
    }
    addresses.sort_unstable();
    addresses.dedup();
    let before = addresses.len();
    let own: std::collections::HashSet<u32> = own.iter().map(|&a| u32::from(a)).collect();
    addresses.retain(|a| !own.contains(a));
    let excluded = (before - addresses.len()) as u64;
    Ok((addresses, excluded))
}

/// Scans every address of `prefixes` (except each /24's .0 and .255, and
/// this host's own addresses) `passes` times at no more than `rate_pps`,
/// waiting `timeout` after each pass, and records each address's response
/// rate. Each prefix must be acceptable whole to `policy`
/// ([`discovery_targets`]), and `rate_pps` at most [`DEFAULT_MAX_RATE_PPS`](crate::rate::DEFAULT_MAX_RATE_PPS).
pub async fn discover(
    socket: &IcmpSocket,
    prefixes: &[Ipv4Net],
    passes: u32,
    rate_pps: u32,
    timeout: Duration,
    policy: &TargetPolicy,
) -> Result<(ListBuilder, DiscoveryReport), ProbeError> {
    discover_with_ceiling(
        socket,
        prefixes,
        passes,
        rate_pps,
        timeout,
        policy,
        RateCeiling::default(),
    )
    .await
}

/// [`discover`] with an explicit rate ceiling.
pub async fn discover_with_ceiling(
    socket: &IcmpSocket,
    prefixes: &[Ipv4Net],
    passes: u32,
    rate_pps: u32,
    timeout: Duration,
    policy: &TargetPolicy,
    ceiling: RateCeiling,
) -> Result<(ListBuilder, DiscoveryReport), ProbeError> {
    ceiling
        .check(rate_pps)
        .map_err(|why| ProbeError::Config(format!("discovery: {why}")))?;
    let (addresses, own_excluded) = discovery_targets(prefixes, policy, &own_addresses()?)?;
    let mut replies = vec![0u8; addresses.len()];
    let cookie = ProbeCookie::new();
    let ident = (std::process::id() as u16) ^ 0x5a5a;
    let epoch = Instant::now();
    let mut bucket = TokenBucket::new(rate_pps.max(1), (rate_pps / 100).max(1), Duration::ZERO);
    let mut report = DiscoveryReport {
        addresses: addresses.len() as u64,
        own_addresses_excluded: own_excluded,
        ..DiscoveryReport::default()
    };
    let mut buf = vec![0u8; 4096];
    let handle = |packet: &[u8], pass: u16, replies: &mut [u8], report: &mut DiscoveryReport| {
        let Ok(reply) = parse_echo_reply(packet) else {
            return;
        };
        let p = reply.probe;
        if p.ident != ident || p.seq != pass || !cookie.verify(&reply) {
            return;
        }
        if addresses.get(p.block_index as usize) == Some(&u32::from(reply.source)) {
            if let Some(count) = replies.get_mut(p.block_index as usize) {
                *count = count.saturating_add(1);
                report.replies += 1;
            }
        }
    };
    for pass in 0..passes.min(u32::from(u16::MAX)) {
        let pass = pass as u16;
        let mut next = 0usize;
        let mut pass_end: Option<Duration> = None;
        loop {
            let now = epoch.elapsed();
            while next < addresses.len() && bucket.try_take(now) {
                let target = Ipv4Addr::from(addresses[next]);
                let probe = EchoProbe {
                    ident,
                    seq: pass,
                    block_index: next as u32,
                    target,
                    cookie: cookie.cookie(ident, pass, next as u32, target),
                };
                match socket.send(target, &probe.to_bytes()) {
                    Ok(_) => {
                        report.probes_sent += 1;
                        next += 1;
                    }
                    Err(e) if is_buffer_full(&e) => {
                        bucket.give_back();
                        break;
                    }
                    Err(e) => {
                        report.send_errors += 1;
                        report
                            .first_send_error
                            .get_or_insert_with(|| describe_send_error(&e, target));
                        next += 1;
                    }
                }
            }
            while let Ok(n) = socket.try_recv(&mut buf) {
                handle(buf.get(..n).unwrap_or(&[]), pass, &mut replies, &mut report);
            }
            if next >= addresses.len() && pass_end.is_none() {
                pass_end = Some(now + timeout);
            }
            if pass_end.is_some_and(|end| now >= end) {
                break;
            }
            let wait = match pass_end {
                Some(end) => end.saturating_sub(now),
                None => bucket.wait_for_token(now).max(Duration::from_micros(50)),
            };
            tokio::select! {
                _ = socket.fd.readable() => {}
                _ = tokio::time::sleep(wait.min(Duration::from_millis(5))) => {}
            }
        }
    }
    let mut builder = ListBuilder::new();
    let passes = f32::from(passes.clamp(1, u32::from(u16::MAX)) as u16);
    for (addr, &count) in addresses.iter().zip(&replies) {
        if count > 0 {
            report.responsive += 1;
            builder.add(Ipv4Addr::from(*addr), (f32::from(count) / passes).min(1.0));
        }
    }
    Ok((builder, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<Ipv4Net> {
        list.iter().map(|p| p.parse().unwrap()).collect()
    }

    /// Issue 14, finding 7: `--discover 172.0.0.0/8` is refused whole (it
    /// contains 172.16.0.0/12), with the parts that may be scanned instead.
    #[test]
    fn discovery_refuses_prefixes_containing_reserved_space() {
        let policy = TargetPolicy::default();
        let err = discovery_targets(&nets(&["172.0.0.0/8"]), &policy, &[]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("discovery of 172.0.0.0/8"), "{text}");
        assert!(text.contains("172.16.0.0/12"), "{text}");
        assert!(text.contains("172.32.0.0/11"), "{text}");
        let err = discovery_targets(&nets(&["100.0.0.0/8"]), &policy, &[]).unwrap_err();
        assert!(err.to_string().contains("100.64.0.0/10"), "{err}");
        // The parts it names are accepted.
        let (targets, _) =
            discovery_targets(&nets(&["172.0.0.0/12", "172.32.0.0/11"]), &policy, &[]).unwrap();
        assert!(targets
            .iter()
            .all(|&a| crate::safety::SpecialRange::of(Ipv4Addr::from(a)).is_none()));
    }

    /// The host's own addresses are left out of a discovery.
    #[test]
    fn discovery_leaves_out_the_hosts_own_addresses() {
        let policy = TargetPolicy::default();
        let own: Vec<Ipv4Addr> = vec!["8.8.8.8".parse().unwrap(), "9.9.9.9".parse().unwrap()];
        let (targets, excluded) = discovery_targets(&nets(&["8.8.8.0/24"]), &policy, &own).unwrap();
        assert_eq!(excluded, 1);
        assert_eq!(targets.len(), 253);
        assert!(!targets.contains(&u32::from(own[0])));
        // Read from the system: whatever this host has is never a target.
        let system = host_addresses().unwrap();
        let lab = TargetPolicy {
            allow_private: true,
            allowed: vec!["127.0.0.0/8".parse().unwrap()],
        };
        let (targets, _) = discovery_targets(&nets(&["127.0.0.0/24"]), &lab, &system).unwrap();
        for addr in system.iter().filter(|a| a.octets()[..3] == [127, 0, 0]) {
            assert!(!targets.contains(&u32::from(*addr)), "{addr}");
        }
    }
}
