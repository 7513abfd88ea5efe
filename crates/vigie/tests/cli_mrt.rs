//! The `vigie` binary end to end on real RIPE RIS data: ingest an MRT RIB
//! dump, then read the series back, and compare with counts computed here
//! independently from `bgpdump -m`'s text output of the same file.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Output};

fn vigie(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run vigie")
}

/// `time,entity,signal,value` rows of `vigie series … --format csv`.
fn series_values(data_dir: &Path, entity: &str, signal: &str) -> Vec<(String, Option<f64>)> {
    let out = vigie(
        data_dir,
        &["series", entity, "--signal", signal, "--format", "csv"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[0].to_string(), fields[3].parse().ok())
        })
        .collect()
}

/// Length of the union of [first, first+len) intervals.
fn union_len(mut intervals: Vec<(u64, u64)>) -> u64 {
    intervals.sort_unstable();
    let (mut total, mut end) = (0u64, 0u64);
    for (first, len) in intervals {
        let last = first + len;
        if first >= end {
            total += len;
            end = last;
        } else if last > end {
            total += last - end;
            end = last;
        }
    }
    total
}

/// The independent count: the prefixes the one full-feed peer of the 2002
/// dump announces (the others hold under 1% of its routes), as /24 blocks.
/// /24 intervals `(first block, count)`.
type Blocks = Vec<(u64, u64)>;

/// Unique /24s per origin, every visible interval, and each origin's intervals.
fn expected_from_bgpdump(text: &Path) -> (HashMap<String, u64>, Blocks, HashMap<String, Blocks>) {
    let reader = BufReader::new(flate2::read::GzDecoder::new(
        std::fs::File::open(text).unwrap(),
    ));
    let mut per_origin: HashMap<String, Vec<(u64, u64)>> = HashMap::new();
    let mut all = Vec::new();
    for line in reader.lines().map_while(Result::ok) {
        let fields: Vec<&str> = line.split('|').collect();
        if fields.len() < 7 || fields[3] != "193.203.0.1" {
            continue;
        }
        let Some((addr, len)) = fields[5].split_once('/') else {
            continue;
        };
        let (Ok(addr), Ok(len)) = (addr.parse::<Ipv4Addr>(), len.parse::<u32>()) else {
            continue;
        };
        if !(8..=24).contains(&len) {
            continue;
        }
        let interval = ((u32::from(addr) >> 8) as u64, 1u64 << (24 - len));
        all.push(interval);
        let Some(origin) = fields[6].split_whitespace().last() else {
            continue;
        };
        if origin.starts_with('{') {
            continue; // aggregates: the rule for AS sets is unit-tested elsewhere
        }
        per_origin
            .entry(origin.to_string())
            .or_default()
            .push(interval);
    }
    let lengths = per_origin
        .iter()
        .map(|(o, iv)| (o.clone(), union_len(iv.clone())))
        .collect();
    (lengths, all, per_origin)
}

#[test]
fn ris_rib_dump_gives_the_independent_counts() {
    let (Some(mrt), Some(text)) = (
        vigie_testdata::shared_data("mrt/bgpdump/bview.20020722.2337.gz"),
        vigie_testdata::shared_data("mrt/bgpdump/bview.20020722.2337.gz.bgpdump-expected.txt.gz"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = vigie(
        dir.path(),
        &["ingest", "mrt", mrt.to_str().unwrap(), "--no-progress"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("no peer is full-feed"),
        "the small-archive fallback is announced: {stderr}"
    );

    let (per_origin, all, intervals) = expected_from_bgpdump(&text);
    let mut origins: Vec<(&String, &u64)> = per_origin.iter().collect();
    origins.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    // The 5 largest origins and every 500th one.
    let chosen: Vec<_> = origins
        .iter()
        .take(5)
        .chain(origins.iter().step_by(500))
        .collect();
    let store = vigie_store::Store::open(dir.path()).unwrap();
    for (origin, expected) in chosen {
        let rows = series_values(dir.path(), &format!("AS{origin}"), "bgp");
        assert_eq!(rows.len(), 1, "one bin for a RIB dump");
        assert_eq!(rows[0].0, "2002-07-22T23:35:00Z");
        assert_eq!(rows[0].1, Some(**expected as f64), "AS{origin}");
        // The AS's /24s per country (the link a country's incident uses to
        // list its networks): each unique /24 of the origin placed by iptocc.
        let mut own = intervals[*origin].clone();
        own.sort_unstable();
        let mut expected_countries: BTreeMap<String, u64> = BTreeMap::new();
        let mut end = 0u64;
        for (first, len) in own {
            for block in first.max(end)..first + len {
                if let Some(cc) = iptocc::country_code(Ipv4Addr::from((block as u32) << 8)) {
                    *expected_countries.entry(cc.to_string()).or_default() += 1;
                }
            }
            end = end.max(first + len);
        }
        let asn: u32 = origin.parse().unwrap();
        let stored: BTreeMap<String, u64> = store
            .as_countries(None, Some(asn))
            .unwrap()
            .into_iter()
            .filter(|row| row.units_v4 > 0)
            .map(|row| (row.country.to_string(), row.units_v4))
            .collect();
        assert_eq!(stored, expected_countries, "countries of AS{origin}");
    }

    // Countries: the union of all visible prefixes, each /24 placed by the
    // RIR data (the iptocc crate, looked up here block by block).
    let mut blocks: Vec<(u64, u64)> = all;
    blocks.sort_unstable();
    let mut per_country: BTreeMap<String, u64> = BTreeMap::new();
    let mut end = 0u64;
    for (first, len) in blocks {
        for block in first.max(end)..first + len {
            let address = Ipv4Addr::from((block as u32) << 8);
            if let Some(cc) = iptocc::country_code(address) {
                *per_country.entry(cc.to_string()).or_default() += 1;
            }
        }
        end = end.max(first + len);
    }
    for country in ["US", "JP", "BR", "KZ", "FR"] {
        let rows = series_values(dir.path(), country, "bgp");
        let expected = per_country.get(country).copied().unwrap_or(0) as f64;
        assert_eq!(rows[0].1, Some(expected), "{country}");
    }
}

#[test]
fn errors_are_clear_and_exit_codes_documented() {
    let Some(truncated) = vigie_testdata::shared_data("geo/pyasn/rib.20140523.0600_firstMB.bz2")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = vigie(
        dir.path(),
        &[
            "ingest",
            "mrt",
            truncated.to_str().unwrap(),
            "--no-progress",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("rib.20140523.0600_firstMB.bz2") && stderr.contains("byte 15273283"),
        "{stderr}"
    );
    // What was read before the break is there.
    let rows = series_values(dir.path(), "US", "bgp");
    assert!(rows[0].1.unwrap_or(0.0) > 0.0);

    let out = vigie(dir.path(), &["series", "ZZ"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("vigie entities"));
    let out = vigie(
        dir.path(),
        &[
            "series",
            "US",
            "--from",
            "2015-01-01",
            "--until",
            "2014-01-01",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reversed"));
    let out = vigie(dir.path(), &["series", "not an entity"]);
    assert_eq!(out.status.code(), Some(1));
    let out = vigie(dir.path(), &["series", "US", "--from", "yesterday"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("ISO 8601"));
    let out = vigie(dir.path(), &["ingest", "mrt", "/nonexistent/rrc00"]);
    assert_eq!(out.status.code(), Some(1));
    let out = vigie(dir.path(), &["series"]);
    assert_eq!(out.status.code(), Some(2), "clap usage error");
}
