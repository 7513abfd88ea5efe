//! A passive BGP speaker: routers and route collectors open sessions to
//! vigie, which receives their routes and never announces any.
//!
//! Per RFC 4271 with the capabilities vigie needs: 4-octet AS numbers
//! (RFC 6793), multiprotocol IPv4/IPv6 unicast (RFC 4760) and ADD-PATH
//! receive (RFC 7911). vigie waits for the peer's OPEN, answers with its own,
//! then keeps the session alive with KEEPALIVEs and a hold timer. Only the
//! peers listed in the configuration may connect; others get a NOTIFICATION
//! (Cease, Connection Rejected) and the connection is closed. A malformed
//! message gets the NOTIFICATION RFC 4271 prescribes and a clean close.
//!
//! The message checks ([`check_header`], [`negotiate`], [`decode_update`])
//! are plain functions, fuzzed without a network.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bgpkit_parser::models::capabilities::{
    AddPathAddressFamily, AddPathCapability, AddPathSendReceive, BgpCapabilityType,
    FourOctetAsCapability, MultiprotocolExtensionsCapability,
};
use bgpkit_parser::models::{
    Afi, AsnLength, BgpError, BgpMessage, BgpNotificationMessage, BgpOpenMessage, Capability,
    CapabilityValue, OptParam, ParamValue, Safi,
};
use bgpkit_parser::parser::bgp::messages::parse_bgp_message;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::feed::{update_changes, Clock, LiveEvent, LivePeer, RouteChange};

/// Length of the BGP header (marker, length, type).
pub const HEADER_LEN: usize = 19;
/// Largest BGP message without the extended-message capability (which vigie does not offer).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// The AS number sent in the OPEN's 2-octet field when the real one is larger (RFC 6793).
pub const AS_TRANS: u16 = 23456;

/// A peer allowed to open a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedPeer {
    /// Its address (the TCP source address of the session).
    pub ip: IpAddr,
    /// Its AS number; `None` accepts any.
    pub asn: Option<u32>,
}

/// Settings of the speaker.
#[derive(Clone, Debug)]
pub struct SpeakerConfig {
    /// Where to listen (179 is BGP's port).
    pub listen: SocketAddr,
    /// vigie's AS number.
    pub local_asn: u32,
    /// vigie's BGP identifier.
    pub router_id: Ipv4Addr,
    /// Hold time vigie proposes, in seconds (0 or at least 3).
    pub hold_time_secs: u16,
    /// Peers allowed to connect; everyone else is refused.
    pub peers: Vec<AllowedPeer>,
    /// Collector name of the sessions' peers in the routing table.
    pub collector: String,
    /// How long a new connection may take to send its OPEN, in seconds.
    pub open_timeout_secs: u64,
}

impl Default for SpeakerConfig {
    fn default() -> Self {
        SpeakerConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 179)),
            local_asn: 64_512,
            router_id: Ipv4Addr::new(192, 0, 2, 1),
            hold_time_secs: 90,
            peers: Vec::new(),
            collector: "speaker".to_string(),
            open_timeout_secs: 60,
        }
    }
}

/// Counters of the speaker, shared with its sessions.
#[derive(Debug, Default)]
pub struct SpeakerStats {
    /// Sessions that reached Established.
    pub sessions_established: AtomicU64,
    /// Sessions open now.
    pub sessions_up: AtomicU64,
    /// Established sessions where the peer sends ADD-PATH path identifiers.
    pub add_path_sessions: AtomicU64,
    /// Connections refused (unknown peer).
    pub refused: AtomicU64,
    /// UPDATE messages received.
    pub updates: AtomicU64,
    /// Route changes decoded from them.
    pub route_changes: AtomicU64,
    /// Malformed messages (each answered with a NOTIFICATION and a close).
    pub malformed: AtomicU64,
    /// NOTIFICATIONs received from peers.
    pub notifications_received: AtomicU64,
}

/// A BGP error to send in a NOTIFICATION before closing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// Error code (RFC 4271 section 4.5).
    pub code: u8,
    /// Error subcode.
    pub subcode: u8,
    /// Data field.
    pub data: Vec<u8>,
    /// What happened, for the log.
    pub reason: String,
}

impl Notification {
    fn new(code: u8, subcode: u8, data: Vec<u8>, reason: impl Into<String>) -> Self {
        Notification {
            code,
            subcode,
            data,
            reason: reason.into(),
        }
    }

    /// The NOTIFICATION message on the wire (bgpkit-parser's encoder).
    pub fn encode(&self) -> Vec<u8> {
        encode(BgpMessage::Notification(BgpNotificationMessage {
            error: BgpError::new(self.code, self.subcode),
            data: self.data.clone(),
        }))
    }
}

impl std::fmt::Display for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (NOTIFICATION code {} subcode {})",
            self.reason, self.code, self.subcode
        )
    }
}

/// A message on the wire, header included, by bgpkit-parser's encoder. The
/// messages vigie sends (a KEEPALIVE, its OPEN, a NOTIFICATION of a few
/// bytes) are far below the 65,535 bytes that could fail; were one over,
/// the empty message it gives is refused by the peer like a bad one.
fn encode(message: BgpMessage) -> Vec<u8> {
    message
        .encode(AsnLength::Bits32)
        .map(|bytes| bytes.to_vec())
        .unwrap_or_default()
}

/// A KEEPALIVE message.
pub fn keepalive() -> Vec<u8> {
    encode(BgpMessage::KeepAlive)
}

/// Checks a message header and returns the message's total length and type,
/// or the NOTIFICATION RFC 4271 prescribes (bad marker, length or type).
pub fn check_header(header: &[u8]) -> Result<(usize, u8), Notification> {
    let Some(header) = header.get(..HEADER_LEN) else {
        return Err(Notification::new(1, 2, Vec::new(), "short header"));
    };
    if header[..16].iter().any(|&b| b != 0xff) {
        return Err(Notification::new(
            1,
            1,
            Vec::new(),
            "marker is not all ones (connection not synchronized)",
        ));
    }
    let len = u16::from_be_bytes([header[16], header[17]]) as usize;
    let message_type = header[18];
    let min_len = match message_type {
        1 => 29,
        2 => 23,
        3 => 21,
        4 => 19,
        5 => 23,
        _ => {
            return Err(Notification::new(
                1,
                3,
                vec![message_type],
                format!("unknown message type {message_type}"),
            ))
        }
    };
    let bad_len =
        len < min_len || len > MAX_MESSAGE_LEN || (message_type == 4 && len != HEADER_LEN);
    if bad_len {
        return Err(Notification::new(
            1,
            2,
            (len as u16).to_be_bytes().to_vec(),
            format!("bad length {len} for message type {message_type}"),
        ));
    }
    Ok((len, message_type))
}

/// What the OPEN exchange settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The peer's AS number (from the 4-octet AS capability when present).
    pub peer_asn: u32,
    /// The peer's BGP identifier.
    pub peer_router_id: Ipv4Addr,
    /// Hold time in force, seconds (0: no keepalives, no hold timer).
    pub hold_time_secs: u16,
    /// AS numbers in AS_PATH are 4 octets.
    pub four_octet_as: bool,
    /// Address families both sides use: (AFI, SAFI) as numbers.
    pub families: Vec<(u16, u8)>,
    /// The peer sends path identifiers in every family (ADD-PATH).
    pub add_path: bool,
}

impl Negotiated {
    /// The AS number length of AS_PATH attributes in this session.
    pub fn asn_len(&self) -> AsnLength {
        if self.four_octet_as {
            AsnLength::Bits32
        } else {
            AsnLength::Bits16
        }
    }
}

const OUR_FAMILIES: [(u16, u8); 2] = [(1, 1), (2, 1)];

fn afi_safi(afi: Afi, safi: Safi) -> (u16, u8) {
    (afi as u16, safi as u8)
}

/// Reads the peer's OPEN (a whole message, header included) against the
/// configuration: version 4, an allowed AS, an acceptable hold time; and
/// settles the capabilities. Errors are the NOTIFICATION to send.
pub fn negotiate(
    message: &[u8],
    config: &SpeakerConfig,
    allowed_asn: Option<u32>,
) -> Result<Negotiated, Notification> {
    let mut bytes = Bytes::copy_from_slice(message);
    let open: BgpOpenMessage = match parse_bgp_message(&mut bytes, false, &AsnLength::Bits32) {
        Ok(BgpMessage::Open(open)) => open,
        Ok(_) => {
            return Err(Notification::new(
                5,
                1,
                Vec::new(),
                "expected an OPEN (finite state machine error in OpenSent)",
            ))
        }
        Err(error) => {
            return Err(Notification::new(
                2,
                0,
                Vec::new(),
                format!("malformed OPEN: {error}"),
            ))
        }
    };
    if open.version != 4 {
        return Err(Notification::new(
            2,
            1,
            4u16.to_be_bytes().to_vec(),
            format!("unsupported BGP version {}", open.version),
        ));
    }
    if open.hold_time == 1 || open.hold_time == 2 {
        return Err(Notification::new(
            2,
            6,
            Vec::new(),
            format!("unacceptable hold time {}", open.hold_time),
        ));
    }
    if open.bgp_identifier.is_unspecified() {
        return Err(Notification::new(
            2,
            3,
            Vec::new(),
            "bad BGP identifier 0.0.0.0",
        ));
    }
    let mut peer_asn = open.asn.to_u32();
    let mut four_octet_as = false;
    let mut peer_families: Vec<(u16, u8)> = Vec::new();
    let mut add_path_send: Vec<(u16, u8)> = Vec::new();
    for param in &open.opt_params {
        let ParamValue::Capacities(capabilities) = &param.param_value else {
            continue;
        };
        for capability in capabilities {
            match &capability.value {
                CapabilityValue::FourOctetAs(cap) => {
                    four_octet_as = true;
                    peer_asn = cap.asn;
                }
                CapabilityValue::MultiprotocolExtensions(cap) => {
                    peer_families.push(afi_safi(cap.afi, cap.safi));
                }
                CapabilityValue::AddPath(cap) => {
                    for family in &cap.address_families {
                        use bgpkit_parser::models::capabilities::AddPathSendReceive as Mode;
                        if matches!(family.send_receive, Mode::Send | Mode::SendReceive) {
                            add_path_send.push(afi_safi(family.afi, family.safi));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(expected) = allowed_asn {
        if expected != peer_asn {
            return Err(Notification::new(
                2,
                2,
                Vec::new(),
                format!("peer AS {peer_asn}, configured {expected}"),
            ));
        }
    }
    if peer_families.is_empty() {
        // No multiprotocol capability: IPv4 unicast only (RFC 4760).
        peer_families.push((1, 1));
    }
    let families: Vec<(u16, u8)> = OUR_FAMILIES
        .iter()
        .copied()
        .filter(|f| peer_families.contains(f))
        .collect();
    // bgpkit-parser decodes path identifiers for a whole message or not at
    // all, so ADD-PATH is used only when the peer sends it in every family.
    let add_path = !families.is_empty() && families.iter().all(|f| add_path_send.contains(f));
    let hold_time_secs = if open.hold_time == 0 || config.hold_time_secs == 0 {
        0
    } else {
        open.hold_time.min(config.hold_time_secs)
    };
    Ok(Negotiated {
        peer_asn,
        peer_router_id: open.bgp_identifier,
        hold_time_secs,
        four_octet_as,
        families,
        add_path,
    })
}

/// vigie's OPEN for a session with what [`negotiate`] settled, its
/// capabilities in one optional parameter (bgpkit-parser's encoder).
pub fn our_open(config: &SpeakerConfig, negotiated: &Negotiated) -> Vec<u8> {
    let families: Vec<(Afi, Safi)> = negotiated
        .families
        .iter()
        .filter_map(|&(afi, safi)| Some((Afi::try_from(afi).ok()?, Safi::try_from(safi).ok()?)))
        .collect();
    let capability = |ty, value| Capability { ty, value };
    let mut capabilities: Vec<Capability> = families
        .iter()
        .map(|&(afi, safi)| {
            capability(
                BgpCapabilityType::MULTIPROTOCOL_EXTENSIONS_FOR_BGP_4,
                CapabilityValue::MultiprotocolExtensions(MultiprotocolExtensionsCapability::new(
                    afi, safi,
                )),
            )
        })
        .collect();
    capabilities.push(capability(
        BgpCapabilityType::SUPPORT_FOR_4_OCTET_AS_NUMBER_CAPABILITY,
        CapabilityValue::FourOctetAs(FourOctetAsCapability::new(config.local_asn)),
    ));
    if negotiated.add_path {
        // Receive only: vigie never sends routes.
        let receive = families
            .iter()
            .map(|&(afi, safi)| AddPathAddressFamily {
                afi,
                safi,
                send_receive: AddPathSendReceive::Receive,
            })
            .collect();
        capabilities.push(capability(
            BgpCapabilityType::ADD_PATH_CAPABILITY,
            CapabilityValue::AddPath(AddPathCapability::new(receive)),
        ));
    }
    let my_as = u16::try_from(config.local_asn).unwrap_or(AS_TRANS);
    encode(BgpMessage::Open(BgpOpenMessage {
        version: 4,
        asn: my_as.into(),
        hold_time: negotiated.hold_time_secs,
        bgp_identifier: config.router_id,
        extended_length: false,
        opt_params: vec![OptParam {
            param_type: 2,
            param_value: ParamValue::Capacities(capabilities),
        }],
    }))
}

/// Decodes an UPDATE (a whole message, header included) into route changes;
/// an error is the NOTIFICATION to send (UPDATE Message Error).
pub fn decode_update(
    message: &[u8],
    negotiated: &Negotiated,
    out: &mut Vec<RouteChange>,
) -> Result<(), Notification> {
    let mut bytes = Bytes::copy_from_slice(message);
    match parse_bgp_message(&mut bytes, negotiated.add_path, &negotiated.asn_len()) {
        Ok(BgpMessage::Update(update)) => {
            update_changes(&update, out);
            Ok(())
        }
        Ok(_) => Err(Notification::new(1, 3, Vec::new(), "not an UPDATE")),
        Err(error) => Err(Notification::new(
            3,
            1,
            Vec::new(),
            format!("malformed UPDATE: {error}"),
        )),
    }
}

/// A listening speaker.
pub struct Speaker {
    listener: TcpListener,
    config: Arc<SpeakerConfig>,
    stats: Arc<SpeakerStats>,
    collector: Arc<str>,
    clock: Clock,
}

impl Speaker {
    /// Binds the listening socket.
    pub async fn bind(config: SpeakerConfig, clock: Clock) -> std::io::Result<Speaker> {
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Speaker {
            listener,
            collector: Arc::from(config.collector.as_str()),
            config: Arc::new(config),
            stats: Arc::new(SpeakerStats::default()),
            clock,
        })
    }

    /// The address it listens on (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<SpeakerStats> {
        Arc::clone(&self.stats)
    }

    /// Accepts sessions until the event channel closes; each session runs in its own task.
    pub async fn run(self, events: mpsc::Sender<LiveEvent>) -> std::io::Result<()> {
        loop {
            let (stream, remote) = tokio::select! {
                accepted = self.listener.accept() => accepted?,
                _ = events.closed() => return Ok(()),
            };
            let session = Session {
                config: Arc::clone(&self.config),
                stats: Arc::clone(&self.stats),
                collector: Arc::clone(&self.collector),
                clock: Arc::clone(&self.clock),
                events: events.clone(),
            };
            tokio::spawn(async move {
                if let Err(error) = session.run(stream, remote).await {
                    eprintln!("vigie speaker: session with {remote}: {error}");
                }
            });
        }
    }
}

struct Session {
    config: Arc<SpeakerConfig>,
    stats: Arc<SpeakerStats>,
    collector: Arc<str>,
    clock: Clock,
    events: mpsc::Sender<LiveEvent>,
}

/// Why a session ended.
#[derive(Debug)]
enum SessionEnd {
    /// vigie sent this NOTIFICATION.
    Sent(Notification),
    /// The peer sent a NOTIFICATION.
    Received(u8, u8),
    /// The connection closed or failed.
    Closed(String),
    /// vigie is shutting down.
    Shutdown,
}

/// Reads whole messages from the socket, checking headers; runs in its own
/// task so that the session loop can wait on timers at the same time.
async fn read_messages(
    mut reader: tokio::net::tcp::OwnedReadHalf,
    frames: mpsc::Sender<Result<(u8, Vec<u8>), SessionEnd>>,
) {
    loop {
        let mut header = [0u8; HEADER_LEN];
        if let Err(error) = reader.read_exact(&mut header).await {
            let _ = frames
                .send(Err(SessionEnd::Closed(format!(
                    "connection closed: {error}"
                ))))
                .await;
            return;
        }
        let (len, message_type) = match check_header(&header) {
            Ok(checked) => checked,
            Err(notification) => {
                let _ = frames.send(Err(SessionEnd::Sent(notification))).await;
                return;
            }
        };
        let mut message = vec![0u8; len];
        message[..HEADER_LEN].copy_from_slice(&header);
        if let Err(error) = reader.read_exact(&mut message[HEADER_LEN..]).await {
            let _ = frames
                .send(Err(SessionEnd::Closed(format!(
                    "connection closed inside a message: {error}"
                ))))
                .await;
            return;
        }
        if frames.send(Ok((message_type, message))).await.is_err() {
            return;
        }
    }
}

impl Session {
    async fn run(self, stream: TcpStream, remote: SocketAddr) -> std::io::Result<()> {
        let _ = stream.set_nodelay(true);
        let remote_ip = canonical(remote.ip());
        let allowed = self
            .config
            .peers
            .iter()
            .find(|p| canonical(p.ip) == remote_ip);
        let (reader, mut writer) = stream.into_split();
        let Some(allowed) = allowed.cloned() else {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            let refusal = Notification::new(6, 5, Vec::new(), "peer not in the configuration");
            eprintln!("vigie speaker: refused {remote}: {refusal}");
            writer.write_all(&refusal.encode()).await?;
            writer.shutdown().await?;
            return Ok(());
        };
        let (frame_tx, mut frames) = mpsc::channel(64);
        let reader_task = tokio::spawn(read_messages(reader, frame_tx));
        let mut peer: Option<LivePeer> = None;
        let end = self
            .converse(&mut writer, &mut frames, &allowed, remote_ip, &mut peer)
            .await;
        reader_task.abort();
        if let SessionEnd::Sent(notification) = &end {
            if notification.code != 6 && notification.code != 4 {
                self.stats.malformed.fetch_add(1, Ordering::Relaxed);
            }
            let _ = writer.write_all(&notification.encode()).await;
        }
        let _ = writer.shutdown().await;
        if let Some(peer) = peer {
            self.stats.sessions_up.fetch_sub(1, Ordering::Relaxed);
            let _ = self
                .events
                .send(LiveEvent::PeerDown {
                    time: (self.clock)(),
                    peer,
                })
                .await;
        }
        match end {
            SessionEnd::Shutdown => Ok(()),
            SessionEnd::Sent(n) => Err(std::io::Error::other(format!("closed: {n}"))),
            SessionEnd::Received(code, subcode) => Err(std::io::Error::other(format!(
                "peer sent NOTIFICATION code {code} subcode {subcode}"
            ))),
            SessionEnd::Closed(why) => Err(std::io::Error::other(why)),
        }
    }

    async fn converse(
        &self,
        writer: &mut tokio::net::tcp::OwnedWriteHalf,
        frames: &mut mpsc::Receiver<Result<(u8, Vec<u8>), SessionEnd>>,
        allowed: &AllowedPeer,
        remote_ip: IpAddr,
        established_peer: &mut Option<LivePeer>,
    ) -> SessionEnd {
        // OpenSent-like: wait for the peer's OPEN.
        let open_wait = Duration::from_secs(self.config.open_timeout_secs.max(1));
        let open = match tokio::time::timeout(open_wait, frames.recv()).await {
            Err(_) => {
                return SessionEnd::Sent(Notification::new(4, 0, Vec::new(), "no OPEN in time"))
            }
            Ok(None) => return SessionEnd::Closed("connection closed before OPEN".into()),
            Ok(Some(Err(end))) => return end,
            Ok(Some(Ok((1, message)))) => message,
            Ok(Some(Ok((3, message)))) => {
                self.stats
                    .notifications_received
                    .fetch_add(1, Ordering::Relaxed);
                return received(&message);
            }
            Ok(Some(Ok((other, _)))) => {
                return SessionEnd::Sent(Notification::new(
                    5,
                    1,
                    Vec::new(),
                    format!("message type {other} before OPEN"),
                ))
            }
        };
        let negotiated = match negotiate(&open, &self.config, allowed.asn) {
            Ok(n) => n,
            Err(notification) => return SessionEnd::Sent(notification),
        };
        if let Err(error) = writer.write_all(&our_open(&self.config, &negotiated)).await {
            return SessionEnd::Closed(format!("cannot send OPEN: {error}"));
        }
        if let Err(error) = writer.write_all(&keepalive()).await {
            return SessionEnd::Closed(format!("cannot send KEEPALIVE: {error}"));
        }
        let hold = (negotiated.hold_time_secs > 0)
            .then(|| Duration::from_secs(negotiated.hold_time_secs as u64));
        // Before the first KEEPALIVE the hold timer is the large one RFC 4271 suggests.
        let mut deadline = tokio::time::Instant::now() + Duration::from_secs(240);
        let keepalive_every = hold.map(|h| (h / 3).max(Duration::from_secs(1)));
        let mut keepalive_timer =
            tokio::time::interval(keepalive_every.unwrap_or(Duration::from_secs(3600)));
        keepalive_timer.tick().await;
        let peer = LivePeer {
            collector: Arc::clone(&self.collector),
            ip: remote_ip,
            asn: negotiated.peer_asn,
        };
        let mut established = false;
        let mut changes = Vec::new();
        loop {
            let frame = tokio::select! {
                frame = frames.recv() => frame,
                _ = keepalive_timer.tick(), if keepalive_every.is_some() => {
                    if let Err(error) = writer.write_all(&keepalive()).await {
                        return SessionEnd::Closed(format!("cannot send KEEPALIVE: {error}"));
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(deadline), if hold.is_some() || !established => {
                    return SessionEnd::Sent(Notification::new(4, 0, Vec::new(), "hold timer expired"));
                }
                _ = self.events.closed() => return SessionEnd::Shutdown,
            };
            let (message_type, message) = match frame {
                None => return SessionEnd::Closed("connection closed".into()),
                Some(Err(end)) => return end,
                Some(Ok(frame)) => frame,
            };
            if let Some(hold) = hold {
                deadline = tokio::time::Instant::now() + hold;
            }
            match message_type {
                4 if !established => {
                    established = true;
                    self.stats
                        .sessions_established
                        .fetch_add(1, Ordering::Relaxed);
                    self.stats.sessions_up.fetch_add(1, Ordering::Relaxed);
                    if negotiated.add_path {
                        self.stats.add_path_sessions.fetch_add(1, Ordering::Relaxed);
                    }
                    *established_peer = Some(peer.clone());
                }
                4 => {}
                2 if established => {
                    self.stats.updates.fetch_add(1, Ordering::Relaxed);
                    changes.clear();
                    if let Err(notification) = decode_update(&message, &negotiated, &mut changes) {
                        return SessionEnd::Sent(notification);
                    }
                    if changes.is_empty() {
                        continue;
                    }
                    self.stats
                        .route_changes
                        .fetch_add(changes.len() as u64, Ordering::Relaxed);
                    let event = LiveEvent::Routes {
                        time: (self.clock)(),
                        peer: peer.clone(),
                        changes: std::mem::take(&mut changes),
                    };
                    if self.events.send(event).await.is_err() {
                        return SessionEnd::Shutdown;
                    }
                }
                3 => {
                    self.stats
                        .notifications_received
                        .fetch_add(1, Ordering::Relaxed);
                    return received(&message);
                }
                5 if established => {}
                other => {
                    return SessionEnd::Sent(Notification::new(
                        5,
                        if established { 3 } else { 2 },
                        Vec::new(),
                        format!("unexpected message type {other}"),
                    ))
                }
            }
        }
    }
}

fn received(message: &[u8]) -> SessionEnd {
    let code = message.get(HEADER_LEN).copied().unwrap_or(0);
    let subcode = message.get(HEADER_LEN + 1).copied().unwrap_or(0);
    SessionEnd::Received(code, subcode)
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks_follow_rfc_4271() {
        let ka = keepalive();
        assert_eq!(check_header(&ka), Ok((19, 4)));
        let mut bad_marker = ka.clone();
        bad_marker[3] = 0;
        assert_eq!(check_header(&bad_marker).unwrap_err().code, 1);
        assert_eq!(check_header(&bad_marker).unwrap_err().subcode, 1);
        let mut bad_type = ka.clone();
        bad_type[18] = 9;
        assert_eq!(check_header(&bad_type).unwrap_err().subcode, 3);
        let mut long_keepalive = ka;
        long_keepalive[17] = 20;
        assert_eq!(check_header(&long_keepalive).unwrap_err().subcode, 2);
        assert_eq!(check_header(&[0xff; 5]).unwrap_err().subcode, 2);
    }

    #[test]
    fn our_open_round_trips_through_negotiation() {
        let config = SpeakerConfig {
            local_asn: 4_200_000_001,
            ..SpeakerConfig::default()
        };
        let theirs = Negotiated {
            peer_asn: 4_200_000_001,
            peer_router_id: Ipv4Addr::new(192, 0, 2, 1),
            hold_time_secs: 90,
            four_octet_as: true,
            families: OUR_FAMILIES.to_vec(),
            add_path: true,
        };
        // vigie's own OPEN, read back as if a peer had sent it: it offers
        // ADD-PATH receive only, so a session with itself would not use it.
        let open = our_open(&config, &theirs);
        let n = negotiate(&open, &config, Some(4_200_000_001)).unwrap();
        assert_eq!(n.peer_asn, 4_200_000_001);
        assert!(n.four_octet_as);
        assert_eq!(n.families, OUR_FAMILIES.to_vec());
        assert!(!n.add_path);
        assert_eq!(n.hold_time_secs, 90);
        let err = negotiate(&open, &config, Some(65001)).unwrap_err();
        assert_eq!((err.code, err.subcode), (2, 2));
    }

    /// A message as vigie framed it by hand before bgpkit-parser's encoder.
    fn framed_by_hand(message_type: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![0xff; 16];
        out.extend_from_slice(&((HEADER_LEN + body.len()) as u16).to_be_bytes());
        out.push(message_type);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn messages_are_byte_for_byte_what_they_were() {
        assert_eq!(keepalive(), framed_by_hand(4, &[]));
        let notification = Notification::new(2, 2, vec![0xfd, 0xe9], "bad peer AS");
        assert_eq!(
            notification.encode(),
            framed_by_hand(3, &[2, 2, 0xfd, 0xe9])
        );
        // A code bgpkit-parser has no name for goes out as given.
        let unnamed = Notification::new(6, 200, Vec::new(), "cease");
        assert_eq!(unnamed.encode(), framed_by_hand(3, &[6, 200]));
        for (asn, add_path) in [(4_200_000_001u32, true), (64_512, false)] {
            let config = SpeakerConfig {
                local_asn: asn,
                router_id: Ipv4Addr::new(192, 0, 2, 9),
                ..SpeakerConfig::default()
            };
            let negotiated = Negotiated {
                peer_asn: 65_001,
                peer_router_id: Ipv4Addr::new(192, 0, 2, 1),
                hold_time_secs: 90,
                four_octet_as: true,
                families: OUR_FAMILIES.to_vec(),
                add_path,
            };
            let mut capabilities = vec![1, 4, 0, 1, 0, 1, 1, 4, 0, 2, 0, 1, 65, 4];
            capabilities.extend_from_slice(&asn.to_be_bytes());
            if add_path {
                capabilities.extend_from_slice(&[69, 8, 0, 1, 1, 1, 0, 2, 1, 1]);
            }
            let mut body = vec![4];
            body.extend_from_slice(&u16::try_from(asn).unwrap_or(AS_TRANS).to_be_bytes());
            body.extend_from_slice(&90u16.to_be_bytes());
            body.extend_from_slice(&[192, 0, 2, 9]);
            body.extend_from_slice(&[capabilities.len() as u8 + 2, 2, capabilities.len() as u8]);
            body.extend_from_slice(&capabilities);
            assert_eq!(
                our_open(&config, &negotiated),
                framed_by_hand(1, &body),
                "AS{asn}"
            );
        }
    }
}
