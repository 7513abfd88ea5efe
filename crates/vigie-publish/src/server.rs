//! The HTTP server: the router joining the native API, the IODA-compatible
//! API, the OpenAPI document, the dashboard, the writes and `/metrics`, and
//! the serve loop, which enforces the connection limits of
//! [`ServerLimits`](crate::limits::ServerLimits): header (and keep-alive
//! idle) timeout, write timeout, a cap on connections that closes the
//! oldest idle one to make room; [`guard_request`] enforces the per-request
//! ones (body size announced, request timeout) and adds
//! `X-Content-Type-Options: nosniff` to every response.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tower::Service;

use crate::error::ApiError;
use crate::limits::ClientAddr;
use crate::paths;
use crate::state::AppState;
use crate::{api, cors, dashboard, feed, ioda, openapi, writes};

async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics()
        .record(&route, response.status().as_u16(), started.elapsed());
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint: see /api/v1/openapi.json")
}

/// The whole HTTP API as an axum router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(paths::ENTITIES, get(api::entities))
        .route(paths::SIGNALS, get(api::signals))
        .route(paths::SIGNALS_CSV, get(api::signals_csv))
        .route(paths::EVENTS, get(api::events))
        .route(paths::INCIDENTS, get(api::incidents))
        .route(paths::INCIDENT, get(api::incident))
        .route(paths::INCIDENTS_ATOM, get(feed::incidents_atom))
        .route(paths::SUMMARY, get(api::summary))
        .route(paths::OPENAPI, get(openapi::serve))
        .route(paths::IODA_SIGNALS_RAW, get(ioda::signals_raw))
        .route(paths::IODA_ALERTS, get(ioda::alerts))
        .route(paths::IODA_EVENTS, get(ioda::events))
        .route(paths::IODA_SUMMARY, get(ioda::summary))
        .route(paths::IODA_ENTITIES, get(ioda::entities))
        .route(paths::IODA_SIGNALS_EVENTS, get(ioda::signals_events))
        .route(paths::IODA_DATASOURCES, get(ioda::datasources))
        .route(paths::IODA_DATASOURCES_SLASH, get(ioda::datasources_slash))
        .route(paths::IODA_DATASOURCE, get(ioda::datasource))
        .route(paths::IODA_TOPO, get(ioda::topo))
        .route(paths::METRICS, get(crate::scrape::metrics_text))
        .route(paths::COVERAGE, get(dashboard::coverage))
        // CORS on the read routes above only (Router::layer wraps the routes
        // added so far): not on the dashboard's pages nor on the writes below.
        .layer(cors::read_only())
        .route(paths::DASHBOARD, get(dashboard::index))
        .route(paths::DASHBOARD_FILES, get(dashboard::file))
        .route(paths::EMBED_ROUTE, get(dashboard::embed))
        .route(
            paths::ANNOTATIONS,
            get(writes::list_annotations)
                .layer(cors::read_only())
                .post(writes::add_annotation),
        )
        .route(
            paths::SUBSCRIPTIONS,
            get(writes::list_subscriptions).post(writes::add_subscription),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.limits().max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), guard_request))
        .with_state(state)
}

/// Refuses a body announced larger than the limit with 413 before reading
/// any of it, answers 503 past the request timeout (dropping the handler,
/// which cancels its work), and marks every response `nosniff`.
pub async fn guard_request(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limits = state.limits();
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut response = match announced {
        Some(length) if length > limits.max_body_bytes as u64 => {
            let mut response = ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                message: format!(
                    "the body announces {length} bytes; at most {} are accepted",
                    limits.max_body_bytes
                ),
                retry_after: None,
            }
            .into_response();
            // The body is not read: the connection cannot be reused.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
        _ => match tokio::time::timeout(limits.request_timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => ApiError::busy(
                format!(
                    "the request was not answered within {} s",
                    limits.request_timeout.as_secs_f64()
                ),
                limits.retry_after,
            )
            .into_response(),
        },
    };
    response
        .headers_mut()
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    response
}

/// Binds `addr` (use port 0 for any free port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Serves the API on `listener` until `shutdown` completes, within the
/// limits of `state` ([`AppState::with_limits`]); then stops accepting,
/// closes idle connections, lets requests in progress finish and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits().clone();
    let app = router(state.clone());
    let registry = Arc::new(Registry::default());
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let busy_reply = busy_response(limits.retry_after);
    let mut next_id: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors: make room; any other error is
                // the client's (reset before accept) or passes.
                if matches!(e.raw_os_error(), Some(23) | Some(24)) && registry.evict_oldest_idle() {
                    state.metrics().count_connection_evicted();
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        if registry.live() >= limits.max_connections {
            if registry.evict_oldest_idle() {
                state.metrics().count_connection_evicted();
            } else {
                state.metrics().count_connection_refused();
                let _ = stream.try_write(&busy_reply);
                continue;
            }
        }
        let _ = stream.set_nodelay(true);
        next_id += 1;
        let id = next_id;
        let (busy, close) = registry.add(id);
        state.metrics().set_connections_open(registry.len());
        let service = connection_service(app.clone(), peer, Arc::clone(&busy));
        let io = TokioIo::new(WriteTimeout::new(stream, limits.write_timeout));
        let connection = http.serve_connection(io, service);
        let registry = Arc::clone(&registry);
        let state = state.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = close.notified() => {
                    // Idle: drop it now. Busy: finish what is in progress.
                    if busy.load(Ordering::SeqCst) > 0 {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.await;
                    }
                }
            }
            registry.remove(id);
            state.metrics().set_connections_open(registry.len());
        });
    }
    drop(listener);
    registry.close_all().await;
    Ok(())
}

/// Answered to a connection when every held one is busy.
fn busy_response(retry_after: Duration) -> Vec<u8> {
    let body = "{\"error\":\"the server holds too many connections; retry shortly\"}\n";
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        retry_after.as_secs().max(1),
        body.len()
    )
    .into_bytes()
}

/// The service of one connection: each request gets the client's address
/// and counts as busy until its response body has been sent.
fn connection_service(
    app: Router,
    peer: SocketAddr,
    busy: Arc<AtomicUsize>,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ClientAddr(peer));
        let guard = BusyGuard::new(Arc::clone(&busy));
        let mut app = app.clone();
        async move {
            let response = match app.call(request.map(Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok(response.map(|body| {
                Body::new(GuardedBody {
                    body,
                    _guard: guard,
                })
            }))
        }
    })
}

/// Counts one request in progress on a connection while alive.
struct BusyGuard(Arc<AtomicUsize>);

impl BusyGuard {
    fn new(busy: Arc<AtomicUsize>) -> BusyGuard {
        busy.fetch_add(1, Ordering::SeqCst);
        BusyGuard(busy)
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request counted as busy until it is sent.
struct GuardedBody {
    body: Body,
    _guard: BusyGuard,
}

impl http_body::Body for GuardedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// One open connection: its requests in progress and how to close it.
struct Connection {
    busy: Arc<AtomicUsize>,
    close: Arc<Notify>,
    closing: bool,
}

/// Every open connection, oldest first.
#[derive(Default)]
struct Registry {
    open: Mutex<BTreeMap<u64, Connection>>,
    emptied: Notify,
}

impl Registry {
    fn add(&self, id: u64) -> (Arc<AtomicUsize>, Arc<Notify>) {
        let busy = Arc::new(AtomicUsize::new(0));
        let close = Arc::new(Notify::new());
        if let Ok(mut open) = self.open.lock() {
            open.insert(
                id,
                Connection {
                    busy: Arc::clone(&busy),
                    close: Arc::clone(&close),
                    closing: false,
                },
            );
        }
        (busy, close)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(&id);
            if open.is_empty() {
                self.emptied.notify_waiters();
            }
        }
    }

    fn len(&self) -> usize {
        self.open.lock().map(|open| open.len()).unwrap_or(0)
    }

    /// Open connections not being closed.
    fn live(&self) -> usize {
        self.open
            .lock()
            .map(|open| open.values().filter(|c| !c.closing).count())
            .unwrap_or(0)
    }

    /// Closes the oldest connection with no request in progress; false
    /// when every connection is busy.
    fn evict_oldest_idle(&self) -> bool {
        let Ok(mut open) = self.open.lock() else {
            return false;
        };
        match open
            .values_mut()
            .find(|c| !c.closing && c.busy.load(Ordering::SeqCst) == 0)
        {
            Some(connection) => {
                connection.closing = true;
                connection.close.notify_one();
                true
            }
            None => false,
        }
    }

    /// Closes every connection (idle ones at once, busy ones when their
    /// requests are answered) and waits until none is left.
    async fn close_all(&self) {
        loop {
            let emptied = self.emptied.notified();
            tokio::pin!(emptied);
            emptied.as_mut().enable();
            {
                let Ok(mut open) = self.open.lock() else {
                    return;
                };
                if open.is_empty() {
                    return;
                }
                for connection in open.values_mut() {
                    if !connection.closing {
                        connection.closing = true;
                        connection.close.notify_one();
                    }
                }
            }
            emptied.await;
        }
    }
}

/// A TCP stream whose writes fail once they have made no progress for
/// `timeout` (a client that stopped reading its response).
struct WriteTimeout {
    stream: tokio::net::TcpStream,
    timeout: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WriteTimeout {
    fn new(stream: tokio::net::TcpStream, timeout: Duration) -> WriteTimeout {
        WriteTimeout {
            stream,
            timeout,
            stalled: None,
        }
    }

    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match poll {
            Poll::Pending => {
                let timeout = self.timeout;
                let stalled = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if stalled.as_mut().poll(cx).is_ready() {
                    self.stalled = None;
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client stopped reading",
                    )));
                }
                Poll::Pending
            }
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl AsyncRead for WriteTimeout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteTimeout {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.watch(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
