//! A generated access log with exact expected counts, read from a reader
//! and in follow mode across a rotation and a truncation.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use vigie_geo::GeoDb;
use vigie_model::{BinSize, CountryCode, Entity, SignalBin, SignalKind};
use vigie_traffic::access_log::{follow_file, read_lines, AccessLogAggregator, FollowOptions};

fn country(code: &str) -> Entity {
    Entity::Country(CountryCode::new(code).unwrap())
}

/// One combined-format line at `secs` after 2025-01-06T12:00:00Z, written
/// in the +0500 (Almaty) time zone as nginx there would.
fn line(client: &str, secs: i64) -> String {
    // 12:00:00Z = 17:00:00+0500
    let total = 17 * 3600 + secs;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    format!(
        "{client} - - [06/Jan/2025:{h:02}:{m:02}:{s:02} +0500] \"GET /page?id={secs} HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"\n",
        100 + secs
    )
}

/// Bin 1 (12:00–12:05Z): KZ 5 requests from 2 /24s, US 2 from 1 /24.
/// Bin 2 (12:05–12:10Z): KZ 1 request. Plus 2 garbage lines.
fn generated_log() -> String {
    let mut log = String::new();
    log += &line("2.132.0.1", 0);
    log += &line("2.132.0.2", 10);
    log += &line("8.8.8.8", 20);
    log += "this is not an access log line\n";
    log += &line("2.132.0.1", 30);
    log += &line("2.132.7.9", 100);
    log += &line("8.8.8.9", 200);
    log += &line("2.132.7.9", 299);
    log += "\n";
    log += "10.0.0.1 - - [06/Jan/2025:17:00:00 +0500] truncated\n";
    log += &line("2.132.0.1", 301);
    log
}

const BIN1: i64 = 1_736_164_800; // 2025-01-06T12:00:00Z

fn check(bins: &[SignalBin]) {
    assert_eq!(bins.len(), 2, "{bins:?}");
    let (kz, us) = (country("KZ"), country("US"));
    assert_eq!(bins[0].bin_start, BIN1);
    assert_eq!(bins[0].value(&kz, SignalKind::HttpRequests), Some(5.0));
    assert_eq!(
        bins[0].value(&kz, SignalKind::HttpUniqueClientSlash24s),
        Some(2.0)
    );
    assert_eq!(bins[0].value(&us, SignalKind::HttpRequests), Some(2.0));
    assert_eq!(
        bins[0].value(&us, SignalKind::HttpUniqueClientSlash24s),
        Some(1.0)
    );
    assert_eq!(bins[1].bin_start, BIN1 + 300);
    assert_eq!(bins[1].value(&kz, SignalKind::HttpRequests), Some(1.0));
    assert_eq!(
        bins[1].value(&kz, SignalKind::HttpUniqueClientSlash24s),
        Some(1.0)
    );
    // US fell silent after having data: 0, not "no data".
    assert_eq!(bins[1].value(&us, SignalKind::HttpRequests), Some(0.0));
}

#[test]
fn generated_log_gives_exact_counts() {
    let mut agg = AccessLogAggregator::new(GeoDb::embedded(), BinSize::FIVE_MINUTES, 60);
    let mut bins = Vec::new();
    let log = generated_log();
    read_lines(log.as_bytes(), "generated.log", &mut agg, &mut bins).unwrap();
    bins.extend(agg.close_all());
    check(&bins);
    let stats = agg.stats();
    assert_eq!(stats.requests, 8);
    assert_eq!(stats.bad_lines, 2);
    assert_eq!(
        stats.bad_line_examples[0],
        "generated.log:4: the first field is not a client IP address"
    );
    assert!(stats.bad_line_examples[1].starts_with("generated.log:10: no quoted request"));
}

#[test]
fn follow_survives_rotation_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let lines: Vec<String> = generated_log().lines().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, lines[..3].concat()).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let follower = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut agg = AccessLogAggregator::new(GeoDb::embedded(), BinSize::FIVE_MINUTES, 60);
            // The log's times are in the past: only they close bins here.
            let options = FollowOptions {
                from_start: true,
                poll: Duration::from_millis(20),
                close_quiet_bins: false,
            };
            let mut bins = Vec::new();
            follow_file(&path, options, &mut agg, &stop, &mut bins).unwrap();
            (agg.stats().clone(), bins)
        })
    };
    let pause = || std::thread::sleep(Duration::from_millis(200));
    pause();
    // Appended, with a line written in two pieces.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(lines[3].as_bytes()).unwrap();
    let (a, b) = lines[4].split_at(10);
    f.write_all(a.as_bytes()).unwrap();
    f.flush().unwrap();
    pause();
    f.write_all(b.as_bytes()).unwrap();
    f.write_all(lines[5].as_bytes()).unwrap();
    drop(f);
    pause();
    // Rotation: the old file is renamed (with a last line), a new one created.
    let mut old = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    old.write_all(lines[6].as_bytes()).unwrap();
    drop(old);
    std::fs::rename(&path, dir.path().join("access.log.1")).unwrap();
    std::fs::write(&path, lines[7..9].concat()).unwrap();
    pause();
    // Truncation (copytruncate), then the rest.
    std::fs::write(&path, "").unwrap();
    pause();
    std::fs::write(&path, lines[9..].concat()).unwrap();
    pause();
    stop.store(true, Ordering::Relaxed);
    let (stats, bins) = follower.join().unwrap();
    check(&bins);
    assert_eq!(stats.requests, 8);
    assert_eq!(stats.bad_lines, 2);
}

/// Peak resident memory of this process, in kB (Linux), for the line-cap test.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Issue 14, finding 9: a 300 MB line is counted and skipped, never held
/// whole; the lines around it are read as usual.
#[test]
fn a_300_mb_line_is_skipped_without_being_buffered() {
    use std::io::Read;
    let before = peak_rss_kb();
    let head = format!("{}{}", line("2.132.0.1", 0), line("2.132.0.2", 10));
    let huge = std::io::repeat(b'x').take(300 << 20);
    let tail = format!("\n{}{}", line("2.132.0.1", 30), line("2.132.0.1", 301));
    let reader = std::io::BufReader::new(head.as_bytes().chain(huge).chain(tail.as_bytes()));
    let mut agg = AccessLogAggregator::new(GeoDb::embedded(), BinSize::FIVE_MINUTES, 60);
    let mut bins = Vec::new();
    read_lines(reader, "huge.log", &mut agg, &mut bins).unwrap();
    bins.extend(agg.close_all());
    let stats = agg.stats();
    assert_eq!(stats.lines, 5);
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.long_lines, 1);
    assert_eq!(stats.bad_lines, 1);
    assert!(
        stats.bad_line_examples[0].starts_with("huge.log:3: line of 314572801 bytes"),
        "{:?}",
        stats.bad_line_examples
    );
    let kz = country("KZ");
    assert_eq!(bins[0].value(&kz, SignalKind::HttpRequests), Some(3.0));
    if let (Some(before), Some(after)) = (before, peak_rss_kb()) {
        assert!(
            after.saturating_sub(before) < 100_000,
            "peak memory grew by {} kB",
            after - before
        );
    }
}

/// The same cap holds when following a file (here lowered to 1 KiB): an
/// over-long line is skipped, the next lines are counted.
#[test]
fn follow_skips_an_over_long_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let mut log = line("2.132.0.1", 0);
    log += &"y".repeat(5000);
    log += "\n";
    log += &line("2.132.0.2", 10);
    log += &line("2.132.0.1", 301);
    std::fs::write(&path, &log).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = Arc::clone(&stop);
    let handle = std::thread::spawn(move || {
        let mut agg = AccessLogAggregator::new(GeoDb::embedded(), BinSize::FIVE_MINUTES, 60)
            .with_max_line_bytes(1024);
        let mut bins = Vec::new();
        let options = FollowOptions {
            from_start: true,
            poll: Duration::from_millis(20),
            close_quiet_bins: false,
        };
        follow_file(&path, options, &mut agg, &stopper, &mut bins).unwrap();
        (agg.stats().clone(), bins)
    });
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (stats, bins) = handle.join().unwrap();
    assert_eq!(stats.long_lines, 1, "{stats:?}");
    assert_eq!(stats.requests, 3);
    assert_eq!(
        bins[0].value(&country("KZ"), SignalKind::HttpRequests),
        Some(2.0)
    );
}
