//! `vigie annotate`: annotations (external events such as a televised
//! address) added from the command line or listed, through
//! `vigie_publish::annotations`' validation.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use vigie_model::{Entity, UnixSecs};
use vigie_publish::annotations::{self, NewAnnotation};
use vigie_store::Store;

/// The annotations of `entity` (every entity when `None`) between `from`
/// and `until`, one line each: id, entity, when, text and URL, tab-separated.
pub fn annotation_lines(
    store: &Store,
    entity: Option<&Entity>,
    from: Option<UnixSecs>,
    until: Option<UnixSecs>,
) -> Result<Vec<String>> {
    Ok(annotations::list(store, entity, from, until)?
        .into_iter()
        .map(|a| {
            let url = a.url.as_ref().map(|u| format!("\t{u}")).unwrap_or_default();
            format!("{}\t{}\t{}\t{}{url}", a.id, a.entity, a.when(), a.text)
        })
        .collect())
}

/// Validates `new` and stores it with the author `cli`; its id and entity.
pub fn add_annotation(store: &mut Store, new: &NewAnnotation) -> Result<(i64, Entity)> {
    let valid = new.validate()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let id = annotations::add(store, &valid, "cli", now)?;
    Ok((id, valid.entity))
}
