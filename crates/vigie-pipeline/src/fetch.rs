//! Downloading public files over HTTP into a cache folder: a bounded number
//! at once, resumable (a `.part` file continued with an HTTP `Range`),
//! verified against the size the server announced, retried on a 5xx, a
//! timeout or a cut body. A file that still fails is reported, never left as
//! a silent hole; its `.part` stays for the next run to continue.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::StatusCode;

/// One file to fetch: its URL and where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Download {
    /// The file's URL.
    pub url: String,
    /// Where the verified file is written (the partial one beside it, `.part`).
    pub path: PathBuf,
}

/// How files are fetched.
#[derive(Clone, Debug)]
pub struct FetchSettings {
    /// Files downloaded at once (at least 1).
    pub parallel: usize,
    /// Attempts after the first, on a 5xx, a timeout or a cut body.
    pub retries: u32,
    /// Longest wait for the server's answer and between two reads of a body.
    pub timeout: Duration,
    /// The wait before the first retry, doubled at each one.
    pub retry_wait: Duration,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings {
            parallel: 4,
            retries: 3,
            timeout: Duration::from_secs(60),
            retry_wait: Duration::from_secs(2),
        }
    }
}

/// The retry and timeout flags of the commands that fetch over HTTP.
#[derive(clap::Args, Clone, Debug)]
pub struct FetchFlags {
    /// Attempts after the first on a 5xx, a timeout or a cut download.
    #[arg(long, default_value_t = FetchSettings::default().retries)]
    pub retries: u32,
    /// Longest wait, in seconds, for a server's answer or its next bytes.
    #[arg(long, default_value_t = FetchSettings::default().timeout.as_secs_f64())]
    pub timeout_secs: f64,
    /// Wait before the first retry, in seconds (doubled at each retry).
    #[arg(long, default_value_t = FetchSettings::default().retry_wait.as_secs_f64())]
    pub retry_wait_secs: f64,
}

impl FetchFlags {
    /// The settings these flags give (one file at a time).
    pub fn settings(&self) -> FetchSettings {
        let secs = |s: f64| Duration::from_secs_f64(s.clamp(0.0, 86_400.0));
        FetchSettings {
            parallel: 1,
            retries: self.retries,
            timeout: secs(self.timeout_secs),
            retry_wait: secs(self.retry_wait_secs),
        }
    }
}

/// An HTTP client with `settings`' timeout and vigie's user agent.
pub(crate) fn http_client(settings: &FetchSettings) -> Result<Client, String> {
    Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .user_agent(concat!("vigie/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot start an HTTP client: {e}"))
}

/// A small document (a folder listing, an API answer) by GET, retried on a
/// 5xx, a timeout or a cut body; `Ok(None)` on a 404.
pub(crate) fn get_with_retries(
    client: &Client,
    url: &str,
    settings: &FetchSettings,
) -> Result<Option<Vec<u8>>, String> {
    let mut last = String::new();
    let mut wait = settings.retry_wait;
    for attempt in 0..=settings.retries {
        if attempt > 0 {
            std::thread::sleep(wait);
            wait = wait.saturating_mul(2);
        }
        match client.get(url).send() {
            Ok(r) if r.status() == StatusCode::NOT_FOUND => return Ok(None),
            Ok(r) if r.status().is_success() => match r.bytes() {
                Ok(body) => return Ok(Some(body.to_vec())),
                Err(e) => last = format!("{url}: {e}"),
            },
            Ok(r) if r.status().is_client_error() => {
                return Err(format!("{url}: the server answered {}", r.status()))
            }
            Ok(r) => last = format!("{url}: the server answered {}", r.status()),
            Err(e) => last = format!("{url}: {e}"),
        }
    }
    Err(format!("{last} (after {} attempts)", settings.retries + 1))
}

/// How one download ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// The file is complete on disk: `bytes` long, `cached` when an earlier
    /// run had already fetched it.
    Done {
        /// Its size.
        bytes: u64,
        /// Whether it was in the cache already.
        cached: bool,
    },
    /// The server has no such file (404 or 410): nothing to retry.
    Missing(String),
    /// Every attempt failed (5xx, timeout, cut body); the reason of the last.
    Failed(String),
}

/// What a download tells while it runs (called from several threads).
pub trait FetchObserver: Sync {
    /// The size of a file became known (from `Content-Length`), or it was cached.
    fn size_known(&self, _bytes: u64) {}
    /// `bytes` more were received (or found in the cache or a `.part` file).
    fn received(&self, _bytes: u64) {}
    /// An attempt failed and will be retried.
    fn retrying(&self, _download: &Download, _reason: &str) {}
    /// A file is done, whatever the outcome.
    fn finished(&self, _download: &Download, _outcome: &Fetched) {}
}

/// Nothing to observe.
impl FetchObserver for () {}

/// Fetches every download, `settings.parallel` at once, and returns their
/// outcomes in the order given. A file already complete in the cache is not
/// fetched again.
pub fn fetch_all(
    downloads: &[Download],
    settings: &FetchSettings,
    observer: &dyn FetchObserver,
) -> Result<Vec<Fetched>, String> {
    let client = http_client(settings)?;
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<Option<Fetched>>> = Mutex::new(vec![None; downloads.len()]);
    std::thread::scope(|scope| {
        for _ in 0..settings.parallel.clamp(1, downloads.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(download) = downloads.get(i) else {
                    break;
                };
                let outcome = fetch_one(&client, download, settings, observer);
                observer.finished(download, &outcome);
                outcomes.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(outcome);
            });
        }
    });
    Ok(outcomes
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Fetched::Failed("not attempted".into())))
        .collect())
}

/// The partial file beside `path`.
pub fn part_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// One attempt's failure: retry it, or give up at once.
enum AttemptError {
    Retry(String),
    Missing(String),
}

fn fetch_one(
    client: &Client,
    download: &Download,
    settings: &FetchSettings,
    observer: &dyn FetchObserver,
) -> Fetched {
    if let Ok(meta) = fs::metadata(&download.path) {
        observer.size_known(meta.len());
        observer.received(meta.len());
        return Fetched::Done {
            bytes: meta.len(),
            cached: true,
        };
    }
    if let Some(parent) = download.path.parent() {
        if let Err(e) = fs::create_dir_all(parent) {
            return Fetched::Failed(format!("cannot create {}: {e}", parent.display()));
        }
    }
    let mut wait = settings.retry_wait;
    let mut sized = false;
    for attempt in 0..=settings.retries {
        match attempt_once(client, download, observer, &mut sized) {
            Ok(bytes) => {
                return Fetched::Done {
                    bytes,
                    cached: false,
                }
            }
            Err(AttemptError::Missing(reason)) => return Fetched::Missing(reason),
            Err(AttemptError::Retry(reason)) if attempt < settings.retries => {
                observer.retrying(download, &reason);
                std::thread::sleep(wait);
                wait = wait.saturating_mul(2);
            }
            Err(AttemptError::Retry(reason)) => {
                return Fetched::Failed(format!(
                "{reason} (after {} attempts; run again to continue from the {} bytes kept in {})",
                settings.retries + 1,
                fs::metadata(part_path(&download.path)).map_or(0, |m| m.len()),
                part_path(&download.path).display()
            ))
            }
        }
    }
    unreachable!("the last attempt returns")
}

/// One request: continues the `.part` file from its length, checks the
/// size, and renames it to the final path when complete.
fn attempt_once(
    client: &Client,
    download: &Download,
    observer: &dyn FetchObserver,
    sized: &mut bool,
) -> Result<u64, AttemptError> {
    let part = part_path(&download.path);
    let have = fs::metadata(&part).map_or(0, |m| m.len());
    let mut request = client.get(&download.url);
    if have > 0 {
        request = request.header(RANGE, format!("bytes={have}-"));
    }
    let response = request
        .send()
        .map_err(|e| AttemptError::Retry(format!("{}: {e}", download.url)))?;
    let status = response.status();
    let (offset, total) = match status {
        StatusCode::OK => (0, response.content_length()),
        StatusCode::PARTIAL_CONTENT => content_range(&response)
            .filter(|&(start, _)| start == have)
            .ok_or_else(|| {
                AttemptError::Retry(format!(
                    "{}: the server answered a range other than the one asked",
                    download.url
                ))
            })?,
        StatusCode::RANGE_NOT_SATISFIABLE => {
            // The partial file is not a prefix of the server's: start over.
            let _ = fs::remove_file(&part);
            return Err(AttemptError::Retry(format!(
                "{}: the partial file did not match the server's (416); starting over",
                download.url
            )));
        }
        StatusCode::NOT_FOUND | StatusCode::GONE => {
            return Err(AttemptError::Missing(format!(
                "{}: not on the server ({status})",
                download.url
            )))
        }
        _ => {
            return Err(AttemptError::Retry(format!(
                "{}: the server answered {status}",
                download.url
            )))
        }
    };
    if let (false, Some(total)) = (*sized, total) {
        *sized = true;
        observer.size_known(total);
        observer.received(offset);
    }
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(offset == 0)
        .append(offset > 0)
        .open(&part)
        .map_err(|e| AttemptError::Retry(format!("cannot write {}: {e}", part.display())))?;
    let copied = copy_body(response, &mut file, observer);
    let len = fs::metadata(&part).map_or(0, |m| m.len());
    if let Err(e) = copied {
        return Err(AttemptError::Retry(format!(
            "{}: the download broke off after {len} bytes{}: {e}",
            download.url,
            total.map(|t| format!(" of {t}")).unwrap_or_default()
        )));
    }
    if let Some(total) = total {
        if len != total {
            return Err(AttemptError::Retry(format!(
                "{}: truncated download, {len} of {total} bytes",
                download.url
            )));
        }
    }
    fs::rename(&part, &download.path).map_err(|e| {
        AttemptError::Retry(format!(
            "cannot move {} to {}: {e}",
            part.display(),
            download.path.display()
        ))
    })?;
    Ok(len)
}

fn copy_body(
    mut response: Response,
    file: &mut File,
    observer: &dyn FetchObserver,
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = response.read(&mut buf)?;
        if n == 0 {
            return file.flush();
        }
        file.write_all(&buf[..n])?;
        observer.received(n as u64);
    }
}

/// `Content-Range: bytes START-END/TOTAL` → (START, TOTAL).
fn content_range(response: &Response) -> Option<(u64, Option<u64>)> {
    let value = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let (range, total) = value.strip_prefix("bytes ")?.split_once('/')?;
    let start = range.split_once('-')?.0.parse().ok()?;
    Some((start, total.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_file_is_beside() {
        assert_eq!(
            part_path(Path::new("/c/rrc00/2022.01/bview.20220105.0000.gz")),
            PathBuf::from("/c/rrc00/2022.01/bview.20220105.0000.gz.part")
        );
    }
}
