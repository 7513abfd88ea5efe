//! The connection to NATS JetStream, run on its own small tokio runtime so
//! that synchronous callers (every [`vigie_model::BinSink`]) can use it
//! from any thread, inside another runtime or not.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use futures_util::TryStreamExt;

/// The stream's settings (`vigie bus … --stream`, `--max-age-secs`).
#[derive(Clone, Debug)]
pub struct StreamSettings {
    /// The stream's name.
    pub name: String,
    /// How long a message is kept (limits retention: every durable
    /// consumer reads it in its own time until then).
    pub max_age: Duration,
    /// The window in which a message id seen before is dropped.
    pub duplicate_window: Duration,
}

/// The stream name used unless told otherwise.
pub const DEFAULT_STREAM: &str = "VIGIE";

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            name: DEFAULT_STREAM.to_string(),
            max_age: Duration::from_secs(7 * 86_400),
            duplicate_window: Duration::from_secs(600),
        }
    }
}

/// The subjects the stream holds: closed and provisional bins, vantage
/// points' block states.
pub fn stream_subjects() -> Vec<String> {
    vec![
        format!("{}.>", crate::codec::BINS_PREFIX),
        format!("{}.>", crate::codec::PROVISIONAL_PREFIX),
        format!("{}.>", crate::codec::VANTAGE_PREFIX),
    ]
}

/// A failure talking to NATS.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BusError(pub String);

impl BusError {
    pub(crate) fn new(what: impl std::fmt::Display, error: impl std::fmt::Display) -> BusError {
        BusError(format!("{what}: {error}"))
    }
}

/// A NATS connection with JetStream, and the stream vigie uses (created
/// if missing).
pub struct Bus {
    runtime: Option<tokio::runtime::Runtime>,
    pub(crate) jetstream: jetstream::Context,
    pub(crate) stream: stream::Stream,
    url: String,
}

impl Bus {
    /// Connects to `url` (`nats://host:4222`) and opens the stream, creating
    /// it with `settings` when it does not exist (an existing stream keeps
    /// its own settings).
    pub fn connect(url: &str, settings: &StreamSettings) -> Result<Bus, BusError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("vigie-bus")
            .enable_all()
            .build()
            .map_err(|e| BusError::new("cannot start the bus's runtime", e))?;
        let url_owned = url.to_string();
        let settings = settings.clone();
        let connect = async move {
            let client = async_nats::ConnectOptions::new()
                .connection_timeout(Duration::from_secs(5))
                .connect(&url_owned)
                .await
                .map_err(|e| {
                    BusError::new(
                        format!("cannot connect to NATS at {url_owned} (is nats-server -js running there?)"),
                        e,
                    )
                })?;
            let jetstream = jetstream::new(client);
            let config = stream::Config {
                name: settings.name.clone(),
                subjects: stream_subjects(),
                retention: stream::RetentionPolicy::Limits,
                storage: stream::StorageType::File,
                max_age: settings.max_age,
                duplicate_window: settings.duplicate_window,
                discard: stream::DiscardPolicy::Old,
                ..Default::default()
            };
            let stream = jetstream.get_or_create_stream(config).await.map_err(|e| {
                BusError::new(
                    format!(
                        "cannot open the JetStream stream {} on {url_owned} (is JetStream enabled: nats-server -js?)",
                        settings.name
                    ),
                    e,
                )
            })?;
            Ok::<_, BusError>((jetstream, stream))
        };
        let (jetstream, stream) = block_on_in(&runtime, connect)?;
        Ok(Bus {
            runtime: Some(runtime),
            jetstream,
            stream,
            url: url.to_string(),
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `future` on the bus's runtime and waits for it, from any thread.
    pub(crate) fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let runtime = self.runtime.as_ref().expect("the runtime lives until drop");
        block_on_in(runtime, future)
    }

    /// Publishes raw bytes on `subject` through JetStream and waits for
    /// the stream's ack (tests, and tools injecting messages).
    pub fn publish_raw(&self, subject: &str, payload: Vec<u8>) -> Result<(), BusError> {
        let jetstream = self.jetstream.clone();
        let subject = subject.to_string();
        self.run(async move {
            jetstream
                .publish(subject.clone(), payload.into())
                .await
                .map_err(|e| BusError::new(format!("cannot publish on {subject}"), e))?
                .await
                .map_err(|e| BusError::new(format!("no ack for {subject}"), e))?;
            Ok(())
        })
    }

    /// How many messages the stream holds.
    pub fn stream_messages(&self) -> Result<u64, BusError> {
        let mut stream = self.stream.clone();
        self.run(async move {
            stream
                .info()
                .await
                .map(|info| info.state.messages)
                .map_err(|e| BusError::new("cannot read the stream's state", e))
        })
    }
}

impl Bus {
    /// How many messages the stream holds on each subject matching
    /// `filter` (`vigie.bins.probe-combined.>`): a bin published again
    /// unchanged within the duplicate window is held once.
    pub fn subject_messages(&self, filter: &str) -> Result<BTreeMap<String, u64>, BusError> {
        let stream = self.stream.clone();
        let filter = filter.to_string();
        self.run(async move {
            let failed = |e| BusError::new("cannot read the stream's subjects", e);
            let mut subjects = stream.info_with_subjects(&filter).await.map_err(failed)?;
            let mut counts = BTreeMap::new();
            while let Some((subject, count)) = subjects.try_next().await.map_err(failed)? {
                counts.insert(subject, count as u64);
            }
            Ok(counts)
        })
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        // Never blocks, so a bus may be dropped inside another runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Spawns `future` on `runtime` and waits on a channel: unlike
/// `Runtime::block_on`, this works on a thread that is itself running
/// async code.
fn block_on_in<F>(runtime: &tokio::runtime::Runtime, future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (send, receive) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = send.send(future.await);
    });
    receive
        .recv()
        .expect("the bus's runtime finishes every task it is given")
}
