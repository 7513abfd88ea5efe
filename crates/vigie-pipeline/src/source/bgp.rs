//! The BGP feeds: a passive BGP speaker (`bgp-session`), a BMP station
//! (`bmp`) and a RIS Live client (`ris-live`). They share one routing
//! model, so they hand live events to the service's BGP driver rather than
//! bins to a sink.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use tokio::sync::mpsc::Sender;
use tokio::task::JoinHandle;
use vigie_bgp::live::{
    run_ris_live, AllowedPeer, BmpConfig, BmpStation, BmpTime, Clock, LiveEvent, RisLiveConfig,
    RisLiveStats, RisSubscription, Speaker, SpeakerConfig,
};

/// One BGP feed of the service.
#[derive(Debug, Clone)]
pub enum BgpFeed {
    /// A passive BGP speaker.
    Session(SessionFeedConfig),
    /// A BMP station.
    Bmp(BmpFeedConfig),
    /// A RIS Live client.
    RisLive(RisLiveFeedConfig),
}

/// `kind = "bgp-session"`: a passive BGP speaker.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct SessionFeedConfig {
    /// Listening address, e.g. `0.0.0.0:179`.
    pub listen: SocketAddr,
    /// vigie's AS number.
    pub local_asn: u32,
    /// vigie's BGP identifier.
    pub router_id: Ipv4Addr,
    /// Proposed hold time in seconds.
    #[serde(default = "default_hold")]
    pub hold_time_secs: u16,
    /// Allowed peers.
    #[serde(default)]
    pub peers: Vec<SessionPeer>,
}

fn default_hold() -> u16 {
    90
}

/// One allowed peer of a `bgp-session` (`peers = [{ ip = "…", asn = … }]`).
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct SessionPeer {
    /// The peer's address.
    pub ip: IpAddr,
    /// Its AS (any when absent).
    pub asn: Option<u32>,
}

/// `kind = "bmp"`: a BMP station.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct BmpFeedConfig {
    /// Listening address, e.g. `0.0.0.0:11019`.
    pub listen: SocketAddr,
}

/// `kind = "ris-live"`: a RIS Live WebSocket client.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RisLiveFeedConfig {
    /// WebSocket URL (`wss://ris-live.ripe.net/v1/ws/?client=vigie`).
    pub url: String,
    /// Seconds without a message that make a stall.
    #[serde(default = "default_stall")]
    pub stall_secs: u64,
    /// One collector, e.g. `rrc00`.
    pub host: Option<String>,
    /// One peer address.
    pub peer: Option<String>,
    /// Prefixes to follow.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// With prefixes: more-specifics too.
    pub more_specific: Option<bool>,
    /// With prefixes: less-specifics too.
    pub less_specific: Option<bool>,
    /// AS path filter.
    pub path: Option<String>,
}

fn default_stall() -> u64 {
    60
}

impl From<SessionFeedConfig> for BgpFeed {
    fn from(config: SessionFeedConfig) -> Self {
        BgpFeed::Session(config)
    }
}

impl From<BmpFeedConfig> for BgpFeed {
    fn from(config: BmpFeedConfig) -> Self {
        BgpFeed::Bmp(config)
    }
}

impl From<RisLiveFeedConfig> for BgpFeed {
    fn from(config: RisLiveFeedConfig) -> Self {
        BgpFeed::RisLive(config)
    }
}

/// A running feed: its name for messages and its task.
pub type FeedTask = (String, JoinHandle<Result<(), String>>);

impl BgpFeed {
    /// Checks what deserialising cannot.
    pub fn check(&self) -> Result<()> {
        if let BgpFeed::RisLive(ris) = self {
            if !(ris.url.starts_with("ws://") || ris.url.starts_with("wss://")) {
                bail!(
                    "url {:?}: a WebSocket URL (ws:// or wss://) is needed",
                    ris.url
                );
            }
        }
        Ok(())
    }

    /// Binds the feed's socket (or prepares its client) and starts it on
    /// the current tokio runtime, sending its events to `events`.
    pub async fn start(&self, events: Sender<LiveEvent>, clock: Clock) -> Result<FeedTask> {
        match self {
            BgpFeed::Session(section) => {
                let speaker = Speaker::bind(
                    SpeakerConfig {
                        listen: section.listen,
                        local_asn: section.local_asn,
                        router_id: section.router_id,
                        hold_time_secs: section.hold_time_secs,
                        peers: section
                            .peers
                            .iter()
                            .map(|p| AllowedPeer {
                                ip: p.ip,
                                asn: p.asn,
                            })
                            .collect(),
                        ..SpeakerConfig::default()
                    },
                    clock,
                )
                .await
                .with_context(|| format!("cannot listen for BGP on {}", section.listen))?;
                eprintln!(
                    "vigie serve: BGP speaker on {} ({} allowed peers)",
                    section.listen,
                    section.peers.len()
                );
                Ok((
                    "speaker".into(),
                    tokio::spawn(
                        async move { speaker.run(events).await.map_err(|e| e.to_string()) },
                    ),
                ))
            }
            BgpFeed::Bmp(section) => {
                let station = BmpStation::bind(
                    BmpConfig {
                        listen: section.listen,
                        time_source: BmpTime::Receipt,
                    },
                    clock,
                )
                .await
                .with_context(|| format!("cannot listen for BMP on {}", section.listen))?;
                eprintln!("vigie serve: BMP station on {}", section.listen);
                Ok((
                    "bmp".into(),
                    tokio::spawn(
                        async move { station.run(events).await.map_err(|e| e.to_string()) },
                    ),
                ))
            }
            BgpFeed::RisLive(section) => {
                let ris = RisLiveConfig {
                    url: section.url.clone(),
                    subscription: RisSubscription {
                        host: section.host.clone(),
                        peer: section.peer.clone(),
                        prefixes: section.prefixes.clone(),
                        more_specific: section.more_specific,
                        less_specific: section.less_specific,
                        path: section.path.clone(),
                        message_type: None,
                    },
                    stall_secs: section.stall_secs,
                    ..RisLiveConfig::default()
                };
                eprintln!("vigie serve: RIS Live from {}", section.url);
                let stats = Arc::new(RisLiveStats::default());
                Ok((
                    "ris-live".into(),
                    tokio::spawn(async move {
                        run_ris_live(ris, events, stats, clock).await;
                        Ok(())
                    }),
                ))
            }
        }
    }
}
