//! A RIPE RIS Live client: the WebSocket JSON stream of RIS collectors'
//! BGP messages (`ris_message`), subscribed with filters.
//!
//! - The socket reader never waits for processing: it hands each text frame
//!   to a queue read by a decoder task, so a slow consumer does not make
//!   RIS Live drop vigie.
//! - No message for `stall_secs` is a stall: the feed is reported down
//!   ([`LiveEvent::FeedDown`], a feed-health failure, not an outage), the
//!   connection is dropped and reopened with exponential backoff; the first
//!   message afterwards reports it up ([`LiveEvent::FeedUp`]).
//! - Invalid JSON and messages that are not understood are counted and
//!   skipped.
//! - RIS Live does not replay state: load the collectors' latest RIB dump
//!   into the accounting first (under the same collector names, e.g.
//!   `rrc00`), then apply RIS Live on top.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bgpkit_parser::models::{AsPath, AsPathSegment, Asn, AttributeValue, BgpUpdateMessage, Safi};
use futures_util::{SinkExt, StreamExt};
use ipnet::IpNet;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use vigie_model::UnixSecs;

use super::feed::{Clock, LiveEvent, LivePeer, RouteChange};
use crate::mrt::origin_asn;

/// The subscription filters (RIS Live's `ris_subscribe` data); `None` fields are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RisSubscription {
    /// One collector (`rrc00`), or all.
    pub host: Option<String>,
    /// One peer address, or all.
    pub peer: Option<String>,
    /// Prefixes to follow, or all.
    pub prefixes: Vec<String>,
    /// With `prefixes`: also more-specifics (RIS Live's default is true).
    pub more_specific: Option<bool>,
    /// With `prefixes`: also less-specifics.
    pub less_specific: Option<bool>,
    /// An AS path filter (`"64496,64497$"`).
    pub path: Option<String>,
    /// Message type; vigie needs `UPDATE` and `RIS_PEER_STATE`, so the default is none (all).
    pub message_type: Option<String>,
}

impl RisSubscription {
    /// The `ris_subscribe` message.
    pub fn to_json(&self) -> String {
        let mut data = serde_json::Map::new();
        let mut put = |key: &str, value: serde_json::Value| {
            data.insert(key.to_string(), value);
        };
        if let Some(host) = &self.host {
            put("host", host.clone().into());
        }
        if let Some(peer) = &self.peer {
            put("peer", peer.clone().into());
        }
        match self.prefixes.len() {
            0 => {}
            1 => put("prefix", self.prefixes[0].clone().into()),
            _ => put("prefix", self.prefixes.clone().into()),
        }
        if let Some(v) = self.more_specific {
            put("moreSpecific", v.into());
        }
        if let Some(v) = self.less_specific {
            put("lessSpecific", v.into());
        }
        if let Some(path) = &self.path {
            put("path", path.clone().into());
        }
        if let Some(t) = &self.message_type {
            put("type", t.clone().into());
        }
        serde_json::json!({"type": "ris_subscribe", "data": data}).to_string()
    }
}

/// Settings of the client.
#[derive(Clone, Debug)]
pub struct RisLiveConfig {
    /// The WebSocket URL (`ws://…` or `wss://…`).
    pub url: String,
    /// The filters.
    pub subscription: RisSubscription,
    /// No message for this long is a stall (seconds).
    pub stall_secs: u64,
    /// First reconnection delay (milliseconds); doubles up to `backoff_max_ms`.
    pub backoff_min_ms: u64,
    /// Longest reconnection delay (milliseconds).
    pub backoff_max_ms: u64,
    /// The feed's name in feed-health events.
    pub feed: String,
    /// Stamp updates with the collector's time (true) or the receipt time.
    pub use_message_time: bool,
}

impl Default for RisLiveConfig {
    fn default() -> Self {
        RisLiveConfig {
            url: "wss://ris-live.ripe.net/v1/ws/?client=vigie".to_string(),
            subscription: RisSubscription::default(),
            stall_secs: 60,
            backoff_min_ms: 1000,
            backoff_max_ms: 60_000,
            feed: "ris-live".to_string(),
            use_message_time: true,
        }
    }
}

/// Counters of the client.
#[derive(Debug, Default)]
pub struct RisLiveStats {
    /// Successful connections.
    pub connects: AtomicU64,
    /// Failed connection attempts.
    pub connect_failures: AtomicU64,
    /// Text messages received.
    pub messages: AtomicU64,
    /// Messages that were not valid JSON (skipped).
    pub invalid_json: AtomicU64,
    /// Valid JSON that is not a message vigie understands (skipped).
    pub unexpected: AtomicU64,
    /// `ris_error` messages from the server.
    pub server_errors: AtomicU64,
    /// UPDATE messages applied.
    pub updates: AtomicU64,
    /// Route changes decoded.
    pub route_changes: AtomicU64,
    /// Peer-down states.
    pub peer_downs: AtomicU64,
    /// Stalls detected.
    pub stalls: AtomicU64,
    /// Connections lost (closed or failed).
    pub disconnects: AtomicU64,
    /// Largest number of messages waiting for the decoder.
    pub max_queue: AtomicU64,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(u64),
    Text(String),
}

impl NumberOrString {
    fn as_u32(&self) -> Option<u32> {
        match self {
            NumberOrString::Number(n) => u32::try_from(*n).ok(),
            NumberOrString::Text(t) => t.parse().ok(),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PathElement {
    Asn(u64),
    Set(Vec<u64>),
}

#[derive(Deserialize)]
struct Announcement {
    #[serde(default)]
    prefixes: Vec<String>,
}

#[derive(Deserialize)]
struct RisMessage {
    timestamp: f64,
    peer: String,
    peer_asn: NumberOrString,
    host: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: Vec<PathElement>,
    #[serde(default)]
    announcements: Vec<Announcement>,
    #[serde(default)]
    withdrawals: Vec<String>,
    #[serde(default)]
    state: Option<String>,
}

/// What a RIS Live message was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RisMessageKind {
    /// An UPDATE: its route changes were appended.
    Update,
    /// A peer went down: a peer-down was appended.
    PeerDown,
    /// Another `ris_message` (OPEN, KEEPALIVE, NOTIFICATION, a peer coming up).
    OtherBgp,
    /// A control message (`ris_subscribe_ok`, `pong`, …).
    Control(String),
    /// A `ris_error` from the server, with its text.
    ServerError(String),
}

/// Why a RIS Live message was skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RisDecodeError {
    /// Not JSON, or not the envelope RIS Live sends.
    InvalidJson(String),
    /// A `ris_message` whose fields are missing or wrong.
    BadMessage(String),
}

impl std::fmt::Display for RisDecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RisDecodeError::InvalidJson(e) => write!(f, "invalid JSON: {e}"),
            RisDecodeError::BadMessage(e) => write!(f, "unexpected ris_message: {e}"),
        }
    }
}

fn as_path(elements: &[PathElement]) -> AsPath {
    let mut segments = Vec::new();
    let mut sequence: Vec<Asn> = Vec::new();
    for element in elements {
        match element {
            PathElement::Asn(a) => sequence.push(Asn::from(*a as u32)),
            PathElement::Set(set) => {
                if !sequence.is_empty() {
                    segments.push(AsPathSegment::AsSequence(
                        std::mem::take(&mut sequence).into_iter().collect(),
                    ));
                }
                segments.push(AsPathSegment::AsSet(
                    set.iter().map(|&a| Asn::from(a as u32)).collect(),
                ));
            }
        }
    }
    if !sequence.is_empty() {
        segments.push(AsPathSegment::AsSequence(sequence.into_iter().collect()));
    }
    AsPath::from_segments(segments)
}

/// Decodes one RIS Live text message. Route changes of an UPDATE (origin
/// from the path, AS_SET handled as in MRT ingest) and peer-downs are
/// appended to `out`, stamped with the message's time, or `received_at` when
/// `use_message_time` is false.
pub fn decode_ris_message(
    text: &str,
    received_at: UnixSecs,
    use_message_time: bool,
    out: &mut Vec<LiveEvent>,
) -> Result<RisMessageKind, RisDecodeError> {
    let envelope: Envelope =
        serde_json::from_str(text).map_err(|e| RisDecodeError::InvalidJson(e.to_string()))?;
    match envelope.kind.as_str() {
        "ris_message" => {}
        "ris_error" => {
            let message = envelope
                .data
                .as_ref()
                .and_then(|d| d.get("message"))
                .and_then(|m| m.as_str())
                .unwrap_or("")
                .to_string();
            return Ok(RisMessageKind::ServerError(message));
        }
        other => return Ok(RisMessageKind::Control(other.to_string())),
    }
    let data = envelope
        .data
        .ok_or_else(|| RisDecodeError::BadMessage("no data".into()))?;
    let message: RisMessage =
        serde_json::from_value(data).map_err(|e| RisDecodeError::BadMessage(e.to_string()))?;
    let ip = message
        .peer
        .parse()
        .map_err(|_| RisDecodeError::BadMessage(format!("bad peer address {:?}", message.peer)))?;
    let asn = message
        .peer_asn
        .as_u32()
        .ok_or_else(|| RisDecodeError::BadMessage("bad peer_asn".into()))?;
    let time = if use_message_time && message.timestamp.is_finite() && message.timestamp > 0.0 {
        message.timestamp as UnixSecs
    } else {
        received_at
    };
    let peer = LivePeer {
        collector: Arc::from(message.host.as_str()),
        ip,
        asn,
    };
    match message.kind.as_str() {
        "UPDATE" => {
            let origin = origin_asn(&as_path(&message.path));
            let mut changes = Vec::new();
            for prefix in &message.withdrawals {
                let prefix: IpNet = prefix.parse().map_err(|_| {
                    RisDecodeError::BadMessage(format!("bad withdrawn prefix {prefix:?}"))
                })?;
                changes.push(RouteChange::Withdraw {
                    prefix,
                    path_id: None,
                });
            }
            for announcement in &message.announcements {
                for prefix in &announcement.prefixes {
                    let prefix: IpNet = prefix.parse().map_err(|_| {
                        RisDecodeError::BadMessage(format!("bad announced prefix {prefix:?}"))
                    })?;
                    changes.push(RouteChange::Announce {
                        prefix,
                        path_id: None,
                        origin,
                    });
                }
            }
            if !changes.is_empty() {
                out.push(LiveEvent::Routes {
                    time,
                    peer,
                    changes,
                });
            }
            Ok(RisMessageKind::Update)
        }
        "RIS_PEER_STATE" if message.state.as_deref() == Some("down") => {
            out.push(LiveEvent::PeerDown { time, peer });
            Ok(RisMessageKind::PeerDown)
        }
        _ => Ok(RisMessageKind::OtherBgp),
    }
}

/// The `ris_message` RIS Live publishes for an UPDATE that `peer` of
/// collector `host` sent at `time` (tests replay MRT update files as RIS
/// Live with it): the unicast withdrawals and announcements, MP_REACH and
/// MP_UNREACH included, and the AS path (AS4_PATH merged, sets as arrays).
pub fn update_json(
    time: u32,
    host: &str,
    peer: &str,
    peer_asn: u32,
    update: &BgpUpdateMessage,
) -> String {
    let mut as_path = None;
    let mut as4_path = None;
    let mut withdrawals: Vec<String> = update
        .withdrawn_prefixes
        .iter()
        .map(|p| p.prefix.to_string())
        .collect();
    let mut prefixes: Vec<String> = update
        .announced_prefixes
        .iter()
        .map(|p| p.prefix.to_string())
        .collect();
    for value in update.attributes.iter() {
        match value {
            AttributeValue::AsPath(p) => as_path = Some(p.clone()),
            AttributeValue::As4Path(p) => as4_path = Some(p.clone()),
            AttributeValue::MpUnreachNlri(n) if n.safi == Safi::Unicast => {
                withdrawals.extend(n.prefixes.iter().map(|p| p.prefix.to_string()))
            }
            AttributeValue::MpReachNlri(n) if n.safi == Safi::Unicast => {
                prefixes.extend(n.prefixes.iter().map(|p| p.prefix.to_string()))
            }
            _ => {}
        }
    }
    let path = match (as_path, as4_path) {
        (Some(p), Some(p4)) => Some(AsPath::merge_aspath_as4path(&p, &p4)),
        (p, p4) => p.or(p4),
    };
    let mut path_json = Vec::new();
    for segment in path.iter().flat_map(|p| p.segments.iter()) {
        match segment {
            AsPathSegment::AsSequence(asns) => {
                path_json.extend(asns.iter().map(|a| serde_json::json!(a.to_u32())))
            }
            AsPathSegment::AsSet(asns) => path_json.push(serde_json::json!(asns
                .iter()
                .map(|a| a.to_u32())
                .collect::<Vec<_>>())),
            _ => {}
        }
    }
    serde_json::json!({
        "type": "ris_message",
        "data": {
            "timestamp": time as f64,
            "peer": peer,
            "peer_asn": peer_asn.to_string(),
            "id": format!("{time}-{peer}"),
            "host": host,
            "type": "UPDATE",
            "path": path_json,
            "origin": "IGP",
            "announcements": if prefixes.is_empty() { serde_json::json!([]) } else { serde_json::json!([{"next_hop": peer, "prefixes": prefixes}]) },
            "withdrawals": withdrawals,
        }
    })
    .to_string()
}

/// The `ris_message` RIS Live publishes when `peer`'s session goes down.
pub fn peer_down_json(time: u32, host: &str, peer: &str, peer_asn: u32) -> String {
    serde_json::json!({
        "type": "ris_message",
        "data": {"timestamp": time as f64, "peer": peer, "peer_asn": peer_asn.to_string(),
                 "host": host, "type": "RIS_PEER_STATE", "state": "down"}
    })
    .to_string()
}

/// What the socket reader hands to the decoder, in order.
enum Item {
    Text(String, UnixSecs),
    Health(LiveEvent),
}

/// Runs the client until `events` closes: connects, subscribes, reads,
/// reconnects with backoff, and reports feed health.
pub async fn run_ris_live(
    config: RisLiveConfig,
    events: mpsc::Sender<LiveEvent>,
    stats: Arc<RisLiveStats>,
    clock: Clock,
) {
    // wss:// needs a process-wide TLS provider; another one installed first is fine too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (queue_tx, mut queue_rx) = mpsc::unbounded_channel::<Item>();
    let queued = Arc::new(AtomicU64::new(0));
    let decoder = {
        let stats = Arc::clone(&stats);
        let queued = Arc::clone(&queued);
        let events = events.clone();
        let use_message_time = config.use_message_time;
        tokio::spawn(async move {
            let mut out = Vec::new();
            while let Some(item) = queue_rx.recv().await {
                queued.fetch_sub(1, Ordering::Relaxed);
                match item {
                    Item::Health(event) => {
                        if events.send(event).await.is_err() {
                            return;
                        }
                    }
                    Item::Text(text, received_at) => {
                        match decode_ris_message(&text, received_at, use_message_time, &mut out) {
                            Ok(RisMessageKind::Update) => {
                                stats.updates.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(RisMessageKind::PeerDown) => {
                                stats.peer_downs.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(RisMessageKind::ServerError(message)) => {
                                stats.server_errors.fetch_add(1, Ordering::Relaxed);
                                eprintln!("vigie ris-live: server error: {message}");
                            }
                            Ok(_) => {}
                            Err(RisDecodeError::InvalidJson(_)) => {
                                stats.invalid_json.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(RisDecodeError::BadMessage(_)) => {
                                stats.unexpected.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        for event in out.drain(..) {
                            if let LiveEvent::Routes { changes, .. } = &event {
                                stats
                                    .route_changes
                                    .fetch_add(changes.len() as u64, Ordering::Relaxed);
                            }
                            if events.send(event).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        })
    };
    let feed: Arc<str> = Arc::from(config.feed.as_str());
    let push = |item: Item| {
        let depth = queued.fetch_add(1, Ordering::Relaxed) + 1;
        stats.max_queue.fetch_max(depth, Ordering::Relaxed);
        queue_tx.send(item).is_ok()
    };
    let mut backoff = Duration::from_millis(config.backoff_min_ms.max(1));
    let stall = Duration::from_secs(config.stall_secs.max(1));
    // The time of the last message, and whether the feed is reported down.
    let mut last_message = clock();
    let mut down = false;
    loop {
        if events.is_closed() {
            break;
        }
        let connected = tokio::select! {
            c = tokio::time::timeout(stall, tokio_tungstenite::connect_async(config.url.as_str())) => c,
            _ = events.closed() => break,
        };
        let reason = match connected {
            Ok(Ok((mut socket, _))) => {
                stats.connects.fetch_add(1, Ordering::Relaxed);
                let subscribe = config.subscription.to_json();
                let reason = match socket.send(Message::Text(subscribe.into())).await {
                    Err(e) => format!("cannot subscribe: {e}"),
                    Ok(()) => loop {
                        let next = tokio::select! {
                            n = tokio::time::timeout(stall, socket.next()) => n,
                            _ = events.closed() => return finish(decoder, socket).await,
                        };
                        match next {
                            Err(_) => {
                                stats.stalls.fetch_add(1, Ordering::Relaxed);
                                break format!("no message for {} s (stall)", stall.as_secs());
                            }
                            Ok(None) => break "connection closed by the server".to_string(),
                            Ok(Some(Err(e))) => break format!("connection failed: {e}"),
                            Ok(Some(Ok(Message::Text(text)))) => {
                                let now = clock();
                                last_message = now;
                                backoff = Duration::from_millis(config.backoff_min_ms.max(1));
                                stats.messages.fetch_add(1, Ordering::Relaxed);
                                if down {
                                    down = false;
                                    push(Item::Health(LiveEvent::FeedUp {
                                        time: now,
                                        feed: Arc::clone(&feed),
                                    }));
                                }
                                push(Item::Text(text.to_string(), now));
                            }
                            Ok(Some(Ok(Message::Binary(_)))) => {
                                stats.unexpected.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(Some(Ok(Message::Close(_)))) => {
                                break "connection closed by the server".to_string()
                            }
                            Ok(Some(Ok(_))) => {
                                // Ping/pong frames: the connection is alive.
                            }
                        }
                    },
                };
                let _ = socket.close(None).await;
                stats.disconnects.fetch_add(1, Ordering::Relaxed);
                reason
            }
            Ok(Err(e)) => {
                stats.connect_failures.fetch_add(1, Ordering::Relaxed);
                format!("cannot connect to {}: {e}", config.url)
            }
            Err(_) => {
                stats.connect_failures.fetch_add(1, Ordering::Relaxed);
                format!("cannot connect to {}: timed out", config.url)
            }
        };
        if !down {
            down = true;
            eprintln!("vigie ris-live: feed down: {reason}; reconnecting");
            push(Item::Health(LiveEvent::FeedDown {
                time: clock(),
                feed: Arc::clone(&feed),
                silent_since: last_message,
                reason,
            }));
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = events.closed() => break,
        }
        backoff = (backoff * 2).min(Duration::from_millis(config.backoff_max_ms.max(1)));
    }
    drop(queue_tx);
    let _ = decoder.await;
}

async fn finish<S>(decoder: tokio::task::JoinHandle<()>, mut socket: S)
where
    S: futures_util::Sink<Message> + Unpin,
{
    let _ = socket.close().await;
    decoder.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_updates_sets_and_peer_states() {
        let text = r#"{"type":"ris_message","data":{"timestamp":1636245154.8,"peer":"2001:7f8:b:100:1d1:a520:1333:74","peer_asn":"201333","id":"10-1","host":"rrc10","type":"UPDATE","path":[201333,6762,[174,3356]],"origin":"IGP","announcements":[{"next_hop":"2001:7f8:b:100:1d1:a520:1333:74","prefixes":["2a0e:97c7::/48"]}],"withdrawals":["192.0.2.0/24"]}}"#;
        let mut out = Vec::new();
        assert_eq!(
            decode_ris_message(text, 0, true, &mut out),
            Ok(RisMessageKind::Update)
        );
        let LiveEvent::Routes {
            time,
            peer,
            changes,
        } = &out[0]
        else {
            panic!("{out:?}")
        };
        assert_eq!(*time, 1636245154);
        assert_eq!(&*peer.collector, "rrc10");
        assert_eq!(peer.asn, 201333);
        assert_eq!(changes.len(), 2);
        // An AS_SET after a sequence: credited to the aggregating AS.
        assert_eq!(
            changes[1],
            RouteChange::Announce {
                prefix: "2a0e:97c7::/48".parse().unwrap(),
                path_id: None,
                origin: Some(6762)
            }
        );
        let down = r#"{"type":"ris_message","data":{"timestamp":1.0,"peer":"192.0.2.1","peer_asn":"64496","host":"rrc00","type":"RIS_PEER_STATE","state":"down"}}"#;
        assert_eq!(
            decode_ris_message(down, 0, true, &mut out),
            Ok(RisMessageKind::PeerDown)
        );
        assert!(matches!(
            decode_ris_message("{not json", 0, true, &mut out),
            Err(RisDecodeError::InvalidJson(_))
        ));
        assert!(matches!(
            decode_ris_message(
                r#"{"type":"ris_message","data":{"peer":1}}"#,
                0,
                true,
                &mut out
            ),
            Err(RisDecodeError::BadMessage(_))
        ));
        assert_eq!(
            decode_ris_message(r#"{"type":"pong","data":null}"#, 0, true, &mut out),
            Ok(RisMessageKind::Control("pong".into()))
        );
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn subscription_json() {
        let s = RisSubscription {
            host: Some("rrc21".into()),
            prefixes: vec!["2.132.0.0/14".into()],
            more_specific: Some(true),
            ..RisSubscription::default()
        };
        let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(v["type"], "ris_subscribe");
        assert_eq!(v["data"]["host"], "rrc21");
        assert_eq!(v["data"]["prefix"], "2.132.0.0/14");
        assert_eq!(v["data"]["moreSpecific"], true);
    }
}
