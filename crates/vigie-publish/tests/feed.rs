//! The Atom feeds of incidents over real HTTP (reqwest) against a real
//! SQLite store: IODA's Iraq export (August 2023 exam shutdowns) with
//! vigie's detector's incidents, plus one incident of an AS whose name
//! needs escaping; each feed parsed back with `atom_syndication`.

mod common;

use atom_syndication::Feed;
use common::{fill_iraq, get_text, shared_data, start};
use vigie_model::{format_utc, BinSize, Entity, SeriesKey, SignalKind};
use vigie_store::{ResultFilter, Store, StoredIncident};

const NASTY_NAME: &str = "Tom & Jerry <Telecom> \"ISP\"";

fn vigie_incidents(store: &Store) -> Vec<StoredIncident> {
    store
        .incidents(&ResultFilter {
            method: Some("vigie".into()),
            ..Default::default()
        })
        .unwrap()
}

/// Gives AS64500 (named [`NASTY_NAME`]) a series and an ongoing incident:
/// Iraq's first incident moved to it, a day later, with no end.
fn add_nasty_as(store: &mut Store, template: &StoredIncident) -> StoredIncident {
    let asn: Entity = "AS64500".parse().unwrap();
    let key = SeriesKey {
        entity: asn.clone(),
        signal: SignalKind::BgpVisibleSlash24s,
    };
    let start = template.start + 86_400;
    let bin = BinSize::new(300).unwrap();
    let points: Vec<_> = (0..24)
        .map(|i| (start - 3600 + i * 300, Some(10.0)))
        .collect();
    store.write_points(&key, bin, &points).unwrap();
    store.set_entity_name(&asn, NASTY_NAME).unwrap();
    let mut detail: serde_json::Value = serde_json::from_str(&template.detail).unwrap();
    let shift = |v: &mut serde_json::Value| {
        if let Some(t) = v.as_i64() {
            *v = (t + 86_400).into();
        }
    };
    detail["entity"] = "AS64500".into();
    shift(&mut detail["start"]);
    shift(&mut detail["observed_until"]);
    detail["end"] = serde_json::Value::Null;
    let stored = StoredIncident {
        method: "vigie".into(),
        entity: asn.clone(),
        start,
        end: None,
        detail: detail.to_string(),
    };
    store
        .replace_incidents("vigie", &asn, std::slice::from_ref(&stored))
        .unwrap();
    stored
}

fn get_feed(url: &str) -> (String, Feed) {
    let (status, content_type, body) = get_text(url);
    assert_eq!(status, 200, "{url}: {body}");
    assert_eq!(content_type, "application/atom+xml; charset=utf-8");
    let feed: Feed = body.parse().unwrap_or_else(|e| panic!("{e}: {body}"));
    (body, feed)
}

#[test]
fn atom_feeds_list_stored_incidents_newest_first() {
    let Some(shared) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut store = fill_iraq(dir.path(), &shared);
    let iraq = vigie_incidents(&store);
    assert!(iraq.len() >= 2, "the Iraq export has several shutdowns");
    let nasty = add_nasty_as(&mut store, &iraq[0]);
    let server = start(dir.path());

    // Every entity: Iraq's incidents and the AS's, newest first.
    let (body, feed) = get_feed(&server.url("/api/v1/incidents.atom"));
    assert_eq!(feed.title().as_str(), "vigie: Internet outages");
    assert_eq!(feed.entries().len(), iraq.len() + 1);
    let starts: Vec<i64> = feed
        .entries()
        .iter()
        .map(|e| e.published().unwrap().timestamp())
        .collect();
    let mut expected: Vec<i64> = iraq.iter().map(|i| i.start).chain([nasty.start]).collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(starts, expected);
    assert_eq!(
        feed.updated(),
        &feed.entries().iter().map(|e| *e.updated()).max().unwrap()
    );

    // Ids are built from the stored ids; times are UTC.
    let first = &iraq[0];
    let id = format!("urn:vigie:incident:vigie:IQ@{}", first.start);
    let entry = feed.entries().iter().find(|e| e.id() == id).unwrap();
    assert_eq!(entry.published().unwrap().timestamp(), first.start);
    assert_eq!(entry.published().unwrap().offset().local_minus_utc(), 0);
    assert_eq!(entry.updated().timestamp(), first.end.unwrap());
    assert!(body.contains(&format!(
        "<published>{}</published>",
        chrono::DateTime::from_timestamp(first.start, 0)
            .unwrap()
            .to_rfc3339()
    )));
    let title = entry.title().as_str();
    assert!(title.starts_with("Iraq (IQ): "), "{title}");
    assert!(title.ends_with(", ended"), "{title}");
    let summary = entry.summary().unwrap().as_str();
    // UTC, and Baghdad's time (UTC+3) beside it.
    let local = |t: i64| {
        chrono::DateTime::from_timestamp(t + 3 * 3600, 0)
            .unwrap()
            .format("%Y-%m-%d %H:%M UTC+03:00 local)")
            .to_string()
    };
    assert_eq!(local(1_692_579_600), "2023-08-21 04:00 UTC+03:00 local)");
    assert!(
        summary.starts_with(&format!(
            "Start {} ({}; end {} ({}; depth ",
            format_utc(first.start),
            local(first.start),
            format_utc(first.end.unwrap()),
            local(first.end.unwrap())
        )),
        "{summary}"
    );
    assert!(summary.contains("mechanism ") && summary.contains("confidence "));
    let links: Vec<(&str, &str)> = entry.links().iter().map(|l| (l.rel(), l.href())).collect();
    assert_eq!(
        links[0],
        (
            "alternate",
            format!(
                "/#/entity/IQ?from={}&until={}",
                first.start - 86_400,
                first.end.unwrap() + 86_400
            )
            .as_str()
        )
    );
    assert_eq!(
        links[1],
        (
            "related",
            format!("/api/v1/incidents/IQ@{}?method=vigie", first.start).as_str()
        )
    );
    assert_eq!(
        feed.base(),
        Some(format!("http://{}/", server.addr).as_str())
    );

    // The related link is the incident's JSON.
    let (status, _, json) = get_text(&server.url(links[1].1));
    assert_eq!(status, 200, "{json}");

    // The ongoing AS: its name escaped in the XML, read back whole.
    let id = format!("urn:vigie:incident:vigie:AS64500@{}", nasty.start);
    let entry = feed.entries().iter().find(|e| e.id() == id).unwrap();
    assert!(entry
        .title()
        .as_str()
        .starts_with(&format!("{NASTY_NAME} (AS64500): ")));
    assert!(entry.title().as_str().ends_with(", ongoing"));
    assert!(entry
        .summary()
        .unwrap()
        .as_str()
        .starts_with(&format!("Start {}; end ongoing;", format_utc(nasty.start))));
    assert!(!body.contains(NASTY_NAME));
    assert!(body.contains("Tom &amp; Jerry &lt;Telecom&gt;"));

    // One entity's feed, and a limit.
    let (_, feed) = get_feed(&server.url("/api/v1/incidents.atom?entity=IQ&limit=2"));
    assert_eq!(
        feed.title().as_str(),
        "vigie: Internet outages of Iraq (IQ)"
    );
    assert_eq!(feed.id(), "urn:vigie:incidents:IQ");
    assert_eq!(feed.entries().len(), 2);
    let mut newest: Vec<i64> = iraq.iter().map(|i| i.start).collect();
    newest.sort_unstable_by(|a, b| b.cmp(a));
    let ids: Vec<String> = feed.entries().iter().map(|e| e.id().to_string()).collect();
    assert_eq!(
        ids,
        newest[..2]
            .iter()
            .map(|s| format!("urn:vigie:incident:vigie:IQ@{s}"))
            .collect::<Vec<_>>()
    );
    let (_, feed) = get_feed(&server.url("/api/v1/incidents.atom?entity=AS64500"));
    assert_eq!(feed.entries().len(), 1);
    assert_eq!(
        feed.title().as_str(),
        format!("vigie: Internet outages of {NASTY_NAME} (AS64500)")
    );
    // Another detector's feed is empty, and still a valid feed.
    let (_, feed) = get_feed(&server.url("/api/v1/incidents.atom?method=ioda-median"));
    assert!(feed.entries().is_empty());

    // Bad requests get a clear 400 or 404.
    for (path, status, says) in [
        (
            "/api/v1/incidents.atom?entity=not%20an%20entity!",
            400,
            "entity",
        ),
        ("/api/v1/incidents.atom?entity=AS4242", 404, "AS4242"),
        ("/api/v1/incidents.atom?limit=0", 400, "'limit'"),
        ("/api/v1/incidents.atom?limit=501", 400, "'limit'"),
    ] {
        let (got, content_type, body) = get_text(&server.url(path));
        assert_eq!(got, status, "{path}: {body}");
        assert!(content_type.starts_with("application/json"), "{path}");
        assert!(body.contains(says), "{path}: {body}");
    }

    // The dashboard announces the feed.
    let (_, _, page) = get_text(&server.url("/"));
    assert!(page.contains(
        r#"<link rel="alternate" type="application/atom+xml" title="vigie: Internet outages (Atom)" href="/api/v1/incidents.atom">"#
    ));
}
