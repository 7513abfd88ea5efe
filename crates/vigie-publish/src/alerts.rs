//! Alert subscriptions and webhook delivery through a durable outbox.
//!
//! - A [`Subscription`] names an entity, the notices wanted (incident
//!   `start`, each `restoration` window, `end`) and a webhook target.
//! - [`enqueue`] turns incidents into outbox rows, one per notice per
//!   subscription, keyed (`start:IQ@1692579600`) so that running it again,
//!   after a restart or on every detection pass, adds nothing twice.
//! - [`deliver_due`] POSTs each due row as JSON, signed with HMAC-SHA256 of
//!   the body under the subscription's secret (`X-Vigie-Signature:
//!   sha256=<hex>`), with the row id as `X-Vigie-Delivery`; a 2xx marks it
//!   delivered in the same store, anything else schedules a retry with
//!   exponential backoff (30 s doubling, at most 1 h) until
//!   [`DeliveryConfig::max_attempts`], then `failed`. Targets are served
//!   concurrently, each with its own timeout: a receiver that does not
//!   answer has its other rows deferred to the next pass and delays no other
//!   subscriber. The subscriptions and
//!   the outbox live in the store (migration 4, through [`Store`]'s
//!   subscription and outbox methods), so a restart loses no notice and
//!   resends no delivered one. One window remains, as with any HTTP webhook: a crash
//!   after the receiver answered but before the row is marked sends that
//!   row again; receivers deduplicate on `X-Vigie-Delivery`.
//! - Targets are checked against server-side request forgery
//!   ([`check_target`]): http(s) only, and every address the host resolves
//!   to must be public ([`is_public`]: no loopback, private, link-local,
//!   CGNAT, reserved, documentation, benchmarking, multicast or unspecified
//!   address, and no IPv6 form embedding an IPv4 address) unless
//!   [`DeliveryConfig::allow_private`]; the connection is pinned to the
//!   checked address, so DNS cannot change it between the check and the
//!   request, and no proxy is used (`HTTP(S)_PROXY` is ignored).
//!
//! - A target `mailto:someone@example.org` is delivered by e-mail through
//!   the SMTP relay of [`DeliveryConfig::smtp`] (plain text with the JSON
//!   notice in the body; same outbox, retries and idempotence).
//!
//! - `feed-health` notices ([`enqueue_feed_health`]): a subscribed entity
//!   whose latest data is older than a threshold gets one "silent since …"
//!   notice per silence (keyed by the time its data stopped).
//!
//! - A subscription's format is `json` (the notice as above) or `slack`
//!   ([`FORMATS`]): a message that Slack's and Mattermost's incoming
//!   webhooks accept (`text`, with the details as `attachments` fields),
//!   written from the same notice at delivery ([`slack_message`]) and signed
//!   the same way.
//!
//! Not done: a notice when a silent feed comes back.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use vigie_model::{format_utc, Entity, UnixSecs};
use vigie_store::{OutboxNotice, SeriesInfo, Store, StoreError};

use crate::data::{incident_json, PublishedIncident};

/// Notices a subscription may ask for.
pub const NOTICES: [&str; 4] = ["start", "restoration", "end", "feed-health"];

/// Delivery formats: `json` (vigie's notice) and `slack` (a chat message
/// for Slack or Mattermost incoming webhooks).
pub const FORMATS: [&str; 2] = ["json", "slack"];

/// Why an alert operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// Invalid input; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A subscription as stored: its id, entity, notices (`start`,
/// `restoration`, `end`, `feed-health`), target and HMAC key.
pub type Subscription = vigie_store::StoredSubscription;

/// How deliveries are made.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// Allow loopback and private targets (tests, closed networks).
    pub allow_private: bool,
    /// Attempts before a delivery is marked failed.
    pub max_attempts: u32,
    /// Time allowed for one request to one target; a target that does not
    /// answer in time (or cannot be reached) is left for the next pass, so
    /// it delays no other subscriber.
    pub timeout: Duration,
    /// Targets delivered to at once (each target's notices go one after the
    /// other, in order).
    pub concurrency: usize,
    /// The SMTP relay for `mailto:` targets; without it they fail and retry.
    pub smtp: Option<SmtpConfig>,
}

/// An SMTP relay.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// Relay host.
    pub host: String,
    /// Relay port (25, 587, …).
    pub port: u16,
    /// STARTTLS required (false only for a local relay or a test sink).
    pub starttls: bool,
    /// Sender address.
    pub from: String,
    /// Login, if the relay wants one.
    pub credentials: Option<(String, String)>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            allow_private: false,
            max_attempts: 8,
            timeout: Duration::from_secs(10),
            concurrency: 16,
            smtp: None,
        }
    }
}

/// Whether an address may receive webhooks without `allow_private`.
///
/// IPv4: refused are 0.0.0.0/8, loopback, private (RFC 1918), CGNAT
/// 100.64.0.0/10, link-local, IETF protocol assignments 192.0.0.0/24,
/// documentation (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24), the
/// 6to4 relay 192.88.99.0/24, benchmarking 198.18.0.0/15, multicast,
/// 240.0.0.0/4 and broadcast.
///
/// IPv6: only global unicast 2000::/3 is allowed, which leaves out
/// loopback, unspecified, every form embedding an IPv4 address in the low
/// bits (mapped `::ffff:0:0/96`, compatible `::/96`, NAT64 `64:ff9b::/96`
/// and `64:ff9b:1::/48`), discard `100::/64`, unique-local, link-local,
/// site-local `fec0::/10` and multicast; inside 2000::/3 refused are the
/// IETF protocol assignments 2001::/23 (Teredo 2001::/32, benchmarking,
/// ORCHID), documentation 2001:db8::/32 and 3fff::/20, and 6to4 2002::/16
/// (which embeds an IPv4 address).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
                || (a == 192 && b == 0 && c == 0) // IETF protocol 192.0.0/24
                || (a == 192 && b == 88 && c == 99) // 6to4 relay 192.88.99/24
                || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18/15
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let global_unicast = (s[0] & 0xe000) == 0x2000; // 2000::/3
            global_unicast
                && !(s[0] == 0x2001 && s[1] < 0x200) // 2001::/23
                && !(s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
                && (s[0] & 0xfff0) != 0x3ff0 // documentation 3fff::/20
                && s[0] != 0x2002 // 6to4 2002::/16
        }
    }
}

/// Checks a webhook target and returns the URL and the address to connect
/// to (the first allowed one the host resolves to).
pub fn check_target(
    target: &str,
    allow_private: bool,
) -> Result<(reqwest::Url, SocketAddr), AlertError> {
    let url = reqwest::Url::parse(target)
        .map_err(|e| AlertError::Invalid(format!("target '{target}' is not a URL: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(AlertError::Invalid(format!(
            "target '{target}': only http and https are allowed"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AlertError::Invalid(
            "target URLs must not hold credentials".into(),
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| AlertError::Invalid(format!("target '{target}' has no host")))?;
    let port = url.port_or_known_default().unwrap_or(443);
    let host_for_lookup = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = (host_for_lookup, port)
        .to_socket_addrs()
        .map_err(|e| AlertError::Invalid(format!("target host '{host}' does not resolve: {e}")))?
        .collect();
    if addresses.is_empty() {
        return Err(AlertError::Invalid(format!(
            "target host '{host}' has no address"
        )));
    }
    if !allow_private {
        if let Some(bad) = addresses.iter().find(|a| !is_public(a.ip())) {
            return Err(AlertError::Invalid(format!(
                "target host '{host}' resolves to {} (loopback, private, link-local or reserved): refused to prevent request forgery",
                bad.ip()
            )));
        }
    }
    let chosen = addresses[0];
    Ok((url, chosen))
}

/// Adds a subscription after checking its target; returns its id. Its
/// deliveries are vigie's JSON notices ([`subscribe_with_format`] for others).
pub fn subscribe(
    store: &mut Store,
    entity: &Entity,
    notices: &[String],
    target: &str,
    secret: &str,
    allow_private: bool,
    now: UnixSecs,
) -> Result<i64, AlertError> {
    subscribe_with_format(
        store,
        entity,
        notices,
        target,
        secret,
        "json",
        allow_private,
        now,
    )
}

/// [`subscribe`] with the delivery format, one of [`FORMATS`] (`slack` for
/// webhooks only, not `mailto:`).
#[allow(clippy::too_many_arguments)]
pub fn subscribe_with_format(
    store: &mut Store,
    entity: &Entity,
    notices: &[String],
    target: &str,
    secret: &str,
    format: &str,
    allow_private: bool,
    now: UnixSecs,
) -> Result<i64, AlertError> {
    if !FORMATS.contains(&format) {
        return Err(AlertError::Invalid(format!(
            "format '{format}': use one of {}",
            FORMATS.join(", ")
        )));
    }
    if format != "json" && target.starts_with("mailto:") {
        return Err(AlertError::Invalid(format!(
            "format '{format}' is for webhooks; e-mail notices are plain text"
        )));
    }
    if notices.is_empty() || notices.iter().any(|n| !NOTICES.contains(&n.as_str())) {
        return Err(AlertError::Invalid(format!(
            "notices must be one or more of {}",
            NOTICES.join(", ")
        )));
    }
    if secret.len() < 16 || secret.len() > 256 {
        return Err(AlertError::Invalid(
            "the secret must hold 16 to 256 bytes".into(),
        ));
    }
    if target.len() > 2000 {
        return Err(AlertError::Invalid(
            "the target URL is longer than 2000 bytes".into(),
        ));
    }
    if let Some(address) = target.strip_prefix("mailto:") {
        address.parse::<lettre::Address>().map_err(|e| {
            AlertError::Invalid(format!("target '{target}' is not an e-mail address: {e}"))
        })?;
    } else {
        check_target(target, allow_private)?;
    }
    Ok(store.add_subscription_with_format(entity, notices, target, secret, format, now)?)
}

/// Every subscription.
pub fn subscriptions(store: &Store) -> Result<Vec<Subscription>, AlertError> {
    Ok(store.subscriptions()?)
}

/// Adds the notices of `incidents` to the outbox for every matching
/// subscription; existing notices are kept as they are. Returns how many
/// were new.
pub fn enqueue(
    store: &mut Store,
    incidents: &[PublishedIncident],
    now: UnixSecs,
) -> Result<usize, AlertError> {
    let subs = subscriptions(store)?;
    let mut outbox = Vec::new();
    for p in incidents {
        let inc = &p.incident;
        let mut notices: Vec<(String, &str, UnixSecs, Value)> =
            vec![(format!("start:{}", p.id), "start", inc.start, Value::Null)];
        for r in &inc.restorations {
            notices.push((
                format!("restoration:{}:{}", p.id, r.start),
                "restoration",
                r.start,
                json!({"start": format_utc(r.start), "end": format_utc(r.end), "restoredFraction": r.restored_fraction}),
            ));
        }
        if let Some(end) = inc.end {
            notices.push((format!("end:{}", p.id), "end", end, Value::Null));
        }
        for sub in subs.iter().filter(|s| s.entity == inc.entity) {
            for (key, notice, time, extra) in &notices {
                if !sub.notices.iter().any(|n| n == notice) {
                    continue;
                }
                // Confirmed by the detector; a live service's provisional
                // notices say `"provisional": true`.
                let payload = json!({
                    "notice": notice,
                    "provisional": false,
                    "time": format_utc(*time),
                    "entity": inc.entity.to_string(),
                    "subscriptionId": sub.id,
                    "restoration": extra,
                    "incident": incident_json(p, false),
                });
                outbox.push(OutboxNotice {
                    subscription_id: sub.id,
                    notice_key: key.clone(),
                    payload: payload.to_string(),
                });
            }
        }
    }
    Ok(store.enqueue_notices(&outbox, now)?)
}

/// One outbox row's state: id (sent as `X-Vigie-Delivery`), notice key,
/// state (`pending`, `delivered` or `failed`), attempts made, when the next
/// attempt is due and the last failure.
pub type Delivery = vigie_store::OutboxEntry;

/// Every outbox row, by id.
pub fn outbox(store: &Store) -> Result<Vec<Delivery>, AlertError> {
    Ok(store.outbox()?)
}

/// `sha256=<hex>` of HMAC-SHA256(secret, body).
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(), // HMAC takes keys of any length.
    };
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let mut out = String::from("sha256=");
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The wait before attempt `attempts + 1`: 30 s doubling, at most an hour.
pub fn backoff_secs(attempts: u32) -> i64 {
    (30i64 << attempts.min(7)).min(3600)
}

/// What one [`deliver_due`] pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Rows delivered.
    pub delivered: usize,
    /// Rows that failed and will be retried.
    pub retrying: usize,
    /// Rows given up.
    pub failed: usize,
    /// Rows not tried in this pass because their target had just timed out
    /// or could not be reached; they stay due, with no attempt counted.
    pub deferred: usize,
}

/// Sends every pending row due at `now`: targets are served concurrently
/// (at most [`DeliveryConfig::concurrency`] at once), each target's rows in
/// order; a target that times out or cannot be reached has its remaining
/// rows deferred to the next pass, so one slow receiver delays no other
/// subscriber. Each outcome is recorded in the store as it arrives.
pub fn deliver_due(
    store: &mut Store,
    config: &DeliveryConfig,
    now: UnixSecs,
) -> Result<DeliveryReport, AlertError> {
    let due = store.due_deliveries(now)?;
    let mut report = DeliveryReport::default();
    // Rows grouped by target, in the order they are due.
    let mut groups: Vec<(String, Vec<vigie_store::DueDelivery>)> = Vec::new();
    for row in due {
        match groups.iter_mut().find(|(target, _)| *target == row.target) {
            Some((_, rows)) => rows.push(row),
            None => groups.push((row.target.clone(), vec![row])),
        }
    }
    let total: usize = groups.iter().map(|(_, rows)| rows.len()).sum();
    let workers = config.concurrency.max(1).min(groups.len());
    let queue = std::sync::Mutex::new(groups.into_iter());
    let (results, outcomes) = std::sync::mpsc::channel();
    let mut first_error = None;
    let mut recorded = 0;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let results = results.clone();
            let queue = &queue;
            scope.spawn(move || loop {
                let next = match queue.lock() {
                    Ok(mut queue) => queue.next(),
                    Err(_) => None,
                };
                let Some((_, rows)) = next else { return };
                for row in rows {
                    let body = match row.format.as_str() {
                        "slack" => slack_message(&row.payload),
                        _ => row.payload.clone(),
                    };
                    let outcome = send(
                        &row.target,
                        &row.secret,
                        row.id,
                        &row.notice_key,
                        &body,
                        config,
                    );
                    let unreachable = matches!(&outcome, Err(e) if e.unreachable);
                    if results.send((row.id, row.attempts, outcome)).is_err() || unreachable {
                        break;
                    }
                }
            });
        }
        drop(results);
        for (id, attempts, outcome) in outcomes {
            recorded += 1;
            if first_error.is_some() {
                continue;
            }
            let attempts = attempts + 1;
            let written = match outcome {
                Ok(()) => store.mark_delivered(id, attempts, now).map(|()| {
                    report.delivered += 1;
                }),
                Err(error) => {
                    let give_up = attempts >= config.max_attempts;
                    store
                        .mark_delivery_failed(
                            id,
                            attempts,
                            now + backoff_secs(attempts - 1),
                            &error.message,
                            give_up,
                        )
                        .map(|()| {
                            if give_up {
                                report.failed += 1;
                            } else {
                                report.retrying += 1;
                            }
                        })
                }
            };
            if let Err(e) = written {
                first_error = Some(e);
            }
        }
    });
    if let Some(e) = first_error {
        return Err(e.into());
    }
    report.deferred = total - recorded;
    Ok(report)
}

/// Adds a `feed-health` notice for every subscribed entity whose data
/// stopped more than `silent_after_secs` before `now`, once per silence
/// (the key holds the time the data stopped). Returns how many were new.
pub fn enqueue_feed_health(
    store: &mut Store,
    now: UnixSecs,
    silent_after_secs: i64,
) -> Result<usize, AlertError> {
    let subs: Vec<Subscription> = subscriptions(store)?
        .into_iter()
        .filter(|s| s.notices.iter().any(|n| n == "feed-health"))
        .collect();
    if subs.is_empty() {
        return Ok(0);
    }
    // Only the subscribed entities' series, each entity read once: the
    // store may hold tens of thousands of series no one subscribed to.
    let mut by_entity: BTreeMap<Entity, Vec<SeriesInfo>> = BTreeMap::new();
    let mut outbox = Vec::new();
    for sub in &subs {
        if !by_entity.contains_key(&sub.entity) {
            let series = store.entity_series(&sub.entity)?;
            by_entity.insert(sub.entity.clone(), series);
        }
        let mine = &by_entity[&sub.entity];
        // Inside the plausible window: a bin dated 2099 must not hide a
        // silent feed.
        let Some((_, data_end)) = crate::data::plausible_span(store, mine)? else {
            continue;
        };
        if now - data_end < silent_after_secs {
            continue;
        }
        let signals: Vec<&str> = mine.iter().map(|s| s.key.signal.name()).collect();
        let payload = json!({
            "notice": "feed-health",
            "status": "silent",
            "time": format_utc(data_end),
            "entity": sub.entity.to_string(),
            "subscriptionId": sub.id,
            "signals": signals,
            "message": format!("no data for {} since {} ({} min before this notice)", sub.entity, format_utc(data_end), (now - data_end) / 60),
        });
        outbox.push(OutboxNotice {
            subscription_id: sub.id,
            notice_key: format!("feed-silent:{}:{data_end}", sub.entity),
            payload: payload.to_string(),
        });
    }
    Ok(store.enqueue_notices(&outbox, now)?)
}

/// One pass of the alert worker over `store`: enqueues the notices of
/// every incident of `method` and feed-health notices (silent for 30 min),
/// then delivers what is due.
pub fn run_pass(
    store: &mut Store,
    method: &str,
    config: &DeliveryConfig,
    now: UnixSecs,
) -> Result<(usize, DeliveryReport), AlertError> {
    let filter = vigie_store::ResultFilter {
        method: Some(method.to_string()),
        ..Default::default()
    };
    let (incidents, _) = crate::data::incidents(store, &filter)?;
    let added = enqueue(store, &incidents, now)? + enqueue_feed_health(store, now, 1800)?;
    Ok((added, deliver_due(store, config, now)?))
}

/// Why one delivery failed.
struct SendError {
    message: String,
    /// No answer: timed out or not reachable (the target's other rows wait).
    unreachable: bool,
}

impl From<String> for SendError {
    fn from(message: String) -> Self {
        SendError {
            message,
            unreachable: false,
        }
    }
}

fn send(
    target: &str,
    secret: &str,
    id: i64,
    key: &str,
    payload: &str,
    config: &DeliveryConfig,
) -> Result<(), SendError> {
    if let Some(address) = target.strip_prefix("mailto:") {
        return send_mail(address, secret, id, key, payload, config).map_err(SendError::from);
    }
    let (url, address) =
        check_target(target, config.allow_private).map_err(|e| SendError::from(e.to_string()))?;
    let host = url.host_str().unwrap_or_default().to_string();
    // No proxy: a proxy from HTTP(S)_PROXY would connect wherever it likes,
    // bypassing the checked, pinned address.
    let client = reqwest::blocking::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(&host, address)
        .build()
        .map_err(|e| SendError::from(format!("cannot build the HTTP client: {e}")))?;
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-vigie-signature", signature(secret, payload.as_bytes()))
        .header("x-vigie-delivery", id.to_string())
        .header("x-vigie-notice", key)
        .body(payload.to_string())
        .send()
        .map_err(|e| SendError {
            message: format!("POST failed: {e}"),
            unreachable: e.is_timeout() || e.is_connect(),
        })?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered {}", response.status()).into())
    }
}

/// A time for people: `2023-08-21T01:00:00Z (2023-08-21 04:00 (UTC+03:00) local)`,
/// the local time where the entity's zone is known.
fn time_with_local(iso: &str, entity: Option<&Entity>) -> String {
    let zone = entity.and_then(crate::report::tz::entity_zone);
    match (vigie_model::parse_utc(iso), zone) {
        (Ok(t), Some((zone, _))) => {
            format!("{iso} ({} local)", crate::report::tz::local_label(zone, t))
        }
        _ => iso.to_string(),
    }
}

/// The chat message of a notice (its vigie JSON): `text`, one line a person
/// reads in a channel, and one `attachments` entry with the details as
/// fields and a colour (red for a start, green for a restoration or an end,
/// amber otherwise), as Slack's and Mattermost's incoming webhooks take it.
/// The original notice's fields stay readable in `fallback`.
pub fn slack_message(payload: &str) -> String {
    let v: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let pct = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_f64)
            .map(|d| format!("{:.0}%", d * 100.0))
    };
    let entity_code = s("/entity").unwrap_or_else(|| "?".into());
    let entity = entity_code.parse::<Entity>().ok();
    let notice = s("/notice").unwrap_or_else(|| "notice".into());
    let provisional = v.pointer("/provisional").and_then(Value::as_bool) == Some(true);
    let when = s("/time")
        .map(|t| time_with_local(&t, entity.as_ref()))
        .unwrap_or_default();
    let depth = pct("/incident/depth");
    let headline = match notice.as_str() {
        "start" if provisional => {
            format!("Possible Internet outage in {entity_code} (provisional)")
        }
        "start" => format!("Internet outage in {entity_code}"),
        "restoration" => format!("Service partly back in {entity_code}"),
        "end" => format!("Internet outage over in {entity_code}"),
        "withdrawn" => format!("Provisional outage in {entity_code} withdrawn"),
        "feed-health" => format!("No data from {entity_code}"),
        other => format!("{other}: {entity_code}"),
    };
    let mut text = format!("*{headline}* at {when}");
    if let Some(depth) = &depth {
        text.push_str(&format!(": {depth} of the baseline lost"));
    }
    if let Some(message) = s("/message") {
        text.push_str(&format!(". {message}"));
    }
    let mut fields = Vec::new();
    let mut field = |title: &str, value: String, short: bool| {
        fields.push(json!({"title": title, "value": value, "short": short}));
    };
    if let Some(id) = s("/incident/id") {
        field("Incident", id, true);
    }
    if let Some(start) = s("/incident/start") {
        field("Start", time_with_local(&start, entity.as_ref()), false);
    }
    match s("/incident/end") {
        Some(end) => field("End", time_with_local(&end, entity.as_ref()), false),
        None if v.pointer("/incident").is_some() => field("End", "ongoing".into(), true),
        None => {}
    }
    if let Some(depth) = depth {
        field("Lost", depth, true);
    }
    if let Some(mechanism) = s("/incident/mechanism") {
        field("Mechanism", mechanism, true);
    }
    if let Some(scope) = s("/incident/scope") {
        field("Scope", scope, true);
    }
    if let (Some(start), Some(end)) = (s("/restoration/start"), s("/restoration/end")) {
        let share = pct("/restoration/restoredFraction").unwrap_or_else(|| "?".into());
        field(
            "Restoration window",
            format!(
                "{} → {} ({share} restored)",
                time_with_local(&start, entity.as_ref()),
                time_with_local(&end, entity.as_ref())
            ),
            false,
        );
    }
    if let Some(signals) = v.pointer("/incident/signals").and_then(Value::as_array) {
        let names: Vec<&str> = signals
            .iter()
            .filter_map(|x| {
                x.as_str()
                    .or_else(|| x.pointer("/signal").and_then(Value::as_str))
            })
            .collect();
        if !names.is_empty() {
            field("Signals", names.join(", "), false);
        }
    }
    let color = match notice.as_str() {
        "start" if !provisional => "#d7301f",
        "restoration" | "end" => "#1a9850",
        _ => "#f1a340",
    };
    json!({
        "text": text,
        "attachments": [{
            "fallback": text,
            "color": color,
            "fields": fields,
            "footer": "vigie",
        }],
    })
    .to_string()
}

/// The e-mail subject and text of a notice.
pub fn mail_text(payload: &str) -> (String, String) {
    let v: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    let text = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let subject = format!(
        "[vigie] {}: incident {} at {}",
        text("/entity"),
        text("/notice"),
        text("/time")
    );
    let depth = v
        .pointer("/incident/depth")
        .and_then(Value::as_f64)
        .map(|d| format!("{:.0}%", d * 100.0))
        .unwrap_or_else(|| "?".into());
    let body = format!(
        "{subject}\n\nIncident {} of {}: start {}, end {}, depth {depth}, mechanism {}, scope {}.\n\nThe notice as JSON:\n{payload}\n",
        text("/incident/id"),
        text("/entity"),
        text("/incident/start"),
        v.pointer("/incident/end").and_then(Value::as_str).unwrap_or("ongoing"),
        text("/incident/mechanism"),
        text("/incident/scope"),
    );
    (subject, body)
}

fn send_mail(
    address: &str,
    secret: &str,
    id: i64,
    key: &str,
    payload: &str,
    config: &DeliveryConfig,
) -> Result<(), String> {
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{Message, SmtpTransport, Transport};
    let smtp = config
        .smtp
        .as_ref()
        .ok_or("no SMTP relay is configured for mailto: targets")?;
    let (subject, body) = mail_text(payload);
    let message = Message::builder()
        .from(
            smtp.from
                .parse()
                .map_err(|e| format!("sender '{}': {e}", smtp.from))?,
        )
        .to(address
            .parse()
            .map_err(|e| format!("recipient '{address}': {e}"))?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .message_id(Some(format!(
            "<vigie-{id}-{}@vigie>",
            key.replace([':', '@', '/', ' '], ".")
        )))
        .body(format!(
            "{body}\nX-Vigie-Signature: {}\n",
            signature(secret, payload.as_bytes())
        ))
        .map_err(|e| format!("cannot build the message: {e}"))?;
    let builder = if smtp.starttls {
        SmtpTransport::starttls_relay(&smtp.host)
            .map_err(|e| format!("SMTP relay {}: {e}", smtp.host))?
    } else {
        SmtpTransport::builder_dangerous(&smtp.host)
    };
    let mut builder = builder.port(smtp.port).timeout(Some(config.timeout));
    if let Some((user, password)) = &smtp.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    builder
        .build()
        .send(&message)
        .map(|_| ())
        .map_err(|e| format!("SMTP delivery to {address} failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_reserved_targets_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.0.1",          // IETF protocol assignments 192.0.0.0/24
            "192.0.0.170",        // NAT64 discovery
            "192.0.2.1",          // documentation
            "198.51.100.1",       // documentation
            "203.0.113.1",        // documentation
            "198.18.0.1",         // benchmarking 198.18.0.0/15
            "198.19.255.254",     // benchmarking
            "192.88.99.1",        // 6to4 relay anycast
            "::",                 // unspecified
            "::1",                // loopback
            "fe80::1",            // link-local
            "fd00::1",            // unique local
            "fec0::1",            // site-local fec0::/10
            "ff02::1",            // multicast
            "::ffff:127.0.0.1",   // IPv4-mapped ::ffff:0:0/96
            "::ffff:8.8.8.8",     // IPv4-mapped, even of a public address
            "::127.0.0.1",        // IPv4-compatible ::/96
            "::8.8.8.8",          // IPv4-compatible
            "64:ff9b::7f00:1",    // NAT64 64:ff9b::/96 of 127.0.0.1
            "64:ff9b::a9fe:a9fe", // NAT64 of 169.254.169.254
            "64:ff9b::808:808",   // NAT64 of a public address
            "64:ff9b:1::7f00:1",  // local-use NAT64 64:ff9b:1::/48
            "2002:7f00:1::1",     // 6to4 of 127.0.0.1
            "2002:a9fe:a9fe::1",  // 6to4 of 169.254.169.254
            "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo 2001::/32
            "2001:2::1",          // benchmarking 2001:2::/48
            "2001:db8::1",        // documentation 2001:db8::/32
            "3fff::1",            // documentation 3fff::/20
            "100::1",             // discard 100::/64
            "4000::1",            // outside global unicast 2000::/3
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "198.20.0.1",
            "192.0.3.1",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4007::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        let err = check_target("http://127.0.0.1:9/hook", false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("request forgery"), "{err}");
        // The targets accepted before (issue 14, finding 6), as URLs.
        for host in [
            "[::127.0.0.1]",
            "[64:ff9b::7f00:1]",
            "[64:ff9b::a9fe:a9fe]",
            "[64:ff9b:1::a9fe:a9fe]",
            "[::ffff:7f00:1]",
            "[2002:7f00:1::1]",
            "[2002:a9fe:a9fe::1]",
            "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
            "[fec0::1]",
            "198.18.0.1",
            "192.0.0.1",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "[2001:db8::1]",
            "[100::1]",
            "[::1]",
            "localhost",
        ] {
            let err = check_target(&format!("http://{host}:9/hook"), false)
                .unwrap_err()
                .to_string();
            assert!(err.contains("request forgery"), "{host}: {err}");
        }
        assert!(check_target("http://127.0.0.1:9/hook", true).is_ok());
        assert!(check_target("ftp://example.org/", true)
            .unwrap_err()
            .to_string()
            .contains("only http"));
        assert!(check_target("http://user:pw@127.0.0.1/", true).is_err());
    }

    #[test]
    fn signatures_are_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(backoff_secs(0), 30);
        assert_eq!(backoff_secs(3), 240);
        assert_eq!(backoff_secs(20), 3600);
    }
}
