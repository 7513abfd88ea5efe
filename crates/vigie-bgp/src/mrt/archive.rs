//! Finding MRT files and putting them in time order.
//!
//! Accepts single files and directories laid out like the RIPE RIS archive
//! (`rrc00/2022.01/bview.20220105.0000.gz`, `updates.20220105.1030.gz`) or
//! RouteViews (`route-views2/bgpdata/2022.01/RIBS/rib.20220105.0000.bz2`,
//! `UPDATES/updates.20220105.1015.bz2`). The collector is the path component
//! named `rrcNN` or `route-views*`; files without one share the collector
//! `default`. The time is read from the `YYYYMMDD.HHMM` part of the name.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use chrono_free::utc_from_parts;

/// What a file holds, judged by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    /// A RIB dump (`bview.*`, `rib.*`).
    Rib,
    /// Updates (`updates.*`).
    Updates,
    /// A name that says nothing; the content decides.
    Unknown,
}

/// One MRT file to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MrtFile {
    /// Where it is.
    pub path: PathBuf,
    /// The route collector it comes from.
    pub collector: String,
    /// RIB dump or updates.
    pub kind: FileKind,
    /// The time its name gives (UTC seconds), if any.
    pub name_time: Option<i64>,
}

/// The files of one collector, in time order.
#[derive(Clone, Debug)]
pub struct CollectorFiles {
    /// The collector's name.
    pub collector: String,
    /// Its files, RIB before updates at equal times.
    pub files: Vec<MrtFile>,
}

impl MrtFile {
    /// Describes a file from its path alone.
    pub fn from_path(path: &Path) -> MrtFile {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let lower = name.to_ascii_lowercase();
        let kind = if lower.starts_with("bview") || lower.starts_with("rib") {
            FileKind::Rib
        } else if lower.starts_with("updates") {
            FileKind::Updates
        } else {
            FileKind::Unknown
        };
        MrtFile {
            path: path.to_path_buf(),
            collector: collector_of(path),
            kind,
            name_time: time_in_name(&name),
        }
    }
}

fn collector_of(path: &Path) -> String {
    path.components()
        .rev()
        .skip(1)
        .filter_map(|c| c.as_os_str().to_str())
        .find(|c| {
            let lower = c.to_ascii_lowercase();
            (lower.starts_with("rrc")
                && lower.len() > 3
                && lower[3..].bytes().all(|b| b.is_ascii_digit()))
                || lower.starts_with("route-views")
        })
        .unwrap_or("default")
        .to_string()
}

/// Reads `YYYYMMDD.HHMM` from a file name, as RIS and RouteViews write it.
pub fn time_in_name(name: &str) -> Option<i64> {
    let bytes = name.as_bytes();
    (0..bytes.len().saturating_sub(12)).find_map(|i| {
        let window = &bytes[i..i + 13];
        let digits_ok = window[..8].iter().all(u8::is_ascii_digit)
            && window[8] == b'.'
            && window[9..13].iter().all(u8::is_ascii_digit);
        let boundary_ok = i == 0 || !bytes[i - 1].is_ascii_digit();
        if !(digits_ok && boundary_ok) {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> u32 {
            window[r]
                .iter()
                .fold(0u32, |acc, b| acc * 10 + (b - b'0') as u32)
        };
        utc_from_parts(num(0..4), num(4..6), num(6..8), num(9..11), num(11..13))
    })
}

/// Minimal civil-time arithmetic, to avoid a date library for file names.
mod chrono_free {
    /// Seconds since the epoch for a UTC date and time; `None` when invalid.
    pub fn utc_from_parts(year: u32, month: u32, day: u32, hour: u32, minute: u32) -> Option<i64> {
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
            return None;
        }
        // Days from civil, after Howard Hinnant's algorithm.
        let y = year as i64 - if month <= 2 { 1 } else { 0 };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = month as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(days * 86_400 + hour as i64 * 3600 + minute as i64 * 60)
    }
}

fn looks_like_mrt(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.starts_with('.') || name.ends_with(".txt") || name.ends_with(".md") {
        return false;
    }
    name.starts_with("bview")
        || name.starts_with("rib")
        || name.starts_with("updates")
        || name.ends_with(".mrt")
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, found)?;
        } else if looks_like_mrt(&path) {
            found.push(path);
        }
    }
    Ok(())
}

/// Finds the MRT files named by `inputs` (files, or directories searched
/// recursively for `bview*`, `rib*`, `updates*` and `*.mrt`) and groups them
/// by collector, each in time order.
pub fn discover(inputs: &[PathBuf]) -> io::Result<Vec<CollectorFiles>> {
    let mut paths = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", input.display())))?;
        if meta.is_dir() {
            walk(input, &mut paths)?;
        } else {
            paths.push(input.clone());
        }
    }
    let mut by_collector: BTreeMap<String, Vec<MrtFile>> = BTreeMap::new();
    for path in paths {
        let file = MrtFile::from_path(&path);
        by_collector
            .entry(file.collector.clone())
            .or_default()
            .push(file);
    }
    Ok(by_collector
        .into_iter()
        .map(|(collector, mut files)| {
            files.sort_by(|a, b| {
                (a.name_time.unwrap_or(i64::MIN), a.kind, &a.path).cmp(&(
                    b.name_time.unwrap_or(i64::MIN),
                    b.kind,
                    &b.path,
                ))
            });
            files.dedup_by(|a, b| a.path == b.path);
            CollectorFiles { collector, files }
        })
        .collect())
}

/// The spans with no update file, in a collector's time-ordered files: where
/// consecutive update files are further apart than the usual file period
/// (the smallest spacing seen), the bins in between have no data.
pub fn update_gaps(files: &[MrtFile]) -> Vec<(i64, i64)> {
    let times: Vec<i64> = files
        .iter()
        .filter(|f| f.kind == FileKind::Updates)
        .filter_map(|f| f.name_time)
        .collect();
    let Some(period) = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|&d| d > 0)
        .min()
    else {
        return Vec::new();
    };
    times
        .windows(2)
        .filter(|w| w[1] - w[0] > period)
        .map(|w| (w[0] + period, w[1]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_of_both_archives() {
        let ris = MrtFile::from_path(Path::new("/a/rrc00/2022.01/updates.20220105.1030.gz"));
        assert_eq!(ris.collector, "rrc00");
        assert_eq!(ris.kind, FileKind::Updates);
        assert_eq!(ris.name_time, Some(1_641_378_600));
        let rv = MrtFile::from_path(Path::new(
            "/x/route-views2/bgpdata/2022.01/RIBS/rib.20220105.0000.bz2",
        ));
        assert_eq!(rv.collector, "route-views2");
        assert_eq!(rv.kind, FileKind::Rib);
        assert_eq!(rv.name_time, Some(1_641_340_800));
        let odd = MrtFile::from_path(Path::new("dump.mrt"));
        assert_eq!(
            (odd.collector.as_str(), odd.kind, odd.name_time),
            ("default", FileKind::Unknown, None)
        );
        assert_eq!(
            time_in_name("rib.20140523.0600_firstMB.bz2"),
            Some(1_400_824_800)
        );
        assert_eq!(time_in_name("updates.20221399.1030"), None);
    }

    #[test]
    fn finds_missing_update_files() {
        let files: Vec<MrtFile> = ["1000", "1005", "1010", "1025", "1030"]
            .iter()
            .map(|t| MrtFile::from_path(Path::new(&format!("rrc00/updates.20220105.{t}.gz"))))
            .collect();
        let base = 1_641_376_800; // 10:00
        assert_eq!(update_gaps(&files), vec![(base + 900, base + 1500)]);
    }
}
