//! Annotations (migration 3): external events (a televised address, a
//! decree, an exam day) attached to an entity and a time. The store keeps
//! and finds them; what makes a valid annotation is the caller's concern
//! (`vigie-publish` checks lengths, times and URLs before writing).

use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use vigie_model::{format_utc, Entity, EntityKind, UnixSecs};

use crate::error::sql_error;
use crate::sqlite::SqliteStore;
use crate::StoreError;

/// An annotation to store (its id is given by the store).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewStoredAnnotation {
    /// The entity it concerns.
    pub entity: Entity,
    /// When it happened (or started), Unix seconds.
    pub time: UnixSecs,
    /// When it ended, for a span.
    pub end: Option<UnixSecs>,
    /// What happened.
    pub text: String,
    /// A source URL.
    pub url: Option<String>,
    /// Who wrote it (`api`, `cli`).
    pub author: String,
    /// When it was written, Unix seconds.
    pub created_at: UnixSecs,
}

/// An annotation as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredAnnotation {
    /// Its id.
    pub id: i64,
    /// The entity it concerns.
    pub entity: Entity,
    /// When it happened (or started), Unix seconds.
    pub time: UnixSecs,
    /// When it ended, for a span.
    pub end: Option<UnixSecs>,
    /// What happened.
    pub text: String,
    /// A source (http or https URL).
    pub url: Option<String>,
    /// Who wrote it (`api` or `cli`).
    pub author: String,
    /// When it was written, Unix seconds.
    pub created_at: UnixSecs,
}

impl StoredAnnotation {
    /// `2023-08-21T01:00:00Z`, or `… – …` for a span.
    pub fn when(&self) -> String {
        match self.end {
            Some(end) => format!("{} – {}", format_utc(self.time), format_utc(end)),
            None => format_utc(self.time),
        }
    }
}

const COLUMNS: &str = "annotation_id, kind, code, time, end_time, text, url, author, created_at";

/// The annotation in a row of [`COLUMNS`]; `None` when the row names no
/// valid entity (such rows are skipped).
fn annotation_of(row: &Row) -> rusqlite::Result<Option<StoredAnnotation>> {
    let kind: String = row.get(1)?;
    let code: String = row.get(2)?;
    let entity = kind
        .parse::<EntityKind>()
        .ok()
        .and_then(|k| Entity::from_kind_code(k, &code).ok());
    Ok(entity.map(|entity| StoredAnnotation {
        id: row.get(0).unwrap_or(0),
        entity,
        time: row.get(3).unwrap_or(0),
        end: row.get(4).unwrap_or(None),
        text: row.get(5).unwrap_or_default(),
        url: row.get(6).unwrap_or(None),
        author: row.get(7).unwrap_or_default(),
        created_at: row.get(8).unwrap_or(0),
    }))
}

impl SqliteStore {
    pub(crate) fn add_annotation(
        &mut self,
        annotation: &NewStoredAnnotation,
    ) -> Result<i64, StoreError> {
        let label = self.label();
        let conn = self.connection();
        conn.prepare_cached(
            "INSERT INTO annotations (kind, code, time, end_time, text, url, author, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                annotation.entity.kind().name(),
                annotation.entity.code(),
                annotation.time,
                annotation.end,
                annotation.text,
                annotation.url,
                annotation.author,
                annotation.created_at
            ])
        })
        .map_err(sql_error(label, "storing an annotation"))?;
        Ok(conn.last_insert_rowid())
    }

    pub(crate) fn annotations(
        &self,
        entity: Option<&Entity>,
        from: Option<UnixSecs>,
        until: Option<UnixSecs>,
    ) -> Result<Vec<StoredAnnotation>, StoreError> {
        let label = self.label();
        let context = "reading annotations";
        let mut stmt = self
            .connection()
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM annotations
                 WHERE (?1 IS NULL OR (kind = ?1 AND code = ?2))
                   AND COALESCE(end_time, time + 1) > ?3 AND time < ?4
                 ORDER BY time, annotation_id"
            ))
            .map_err(sql_error(label, context))?;
        let rows = stmt
            .query_map(
                params![
                    entity.map(|e| e.kind().name()),
                    entity.map(|e| e.code()),
                    from.unwrap_or(i64::MIN),
                    until.unwrap_or(i64::MAX)
                ],
                annotation_of,
            )
            .map_err(sql_error(label, context))?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(annotation) = row.map_err(sql_error(label, context))? {
                out.push(annotation);
            }
        }
        Ok(out)
    }

    pub(crate) fn annotation(&self, id: i64) -> Result<Option<StoredAnnotation>, StoreError> {
        let label = self.label();
        let context = "reading an annotation";
        self.connection()
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM annotations WHERE annotation_id = ?1"
            ))
            .and_then(|mut stmt| stmt.query_row([id], annotation_of).optional())
            .map(Option::flatten)
            .map_err(sql_error(label, context))
    }
}
