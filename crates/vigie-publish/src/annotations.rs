//! Annotations: external events (a televised address, a decree, an exam
//! day) attached to an entity and a time, shown on plots and in reports.
//!
//! They live in the store (its `annotations` table, migration 3), written
//! and read through [`Store`]. This module decides what a valid annotation
//! is: input is validated (lengths, times, URL scheme) before any write.

use serde::Deserialize;
use vigie_model::{Entity, UnixSecs};
use vigie_store::{NewStoredAnnotation, Store, StoreError, StoredAnnotation};

/// Longest annotation text, in characters.
pub const MAX_TEXT_CHARS: usize = 500;
/// Longest URL, in bytes.
pub const MAX_URL_BYTES: usize = 2000;

/// A new annotation, as a client sends it (JSON: `entity`, `time`,
/// `until`, `text`, `url`; times are ISO 8601 UTC or Unix seconds).
#[derive(Clone, Debug, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAnnotation {
    /// Entity: `IQ`, `AS9198`, `KZ/Almaty`.
    pub entity: String,
    /// When it happened: ISO 8601 UTC or Unix seconds.
    #[schema(value_type = String)]
    pub time: serde_json::Value,
    /// When it ended, for a span.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub until: Option<serde_json::Value>,
    /// What happened.
    #[schema(max_length = 500)]
    pub text: String,
    /// A source URL, http(s).
    #[serde(default)]
    pub url: Option<String>,
}

/// Why an annotation could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    /// The input is invalid; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn parse_time(value: &serde_json::Value, name: &str) -> Result<UnixSecs, AnnotationError> {
    let t = match value {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => match s.trim().parse::<i64>() {
            Ok(t) => Some(t),
            Err(_) => vigie_model::parse_utc(s).ok(),
        },
        _ => None,
    };
    t.filter(|t| (0..=4_102_444_800).contains(t))
        .ok_or_else(|| {
            AnnotationError::Invalid(format!(
            "'{name}' = {value} is not a time between 1970 and 2100 (ISO 8601 UTC or Unix seconds)"
        ))
        })
}

/// A validated annotation, ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidAnnotation {
    /// The entity.
    pub entity: Entity,
    /// Start, Unix seconds.
    pub time: UnixSecs,
    /// End, for a span.
    pub end: Option<UnixSecs>,
    /// Text, trimmed.
    pub text: String,
    /// Source URL.
    pub url: Option<String>,
}

impl NewAnnotation {
    /// Checks every field.
    pub fn validate(&self) -> Result<ValidAnnotation, AnnotationError> {
        let entity: Entity = self.entity.parse().map_err(|e| {
            AnnotationError::Invalid(format!(
                "'entity' = '{}' is not an entity ({e}): use IQ, AS9198 or KZ/Almaty",
                self.entity
            ))
        })?;
        let time = parse_time(&self.time, "time")?;
        let end = self
            .until
            .as_ref()
            .map(|v| parse_time(v, "until"))
            .transpose()?;
        if end.is_some_and(|e| e <= time) {
            return Err(AnnotationError::Invalid(
                "'until' must be after 'time'".into(),
            ));
        }
        let text = self.text.trim().to_string();
        if text.is_empty() || text.chars().count() > MAX_TEXT_CHARS {
            return Err(AnnotationError::Invalid(format!(
                "'text' must hold 1 to {MAX_TEXT_CHARS} characters"
            )));
        }
        if text.chars().any(|c| c.is_control()) {
            return Err(AnnotationError::Invalid(
                "'text' must not hold control characters (one line)".into(),
            ));
        }
        let url = self
            .url
            .as_ref()
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty());
        if let Some(u) = &url {
            let scheme_ok = u.starts_with("https://") || u.starts_with("http://");
            if !scheme_ok
                || u.len() > MAX_URL_BYTES
                || u.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(AnnotationError::Invalid(format!(
                    "'url' must be an http(s) URL of at most {MAX_URL_BYTES} bytes without spaces"
                )));
            }
        }
        Ok(ValidAnnotation {
            entity,
            time,
            end,
            text,
            url,
        })
    }
}

/// Stores a validated annotation; returns its id.
pub fn add(
    store: &mut Store,
    annotation: &ValidAnnotation,
    author: &str,
    now: UnixSecs,
) -> Result<i64, AnnotationError> {
    Ok(store.add_annotation(&NewStoredAnnotation {
        entity: annotation.entity.clone(),
        time: annotation.time,
        end: annotation.end,
        text: annotation.text.clone(),
        url: annotation.url.clone(),
        author: author.to_string(),
        created_at: now,
    })?)
}

/// Annotations of `entity` (all when `None`) overlapping `[from, until)`,
/// in time order. Rows naming no valid entity are skipped.
pub fn list(
    store: &Store,
    entity: Option<&Entity>,
    from: Option<UnixSecs>,
    until: Option<UnixSecs>,
) -> Result<Vec<StoredAnnotation>, AnnotationError> {
    Ok(store.annotations(entity, from, until)?)
}

/// One annotation by id.
pub fn get(store: &Store, id: i64) -> Result<Option<StoredAnnotation>, AnnotationError> {
    Ok(store.annotation(id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(entity: &str, time: serde_json::Value, text: &str) -> NewAnnotation {
        NewAnnotation {
            entity: entity.into(),
            time,
            until: None,
            text: text.into(),
            url: None,
        }
    }

    #[test]
    fn validation_explains_what_to_change() {
        let ok = new("IQ", serde_json::json!("2023-08-21T01:00:00Z"), " exams ")
            .validate()
            .unwrap();
        assert_eq!(ok.time, 1_692_579_600);
        assert_eq!(ok.text, "exams");
        let err = |a: NewAnnotation| a.validate().unwrap_err().to_string();
        assert!(err(new("??", serde_json::json!(0), "x")).contains("'entity'"));
        assert!(err(new("IQ", serde_json::json!("soon"), "x")).contains("'time'"));
        assert!(err(new("IQ", serde_json::json!(0), "")).contains("'text'"));
        assert!(err(new("IQ", serde_json::json!(0), &"x".repeat(501))).contains("'text'"));
        assert!(err(new("IQ", serde_json::json!(0), "a\nb")).contains("control"));
        let mut a = new("IQ", serde_json::json!(100), "x");
        a.until = Some(serde_json::json!(50));
        assert!(err(a.clone()).contains("'until'"));
        a.until = None;
        a.url = Some("javascript:alert(1)".into());
        assert!(err(a).contains("'url'"));
    }

    #[test]
    fn stored_and_listed_by_entity_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let iq = new("IQ", serde_json::json!(1000), "exam day")
            .validate()
            .unwrap();
        let mut kz = new("KZ", serde_json::json!(2000), "address")
            .validate()
            .unwrap();
        kz.end = Some(2600);
        let id = add(&mut store, &iq, "cli", 5).unwrap();
        add(&mut store, &kz, "api", 6).unwrap();
        let all = list(&store, None, None, None).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].text, "exam day");
        let kz_only = list(&store, Some(&"KZ".parse().unwrap()), Some(2500), Some(3000)).unwrap();
        assert_eq!(kz_only.len(), 1, "a span overlapping the range");
        assert_eq!(kz_only[0].author, "api");
        assert!(list(&store, None, Some(1001), Some(1999))
            .unwrap()
            .is_empty());
        assert_eq!(get(&store, id).unwrap().unwrap().entity.to_string(), "IQ");
        assert_eq!(get(&store, 999).unwrap(), None);
    }
}
