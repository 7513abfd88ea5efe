//! A BMP station (RFC 7854): routers connect to vigie and stream the routes
//! their BGP peers send them.
//!
//! Each router connection keeps per-peer state ([`BmpRouter`]): which peers
//! are up, whether they use 4-octet AS numbers and ADD-PATH (from the OPENs
//! in the peer-up message), whether their End-of-RIB was seen. Route
//! monitoring of the global instance's pre-policy Adj-RIB-In becomes route
//! changes; a peer-down, or the router's connection ending, drops that
//! peer's routes. Post-policy, Adj-RIB-Out, VRF (RD) and Loc-RIB views are
//! counted and skipped: they would count the same routes twice or count
//! routes outside the global table. Anything that is not BMP version 3 on
//! the port is logged and the connection closed.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bgpkit_parser::models::{BgpMessage, CapabilityValue, ParamValue};
use bgpkit_parser::parser::bgp::messages::parse_bgp_message;
use bgpkit_parser::parser::bmp::messages::{
    parse_initiation_message, parse_peer_up_notification, parse_per_peer_header, BmpPeerType,
    BmpPerPeerHeader, PerPeerFlags,
};
use bytes::Bytes;
use rustc_hash::FxHashMap;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use vigie_model::UnixSecs;

use super::feed::{update_changes, Clock, LiveEvent, LivePeer};

/// Length of the BMP common header.
pub const COMMON_HEADER_LEN: usize = 6;
/// Largest BMP message accepted (a route monitoring message holds at most one 64 KiB BGP message).
pub const MAX_BMP_MESSAGE_LEN: usize = 1 << 20;

/// Which time a route-monitoring message is stamped with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BmpTime {
    /// When vigie received it (live use: bins follow vigie's clock).
    Receipt,
    /// The per-peer header's timestamp, when not zero (replays, tests).
    Header,
}

/// Counters of the station, shared by its connections.
#[derive(Debug, Default)]
pub struct BmpStats {
    /// Router connections accepted.
    pub connections: AtomicU64,
    /// BMP messages decoded.
    pub messages: AtomicU64,
    /// Route-monitoring messages applied.
    pub route_monitoring: AtomicU64,
    /// Route changes decoded.
    pub route_changes: AtomicU64,
    /// Peer-up notifications.
    pub peer_ups: AtomicU64,
    /// Peer-down notifications.
    pub peer_downs: AtomicU64,
    /// End-of-RIB markers seen.
    pub end_of_ribs: AtomicU64,
    /// Messages of views vigie does not count (post-policy, Adj-RIB-Out, RD, Loc-RIB).
    pub skipped_views: AtomicU64,
    /// Connections closed on garbage or a malformed message.
    pub errors: AtomicU64,
    /// Termination messages.
    pub terminations: AtomicU64,
}

/// State of one monitored peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BmpPeerState {
    /// The peer's AS.
    pub asn: u32,
    /// Whether the peer sends ADD-PATH path identifiers (from its peer-up OPENs).
    pub add_path: bool,
    /// Whether a peer-up was seen and no peer-down since.
    pub up: bool,
    /// Whether its End-of-RIB was seen.
    pub end_of_rib: bool,
    /// Route changes received from it.
    pub route_changes: u64,
}

/// What a message means for the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BmpAction {
    /// Go on reading.
    Continue,
    /// The router said goodbye (termination message).
    Terminate,
}

/// A BMP message that cannot be decoded: the connection is closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BmpError(pub String);

impl std::fmt::Display for BmpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a BMP common header; returns the message's total length and type.
pub fn check_common_header(header: &[u8]) -> Result<(usize, u8), BmpError> {
    let Some(header) = header.get(..COMMON_HEADER_LEN) else {
        return Err(BmpError("short BMP common header".into()));
    };
    if header[0] != 3 {
        return Err(BmpError(format!(
            "BMP version {} (only version 3 is spoken): not BMP, or an old router",
            header[0]
        )));
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if !(COMMON_HEADER_LEN..=MAX_BMP_MESSAGE_LEN).contains(&len) {
        return Err(BmpError(format!("BMP message length {len} out of range")));
    }
    if header[5] > 6 {
        return Err(BmpError(format!("unknown BMP message type {}", header[5])));
    }
    Ok((len, header[5]))
}

/// One router's BMP session state.
pub struct BmpRouter {
    collector: Arc<str>,
    time_source: BmpTime,
    peers: FxHashMap<IpAddr, BmpPeerState>,
    /// The router's sysName, from its initiation message.
    pub sys_name: Option<String>,
    stats: Arc<BmpStats>,
}

fn add_path_in(open: &BgpMessage, wanted_modes: &[u8]) -> Vec<(u16, u8)> {
    let mut families = Vec::new();
    let BgpMessage::Open(open) = open else {
        return families;
    };
    for param in &open.opt_params {
        let ParamValue::Capacities(capabilities) = &param.param_value else {
            continue;
        };
        for capability in capabilities {
            if let CapabilityValue::AddPath(cap) = &capability.value {
                for family in &cap.address_families {
                    if wanted_modes.contains(&(family.send_receive as u8)) {
                        families.push((family.afi as u16, family.safi as u8));
                    }
                }
            }
        }
    }
    families
}

impl BmpRouter {
    /// State for a router whose peers go into the routing table under `collector`.
    pub fn new(collector: &str, time_source: BmpTime, stats: Arc<BmpStats>) -> Self {
        BmpRouter {
            collector: Arc::from(collector),
            time_source,
            peers: FxHashMap::default(),
            sys_name: None,
            stats,
        }
    }

    /// The monitored peers and their state.
    pub fn peers(&self) -> &FxHashMap<IpAddr, BmpPeerState> {
        &self.peers
    }

    fn live_peer(&self, ip: IpAddr, asn: u32) -> LivePeer {
        LivePeer {
            collector: Arc::clone(&self.collector),
            ip,
            asn,
        }
    }

    fn time(&self, header: &BmpPerPeerHeader, received_at: UnixSecs) -> UnixSecs {
        match self.time_source {
            BmpTime::Header if header.timestamp > 0.0 => header.timestamp as UnixSecs,
            _ => received_at,
        }
    }

    /// Decodes one whole BMP message (common header included) received at
    /// `received_at`, appending the events it means to `out`.
    pub fn handle(
        &mut self,
        message: &[u8],
        received_at: UnixSecs,
        out: &mut Vec<LiveEvent>,
    ) -> Result<BmpAction, BmpError> {
        let (len, message_type) = check_common_header(message)?;
        let Some(body) = message.get(COMMON_HEADER_LEN..len) else {
            return Err(BmpError(format!(
                "BMP message declares {len} bytes, {} present",
                message.len()
            )));
        };
        let mut body = Bytes::copy_from_slice(body);
        self.stats.messages.fetch_add(1, Ordering::Relaxed);
        match message_type {
            4 => {
                let init = parse_initiation_message(&mut body)
                    .map_err(|e| BmpError(format!("bad initiation message: {e}")))?;
                for tlv in init.tlvs {
                    // Type 2 is sysName.
                    if u16::from(tlv.info_type) == 2 {
                        self.sys_name = Some(tlv.info);
                    }
                }
                Ok(BmpAction::Continue)
            }
            5 => {
                self.stats.terminations.fetch_add(1, Ordering::Relaxed);
                Ok(BmpAction::Terminate)
            }
            0..=3 => {
                let header = parse_per_peer_header(&mut body)
                    .map_err(|e| BmpError(format!("bad per-peer header: {e}")))?;
                let counted_view = match (&header.peer_type, &header.peer_flags) {
                    (BmpPeerType::Global, PerPeerFlags::PeerFlags(flags)) => {
                        !flags.is_post_policy() && !flags.is_adj_rib_out()
                    }
                    _ => false,
                };
                if !counted_view {
                    self.stats.skipped_views.fetch_add(1, Ordering::Relaxed);
                    return Ok(BmpAction::Continue);
                }
                let time = self.time(&header, received_at);
                let ip = header.peer_ip;
                let asn = header.peer_asn.to_u32();
                match message_type {
                    0 => self.route_monitoring(&header, body, time, out)?,
                    2 => {
                        self.stats.peer_downs.fetch_add(1, Ordering::Relaxed);
                        if let Some(state) = self.peers.get_mut(&ip) {
                            state.up = false;
                        }
                        out.push(LiveEvent::PeerDown {
                            time,
                            peer: self.live_peer(ip, asn),
                        });
                    }
                    3 => {
                        let up = parse_peer_up_notification(
                            &mut body,
                            &header.afi(),
                            &header.asn_length(),
                            Some(&header.peer_type),
                        )
                        .map_err(|e| BmpError(format!("bad peer-up notification: {e}")))?;
                        self.stats.peer_ups.fetch_add(1, Ordering::Relaxed);
                        // The peer sends path identifiers when it offered to
                        // send them and the router to receive them, in every family.
                        let peer_sends = add_path_in(&up.received_open, &[2, 3]);
                        let router_receives = add_path_in(&up.sent_open, &[1, 3]);
                        let add_path = !peer_sends.is_empty()
                            && peer_sends.iter().all(|f| router_receives.contains(f));
                        self.peers.insert(
                            ip,
                            BmpPeerState {
                                asn,
                                add_path,
                                up: true,
                                end_of_rib: false,
                                route_changes: 0,
                            },
                        );
                    }
                    _ => {}
                }
                Ok(BmpAction::Continue)
            }
            // Route mirroring (6) carries no routing state vigie uses.
            _ => Ok(BmpAction::Continue),
        }
    }

    fn route_monitoring(
        &mut self,
        header: &BmpPerPeerHeader,
        mut body: Bytes,
        time: UnixSecs,
        out: &mut Vec<LiveEvent>,
    ) -> Result<(), BmpError> {
        let ip = header.peer_ip;
        let asn = header.peer_asn.to_u32();
        let state = self.peers.entry(ip).or_insert(BmpPeerState {
            // A route for a peer whose peer-up vigie missed (it connected
            // later): take it, without ADD-PATH.
            asn,
            add_path: false,
            up: true,
            end_of_rib: false,
            route_changes: 0,
        });
        let message = parse_bgp_message(&mut body, state.add_path, &header.asn_length())
            .map_err(|e| BmpError(format!("bad BGP message in route monitoring: {e}")))?;
        let BgpMessage::Update(update) = message else {
            return Err(BmpError("route monitoring without an UPDATE".into()));
        };
        self.stats.route_monitoring.fetch_add(1, Ordering::Relaxed);
        if update.is_end_of_rib() {
            state.end_of_rib = true;
            self.stats.end_of_ribs.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let mut changes = Vec::new();
        update_changes(&update, &mut changes);
        if changes.is_empty() {
            return Ok(());
        }
        state.route_changes += changes.len() as u64;
        self.stats
            .route_changes
            .fetch_add(changes.len() as u64, Ordering::Relaxed);
        out.push(LiveEvent::Routes {
            time,
            peer: self.live_peer(ip, asn),
            changes,
        });
        Ok(())
    }

    /// The router's connection ended: every peer still up goes down.
    pub fn close(&mut self, time: UnixSecs, out: &mut Vec<LiveEvent>) {
        let mut peers: Vec<(IpAddr, u32)> = self
            .peers
            .iter()
            .filter(|(_, s)| s.up)
            .map(|(ip, s)| (*ip, s.asn))
            .collect();
        peers.sort();
        for (ip, asn) in peers {
            out.push(LiveEvent::PeerDown {
                time,
                peer: self.live_peer(ip, asn),
            });
        }
        self.peers.clear();
    }
}

/// Settings of the station.
#[derive(Clone, Debug)]
pub struct BmpConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Which time route-monitoring messages are stamped with.
    pub time_source: BmpTime,
}

/// A listening BMP station.
pub struct BmpStation {
    listener: TcpListener,
    config: BmpConfig,
    stats: Arc<BmpStats>,
    clock: Clock,
}

impl BmpStation {
    /// Binds the listening socket.
    pub async fn bind(config: BmpConfig, clock: Clock) -> std::io::Result<BmpStation> {
        let listener = TcpListener::bind(config.listen).await?;
        Ok(BmpStation {
            listener,
            config,
            stats: Arc::new(BmpStats::default()),
            clock,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<BmpStats> {
        Arc::clone(&self.stats)
    }

    /// Accepts router connections until the event channel closes.
    pub async fn run(self, events: mpsc::Sender<LiveEvent>) -> std::io::Result<()> {
        loop {
            let (stream, remote) = tokio::select! {
                accepted = self.listener.accept() => accepted?,
                _ = events.closed() => return Ok(()),
            };
            self.stats.connections.fetch_add(1, Ordering::Relaxed);
            let router = BmpRouter::new(
                &format!("bmp:{}", remote.ip()),
                self.config.time_source,
                Arc::clone(&self.stats),
            );
            let events = events.clone();
            let clock = Arc::clone(&self.clock);
            let stats = Arc::clone(&self.stats);
            tokio::spawn(async move {
                if let Err(error) = serve_router(stream, router, events, clock).await {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("vigie bmp: router {remote}: {error}; connection closed");
                }
            });
        }
    }
}

async fn serve_router(
    mut stream: TcpStream,
    mut router: BmpRouter,
    events: mpsc::Sender<LiveEvent>,
    clock: Clock,
) -> Result<(), BmpError> {
    let mut out = Vec::new();
    let result = loop {
        let mut header = [0u8; COMMON_HEADER_LEN];
        match stream.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break Ok(()),
            Err(e) => break Err(BmpError(format!("read error: {e}"))),
        }
        let len = match check_common_header(&header) {
            Ok((len, _)) => len,
            Err(e) => break Err(e),
        };
        let mut message = vec![0u8; len];
        message[..COMMON_HEADER_LEN].copy_from_slice(&header);
        if let Err(e) = stream.read_exact(&mut message[COMMON_HEADER_LEN..]).await {
            break Err(BmpError(format!("connection ended inside a message: {e}")));
        }
        let action = router.handle(&message, clock(), &mut out);
        for event in out.drain(..) {
            if events.send(event).await.is_err() {
                return Ok(());
            }
        }
        match action {
            Ok(BmpAction::Continue) => {}
            Ok(BmpAction::Terminate) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    router.close(clock(), &mut out);
    for event in out.drain(..) {
        let _ = events.send(event).await;
    }
    result
}
