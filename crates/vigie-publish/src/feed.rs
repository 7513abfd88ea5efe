//! Atom feeds of incidents (`GET /api/v1/incidents.atom`, `?entity=` for
//! one entity's), newest first, written with `atom_syndication` so every
//! name and text is escaped by the crate.

use std::collections::BTreeMap;

use atom_syndication::{Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Text};
use axum::extract::{Query, State};
use axum::http::header::{self, HeaderMap};
use axum::response::{IntoResponse, Response};
use chrono::{TimeZone, Utc};
use vigie_model::{format_utc, Entity, UnixSecs};
use vigie_store::ResultFilter;

use crate::data::{self, PublishedIncident, DEFAULT_METHOD};
use crate::error::ApiError;
use crate::params::Params;
use crate::paths;
use crate::report::tz;
use crate::state::AppState;

/// Entries in a feed when `limit` is absent.
pub const DEFAULT_FEED_ENTRIES: u64 = 50;
/// The most entries one feed holds.
pub const MAX_FEED_ENTRIES: u64 = 500;
/// The feed's media type.
pub const ATOM_CONTENT_TYPE: &str = "application/atom+xml; charset=utf-8";

/// The stable Atom id of an incident: `urn:vigie:incident:<method>:<id>`,
/// the stored id (`ENTITY@START`) percent-encoded where a URN needs it.
pub fn entry_id(method: &str, id: &str) -> String {
    format!("urn:vigie:incident:{}:{}", urn_part(method), urn_part(id))
}

fn urn_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn utc(t: UnixSecs) -> FixedDateTime {
    Utc.timestamp_opt(t, 0)
        .single()
        .unwrap_or_default()
        .fixed_offset()
}

fn text(value: String) -> Text {
    Text::plain(value)
}

/// The title of an incident's entry: the entity's name (or code), its
/// code, the mechanism, and "ongoing" while it has no end.
pub fn entry_title(published: &PublishedIncident, name: Option<&str>) -> String {
    let incident = &published.incident;
    let entity = incident.entity.to_string();
    let who = match name {
        Some(name) if name != entity => format!("{name} ({entity})"),
        _ => entity,
    };
    let state = if incident.end.is_none() {
        "ongoing"
    } else {
        "ended"
    };
    format!(
        "{who}: {} outage, {state}",
        incident.mechanism.name().replace('-', " ")
    )
}

/// `t` in UTC, with the entity's local time beside it when it has a zone:
/// `2023-08-21T01:00:00Z (2023-08-21 04:00 UTC+03:00 local)`.
pub fn utc_and_local(entity: &Entity, t: UnixSecs) -> String {
    match tz::entity_zone(entity) {
        Some((zone, _)) => {
            let minutes = tz::offset_minutes_at(zone, t);
            format!(
                "{} ({} {} local)",
                format_utc(t),
                tz::format_local(t, minutes),
                tz::offset_label(minutes)
            )
        }
        None => format_utc(t),
    }
}

/// The plain-text summary of an incident: start, end (or "ongoing"),
/// each in UTC and local time, depth, mechanism and confidence.
pub fn entry_summary(published: &PublishedIncident) -> String {
    let incident = &published.incident;
    let end = incident
        .end
        .map(|t| utc_and_local(&incident.entity, t))
        .unwrap_or_else(|| "ongoing".to_string());
    format!(
        "Start {}; end {end}; depth {:.0}% of the baseline lost; mechanism {} (confidence {:.2}); \
         scope {}; confidence {:.2}; method {}.",
        utc_and_local(&incident.entity, incident.start),
        incident.depth * 100.0,
        incident.mechanism.name(),
        incident.mechanism_confidence,
        incident.scope.name(),
        incident.confidence,
        published.method,
    )
}

/// The link to an incident in the dashboard: its entity's view over the
/// incident (a day either side), relative to the server's root.
pub fn dashboard_link(published: &PublishedIncident) -> String {
    let incident = &published.incident;
    let until = incident.end.unwrap_or(incident.observed_until);
    format!(
        "/#/entity/{}?from={}&until={}",
        urn_part(&incident.entity.to_string()),
        incident.start - 86_400,
        until + 86_400
    )
}

fn entry(published: &PublishedIncident, name: Option<&str>) -> Entry {
    let incident = &published.incident;
    let updated = incident.end.unwrap_or(incident.observed_until);
    let json_href = format!(
        "{}/{}?method={}",
        paths::INCIDENTS,
        urn_part(&published.id),
        urn_part(&published.method)
    );
    Entry {
        id: entry_id(&published.method, &published.id),
        title: text(entry_title(published, name)),
        updated: utc(updated.max(incident.start)),
        published: Some(utc(incident.start)),
        summary: Some(text(entry_summary(published))),
        links: vec![
            Link {
                href: dashboard_link(published),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                ..Default::default()
            },
            Link {
                href: json_href,
                rel: "related".into(),
                mime_type: Some("application/json".into()),
                ..Default::default()
            },
        ],
        categories: vec![atom_syndication::Category {
            term: incident.mechanism.name().into(),
            ..Default::default()
        }],
        content: Some(Content {
            value: Some(entry_summary(published)),
            content_type: Some("text".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Builds the feed of `incidents` (any order: they are sorted newest
/// first), `names` giving entities' display names, `self_href` the
/// request's path and `base` the server's root URL when known.
pub fn build_feed(
    mut incidents: Vec<PublishedIncident>,
    names: &BTreeMap<Entity, String>,
    entity: Option<&Entity>,
    self_href: String,
    base: Option<String>,
) -> Feed {
    incidents
        .sort_by(|a, b| (b.incident.start, b.id.as_str()).cmp(&(a.incident.start, a.id.as_str())));
    let entries: Vec<Entry> = incidents
        .iter()
        .map(|p| entry(p, names.get(&p.incident.entity).map(String::as_str)))
        .collect();
    let updated = entries
        .iter()
        .map(|e| e.updated)
        .max()
        .unwrap_or_else(|| utc(0));
    let (id, title) = match entity {
        Some(e) => {
            let code = e.to_string();
            let who = match names.get(e) {
                Some(name) if *name != code => format!("{name} ({code})"),
                _ => code.clone(),
            };
            (
                format!("urn:vigie:incidents:{}", urn_part(&code)),
                format!("vigie: Internet outages of {who}"),
            )
        }
        None => (
            "urn:vigie:incidents".to_string(),
            "vigie: Internet outages".to_string(),
        ),
    };
    Feed {
        id,
        title: text(title),
        updated,
        base,
        authors: vec![Person {
            name: "vigie".into(),
            ..Default::default()
        }],
        generator: Some(Generator {
            value: "vigie".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            ..Default::default()
        }),
        links: vec![
            Link {
                href: self_href,
                rel: "self".into(),
                mime_type: Some("application/atom+xml".into()),
                ..Default::default()
            },
            Link {
                href: "/".into(),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                ..Default::default()
            },
        ],
        entries,
        ..Default::default()
    }
}

/// `GET /api/v1/incidents.atom`: the latest incidents (`limit`, default
/// [`DEFAULT_FEED_ENTRIES`]) as an Atom feed, of one entity with
/// `entity=` (400 when unreadable, 404 when the store has no such entity),
/// of another detector with `method=`.
#[utoipa::path(
    get,
    path = crate::paths::INCIDENTS_ATOM,
    summary = "Incidents as an Atom feed",
    description = "The latest incidents, newest first, as Atom (application/atom+xml): one entry per incident, id urn:vigie:incident:METHOD:ENTITY@START. 404 for an entity the store has no series of.",
    params(crate::schemas::FeedQuery),
    responses((status = 200, description = "Success.", body = String, content_type = "application/atom+xml"), crate::schemas::ReadErrors),
)]
pub async fn incidents_atom(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = Params(q);
    let entity = params.entity("entity")?;
    let limit = params
        .bounded("limit", MAX_FEED_ENTRIES)?
        .unwrap_or(DEFAULT_FEED_ENTRIES) as usize;
    if limit == 0 {
        return Err(ApiError::bad_request("'limit' must be at least 1"));
    }
    let method = params.text("method").unwrap_or(DEFAULT_METHOD).to_string();
    let mut self_href = paths::INCIDENTS_ATOM.to_string();
    if let Some(e) = &entity {
        self_href.push_str(&format!("?entity={}", urn_part(&e.to_string())));
    }
    let wanted = entity.clone();
    let found = state
        .with_store(move |store| {
            if let Some(e) = &wanted {
                if !store.has_entity(e)? {
                    return Ok(None);
                }
            }
            let filter = ResultFilter {
                entity: wanted.clone(),
                method: Some(method),
                ..Default::default()
            };
            let (mut all, _) = data::incidents(store, &filter)?;
            all.sort_by_key(|p| std::cmp::Reverse(p.incident.start));
            all.truncate(limit);
            let mut names = BTreeMap::new();
            let entities = all
                .iter()
                .map(|p| p.incident.entity.clone())
                .chain(wanted.clone());
            for e in entities {
                if let std::collections::btree_map::Entry::Vacant(slot) = names.entry(e) {
                    if let Some(name) = store.entity_name(slot.key())? {
                        slot.insert(name);
                    }
                }
            }
            Ok(Some((all, names)))
        })
        .await?;
    let Some((incidents, names)) = found else {
        return Err(ApiError::not_found(format!(
            "the store has no series of entity '{}'",
            entity.map(|e| e.to_string()).unwrap_or_default()
        )));
    };
    let base = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .map(|h| format!("http://{h}/"));
    let feed = build_feed(incidents, &names, entity.as_ref(), self_href, base);
    Ok((
        [(header::CONTENT_TYPE, ATOM_CONTENT_TYPE)],
        feed.to_string(),
    )
        .into_response())
}
