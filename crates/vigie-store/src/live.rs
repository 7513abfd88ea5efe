//! What a live detector keeps in the store (migration 7): the write log it
//! follows to see bins that any process writes (`bin_writes`), its state
//! per series (`detector_checkpoints`), replaced at each checkpoint, and
//! how far in the log it has read (`detector_positions`); and (migration
//! 9) each series' depth history (`detector_depths`), appended to in
//! chunks of [`DEPTH_CHUNK`] bytes rather than rewritten. The states and
//! histories are opaque bytes: the store does not depend on the detection
//! crate's types.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension, Params, Row};
use vigie_model::{BinSize, SeriesKey, UnixSecs};

use crate::codec;
use crate::error::sql_error;
use crate::health::stored_series;
use crate::sqlite::{stored_key, SqliteStore};
use crate::StoreError;

/// One bin's values of the series a source wrote.
pub type BinValues = Vec<(SeriesKey, Option<f64>)>;

/// One write of bins, as the write log records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinWrite {
    /// Its place in the log: later writes have larger numbers.
    pub seq: i64,
    /// The source that wrote it (`points` for whole series written into chunks).
    pub source: String,
    /// The bin width written.
    pub bin: BinSize,
    /// The first bin written.
    pub first_bin: UnixSecs,
    /// The last bin written (the same as `first_bin` for one closed bin).
    pub last_bin: UnixSecs,
    /// The one series written, for whole series; `None` for a closed bin,
    /// whose series [`crate::Store::staged_bin`] lists.
    pub series: Option<SeriesKey>,
}

/// One series' saved detector state.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectorCheckpoint {
    /// The series.
    pub key: SeriesKey,
    /// Its bin width.
    pub bin: BinSize,
    /// The detector's state, as it encodes it.
    pub state: Vec<u8>,
    /// Saving: where [`Self::depths`] goes in the series' history, in bytes
    /// (0: the history starts afresh, what was saved before is dropped).
    /// Read back: 0.
    pub depths_at: u64,
    /// Saving: the bytes appended to the history at [`Self::depths_at`].
    /// Read back: the whole history.
    pub depths: Vec<u8>,
}

/// The bytes of a depth history kept in one row.
pub const DEPTH_CHUNK: u64 = 4096;

/// Every row `sql` returns for `args`, read as the tuple `T`.
fn all_rows<T>(conn: &Connection, sql: &str, args: impl Params) -> rusqlite::Result<Vec<T>>
where
    T: for<'a> TryFrom<&'a Row<'a>, Error = rusqlite::Error>,
{
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(args, |row| T::try_from(row))?;
    rows.collect()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Writes `depths` from byte `depths_at` of a series' depth history into
/// its chunks of [`DEPTH_CHUNK`] bytes: each chunk touched holds what it
/// held before the new bytes (`read(ctx, chunk)`), then the new bytes that
/// fall in it (`put(ctx, chunk, bytes)`).
pub(crate) fn write_depth_chunks<C>(
    ctx: &mut C,
    depths_at: u64,
    depths: &[u8],
    mut read: impl FnMut(&mut C, u64) -> Result<Option<Vec<u8>>, StoreError>,
    mut put: impl FnMut(&mut C, u64, Vec<u8>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut at = depths_at;
    let mut rest = depths;
    while !rest.is_empty() {
        let chunk = at / DEPTH_CHUNK;
        let within = (at % DEPTH_CHUNK) as usize;
        let take = rest.len().min(DEPTH_CHUNK as usize - within);
        let mut bytes: Vec<u8> = if within == 0 {
            Vec::new()
        } else {
            read(ctx, chunk)?.unwrap_or_default()
        };
        bytes.resize(within, 0);
        bytes.extend_from_slice(&rest[..take]);
        put(ctx, chunk, bytes)?;
        at += take as u64;
        rest = &rest[take..];
    }
    Ok(())
}

/// A depth history's series as stored: (kind, code, signal, bin_secs).
type DepthSeries = (String, String, String, i64);

/// Detectors' depth histories being read back, chunk by chunk in order.
#[derive(Default)]
pub(crate) struct DepthHistories(HashMap<DepthSeries, Vec<u8>>);

impl DepthHistories {
    /// Chunk `chunk` of a series' history. Only a contiguous history is
    /// kept: a chunk out of place ends it (the detector then finds it short).
    pub(crate) fn add(&mut self, series: DepthSeries, chunk: i64, bytes: &[u8]) {
        let history = self.0.entry(series).or_default();
        if history.len() as u64 == chunk as u64 * DEPTH_CHUNK {
            history.extend_from_slice(bytes);
        }
    }

    /// The checkpoint of a stored state with its series' history, or `None`
    /// for names or a width this build does not know.
    pub(crate) fn checkpoint(
        &mut self,
        kind: String,
        code: String,
        signal: String,
        bin_secs: i64,
        state: Vec<u8>,
    ) -> Option<DetectorCheckpoint> {
        let depths = self
            .0
            .remove(&(kind.clone(), code.clone(), signal.clone(), bin_secs))
            .unwrap_or_default();
        let (key, bin) = stored_series(&kind, &code, &signal, bin_secs)?;
        Some(DetectorCheckpoint {
            key,
            bin,
            state,
            depths_at: 0,
            depths,
        })
    }
}

/// The entries of a staged bin of `source` at `bin_start`, being read.
pub(crate) fn decode_read_staged(
    label: &str,
    source: &str,
    bin_start: UnixSecs,
    data: &[u8],
) -> Result<Vec<(i64, Option<f64>)>, StoreError> {
    codec::decode_staged(data).map_err(|e| StoreError::Corrupt {
        path: label.to_string(),
        detail: format!("staged bin of '{source}' at {bin_start}: {e}"),
    })
}

impl SqliteStore {
    /// The key of a series id, if it names one this build knows.
    fn key_of(&self, series_id: i64) -> Result<Option<SeriesKey>, StoreError> {
        let label = self.label().to_string();
        let context = "naming a series";
        let row: Option<(String, String, String)> = self
            .connection()
            .prepare_cached(
                "SELECT e.kind, e.code, s.signal FROM series s
                 JOIN entities e ON e.entity_id = s.entity_id WHERE s.series_id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([series_id], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()
            })
            .map_err(sql_error(&label, context))?;
        Ok(row.and_then(|(kind, code, signal)| stored_key(&kind, &code, &signal)))
    }

    pub(crate) fn last_write_seq(&self) -> Result<i64, StoreError> {
        self.connection()
            .query_row("SELECT coalesce(max(seq), 0) FROM bin_writes", [], |row| {
                row.get(0)
            })
            .map_err(sql_error(self.label(), "reading the write log"))
    }

    pub(crate) fn writes_since(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<BinWrite>, StoreError> {
        let label = self.label().to_string();
        let context = "reading the write log";
        let rows: Vec<(i64, String, i64, i64, i64, Option<i64>)> = all_rows(
            self.connection(),
            "SELECT seq, source, bin_secs, first_bin, last_bin, series_id
             FROM bin_writes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            params![after, limit as i64],
        )
        .map_err(sql_error(&label, context))?;
        let mut out = Vec::with_capacity(rows.len());
        for (seq, source, bin_secs, first_bin, last_bin, series_id) in rows {
            let Ok(bin) = BinSize::new(bin_secs as u32) else {
                continue;
            };
            let series = match series_id {
                Some(id) => match self.key_of(id)? {
                    Some(key) => Some(key),
                    None => continue,
                },
                None => None,
            };
            out.push(BinWrite {
                seq,
                source,
                bin,
                first_bin,
                last_bin,
                series,
            });
        }
        Ok(out)
    }

    pub(crate) fn staged_bin(
        &self,
        source: &str,
        bin: BinSize,
        bin_start: UnixSecs,
    ) -> Result<Option<BinValues>, StoreError> {
        let label = self.label().to_string();
        let context = "reading a staged bin";
        let blobs: Vec<Vec<u8>> = {
            let mut stmt = self
                .connection()
                .prepare_cached(
                    "SELECT data FROM staged_bins
                     WHERE source = ?1 AND bin_secs = ?2 AND bin_start = ?3 ORDER BY block",
                )
                .map_err(sql_error(&label, context))?;
            let rows = stmt
                .query_map(params![source, bin.secs(), bin_start], |row| row.get(0))
                .map_err(sql_error(&label, context))?;
            rows.collect::<Result<_, _>>()
                .map_err(sql_error(&label, context))?
        };
        if blobs.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for data in blobs {
            let entries = decode_read_staged(&label, source, bin_start, &data)?;
            for (id, value) in entries {
                if let Some(key) = self.key_of(id)? {
                    out.push((key, value));
                }
            }
        }
        Ok(Some(out))
    }

    pub(crate) fn save_detector_state(
        &mut self,
        method: &str,
        states: &[DetectorCheckpoint],
        write_seq: i64,
    ) -> Result<(), StoreError> {
        let label = self.label().to_string();
        let context = "saving the detector's state";
        let now = now_secs();
        let tx = self
            .connection()
            .unchecked_transaction()
            .map_err(sql_error(&label, context))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO detector_checkpoints
                       (method, kind, code, signal, bin_secs, state, saved_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(sql_error(&label, context))?;
            let mut drop = tx
                .prepare_cached(
                    "DELETE FROM detector_depths WHERE method = ?1 AND kind = ?2
                       AND code = ?3 AND signal = ?4 AND bin_secs = ?5",
                )
                .map_err(sql_error(&label, context))?;
            let mut read = tx
                .prepare_cached(
                    "SELECT bytes FROM detector_depths WHERE method = ?1 AND kind = ?2
                       AND code = ?3 AND signal = ?4 AND bin_secs = ?5 AND chunk = ?6",
                )
                .map_err(sql_error(&label, context))?;
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO detector_depths
                       (method, kind, code, signal, bin_secs, chunk, bytes)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(sql_error(&label, context))?;
            for state in states {
                let (kind, code, signal) = (
                    state.key.entity.kind().name(),
                    state.key.entity.code(),
                    state.key.signal.name(),
                );
                let bin_secs = state.bin.secs();
                stmt.execute(params![
                    method,
                    kind,
                    code,
                    signal,
                    bin_secs,
                    state.state,
                    now
                ])
                .map_err(sql_error(&label, context))?;
                if state.depths_at == 0 {
                    drop.execute(params![method, kind, code, signal, bin_secs])
                        .map_err(sql_error(&label, context))?;
                }
                write_depth_chunks(
                    &mut (),
                    state.depths_at,
                    &state.depths,
                    |_, chunk| {
                        read.query_row(
                            params![method, kind, code, signal, bin_secs, chunk as i64],
                            |row| row.get(0),
                        )
                        .optional()
                        .map_err(sql_error(&label, context))
                    },
                    |_, chunk, bytes| {
                        put.execute(params![
                            method,
                            kind,
                            code,
                            signal,
                            bin_secs,
                            chunk as i64,
                            bytes
                        ])
                        .map_err(sql_error(&label, context))?;
                        Ok(())
                    },
                )?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO detector_positions (method, write_seq, saved_at)
                 VALUES (?1, ?2, ?3)",
                params![method, write_seq, now],
            )
            .map_err(sql_error(&label, context))?;
        }
        tx.commit().map_err(sql_error(&label, context))
    }

    pub(crate) fn detector_states(
        &self,
        method: &str,
    ) -> Result<(Vec<DetectorCheckpoint>, Option<i64>), StoreError> {
        let label = self.label().to_string();
        let context = "reading the detector's state";
        let conn = self.connection();
        let rows: Vec<(String, String, String, i64, Vec<u8>)> = all_rows(
            conn,
            "SELECT kind, code, signal, bin_secs, state FROM detector_checkpoints
             WHERE method = ?1",
            [method],
        )
        .map_err(sql_error(&label, context))?;
        let mut histories = DepthHistories::default();
        {
            let mut stmt = conn
                .prepare(
                    "SELECT kind, code, signal, bin_secs, chunk, bytes FROM detector_depths
                     WHERE method = ?1 ORDER BY kind, code, signal, bin_secs, chunk",
                )
                .map_err(sql_error(&label, context))?;
            let mut rows = stmt.query([method]).map_err(sql_error(&label, context))?;
            while let Some(row) = rows.next().map_err(sql_error(&label, context))? {
                let id: DepthSeries = (
                    row.get(0).map_err(sql_error(&label, context))?,
                    row.get(1).map_err(sql_error(&label, context))?,
                    row.get(2).map_err(sql_error(&label, context))?,
                    row.get(3).map_err(sql_error(&label, context))?,
                );
                let chunk: i64 = row.get(4).map_err(sql_error(&label, context))?;
                let bytes: Vec<u8> = row.get(5).map_err(sql_error(&label, context))?;
                histories.add(id, chunk, &bytes);
            }
        }
        let states = rows
            .into_iter()
            .filter_map(|(kind, code, signal, bin_secs, state)| {
                histories.checkpoint(kind, code, signal, bin_secs, state)
            })
            .collect();
        let position = conn
            .query_row(
                "SELECT write_seq FROM detector_positions WHERE method = ?1",
                [method],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql_error(&label, context))?;
        Ok((states, position))
    }
}

#[cfg(test)]
mod tests {
    use vigie_model::{BinSize, Entity, SeriesKey, SignalKind};

    use super::DetectorCheckpoint;
    use crate::Store;

    const DAY: i64 = 1_641_168_000;

    fn key(entity: &str) -> SeriesKey {
        SeriesKey {
            entity: entity.parse::<Entity>().unwrap(),
            signal: SignalKind::BgpVisibleSlash24s,
        }
    }

    #[test]
    fn every_write_is_logged_in_order_and_staged_bins_read_back() {
        // The same assertions on each backend built and installed.
        for mut store in crate::test_stores() {
            let bin = BinSize::default();
            assert_eq!(store.last_write_seq().unwrap(), 0);
            // Whole series first: writing points folds the staged bins of
            // their block into chunks.
            store
                .write_points(&key("UZ"), bin, &[(DAY, Some(1.0)), (DAY + 600, Some(2.0))])
                .unwrap();
            store
                .write_bin(
                    "probe",
                    bin,
                    DAY,
                    &[(key("KZ"), Some(3.0)), (key("AS9198"), None)],
                )
                .unwrap();
            let writes = store.writes_since(0, 10).unwrap();
            assert_eq!(writes.len(), 2);
            assert_eq!(
                (
                    writes[0].first_bin,
                    writes[0].last_bin,
                    writes[0].series.clone()
                ),
                (DAY, DAY + 600, Some(key("UZ")))
            );
            assert_eq!(
                (
                    writes[1].source.as_str(),
                    writes[1].first_bin,
                    writes[1].series.clone()
                ),
                ("probe", DAY, None)
            );
            assert_eq!(store.last_write_seq().unwrap(), writes[1].seq);
            assert!(store.writes_since(writes[1].seq, 10).unwrap().is_empty());
            let mut staged = store.staged_bin("probe", bin, DAY).unwrap().unwrap();
            staged.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(staged, [(key("KZ"), Some(3.0)), (key("AS9198"), None)]);
            store.compact().unwrap();
            assert_eq!(store.staged_bin("probe", bin, DAY).unwrap(), None);
        }
    }

    #[test]
    fn detector_states_are_replaced_per_series() {
        // The same assertions on each backend built and installed.
        for mut store in crate::test_stores() {
            let bin = BinSize::default();
            let state = |entity: &str, bytes: &[u8]| DetectorCheckpoint {
                key: key(entity),
                bin,
                state: bytes.to_vec(),
                depths_at: 0,
                depths: Vec::new(),
            };
            assert_eq!(store.detector_states("vigie").unwrap(), (vec![], None));
            store
                .save_detector_state("vigie", &[state("KZ", b"a"), state("UZ", b"b")], 4)
                .unwrap();
            store
                .save_detector_state("vigie", &[state("KZ", b"c")], 9)
                .unwrap();
            let (mut states, position) = store.detector_states("vigie").unwrap();
            states.sort_by(|a, b| a.key.cmp(&b.key));
            assert_eq!(states, [state("KZ", b"c"), state("UZ", b"b")]);
            assert_eq!(position, Some(9));
            assert!(store.detector_states("other").unwrap().0.is_empty());
        }
    }

    #[test]
    fn depth_histories_are_appended_across_chunks_and_start_afresh() {
        // The same assertions on each backend built and installed.
        for mut store in crate::test_stores() {
            let bin = BinSize::default();
            let save = |store: &mut Store, at: u64, bytes: Vec<u8>| {
                let checkpoint = DetectorCheckpoint {
                    key: key("KZ"),
                    bin,
                    state: b"s".to_vec(),
                    depths_at: at,
                    depths: bytes,
                };
                store
                    .save_detector_state("vigie", &[checkpoint], 1)
                    .unwrap();
            };
            let history =
                |store: &Store| store.detector_states("vigie").unwrap().0[0].depths.clone();
            let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
            save(&mut store, 0, bytes[..3000].to_vec());
            save(&mut store, 3000, bytes[3000..5000].to_vec());
            save(&mut store, 5000, bytes[5000..].to_vec());
            assert_eq!(history(&store), bytes);
            // Saving the same bytes again changes nothing.
            save(&mut store, 5000, bytes[5000..].to_vec());
            assert_eq!(history(&store), bytes);
            save(&mut store, 0, vec![7, 7]);
            assert_eq!(history(&store), [7, 7]);
        }
    }
}
