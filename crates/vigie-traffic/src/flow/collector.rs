//! The UDP collector: listens for export datagrams, feeds a
//! [`FlowPipeline`], and hands each closed bin to the caller.
//!
//! Every socket accepts every protocol (the decoder tells NetFlow/IPFIX
//! from sFlow by content), so a NetFlow port and an sFlow port are just two
//! listeners. A bin closes once the wall clock is `grace_secs` past its end.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;
use vigie_model::{BinSink, SinkError, UnixSecs};

use super::limits::FlowLimits;
use super::pipeline::FlowPipeline;

/// Where and how long to listen.
#[derive(Clone, Debug)]
pub struct CollectorConfig {
    /// Addresses to listen on (NetFlow, IPFIX and/or sFlow ports).
    pub listen: Vec<SocketAddr>,
    /// A bin is closed this many seconds after it ends, to wait for late datagrams.
    pub grace_secs: i64,
    /// Stop after this long (then close every open bin); `None` runs until stopped.
    pub run_for: Option<Duration>,
    /// Exporters allowed, caps on exporters, templates and fields, and the
    /// plausibility ceiling ([`FlowLimits::default`] documents the defaults);
    /// [`run_collector`] applies them to the pipeline.
    pub limits: FlowLimits,
}

/// What went wrong running the collector.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// A socket could not be bound or read.
    #[error("UDP {addr}: {source} (is the port in use, or below 1024 without privileges?)")]
    Socket {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The runtime could not start.
    #[error("cannot start the collector's runtime: {0}")]
    Runtime(std::io::Error),
    /// The bin sink failed (for example the store); collection stopped.
    #[error("writing a closed bin failed: {0}")]
    Sink(#[from] SinkError),
}

/// The receive buffer asked for on every socket, 8 MiB (the kernel caps it
/// at `net.core.rmem_max`): bursts of datagrams wait there.
pub const RECV_BUFFER_BYTES: usize = 8 << 20;

/// Binds a non-blocking UDP socket with a large receive buffer (best effort).
fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // A smaller buffer than asked for is not an error: the kernel's cap applies.
    let _ = socket.set_recv_buffer_size(RECV_BUFFER_BYTES);
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

fn now_secs() -> UnixSecs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Records each exporter's counts so far as counters of the `metrics`
/// facade (absolute values: the pipeline keeps them), labelled by the
/// exporter's address: `vigie_flow_datagrams_total`,
/// `vigie_flow_records_total`, `vigie_flow_bad_datagrams_total` (not
/// decoded, wholly or partly) and `vigie_flow_template_misses_total`.
pub fn record_health(pipeline: &FlowPipeline) {
    for (exporter, health) in pipeline.health() {
        let e = exporter.to_string();
        metrics::counter!("vigie_flow_datagrams_total", "exporter" => e.clone())
            .absolute(health.datagrams);
        metrics::counter!("vigie_flow_records_total", "exporter" => e.clone())
            .absolute(health.records);
        metrics::counter!("vigie_flow_bad_datagrams_total", "exporter" => e.clone())
            .absolute(health.decode_errors);
        metrics::counter!("vigie_flow_template_misses_total", "exporter" => e)
            .absolute(health.template_misses);
    }
}

/// Runs the collector on the current thread until `stop` is set, the
/// configured time has passed, or `sink` fails. `config.limits` replace the
/// pipeline's (datagrams from exporters they do not allow are counted in
/// [`FlowPipeline::limit_stats`] and dropped). `sink` receives each closed
/// bin, and `after_bin` is then called with the pipeline (for its health
/// and [`FlowPipeline::take_feed_notices`]); every 250 ms, each exporter's
/// counts go to the `metrics` facade ([`record_health`]);
/// every open bin is closed and handed over before returning. `on_ready` is
/// called with the bound addresses.
pub fn run_collector(
    config: &CollectorConfig,
    pipeline: &mut FlowPipeline,
    stop: Arc<AtomicBool>,
    on_ready: impl FnOnce(&[SocketAddr]),
    sink: &mut dyn BinSink,
    mut after_bin: impl FnMut(&mut FlowPipeline),
) -> Result<(), CollectorError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(CollectorError::Runtime)?;
    pipeline.set_limits(config.limits.clone());
    runtime.block_on(async {
        let mut sockets = Vec::new();
        for addr in &config.listen {
            let socket = bind_udp(*addr).map_err(|source| CollectorError::Socket {
                addr: *addr,
                source,
            })?;
            sockets.push(socket);
        }
        let bound: Vec<SocketAddr> = sockets
            .iter()
            .zip(&config.listen)
            .map(|(s, a)| s.local_addr().unwrap_or(*a))
            .collect();
        on_ready(&bound);
        let started = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut buf = vec![0u8; 65_536];
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(SocketAddr, Vec<u8>)>(4096);
        let mut tasks = Vec::new();
        for socket in sockets {
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 65_536];
                loop {
                    match socket.recv_from(&mut buf).await {
                        Ok((len, from)) => {
                            let data = buf.get(..len).unwrap_or_default().to_vec();
                            if tx.send((from, data)).await.is_err() {
                                break;
                            }
                        }
                        // ICMP errors and the like surface here: keep listening.
                        Err(_) => tokio::task::yield_now().await,
                    }
                }
            }));
        }
        drop(tx);
        buf.clear();
        let result = loop {
            tokio::select! {
                received = rx.recv() => {
                    let Some((from, data)) = received else { break Ok(()) };
                    pipeline.ingest(from, now_secs(), &data);
                }
                _ = tick.tick() => {
                    record_health(pipeline);
                    let done = stop.load(Ordering::Relaxed)
                        || config.run_for.is_some_and(|d| started.elapsed() >= d);
                    if done {
                        break Ok(());
                    }
                    let mut failed = None;
                    for bin in pipeline.close_until(now_secs() - config.grace_secs) {
                        if let Err(e) = sink.write(&bin) {
                            failed = Some(e);
                            break;
                        }
                        after_bin(pipeline);
                    }
                    if let Some(e) = failed {
                        break Err(CollectorError::Sink(e));
                    }
                }
            }
        };
        for task in tasks {
            task.abort();
        }
        // Datagrams already queued are still counted.
        while let Ok((from, data)) = rx.try_recv() {
            pipeline.ingest(from, now_secs(), &data);
        }
        result?;
        for bin in pipeline.close_all() {
            sink.write(&bin)?;
            after_bin(pipeline);
        }
        Ok(())
    })
}
