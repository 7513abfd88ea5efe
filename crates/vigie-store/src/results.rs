//! Detection results and ground truth: labels, events and incidents.
//!
//! The store keeps them as rows with indexed columns (entity, times, depth)
//! plus the detector's own JSON in `detail`, so the store does not depend on
//! the detection crate's types.

use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use vigie_model::{BinSize, Entity, EntityKind, SeriesKey, SignalKind, UnixSecs};

use crate::error::sql_error;
use crate::sqlite::SqliteStore;
use crate::StoreError;

/// A known outage of an entity, from a labelled file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredLabel {
    /// Whose outage.
    pub entity: Entity,
    /// First second of the outage.
    pub start: UnixSecs,
    /// First second after it.
    pub end: UnixSecs,
    /// Where the label comes from (a file name).
    pub source: String,
}

/// An event found in one series by one detection method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// The detection method (`vigie`, `ioda-median`).
    pub method: String,
    /// The series it was found in.
    pub key: SeriesKey,
    /// The series' bin size.
    pub bin: BinSize,
    /// Onset.
    pub start: UnixSecs,
    /// End, or `None` while ongoing.
    pub end: Option<UnixSecs>,
    /// Share of the baseline lost at the deepest point, 0..=1.
    pub depth: Option<f64>,
    /// IODA's score (drop × minutes), for comparison.
    pub score: Option<f64>,
    /// The method's full description of the event, as JSON.
    pub detail: String,
}

/// An incident: one entity, one period, all its signals fused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredIncident {
    /// The detection method.
    pub method: String,
    /// Whose incident.
    pub entity: Entity,
    /// Onset.
    pub start: UnixSecs,
    /// End, or `None` while ongoing.
    pub end: Option<UnixSecs>,
    /// The full description (scope, mechanism, restorations…), as JSON.
    pub detail: String,
}

/// Which results to read; every field narrows the selection.
#[derive(Clone, Debug, Default)]
pub struct ResultFilter {
    /// Only this entity.
    pub entity: Option<Entity>,
    /// Only this method.
    pub method: Option<String>,
    /// Only results still going on at or after this time.
    pub from: Option<UnixSecs>,
    /// Only results that started before this time.
    pub until: Option<UnixSecs>,
}

impl ResultFilter {
    /// The filter's (kind, code, method, from, until), as both backends
    /// bind them.
    pub(crate) fn bind(&self) -> (Option<String>, Option<String>, Option<String>, i64, i64) {
        (
            self.entity.as_ref().map(|e| e.kind().name().to_string()),
            self.entity.as_ref().map(|e| e.code()),
            self.method.clone(),
            self.from.unwrap_or(i64::MIN),
            self.until.unwrap_or(i64::MAX),
        )
    }
}

/// The entity of stored names, or `None` for names this build does not know.
pub(crate) fn entity_of(kind: &str, code: &str) -> Option<Entity> {
    Entity::from_kind_code(kind.parse::<EntityKind>().ok()?, code).ok()
}

/// The series key and bin width of a stored event, or `None` for names
/// or a width this build does not know.
pub(crate) fn event_series(
    kind: &str,
    code: &str,
    signal: &str,
    bin_secs: i64,
) -> Option<(SeriesKey, BinSize)> {
    let (Some(entity), Ok(signal), Ok(bin)) = (
        entity_of(kind, code),
        signal.parse::<SignalKind>(),
        BinSize::new(u32::try_from(bin_secs).unwrap_or(0)),
    ) else {
        return None;
    };
    Some((SeriesKey { entity, signal }, bin))
}

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Option<StoredEvent>> {
    let kind: String = row.get(1)?;
    let code: String = row.get(2)?;
    let signal: String = row.get(3)?;
    let bin_secs: i64 = row.get(4)?;
    let Some((key, bin)) = event_series(&kind, &code, &signal, bin_secs) else {
        return Ok(None);
    };
    Ok(Some(StoredEvent {
        method: row.get(0)?,
        key,
        bin,
        start: row.get(5)?,
        end: row.get(6)?,
        depth: row.get(7)?,
        score: row.get(8)?,
        detail: row.get(9)?,
    }))
}

impl SqliteStore {
    pub(crate) fn add_labels(&mut self, labels: &[StoredLabel]) -> Result<u64, StoreError> {
        let label = self.label().to_string();
        let conn = self.connection();
        let tx = conn
            .unchecked_transaction()
            .map_err(sql_error(&label, "starting to add labels"))?;
        let mut added = 0;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO labels (kind, code, start, end_time, source)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(sql_error(&label, "adding a label"))?;
            for l in labels {
                added += stmt
                    .execute(params![
                        l.entity.kind().name(),
                        l.entity.code(),
                        l.start,
                        l.end,
                        l.source
                    ])
                    .map_err(sql_error(&label, "adding a label"))? as u64;
            }
        }
        tx.commit()
            .map_err(sql_error(&label, "committing labels"))?;
        Ok(added)
    }

    pub(crate) fn labels(&self, filter: &ResultFilter) -> Result<Vec<StoredLabel>, StoreError> {
        let label = self.label();
        let (kind, code, _, from, until) = filter.bind();
        let mut stmt = self
            .connection()
            .prepare_cached(
                "SELECT kind, code, start, end_time, source FROM labels
                 WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR code = ?2)
                   AND end_time > ?3 AND start < ?4
                 ORDER BY kind, code, start",
            )
            .map_err(sql_error(label, "reading labels"))?;
        let rows = stmt
            .query_map(params![kind, code, from, until], |row| {
                let kind: String = row.get(0)?;
                let code: String = row.get(1)?;
                Ok(
                    entity_of(&kind, &code).map(|entity| -> rusqlite::Result<StoredLabel> {
                        Ok(StoredLabel {
                            entity,
                            start: row.get(2)?,
                            end: row.get(3)?,
                            source: row.get(4)?,
                        })
                    }),
                )
            })
            .map_err(sql_error(label, "reading labels"))?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(parsed) = row.map_err(sql_error(label, "reading a label"))? {
                out.push(parsed.map_err(sql_error(label, "reading a label"))?);
            }
        }
        Ok(out)
    }

    pub(crate) fn replace_events(
        &mut self,
        method: &str,
        key: &SeriesKey,
        bin: BinSize,
        events: &[StoredEvent],
    ) -> Result<(), StoreError> {
        let label = self.label().to_string();
        let conn = self.connection();
        let tx = conn
            .unchecked_transaction()
            .map_err(sql_error(&label, "starting to store events"))?;
        let (kind, code, signal) = (
            key.entity.kind().name(),
            key.entity.code(),
            key.signal.name(),
        );
        tx.execute(
            "DELETE FROM events WHERE kind = ?1 AND code = ?2 AND signal = ?3 AND bin_secs = ?4 AND method = ?5",
            params![kind, code, signal, bin.secs(), method],
        )
        .map_err(sql_error(&label, "replacing events"))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO events (method, kind, code, signal, bin_secs, start, end_time, depth, score, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(sql_error(&label, "storing an event"))?;
            for e in events {
                stmt.execute(params![
                    method,
                    kind,
                    code,
                    signal,
                    bin.secs(),
                    e.start,
                    e.end,
                    e.depth.filter(|d| d.is_finite()),
                    e.score.filter(|s| s.is_finite()),
                    e.detail
                ])
                .map_err(sql_error(&label, "storing an event"))?;
            }
        }
        tx.commit().map_err(sql_error(&label, "committing events"))
    }

    pub(crate) fn events(&self, filter: &ResultFilter) -> Result<Vec<StoredEvent>, StoreError> {
        let label = self.label();
        let (kind, code, method, from, until) = filter.bind();
        let mut stmt = self
            .connection()
            .prepare_cached(
                "SELECT method, kind, code, signal, bin_secs, start, end_time, depth, score, detail FROM events
                 WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR code = ?2) AND (?3 IS NULL OR method = ?3)
                   AND (end_time IS NULL OR end_time > ?4) AND start < ?5
                 ORDER BY start, kind, code, signal",
            )
            .map_err(sql_error(label, "reading events"))?;
        let rows = stmt
            .query_map(params![kind, code, method, from, until], event_from_row)
            .map_err(sql_error(label, "reading events"))?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(event) = row.map_err(sql_error(label, "reading an event"))? {
                out.push(event);
            }
        }
        Ok(out)
    }

    pub(crate) fn replace_incidents(
        &mut self,
        method: &str,
        entity: &Entity,
        incidents: &[StoredIncident],
    ) -> Result<(), StoreError> {
        let label = self.label().to_string();
        let conn = self.connection();
        let tx = conn
            .unchecked_transaction()
            .map_err(sql_error(&label, "starting to store incidents"))?;
        let (kind, code) = (entity.kind().name(), entity.code());
        tx.execute(
            "DELETE FROM incidents WHERE kind = ?1 AND code = ?2 AND method = ?3",
            params![kind, code, method],
        )
        .map_err(sql_error(&label, "replacing incidents"))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO incidents (method, kind, code, start, end_time, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql_error(&label, "storing an incident"))?;
            for i in incidents {
                stmt.execute(params![method, kind, code, i.start, i.end, i.detail])
                    .map_err(sql_error(&label, "storing an incident"))?;
            }
        }
        tx.commit()
            .map_err(sql_error(&label, "committing incidents"))
    }

    pub(crate) fn incidents(
        &self,
        filter: &ResultFilter,
    ) -> Result<Vec<StoredIncident>, StoreError> {
        let label = self.label();
        let (kind, code, method, from, until) = filter.bind();
        let mut stmt = self
            .connection()
            .prepare_cached(
                "SELECT method, kind, code, start, end_time, detail FROM incidents
                 WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR code = ?2) AND (?3 IS NULL OR method = ?3)
                   AND (end_time IS NULL OR end_time > ?4) AND start < ?5
                 ORDER BY start, kind, code",
            )
            .map_err(sql_error(label, "reading incidents"))?;
        let rows = stmt
            .query_map(params![kind, code, method, from, until], |row| {
                let kind: String = row.get(1)?;
                let code: String = row.get(2)?;
                let Some(entity) = entity_of(&kind, &code) else {
                    return Ok(None);
                };
                Ok(Some(StoredIncident {
                    method: row.get(0)?,
                    entity,
                    start: row.get(3)?,
                    end: row.get(4)?,
                    detail: row.get(5)?,
                }))
            })
            .map_err(sql_error(label, "reading incidents"))?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(incident) = row.map_err(sql_error(label, "reading an incident"))? {
                out.push(incident);
            }
        }
        Ok(out)
    }

    /// How many events a method has stored (0 when none).
    pub(crate) fn event_count(&self, method: &str) -> Result<u64, StoreError> {
        let label = self.label();
        let count: Option<i64> = self
            .connection()
            .query_row(
                "SELECT count(*) FROM events WHERE method = ?1",
                params![method],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql_error(label, "counting events"))?;
        Ok(count.unwrap_or(0).max(0) as u64)
    }
}
