//! The PostgreSQL backend beside the series: results and labels
//! (`results.rs`), the AS-to-country table, annotations, alerts, the probe
//! block log, the live detector's write log and checkpoints, health checks
//! and data spans; each query is its SQLite twin's, row for row.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::path::Path;

use postgres::Row;
use vigie_model::{BinSize, CountryCode, Entity, SeriesKey, TimeWindow, UnixSecs};

use super::{col, find_series, pg_error, refresh_summaries, update_chunks, ChunkUpdate, PgStore};
use crate::codec;
use crate::codec::DAY_SECS;
use crate::error::corrupt;
use crate::error::sql_error;
use crate::health::{
    merge_day_spans, slots_outside, stored_series, CheckTally, RepairReport, SeriesKeys, StoreCheck,
};
use crate::live::{decode_read_staged, write_depth_chunks, DepthHistories};
use crate::results::{entity_of, event_series};
use crate::sqlite::{now_secs, stored_key};
use crate::{
    AsCountrySpace, BinValues, BinWrite, BlockChangeRecord, DetectorCheckpoint, DueDelivery,
    NewStoredAnnotation, OutboxEntry, OutboxNotice, ResultFilter, SeriesInfo, StoreError,
    StoredAnnotation, StoredEvent, StoredIncident, StoredLabel, StoredSubscription,
};

fn u32_of(label: &str, what: &str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| corrupt(label, format!("{what} {value} is out of range")))
}

fn event_of(row: &Row, label: &str) -> Result<Option<StoredEvent>, StoreError> {
    let context = "reading an event";
    let kind: String = col(row, 1, label, context)?;
    let code: String = col(row, 2, label, context)?;
    let signal: String = col(row, 3, label, context)?;
    let bin_secs: i64 = col(row, 4, label, context)?;
    let Some((key, bin)) = event_series(&kind, &code, &signal, bin_secs) else {
        return Ok(None);
    };
    Ok(Some(StoredEvent {
        method: col(row, 0, label, context)?,
        key,
        bin,
        start: col(row, 5, label, context)?,
        end: col(row, 6, label, context)?,
        depth: col(row, 7, label, context)?,
        score: col(row, 8, label, context)?,
        detail: col(row, 9, label, context)?,
    }))
}

const ANNOTATION_COLUMNS: &str =
    "annotation_id, kind, code, time, end_time, text, url, author, created_at";

fn annotation_of(row: &Row, label: &str) -> Result<Option<StoredAnnotation>, StoreError> {
    let context = "reading annotations";
    let kind: String = col(row, 1, label, context)?;
    let code: String = col(row, 2, label, context)?;
    let Some(entity) = entity_of(&kind, &code) else {
        return Ok(None);
    };
    Ok(Some(StoredAnnotation {
        id: col(row, 0, label, context)?,
        entity,
        time: col(row, 3, label, context)?,
        end: col(row, 4, label, context)?,
        text: col(row, 5, label, context)?,
        url: col(row, 6, label, context)?,
        author: col(row, 7, label, context)?,
        created_at: col(row, 8, label, context)?,
    }))
}

/// Results and labels.
impl PgStore {
    pub(crate) fn add_labels(&mut self, labels: &[StoredLabel]) -> Result<u64, StoreError> {
        self.write("adding labels", |tx, label| {
            let stmt = tx
                .prepare(
                    "INSERT INTO labels (kind, code, start, end_time, source)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .map_err(pg_error(label, "adding a label"))?;
            let mut added = 0;
            for l in labels {
                added += tx
                    .execute(
                        &stmt,
                        &[
                            &l.entity.kind().name(),
                            &l.entity.code(),
                            &l.start,
                            &l.end,
                            &l.source,
                        ],
                    )
                    .map_err(pg_error(label, "adding a label"))?;
            }
            Ok(added)
        })
    }

    pub(crate) fn labels(&self, filter: &ResultFilter) -> Result<Vec<StoredLabel>, StoreError> {
        let (kind, code, _, from, until) = filter.bind();
        self.read("reading labels", |tx, label| {
            let rows = tx
                .query(
                    "SELECT kind, code, start, end_time, source FROM labels
                     WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR code = $2)
                       AND end_time > $3 AND start < $4
                     ORDER BY kind COLLATE \"C\", code COLLATE \"C\", start, label_id",
                    &[&kind, &code, &from, &until],
                )
                .map_err(pg_error(label, "reading labels"))?;
            let mut out = Vec::new();
            for row in &rows {
                let context = "reading a label";
                let (kind, code): (String, String) =
                    (col(row, 0, label, context)?, col(row, 1, label, context)?);
                if let Some(entity) = entity_of(&kind, &code) {
                    out.push(StoredLabel {
                        entity,
                        start: col(row, 2, label, context)?,
                        end: col(row, 3, label, context)?,
                        source: col(row, 4, label, context)?,
                    });
                }
            }
            Ok(out)
        })
    }

    pub(crate) fn replace_events(
        &mut self,
        method: &str,
        key: &SeriesKey,
        bin: BinSize,
        events: &[StoredEvent],
    ) -> Result<(), StoreError> {
        let (kind, code, signal) = (
            key.entity.kind().name(),
            key.entity.code(),
            key.signal.name(),
        );
        let bin_secs = i64::from(bin.secs());
        self.write("storing events", |tx, label| {
            tx.execute(
                "DELETE FROM events WHERE kind = $1 AND code = $2 AND signal = $3 AND bin_secs = $4 AND method = $5",
                &[&kind, &code, &signal, &bin_secs, &method],
            )
            .map_err(pg_error(label, "replacing events"))?;
            let stmt = tx
                .prepare(
                    "INSERT INTO events (method, kind, code, signal, bin_secs, start, end_time, depth, score, detail)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .map_err(pg_error(label, "storing an event"))?;
            for e in events {
                tx.execute(
                    &stmt,
                    &[
                        &method,
                        &kind,
                        &code,
                        &signal,
                        &bin_secs,
                        &e.start,
                        &e.end,
                        &e.depth.filter(|d| d.is_finite()),
                        &e.score.filter(|s| s.is_finite()),
                        &e.detail,
                    ],
                )
                .map_err(pg_error(label, "storing an event"))?;
            }
            Ok(())
        })
    }

    pub(crate) fn events(&self, filter: &ResultFilter) -> Result<Vec<StoredEvent>, StoreError> {
        let (kind, code, method, from, until) = filter.bind();
        self.read("reading events", |tx, label| {
            let rows = tx
                .query(
                    "SELECT method, kind, code, signal, bin_secs, start, end_time, depth, score, detail FROM events
                     WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR code = $2)
                       AND ($3::text IS NULL OR method = $3)
                       AND (end_time IS NULL OR end_time > $4) AND start < $5
                     ORDER BY start, kind COLLATE \"C\", code COLLATE \"C\", signal COLLATE \"C\", event_id",
                    &[&kind, &code, &method, &from, &until],
                )
                .map_err(pg_error(label, "reading events"))?;
            let mut out = Vec::new();
            for row in &rows {
                if let Some(event) = event_of(row, label)? {
                    out.push(event);
                }
            }
            Ok(out)
        })
    }

    pub(crate) fn event_count(&self, method: &str) -> Result<u64, StoreError> {
        self.read("counting events", |tx, label| {
            let count: i64 = tx
                .query_one("SELECT count(*) FROM events WHERE method = $1", &[&method])
                .and_then(|row| row.try_get(0))
                .map_err(pg_error(label, "counting events"))?;
            Ok(count.max(0) as u64)
        })
    }

    pub(crate) fn replace_incidents(
        &mut self,
        method: &str,
        entity: &Entity,
        incidents: &[StoredIncident],
    ) -> Result<(), StoreError> {
        let (kind, code) = (entity.kind().name(), entity.code());
        self.write("storing incidents", |tx, label| {
            tx.execute(
                "DELETE FROM incidents WHERE kind = $1 AND code = $2 AND method = $3",
                &[&kind, &code, &method],
            )
            .map_err(pg_error(label, "replacing incidents"))?;
            let stmt = tx
                .prepare(
                    "INSERT INTO incidents (method, kind, code, start, end_time, detail)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .map_err(pg_error(label, "storing an incident"))?;
            for i in incidents {
                tx.execute(&stmt, &[&method, &kind, &code, &i.start, &i.end, &i.detail])
                    .map_err(pg_error(label, "storing an incident"))?;
            }
            Ok(())
        })
    }

    pub(crate) fn incidents(
        &self,
        filter: &ResultFilter,
    ) -> Result<Vec<StoredIncident>, StoreError> {
        let (kind, code, method, from, until) = filter.bind();
        self.read("reading incidents", |tx, label| {
            let rows = tx
                .query(
                    "SELECT method, kind, code, start, end_time, detail FROM incidents
                     WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR code = $2)
                       AND ($3::text IS NULL OR method = $3)
                       AND (end_time IS NULL OR end_time > $4) AND start < $5
                     ORDER BY start, kind COLLATE \"C\", code COLLATE \"C\", incident_id",
                    &[&kind, &code, &method, &from, &until],
                )
                .map_err(pg_error(label, "reading incidents"))?;
            let mut out = Vec::new();
            for row in &rows {
                let context = "reading an incident";
                let (kind, code): (String, String) =
                    (col(row, 1, label, context)?, col(row, 2, label, context)?);
                let Some(entity) = entity_of(&kind, &code) else {
                    continue;
                };
                out.push(StoredIncident {
                    method: col(row, 0, label, context)?,
                    entity,
                    start: col(row, 3, label, context)?,
                    end: col(row, 4, label, context)?,
                    detail: col(row, 5, label, context)?,
                });
            }
            Ok(out)
        })
    }
}

/// The AS-to-country table, annotations, alerts and the block log.
impl PgStore {
    pub(crate) fn replace_as_countries(
        &mut self,
        rows: &[AsCountrySpace],
    ) -> Result<(), StoreError> {
        // Rows for the same AS and country are summed; the first one's
        // time is kept, as SQLite's upsert does.
        let mut summed: BTreeMap<(&str, u32), (i64, i64, i64)> = BTreeMap::new();
        for row in rows {
            let v4 = i64::try_from(row.units_v4).unwrap_or(i64::MAX);
            let v6 = i64::try_from(row.units_v6).unwrap_or(i64::MAX);
            summed
                .entry((row.country.as_str(), row.asn))
                .and_modify(|e| {
                    e.0 = e.0.saturating_add(v4);
                    e.1 = e.1.saturating_add(v6);
                })
                .or_insert((v4, v6, row.observed_at));
        }
        let mut asns = Vec::with_capacity(summed.len());
        let mut countries = Vec::with_capacity(summed.len());
        let (mut v4s, mut v6s, mut times) = (Vec::new(), Vec::new(), Vec::new());
        for ((country, asn), (v4, v6, at)) in summed {
            asns.push(i64::from(asn));
            countries.push(country);
            v4s.push(v4);
            v6s.push(v6);
            times.push(at);
        }
        self.write("storing AS countries", |tx, label| {
            tx.execute("DELETE FROM as_countries", &[])
                .map_err(pg_error(label, "replacing AS countries"))?;
            tx.execute(
                "INSERT INTO as_countries (asn, country, units_v4, units_v6, observed_at)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])",
                &[&asns, &countries, &v4s, &v6s, &times],
            )
            .map_err(pg_error(label, "storing AS countries"))?;
            Ok(())
        })
    }

    pub(crate) fn as_countries(
        &self,
        country: Option<CountryCode>,
        asn: Option<u32>,
    ) -> Result<Vec<AsCountrySpace>, StoreError> {
        let country = country.map(|c| c.as_str().to_string());
        let asn = asn.map(i64::from);
        self.read("reading AS countries", |tx, label| {
            let context = "reading AS countries";
            let rows = tx
                .query(
                    "SELECT asn, country, units_v4, units_v6, observed_at FROM as_countries
                     WHERE ($1::text IS NULL OR country = $1) AND ($2::bigint IS NULL OR asn = $2)
                     ORDER BY country COLLATE \"C\", units_v4 DESC, units_v6 DESC, asn",
                    &[&country, &asn],
                )
                .map_err(pg_error(label, context))?;
            let mut out = Vec::new();
            for row in &rows {
                let code: String = col(row, 1, label, context)?;
                let Ok(country) = CountryCode::new(&code) else {
                    continue;
                };
                let asn: i64 = col(row, 0, label, context)?;
                let v4: i64 = col(row, 2, label, context)?;
                let v6: i64 = col(row, 3, label, context)?;
                out.push(AsCountrySpace {
                    asn: u32::try_from(asn).unwrap_or(0),
                    country,
                    units_v4: u64::try_from(v4).unwrap_or(0),
                    units_v6: u64::try_from(v6).unwrap_or(0),
                    observed_at: col(row, 4, label, context)?,
                });
            }
            Ok(out)
        })
    }

    pub(crate) fn add_annotation(
        &mut self,
        annotation: &NewStoredAnnotation,
    ) -> Result<i64, StoreError> {
        self.write("storing an annotation", |tx, label| {
            tx.query_one(
                "INSERT INTO annotations (kind, code, time, end_time, text, url, author, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING annotation_id",
                &[
                    &annotation.entity.kind().name(),
                    &annotation.entity.code(),
                    &annotation.time,
                    &annotation.end,
                    &annotation.text,
                    &annotation.url,
                    &annotation.author,
                    &annotation.created_at,
                ],
            )
            .and_then(|row| row.try_get(0))
            .map_err(pg_error(label, "storing an annotation"))
        })
    }

    pub(crate) fn annotations(
        &self,
        entity: Option<&Entity>,
        from: Option<UnixSecs>,
        until: Option<UnixSecs>,
    ) -> Result<Vec<StoredAnnotation>, StoreError> {
        let kind = entity.map(|e| e.kind().name().to_string());
        let code = entity.map(|e| e.code());
        let (from, until) = (from.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX));
        self.read("reading annotations", |tx, label| {
            let rows = tx
                .query(
                    &format!(
                        "SELECT {ANNOTATION_COLUMNS} FROM annotations
                         WHERE ($1::text IS NULL OR (kind = $1 AND code = $2))
                           AND COALESCE(end_time, time + 1) > $3 AND time < $4
                         ORDER BY time, annotation_id"
                    ),
                    &[&kind, &code, &from, &until],
                )
                .map_err(pg_error(label, "reading annotations"))?;
            let mut out = Vec::new();
            for row in &rows {
                if let Some(annotation) = annotation_of(row, label)? {
                    out.push(annotation);
                }
            }
            Ok(out)
        })
    }

    pub(crate) fn annotation(&self, id: i64) -> Result<Option<StoredAnnotation>, StoreError> {
        self.read("reading an annotation", |tx, label| {
            let row = tx
                .query_opt(
                    &format!(
                        "SELECT {ANNOTATION_COLUMNS} FROM annotations WHERE annotation_id = $1"
                    ),
                    &[&id],
                )
                .map_err(pg_error(label, "reading an annotation"))?;
            match row {
                Some(row) => annotation_of(&row, label),
                None => Ok(None),
            }
        })
    }

    pub(crate) fn add_subscription(
        &mut self,
        entity: &Entity,
        notices: &[String],
        target: &str,
        secret: &str,
        format: &str,
        created_at: UnixSecs,
    ) -> Result<i64, StoreError> {
        self.write("storing a subscription", |tx, label| {
            tx.query_one(
                "INSERT INTO subscriptions (kind, code, notices, target, secret, created_at, format)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING subscription_id",
                &[
                    &entity.kind().name(),
                    &entity.code(),
                    &notices.join(","),
                    &target,
                    &secret,
                    &created_at,
                    &format,
                ],
            )
            .and_then(|row| row.try_get(0))
            .map_err(pg_error(label, "storing a subscription"))
        })
    }

    pub(crate) fn subscriptions(&self) -> Result<Vec<StoredSubscription>, StoreError> {
        self.read("reading subscriptions", |tx, label| {
            let context = "reading subscriptions";
            let rows = tx
                .query(
                    "SELECT subscription_id, kind, code, notices, target, secret, format
                     FROM subscriptions ORDER BY subscription_id",
                    &[],
                )
                .map_err(pg_error(label, context))?;
            let mut out = Vec::new();
            for row in &rows {
                let (kind, code): (String, String) =
                    (col(row, 1, label, context)?, col(row, 2, label, context)?);
                let Some(entity) = entity_of(&kind, &code) else {
                    continue;
                };
                let notices: String = col(row, 3, label, context)?;
                out.push(StoredSubscription {
                    id: col(row, 0, label, context)?,
                    entity,
                    notices: notices.split(',').map(str::to_string).collect(),
                    target: col(row, 4, label, context)?,
                    secret: col(row, 5, label, context)?,
                    format: col(row, 6, label, context)?,
                });
            }
            Ok(out)
        })
    }

    pub(crate) fn enqueue_notices(
        &mut self,
        notices: &[OutboxNotice],
        now: UnixSecs,
    ) -> Result<usize, StoreError> {
        self.write("adding notices to the outbox", |tx, label| {
            let context = "adding notices to the outbox";
            let stmt = tx
                .prepare(
                    "INSERT INTO outbox (subscription_id, notice_key, payload, state,
                       attempts, next_attempt_at, created_at)
                     VALUES ($1, $2, $3, 'pending', 0, $4, $4) ON CONFLICT DO NOTHING",
                )
                .map_err(pg_error(label, context))?;
            let mut added = 0;
            for notice in notices {
                added += tx
                    .execute(
                        &stmt,
                        &[
                            &notice.subscription_id,
                            &notice.notice_key,
                            &notice.payload,
                            &now,
                        ],
                    )
                    .map_err(pg_error(label, context))? as usize;
            }
            Ok(added)
        })
    }

    pub(crate) fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        self.read("reading the outbox", |tx, label| {
            let context = "reading the outbox";
            let rows = tx
                .query(
                    "SELECT delivery_id, notice_key, state, attempts, next_attempt_at, last_error
                     FROM outbox ORDER BY delivery_id",
                    &[],
                )
                .map_err(pg_error(label, context))?;
            rows.iter()
                .map(|row| {
                    Ok(OutboxEntry {
                        id: col(row, 0, label, context)?,
                        notice_key: col(row, 1, label, context)?,
                        state: col(row, 2, label, context)?,
                        attempts: u32_of(label, "attempts", col(row, 3, label, context)?)?,
                        next_attempt_at: col(row, 4, label, context)?,
                        last_error: col(row, 5, label, context)?,
                    })
                })
                .collect()
        })
    }

    pub(crate) fn due_deliveries(&self, now: UnixSecs) -> Result<Vec<DueDelivery>, StoreError> {
        self.read("reading the due deliveries", |tx, label| {
            let context = "reading the due deliveries";
            let rows = tx
                .query(
                    "SELECT o.delivery_id, o.payload, o.attempts, o.notice_key, s.target, s.secret,
                       s.format
                     FROM outbox o JOIN subscriptions s ON s.subscription_id = o.subscription_id
                     WHERE o.state = 'pending' AND o.next_attempt_at <= $1 ORDER BY o.delivery_id",
                    &[&now],
                )
                .map_err(pg_error(label, context))?;
            rows.iter()
                .map(|row| {
                    Ok(DueDelivery {
                        id: col(row, 0, label, context)?,
                        payload: col(row, 1, label, context)?,
                        attempts: u32_of(label, "attempts", col(row, 2, label, context)?)?,
                        notice_key: col(row, 3, label, context)?,
                        target: col(row, 4, label, context)?,
                        secret: col(row, 5, label, context)?,
                        format: col(row, 6, label, context)?,
                    })
                })
                .collect()
        })
    }

    pub(crate) fn mark_delivered(
        &mut self,
        id: i64,
        attempts: u32,
        delivered_at: UnixSecs,
    ) -> Result<(), StoreError> {
        self.write("marking a delivery done", |tx, label| {
            tx.execute(
                "UPDATE outbox SET state = 'delivered', attempts = $2, delivered_at = $3,
                   last_error = NULL
                 WHERE delivery_id = $1",
                &[&id, &i64::from(attempts), &delivered_at],
            )
            .map_err(pg_error(label, "marking a delivery done"))?;
            Ok(())
        })
    }

    pub(crate) fn mark_delivery_failed(
        &mut self,
        id: i64,
        attempts: u32,
        next_attempt_at: UnixSecs,
        error: &str,
        give_up: bool,
    ) -> Result<(), StoreError> {
        let state = if give_up { "failed" } else { "pending" };
        self.write("recording a failed delivery", |tx, label| {
            tx.execute(
                "UPDATE outbox SET state = $2, attempts = $3, next_attempt_at = $4, last_error = $5
                 WHERE delivery_id = $1",
                &[&id, &state, &i64::from(attempts), &next_attempt_at, &error],
            )
            .map_err(pg_error(label, "recording a failed delivery"))?;
            Ok(())
        })
    }

    pub(crate) fn record_block_changes(
        &mut self,
        changes: &[BlockChangeRecord],
    ) -> Result<(), StoreError> {
        self.write("logging probe block changes", |tx, label| {
            let context = "logging probe block changes";
            let sink = tx
                .copy_in(
                    "COPY probe_block_changes (at, vantage, network, from_state, to_state, belief_up)
                     FROM STDIN BINARY",
                )
                .map_err(pg_error(label, context))?;
            use postgres::types::Type;
            let mut writer = postgres::binary_copy::BinaryCopyInWriter::new(
                sink,
                &[Type::INT8, Type::TEXT, Type::INT8, Type::TEXT, Type::TEXT, Type::FLOAT8],
            );
            for change in changes {
                writer
                    .write(&[
                        &change.at,
                        &change.vantage,
                        &i64::from(u32::from(change.network)),
                        &change.from_state,
                        &change.to_state,
                        &f64::from(change.belief_up),
                    ])
                    .map_err(pg_error(label, context))?;
            }
            writer.finish().map_err(pg_error(label, context))?;
            Ok(())
        })
    }

    pub(crate) fn import_block_log_file(&mut self, path: &Path) -> Result<u64, StoreError> {
        let file = path.display().to_string();
        let legacy = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql_error(&file, "opening an older probe block log"))?;
        type Legacy = (i64, String, i64, String, String, f64);
        let rows: Vec<Legacy> = {
            let mut stmt = legacy
                .prepare(
                    "SELECT at, vantage, network, from_state, to_state, belief_up
                     FROM probe_block_changes",
                )
                .map_err(sql_error(&file, "reading an older probe block log"))?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                    ))
                })
                .map_err(sql_error(&file, "reading an older probe block log"))?;
            rows.collect::<Result<_, _>>()
                .map_err(sql_error(&file, "reading an older probe block log"))?
        };
        self.write("copying an older probe block log", |tx, label| {
            let context = "copying an older probe block log";
            let stmt = tx
                .prepare(
                    "INSERT INTO probe_block_changes (at, vantage, network, from_state, to_state, belief_up)
                     SELECT $1, $2, $3, $4, $5, $6
                     WHERE NOT EXISTS (
                       SELECT 1 FROM probe_block_changes m
                       WHERE m.network = $3 AND m.at = $1 AND m.vantage = $2
                         AND m.from_state = $4 AND m.to_state = $5)",
                )
                .map_err(pg_error(label, context))?;
            let mut copied = 0;
            for (at, vantage, network, from, to, belief) in &rows {
                copied += tx
                    .execute(&stmt, &[at, vantage, network, from, to, belief])
                    .map_err(pg_error(label, context))?;
            }
            Ok(copied)
        })
    }

    pub(crate) fn block_changes(
        &self,
        block: Option<Ipv4Addr>,
        from: UnixSecs,
        until: UnixSecs,
    ) -> Result<Vec<BlockChangeRecord>, StoreError> {
        let block = block.map(|b| i64::from(u32::from(b)));
        self.read("reading probe block changes", |tx, label| {
            let context = "reading probe block changes";
            let rows = tx
                .query(
                    "SELECT at, vantage, network, from_state, to_state, belief_up
                     FROM probe_block_changes
                     WHERE at >= $1 AND at < $2 AND ($3::bigint IS NULL OR network = $3)
                     ORDER BY at, network, vantage COLLATE \"C\"",
                    &[&from, &until, &block],
                )
                .map_err(pg_error(label, context))?;
            rows.iter()
                .map(|row| {
                    let network: i64 = col(row, 2, label, context)?;
                    let belief_up: f64 = col(row, 5, label, context)?;
                    Ok(BlockChangeRecord {
                        at: col(row, 0, label, context)?,
                        vantage: col(row, 1, label, context)?,
                        network: Ipv4Addr::from(u32_of(label, "network", network)?),
                        from_state: col(row, 3, label, context)?,
                        to_state: col(row, 4, label, context)?,
                        belief_up: belief_up as f32,
                    })
                })
                .collect()
        })
    }
}

/// The live detector's write log, states and depth histories.
impl PgStore {
    /// The keys of series ids this build knows.
    fn keys_of(
        tx: &mut postgres::Transaction<'_>,
        label: &str,
        ids: &[i64],
    ) -> Result<HashMap<i64, SeriesKey>, StoreError> {
        let context = "naming series";
        let mut out = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        for row in tx
            .query(
                "SELECT s.series_id, e.kind, e.code, s.signal FROM series s
                 JOIN entities e ON e.entity_id = s.entity_id WHERE s.series_id = ANY($1)",
                &[&ids],
            )
            .map_err(pg_error(label, context))?
        {
            let (kind, code, signal): (String, String, String) = (
                col(&row, 1, label, context)?,
                col(&row, 2, label, context)?,
                col(&row, 3, label, context)?,
            );
            if let Some(key) = stored_key(&kind, &code, &signal) {
                out.insert(col(&row, 0, label, context)?, key);
            }
        }
        Ok(out)
    }

    pub(crate) fn last_write_seq(&self) -> Result<i64, StoreError> {
        self.read("reading the write log", |tx, label| {
            tx.query_one("SELECT coalesce(max(seq), 0)::BIGINT FROM bin_writes", &[])
                .and_then(|row| row.try_get(0))
                .map_err(pg_error(label, "reading the write log"))
        })
    }

    pub(crate) fn writes_since(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<BinWrite>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read("reading the write log", |tx, label| {
            let context = "reading the write log";
            let rows = tx
                .query(
                    "SELECT seq, source, bin_secs, first_bin, last_bin, series_id
                     FROM bin_writes WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&after, &limit],
                )
                .map_err(pg_error(label, context))?;
            let mut ids = Vec::new();
            for row in &rows {
                if let Some(id) = col::<Option<i64>>(row, 5, label, context)? {
                    ids.push(id);
                }
            }
            let keys = Self::keys_of(tx, label, &ids)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let bin_secs: i64 = col(row, 2, label, context)?;
                let Ok(bin) = BinSize::new(bin_secs as u32) else {
                    continue;
                };
                let series = match col::<Option<i64>>(row, 5, label, context)? {
                    Some(id) => match keys.get(&id) {
                        Some(key) => Some(key.clone()),
                        None => continue,
                    },
                    None => None,
                };
                out.push(BinWrite {
                    seq: col(row, 0, label, context)?,
                    source: col(row, 1, label, context)?,
                    bin,
                    first_bin: col(row, 3, label, context)?,
                    last_bin: col(row, 4, label, context)?,
                    series,
                });
            }
            Ok(out)
        })
    }

    pub(crate) fn staged_bin(
        &self,
        source: &str,
        bin: BinSize,
        bin_start: UnixSecs,
    ) -> Result<Option<BinValues>, StoreError> {
        let bin_secs = i64::from(bin.secs());
        self.read("reading a staged bin", |tx, label| {
            let context = "reading a staged bin";
            let rows = tx
                .query(
                    "SELECT data FROM staged_bins
                     WHERE source = $1 AND bin_secs = $2 AND bin_start = $3 ORDER BY block",
                    &[&source, &bin_secs, &bin_start],
                )
                .map_err(pg_error(label, context))?;
            if rows.is_empty() {
                return Ok(None);
            }
            let mut entries = Vec::new();
            for row in &rows {
                let data: &[u8] = col(row, 0, label, context)?;
                entries.extend(decode_read_staged(label, source, bin_start, data)?);
            }
            let ids: Vec<i64> = entries.iter().map(|e| e.0).collect();
            let keys = Self::keys_of(tx, label, &ids)?;
            Ok(Some(
                entries
                    .into_iter()
                    .filter_map(|(id, value)| Some((keys.get(&id)?.clone(), value)))
                    .collect(),
            ))
        })
    }

    pub(crate) fn save_detector_state(
        &mut self,
        method: &str,
        states: &[DetectorCheckpoint],
        write_seq: i64,
    ) -> Result<(), StoreError> {
        let now = now_secs();
        self.write("saving the detector's state", |tx, label| {
            let context = "saving the detector's state";
            let put_state = tx
                .prepare(
                    "INSERT INTO detector_checkpoints (method, kind, code, signal, bin_secs, state, saved_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (method, kind, code, signal, bin_secs)
                     DO UPDATE SET state = excluded.state, saved_at = excluded.saved_at",
                )
                .map_err(pg_error(label, context))?;
            let drop = tx
                .prepare(
                    "DELETE FROM detector_depths WHERE method = $1 AND kind = $2
                       AND code = $3 AND signal = $4 AND bin_secs = $5",
                )
                .map_err(pg_error(label, context))?;
            let read = tx
                .prepare(
                    "SELECT bytes FROM detector_depths WHERE method = $1 AND kind = $2
                       AND code = $3 AND signal = $4 AND bin_secs = $5 AND chunk = $6",
                )
                .map_err(pg_error(label, context))?;
            let put = tx
                .prepare(
                    "INSERT INTO detector_depths (method, kind, code, signal, bin_secs, chunk, bytes)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (method, kind, code, signal, bin_secs, chunk)
                     DO UPDATE SET bytes = excluded.bytes",
                )
                .map_err(pg_error(label, context))?;
            for state in states {
                let (kind, code, signal) = (
                    state.key.entity.kind().name(),
                    state.key.entity.code(),
                    state.key.signal.name(),
                );
                let bin_secs = i64::from(state.bin.secs());
                tx.execute(
                    &put_state,
                    &[&method, &kind, &code, &signal, &bin_secs, &state.state, &now],
                )
                .map_err(pg_error(label, context))?;
                if state.depths_at == 0 {
                    tx.execute(&drop, &[&method, &kind, &code, &signal, &bin_secs])
                        .map_err(pg_error(label, context))?;
                }
                write_depth_chunks(
                    tx,
                    state.depths_at,
                    &state.depths,
                    |tx, chunk| {
                        let chunk = i64::try_from(chunk).unwrap_or(i64::MAX);
                        tx.query_opt(&read, &[&method, &kind, &code, &signal, &bin_secs, &chunk])
                            .map_err(pg_error(label, context))?
                            .map(|row| col::<Vec<u8>>(&row, 0, label, context))
                            .transpose()
                    },
                    |tx, chunk, bytes| {
                        let chunk = i64::try_from(chunk).unwrap_or(i64::MAX);
                        tx.execute(
                            &put,
                            &[&method, &kind, &code, &signal, &bin_secs, &chunk, &bytes],
                        )
                        .map_err(pg_error(label, context))?;
                        Ok(())
                    },
                )?;
            }
            tx.execute(
                "INSERT INTO detector_positions (method, write_seq, saved_at) VALUES ($1, $2, $3)
                 ON CONFLICT (method) DO UPDATE SET write_seq = excluded.write_seq,
                   saved_at = excluded.saved_at",
                &[&method, &write_seq, &now],
            )
            .map_err(pg_error(label, context))?;
            Ok(())
        })
    }

    pub(crate) fn detector_states(
        &self,
        method: &str,
    ) -> Result<(Vec<DetectorCheckpoint>, Option<i64>), StoreError> {
        self.read("reading the detector's state", |tx, label| {
            let context = "reading the detector's state";
            let rows = tx
                .query(
                    "SELECT kind, code, signal, bin_secs, state FROM detector_checkpoints
                     WHERE method = $1
                     ORDER BY kind COLLATE \"C\", code COLLATE \"C\", signal COLLATE \"C\", bin_secs",
                    &[&method],
                )
                .map_err(pg_error(label, context))?;
            let mut histories = DepthHistories::default();
            let no_params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&method];
            let mut iter = tx
                .query_raw(
                    "SELECT kind, code, signal, bin_secs, chunk, bytes FROM detector_depths
                     WHERE method = $1 ORDER BY kind, code, signal, bin_secs, chunk",
                    no_params,
                )
                .map_err(pg_error(label, context))?;
            use postgres::fallible_iterator::FallibleIterator;
            while let Some(row) = iter.next().map_err(pg_error(label, context))? {
                let id = (
                    col(&row, 0, label, context)?,
                    col(&row, 1, label, context)?,
                    col(&row, 2, label, context)?,
                    col(&row, 3, label, context)?,
                );
                let chunk: i64 = col(&row, 4, label, context)?;
                let bytes: &[u8] = col(&row, 5, label, context)?;
                histories.add(id, chunk, bytes);
            }
            drop(iter);
            let mut states = Vec::new();
            for row in &rows {
                let (kind, code, signal, bin_secs): (String, String, String, i64) = (
                    col(row, 0, label, context)?,
                    col(row, 1, label, context)?,
                    col(row, 2, label, context)?,
                    col(row, 3, label, context)?,
                );
                let state: Vec<u8> = col(row, 4, label, context)?;
                if let Some(checkpoint) = histories.checkpoint(kind, code, signal, bin_secs, state) {
                    states.push(checkpoint);
                }
            }
            let position = tx
                .query_opt(
                    "SELECT write_seq FROM detector_positions WHERE method = $1",
                    &[&method],
                )
                .map_err(pg_error(label, context))?
                .map(|row| col::<i64>(&row, 0, label, context))
                .transpose()?;
            Ok((states, position))
        })
    }
}

/// Health: record counts, check, repair; and data spans.
impl PgStore {
    pub(crate) fn bin_records(
        &self,
        source: &str,
        bin: BinSize,
        bin_start: UnixSecs,
    ) -> Result<Option<u64>, StoreError> {
        let bin_secs = i64::from(bin.secs());
        self.read("reading a bin's record count", |tx, label| {
            let context = "reading a bin's record count";
            Ok(tx
                .query_opt(
                    "SELECT records FROM bin_records WHERE source = $1 AND bin_secs = $2 AND bin_start = $3",
                    &[&source, &bin_secs, &bin_start],
                )
                .map_err(pg_error(label, context))?
                .map(|row| col::<i64>(&row, 0, label, context))
                .transpose()?
                .map(|n| n.max(0) as u64))
        })
    }

    /// Every series id with its key and bin width.
    fn series_keys(
        tx: &mut postgres::Transaction<'_>,
        label: &str,
    ) -> Result<SeriesKeys, StoreError> {
        let context = "listing series";
        let mut out = BTreeMap::new();
        for row in tx
            .query(
                "SELECT s.series_id, e.kind, e.code, s.signal, s.bin_secs
                 FROM series s JOIN entities e ON e.entity_id = s.entity_id",
                &[],
            )
            .map_err(pg_error(label, context))?
        {
            let (kind, code, signal): (String, String, String) = (
                col(&row, 1, label, context)?,
                col(&row, 2, label, context)?,
                col(&row, 3, label, context)?,
            );
            let bin_secs: i64 = col(&row, 4, label, context)?;
            if let Some(series) = stored_series(&kind, &code, &signal, bin_secs) {
                out.insert(col(&row, 0, label, context)?, series);
            }
        }
        Ok(out)
    }

    pub(crate) fn chunk_days_within(
        &self,
        info: &SeriesInfo,
        window: TimeWindow,
    ) -> Result<Option<(UnixSecs, UnixSecs)>, StoreError> {
        self.read("finding a series' plausible days", |tx, label| {
            let context = "finding a series' plausible days";
            let Some(id) = find_series(tx, label, &self.statements, &info.key, info.bin)? else {
                return Ok(None);
            };
            let span = |row: postgres::Row| -> Result<Option<(i64, i64)>, StoreError> {
                let a: Option<i64> = col(&row, 0, label, context)?;
                let b: Option<i64> = col(&row, 1, label, context)?;
                Ok(a.zip(b))
            };
            let chunks = span(
                tx.query_one(
                    "SELECT min(chunk_start), max(chunk_start) FROM chunks
                     WHERE series_id = $1 AND chunk_start + $4 > $2 AND chunk_start <= $3",
                    &[&id, &window.earliest(), &window.latest(), &DAY_SECS],
                )
                .map_err(pg_error(label, context))?,
            )?;
            let staged = span(
                tx.query_one(
                    "SELECT min(bin_start), max(bin_start) FROM staged_bins
                     WHERE block = $1 AND bin_secs = $4 AND bin_start >= $2 AND bin_start <= $3",
                    &[
                        &codec::block_of(id),
                        &window.earliest(),
                        &window.latest(),
                        &i64::from(info.bin.secs()),
                    ],
                )
                .map_err(pg_error(label, context))?,
            )?;
            Ok(merge_day_spans(chunks, staged))
        })
    }

    pub(crate) fn data_days(
        &self,
        info: &SeriesInfo,
        window: TimeWindow,
    ) -> Result<Vec<UnixSecs>, StoreError> {
        self.read("finding the days a series holds data", |tx, label| {
            let context = "finding the days a series holds data";
            let Some(id) = find_series(tx, label, &self.statements, &info.key, info.bin)? else {
                return Ok(Vec::new());
            };
            let mut days: Vec<UnixSecs> = Vec::new();
            for row in tx
                .query(
                    "SELECT chunk_start FROM chunks
                     WHERE series_id = $1 AND chunk_start + $4 > $2 AND chunk_start <= $3",
                    &[&id, &window.earliest(), &window.latest(), &DAY_SECS],
                )
                .map_err(pg_error(label, context))?
            {
                days.push(col::<i64>(&row, 0, label, context)?.div_euclid(DAY_SECS) * DAY_SECS);
            }
            for row in tx
                .query(
                    "SELECT DISTINCT bin_start FROM staged_bins
                     WHERE block = $1 AND bin_secs = $4 AND bin_start >= $2 AND bin_start <= $3",
                    &[
                        &codec::block_of(id),
                        &window.earliest(),
                        &window.latest(),
                        &i64::from(info.bin.secs()),
                    ],
                )
                .map_err(pg_error(label, context))?
            {
                days.push(col::<i64>(&row, 0, label, context)?.div_euclid(DAY_SECS) * DAY_SECS);
            }
            days.sort_unstable();
            days.dedup();
            Ok(days)
        })
    }

    pub(crate) fn check(&self, window: TimeWindow) -> Result<StoreCheck, StoreError> {
        self.read("checking the store", |tx, label| {
            let keys = Self::series_keys(tx, label)?;
            let mut tally = CheckTally::new(&keys, window);
            use postgres::fallible_iterator::FallibleIterator;
            let context = "reading chunks";
            let none: Vec<&(dyn postgres::types::ToSql + Sync)> = Vec::new();
            let mut rows = tx
                .query_raw("SELECT series_id, chunk_start, data FROM chunks", none)
                .map_err(pg_error(label, context))?;
            while let Some(row) = rows.next().map_err(pg_error(label, context))? {
                let id: i64 = col(&row, 0, label, context)?;
                let day: i64 = col(&row, 1, label, context)?;
                let data: &[u8] = col(&row, 2, label, context)?;
                tally.chunk(id, day, data);
            }
            drop(rows);
            let context = "reading staged bins";
            let none: Vec<&(dyn postgres::types::ToSql + Sync)> = Vec::new();
            let mut rows = tx
                .query_raw("SELECT bin_start, data FROM staged_bins", none)
                .map_err(pg_error(label, context))?;
            while let Some(row) = rows.next().map_err(pg_error(label, context))? {
                let bin_start: i64 = col(&row, 0, label, context)?;
                let data: &[u8] = col(&row, 1, label, context)?;
                tally.staged(bin_start, data);
            }
            drop(rows);
            // PostgreSQL keeps its own pages consistent (checksums, WAL):
            // there is no quick_check to run, so nothing to report there.
            Ok(tally.finish(Vec::new()))
        })
    }

    /// Run after a compaction: every value is in a chunk.
    pub(crate) fn repair(&mut self, window: TimeWindow) -> Result<RepairReport, StoreError> {
        self.locked_write("repairing the store", |w| {
            let label = w.label;
            let keys = Self::series_keys(&mut w.tx, label)?;
            let context = "reading chunks";
            let outside = w
                .tx
                .query(
                    "SELECT series_id, chunk_start, data FROM chunks
                     WHERE chunk_start < $1 OR chunk_start + $3 - 1 > $2",
                    &[&window.earliest(), &window.latest(), &DAY_SECS],
                )
                .map_err(pg_error(label, context))?;
            let mut report = RepairReport::default();
            let mut touched: BTreeSet<i64> = BTreeSet::new();
            let mut updates: Vec<ChunkUpdate> = Vec::new();
            for row in &outside {
                let id: i64 = col(row, 0, label, context)?;
                let day: i64 = col(row, 1, label, context)?;
                let data: &[u8] = col(row, 2, label, context)?;
                let Some((bin, slots)) = slots_outside(label, &keys, window, id, day, data)? else {
                    continue;
                };
                report.bins_removed += slots.len() as u64;
                updates.push((id, bin, day, slots));
                touched.insert(id);
            }
            update_chunks(&mut w.tx, label, w.partitions, updates)?;
            let touched_bins: Vec<(i64, BinSize)> = touched
                .iter()
                .filter_map(|id| keys.get(id).map(|(_, bin)| (*id, *bin)))
                .collect();
            refresh_summaries(&mut w.tx, label, &touched_bins)?;
            report.series_touched = touched.len() as u64;
            let reset = w
                .tx
                .execute(
                    "UPDATE sources SET last_bin_start = ($1 / bin_secs) * bin_secs WHERE last_bin_start > $1",
                    &[&window.latest()],
                )
                .map_err(pg_error(label, "resetting sources' progress"))?;
            report.sources_reset = reset;
            w.tx
                .execute(
                    "DELETE FROM bin_records WHERE bin_start < $1 OR bin_start > $2",
                    &[&window.earliest(), &window.latest()],
                )
                .map_err(pg_error(label, "removing record counts"))?;
            Ok(report)
        })
    }
}
