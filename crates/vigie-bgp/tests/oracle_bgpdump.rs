//! Oracle test: every route vigie decodes from the real RIPE RIS MRT files in
//! the shared data must match what `bgpdump -m` printed for the same file
//! (peer, prefix, path id, AS path, time, and session state changes).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

use bgpkit_parser::models::{EntryType, MrtMessage, TableDumpV2Message};
use bgpkit_parser::BgpkitParser;
use vigie_bgp::mrt::{open_mrt, RecordDecoder, RouteAction};

/// The fields of a bgpdump -m line that vigie must reproduce.
fn expected_key(line: &str) -> Option<String> {
    let fields: Vec<&str> = line.split('|').collect();
    match fields.get(2).copied() {
        Some("B") | Some("A") => {
            let ap = fields[0].ends_with("_AP");
            let path_at = if ap { 7 } else { 6 };
            let mut key = fields[..6].join("|");
            key = key.replacen(fields[3], &canonical_ip(fields[3]), 1);
            if ap {
                key.push('|');
                key.push_str(fields.get(6)?);
            }
            key.push('|');
            key.push_str(fields.get(path_at)?);
            Some(key)
        }
        Some("W") | Some("STATE") => {
            let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
            fields[3] = canonical_ip(&fields[3]);
            Some(fields.join("|"))
        }
        _ => None,
    }
}

/// bgpdump prints IPv6 addresses the way old inet_ntop did (compressing a
/// single zero group); compare addresses, not spellings.
fn canonical_ip(text: &str) -> String {
    text.parse::<std::net::IpAddr>()
        .map(|ip| ip.to_string())
        .unwrap_or_else(|_| text.to_string())
}

fn vigie_lines(path: &Path) -> Vec<String> {
    let opened = open_mrt(path).expect("open MRT file");
    let mut parser = BgpkitParser::from_reader(opened.reader).disable_warnings();
    let mut decoder = RecordDecoder::new();
    let mut lines = Vec::new();
    loop {
        let record = match parser.next_record() {
            Ok(record) => record,
            Err(_) => break,
        };
        let add_path = matches!(
            &record.message,
            MrtMessage::TableDumpV2Message(TableDumpV2Message::RibAfi(r)) if (r.rib_type as u16) >= 8
        );
        let kind = match record.common_header.entry_type {
            EntryType::TABLE_DUMP => "TABLE_DUMP",
            EntryType::TABLE_DUMP_V2 if add_path => "TABLE_DUMP2_AP",
            EntryType::TABLE_DUMP_V2 => "TABLE_DUMP2",
            EntryType::BGP4MP_ET => "BGP4MP_ET",
            _ => "BGP4MP",
        };
        let mut routes = Vec::new();
        let mut states = Vec::new();
        let _ = decoder.decode(
            &record,
            |route| {
                let action = match route.action {
                    RouteAction::RibEntry => "B",
                    RouteAction::Announce => "A",
                    RouteAction::Withdraw => "W",
                };
                let mut line = format!(
                    "{kind}|{}|{action}|{}|{}|{}",
                    route.time, route.peer_ip, route.peer_asn, route.prefix
                );
                if kind == "TABLE_DUMP2_AP" {
                    line.push_str(&format!("|{}", route.path_id.unwrap_or(0)));
                }
                if let Some(path) = route.as_path {
                    line.push_str(&format!("|{path}"));
                } else if route.action != RouteAction::Withdraw {
                    line.push('|');
                }
                routes.push(line);
            },
            |state| {
                states.push(format!(
                    "{kind}|{}|STATE|{}|{}|{}|{}",
                    state.time,
                    state.peer_ip,
                    state.peer_asn,
                    state.old_state as u8,
                    state.new_state as u8
                ));
            },
        );
        lines.extend(routes);
        lines.extend(states);
    }
    lines
}

fn expected_lines(path: &Path) -> Vec<String> {
    let file = std::fs::File::open(path).expect("open expected output");
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    reader
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| expected_key(&line))
        .collect()
}

fn counts(lines: Vec<String>) -> BTreeMap<String, i64> {
    let mut map = BTreeMap::new();
    for line in lines {
        *map.entry(line).or_insert(0) += 1;
    }
    map
}

#[test]
fn every_route_matches_bgpdump() {
    let Some(dir) = vigie_testdata::shared_data("mrt/bgpdump") else {
        return;
    };
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for expected in entries {
        let name = expected.file_name().unwrap().to_string_lossy().into_owned();
        let Some(mrt_name) = name.strip_suffix(".bgpdump-expected.txt.gz") else {
            continue;
        };
        let mrt = dir.join(mrt_name);
        let want = expected_lines(&expected);
        let got = vigie_lines(&mrt);
        let (want_n, got_n) = (want.len(), got.len());
        let mut diff = counts(want);
        for (line, n) in counts(got) {
            *diff.entry(line).or_insert(0) -= n;
        }
        diff.retain(|_, n| *n != 0);
        if diff.is_empty() {
            eprintln!("{mrt_name}: all {want_n} lines match");
        } else {
            let sample: Vec<String> = diff
                .iter()
                .take(8)
                .map(|(line, n)| {
                    format!(
                        "  {} {line}",
                        if *n > 0 {
                            "only bgpdump:"
                        } else {
                            "only vigie:  "
                        }
                    )
                })
                .collect();
            failures.push(format!(
                "{mrt_name}: {} differing lines (bgpdump {want_n}, vigie {got_n}):\n{}",
                diff.len(),
                sample.join("\n")
            ));
        }
        checked += 1;
    }
    assert!(checked >= 7, "expected the 7 oracle files, found {checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
