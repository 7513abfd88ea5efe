//! What keeps one client from starving the others: the server's limits
//! ([`ServerLimits`], defaults documented on each field), the gate on
//! concurrent heavy reads (`Guards`; a read takes it through
//! [`crate::read_limits::ReadLimits`], 503 with `Retry-After` when full),
//! cancellation of work whose client has gone ([`Cancel`], [`client_gone`])
//! and the throttle on wrong write tokens (per client address, 429 with
//! `Retry-After`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::params::MAX_BODY_BYTES;

/// The server's limits. [`ServerLimits::default`] gives the values used by
/// `vigie serve --listen`.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    /// Time allowed for a request's headers to arrive, counted from when the
    /// connection opens or its previous response was sent: a connection that
    /// sends nothing, or half its headers, is closed after it, so this is
    /// also the keep-alive idle timeout. Default 10 s.
    pub header_timeout: Duration,
    /// A response write that makes no progress for this long (a client that
    /// stopped reading) closes the connection. Default 30 s.
    pub write_timeout: Duration,
    /// Time allowed to read a request's body and answer it; past it the
    /// request gets 503 and its work is cancelled. Default 60 s.
    pub request_timeout: Duration,
    /// Connections held at once. When full, the oldest connection with no
    /// request in progress is closed to make room; when every one is busy,
    /// the new connection gets 503 and is closed. Default 4096.
    pub max_connections: usize,
    /// The largest request body, in bytes; a larger `Content-Length` is
    /// refused with 413 before any of the body is read. Default 64 KiB.
    pub max_body_bytes: usize,
    /// Heavy series reads served at once; one more gets 503 with
    /// `Retry-After`. Default: the number of CPUs, at least 2.
    pub max_heavy: usize,
    /// A series read is heavy when its range holds more than this many bins
    /// summed over the series it reads. Default 100,000 (a year of 5-minute
    /// bins of one signal).
    pub heavy_bins: u64,
    /// The largest series response (JSON or CSV), in bytes; a larger one is
    /// refused with 400 asking for a smaller `maxPoints` or range.
    /// Default 64 MiB.
    pub max_response_bytes: usize,
    /// The `Retry-After` given with a 503 for a full server. Default 2 s.
    pub retry_after: Duration,
    /// Wrong write tokens allowed per client address per minute; past it
    /// the client gets 429 with `Retry-After` until the minute ends.
    /// Default 10.
    pub token_failures_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed. The per-client
    /// throttle keys on the TCP peer's address; only when that peer is one
    /// of these does it take the client from `X-Forwarded-For` (the
    /// rightmost address that is not itself a trusted proxy). Anyone can
    /// write that header, so from any other peer it is ignored. Default:
    /// none (the header is never read).
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_body_bytes: MAX_BODY_BYTES,
            max_heavy: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .max(2),
            heavy_bins: 100_000,
            max_response_bytes: 64 << 20,
            retry_after: Duration::from_secs(2),
            token_failures_per_minute: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The shared state behind the limits: the heavy-read semaphore and the
/// token throttle.
pub(crate) struct Guards {
    pub(crate) limits: ServerLimits,
    heavy: Arc<Semaphore>,
    pub(crate) throttle: TokenThrottle,
}

impl Guards {
    pub(crate) fn new(limits: ServerLimits) -> Guards {
        Guards {
            heavy: Arc::new(Semaphore::new(limits.max_heavy.max(1))),
            throttle: TokenThrottle::new(limits.token_failures_per_minute),
            limits,
        }
    }

    /// Takes a heavy-read permit, or says the server is busy.
    pub(crate) fn try_heavy(&self) -> Result<HeavyPermit, ApiError> {
        Arc::clone(&self.heavy)
            .try_acquire_owned()
            .map(HeavyPermit)
            .map_err(|_| {
                ApiError::busy(
                    format!(
                        "the server is answering {} heavy series reads already; retry shortly, or ask a shorter range",
                        self.limits.max_heavy
                    ),
                    self.limits.retry_after,
                )
            })
    }

    /// Waits for a heavy-read permit (from a blocking thread of the
    /// runtime): a streamed response resuming its writing.
    pub(crate) fn wait_heavy_blocking(&self) -> Option<HeavyPermit> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        handle
            .block_on(Arc::clone(&self.heavy).acquire_owned())
            .ok()
            .map(HeavyPermit)
    }

    /// Heavy reads in progress.
    pub(crate) fn heavy_in_flight(&self) -> usize {
        self.limits
            .max_heavy
            .max(1)
            .saturating_sub(self.heavy.available_permits())
    }
}

/// One of the [`ServerLimits::max_heavy`] slots for heavy reads, given back
/// when dropped.
#[derive(Debug)]
pub struct HeavyPermit(#[allow(dead_code)] OwnedSemaphorePermit);

/// A flag set when the client of a request has gone (its request future
/// was dropped), checked by blocking work between steps.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag not set, and the guard that sets it when dropped: keep the
    /// guard in the request's future, move the flag into the work.
    pub fn new() -> (Cancel, CancelOnDrop) {
        let cancel = Cancel::default();
        (cancel.clone(), CancelOnDrop(cancel))
    }

    /// Whether the client has gone.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

thread_local! {
    /// The flag of the request this (blocking-pool) thread is working for.
    static CURRENT: std::cell::RefCell<Option<Cancel>> = const { std::cell::RefCell::new(None) };
}

impl Cancel {
    /// Runs `work` on this thread as the work of the request this flag
    /// belongs to: the data layer's long loops ([`client_gone`]) stop early
    /// once it is set.
    pub(crate) fn scope<T>(&self, work: impl FnOnce() -> T) -> T {
        struct Restore(Option<Cancel>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CURRENT.with(|current| *current.borrow_mut() = previous);
            }
        }
        let _restore = Restore(CURRENT.with(|current| current.replace(Some(self.clone()))));
        work()
    }
}

/// Whether the server request this thread is working for has lost its
/// client; always false outside a request (the command line, the alert
/// worker). Long loops check it and stop early: what they return then is
/// incomplete, and the server discards it.
pub fn client_gone() -> bool {
    CURRENT.with(|current| current.borrow().as_ref().is_some_and(Cancel::is_cancelled))
}

/// Sets its [`Cancel`] flag when dropped.
#[derive(Debug)]
pub struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        (self.0).0.store(true, Ordering::Relaxed);
    }
}

/// The TCP peer's address, set on each request by the server (the
/// write-token throttle counts per [`client_ip`] of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::SocketAddr);

/// The client a per-client limit counts: the TCP `peer`, or, when the
/// peer is one of the `trusted` proxies, the rightmost address of the
/// `X-Forwarded-For` headers that is not a trusted proxy (the hop the
/// trusted chain received the request from). A value that does not parse
/// stops the walk at the last trusted hop.
pub fn client_ip(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => client = ip,
            Ok(ip) => return ip,
            Err(_) => break,
        }
    }
    client
}

/// Wrong write tokens counted per client address (IPv6 per /64) over a
/// minute; a client past the limit is refused until its minute ends.
pub(crate) struct TokenThrottle {
    per_minute: u32,
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

/// Addresses tracked at most; past it, old windows are dropped first.
const MAX_TRACKED: usize = 65_536;
const WINDOW: Duration = Duration::from_secs(60);

fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

impl TokenThrottle {
    fn new(per_minute: u32) -> TokenThrottle {
        TokenThrottle {
            per_minute,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The wait before `client` may try a token again, if it is blocked.
    pub(crate) fn blocked(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().ok()?;
        let (start, count) = failures.get(&client_key(client))?;
        let elapsed = now.saturating_duration_since(*start);
        (elapsed < WINDOW && *count >= self.per_minute).then(|| WINDOW - elapsed)
    }

    /// Counts a wrong token from `client`.
    pub(crate) fn failed(&self, client: IpAddr, now: Instant) {
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (start, _)| now.saturating_duration_since(*start) < WINDOW);
        }
        if failures.len() >= MAX_TRACKED && !failures.contains_key(&client_key(client)) {
            return;
        }
        let entry = failures.entry(client_key(client)).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_blocks_after_the_limit_for_the_rest_of_the_minute() {
        let throttle = TokenThrottle::new(3);
        let a: IpAddr = "192.0.2.7".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:3::4".parse().unwrap();
        let b2: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(throttle.blocked(a, t0), None);
            throttle.failed(a, t0);
        }
        let wait = throttle.blocked(a, t0 + Duration::from_secs(20)).unwrap();
        assert_eq!(wait, Duration::from_secs(40));
        assert_eq!(throttle.blocked(a, t0 + Duration::from_secs(61)), None);
        for _ in 0..3 {
            throttle.failed(b, t0);
        }
        assert!(throttle.blocked(b2, t0).is_some(), "IPv6 counted per /64");
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let inner: IpAddr = "10.0.0.3".parse().unwrap();
        let mut headers = axum::http::HeaderMap::new();
        headers.append(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        headers.append("x-forwarded-for", "10.0.0.3".parse().unwrap());
        // Not trusted: the header is anyone's to write.
        assert_eq!(client_ip(proxy, &headers, &[]), proxy);
        assert_eq!(client_ip(inner, &headers, &[proxy]), inner);
        // Trusted: the rightmost address no trusted proxy holds.
        assert_eq!(
            client_ip(proxy, &headers, &[proxy, inner]),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(proxy, &axum::http::HeaderMap::new(), &[proxy]),
            proxy
        );
        let mut bad = axum::http::HeaderMap::new();
        bad.append("x-forwarded-for", "203.0.113.9, unknown".parse().unwrap());
        assert_eq!(client_ip(proxy, &bad, &[proxy]), proxy);
    }

    #[test]
    fn cancel_is_set_when_the_guard_drops() {
        let (cancel, guard) = Cancel::new();
        assert!(!cancel.is_cancelled());
        drop(guard);
        assert!(cancel.is_cancelled());
    }
}
