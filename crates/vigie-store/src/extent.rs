//! Where each series' data lies, from its chunk summary and its staged
//! bins, and the reading and updating of its chunks' values: the logic
//! both backends share, given the rows they read.

use std::collections::BTreeMap;

use vigie_model::{format_utc, BinSize, Entity, SeriesKey, UnixSecs};

use crate::codec;
use crate::codec::{day_of, DAY_SECS};
use crate::error::corrupt;
use crate::{EntityInfo, SeriesInfo, SignalLatest, StoreError};

/// Where a series' data lies, from chunks and staged bins together.
#[derive(Clone, Copy, Default)]
pub(crate) struct Extent {
    pub(crate) first_bin: Option<UnixSecs>,
    pub(crate) last: Option<(UnixSecs, f64)>,
}

/// What staged bins say about one series, gathered newest bin first.
#[derive(Default)]
struct StagedExtent {
    /// The newest bin already decided (the newest write of a bin wins).
    decided_bin: Option<UnixSecs>,
    extent: Extent,
    /// A staged "no data" overrides a chunk value at the chunk summary's
    /// first or last bin: the summary no longer holds, read the series.
    needs_full_read: bool,
}

/// A row of the series table with its entity.
pub(crate) struct SeriesRow {
    pub(crate) series_id: i64,
    pub(crate) key: SeriesKey,
    pub(crate) bin: BinSize,
    pub(crate) entity_name: Option<String>,
    pub(crate) chunks: Extent,
}

/// Folds one staged bin (`data`, of `block`, at `bin_start`) into `staged`.
/// `rows` are sorted by series id and `ids` are their ids; staged bins must
/// come newest first, so the first value met for a series and bin counts.
fn visit_staged_bin(
    label: &str,
    rows: &[SeriesRow],
    ids: &[i64],
    staged: &mut [StagedExtent],
    bin_start: UnixSecs,
    block: i64,
    data: &[u8],
) -> Result<(), StoreError> {
    let block_first_id = block.saturating_mul(1 << codec::BLOCK_SHIFT);
    let mut cursor = ids.partition_point(|&id| id < block_first_id);
    codec::visit_staged(data, |id, value| {
        while ids.get(cursor).is_some_and(|&known| known < id) {
            cursor += 1;
        }
        let (Some(row), Some(state)) = (rows.get(cursor), staged.get_mut(cursor)) else {
            return false;
        };
        if row.series_id != id || state.decided_bin == Some(bin_start) {
            return true;
        }
        state.decided_bin = Some(bin_start);
        match value {
            Some(x) => {
                if state.extent.last.is_none() {
                    state.extent.last = Some((bin_start, x));
                }
                state.extent.first_bin = Some(bin_start);
            }
            None => {
                let chunks = row.chunks;
                if chunks.first_bin == Some(bin_start)
                    || chunks.last.map(|l| l.0) == Some(bin_start)
                {
                    state.needs_full_read = true;
                }
            }
        }
        true
    })
    .map_err(|e| {
        corrupt(
            label,
            format!("staged bin at {}: {e}", format_utc(bin_start)),
        )
    })
}

/// Merges what staged bins said into each row's chunk extent. Where a
/// staged "no data" hid a summary bin, `full_extent(series id, bin, chunk
/// extent, staged extent)` reads the series for its exact extent.
fn merge_staged(
    rows: &mut [SeriesRow],
    staged: &[StagedExtent],
    mut full_extent: impl FnMut(i64, BinSize, Extent, Extent) -> Result<Extent, StoreError>,
) -> Result<(), StoreError> {
    for (row, state) in rows.iter_mut().zip(staged) {
        if state.decided_bin.is_none() {
            continue;
        }
        let chunks = row.chunks;
        let first_bin = match (chunks.first_bin, state.extent.first_bin) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let last = match (chunks.last, state.extent.last) {
            (Some(c), Some(s)) => Some(if s.0 >= c.0 { s } else { c }),
            (c, s) => c.or(s),
        };
        row.chunks = Extent { first_bin, last };
        if state.needs_full_read {
            row.chunks = full_extent(row.series_id, row.bin, chunks, state.extent)?;
        }
    }
    Ok(())
}

/// The exact extent of a series over everything known: `read(start, end,
/// values)` fills `values`, one per bin from `start` to `end`.
fn full_extent(
    bin: BinSize,
    chunks: Extent,
    staged: Extent,
    read: impl FnOnce(UnixSecs, UnixSecs, &mut [Option<f64>]) -> Result<(), StoreError>,
) -> Result<Extent, StoreError> {
    let bin_secs = i64::from(bin.secs());
    let starts = [chunks.first_bin, staged.first_bin];
    let ends = [chunks.last.map(|l| l.0), staged.last.map(|l| l.0)];
    let (Some(start), Some(last)) = (starts.iter().flatten().min(), ends.iter().flatten().max())
    else {
        return Ok(Extent::default());
    };
    let end = last + bin_secs;
    let mut values = vec![None; ((end - start) / bin_secs).max(0) as usize];
    read(*start, end, &mut values)?;
    Ok(Extent {
        first_bin: first_in_day(*start, &values, bin_secs),
        last: last_in_day(*start, &values, bin_secs),
    })
}

/// Series rows whose extents staged bins are being folded into: rows and
/// staged entries are both sorted by series id, so each staged bin is
/// merged with one walk, no hashing.
pub(crate) struct Staging {
    rows: Vec<SeriesRow>,
    ids: Vec<i64>,
    staged: Vec<StagedExtent>,
}

impl Staging {
    pub(crate) fn new(mut rows: Vec<SeriesRow>) -> Self {
        rows.sort_unstable_by_key(|row| row.series_id);
        let ids: Vec<i64> = rows.iter().map(|row| row.series_id).collect();
        let mut staged: Vec<StagedExtent> = Vec::new();
        staged.resize_with(rows.len(), StagedExtent::default);
        Staging { rows, ids, staged }
    }

    /// The blocks of the rows' series, in order, each once.
    pub(crate) fn blocks(&self) -> Vec<i64> {
        let mut blocks: Vec<i64> = self.ids.iter().map(|&id| codec::block_of(id)).collect();
        blocks.dedup();
        blocks
    }

    /// Folds in one staged bin; staged bins must come newest first.
    pub(crate) fn visit(
        &mut self,
        label: &str,
        bin_start: UnixSecs,
        block: i64,
        data: &[u8],
    ) -> Result<(), StoreError> {
        visit_staged_bin(
            label,
            &self.rows,
            &self.ids,
            &mut self.staged,
            bin_start,
            block,
            data,
        )
    }

    /// The rows with their extents, in listing order. `read(series id,
    /// bin, start, end, values)` fills a series' values where its extent
    /// must be read in full.
    pub(crate) fn finish(
        self,
        mut read: impl FnMut(
            i64,
            BinSize,
            UnixSecs,
            UnixSecs,
            &mut [Option<f64>],
        ) -> Result<(), StoreError>,
    ) -> Result<Vec<SeriesRow>, StoreError> {
        let Staging {
            mut rows, staged, ..
        } = self;
        merge_staged(&mut rows, &staged, |series_id, bin, chunks, staged| {
            full_extent(bin, chunks, staged, |start, end, values| {
                read(series_id, bin, start, end, values)
            })
        })?;
        sort_rows(&mut rows);
        Ok(rows)
    }
}

/// Puts series rows in listing order: by key, then bin width.
fn sort_rows(rows: &mut [SeriesRow]) {
    rows.sort_by(|a, b| (&a.key, a.bin.secs()).cmp(&(&b.key, b.bin.secs())));
}

/// The series of `rows`, as the store lists them.
pub(crate) fn series_infos(rows: Vec<SeriesRow>) -> Vec<SeriesInfo> {
    rows.into_iter()
        .map(|row| SeriesInfo {
            key: row.key,
            bin: row.bin,
            first_bin: row.chunks.first_bin,
            last_bin: row.chunks.last.map(|l| l.0),
            latest_value: row.chunks.last.map(|l| l.1),
        })
        .collect()
}

/// The entities of `rows`, each with its signals' latest values.
pub(crate) fn entity_infos(rows: Vec<SeriesRow>) -> Vec<EntityInfo> {
    let mut by_entity: BTreeMap<Entity, EntityInfo> = BTreeMap::new();
    for row in rows {
        let info = by_entity
            .entry(row.key.entity.clone())
            .or_insert_with(|| EntityInfo {
                entity: row.key.entity.clone(),
                name: row.entity_name.clone(),
                signals: Vec::new(),
            });
        info.signals.push(SignalLatest {
            signal: row.key.signal,
            bin: row.bin,
            latest_time: row.chunks.last.map(|l| l.0),
            latest_value: row.chunks.last.map(|l| l.1),
        });
    }
    by_entity.into_values().collect()
}

/// Bins of one series from `start` to `end` being filled from its chunks,
/// then its staged bins (each newer write over the older).
pub(crate) struct Fill<'a> {
    label: &'a str,
    series_id: i64,
    bin_secs: i64,
    slots: usize,
    start: UnixSecs,
    end: UnixSecs,
    values: &'a mut [Option<f64>],
}

impl<'a> Fill<'a> {
    pub(crate) fn new(
        label: &'a str,
        series_id: i64,
        bin: BinSize,
        start: UnixSecs,
        end: UnixSecs,
        values: &'a mut [Option<f64>],
    ) -> Self {
        Fill {
            label,
            series_id,
            bin_secs: i64::from(bin.secs()),
            slots: bin.bins_per_day() as usize,
            start,
            end,
            values,
        }
    }

    /// The series' chunk for the day at `chunk_start`.
    pub(crate) fn chunk(&mut self, chunk_start: UnixSecs, data: &[u8]) -> Result<(), StoreError> {
        let (bin_secs, start) = (self.bin_secs, self.start);
        let day = decode_day(self.label, self.series_id, chunk_start, data, self.slots)?;
        let from = chunk_start.max(start);
        let until = (chunk_start + DAY_SECS).min(self.end);
        let mut t = from;
        while t < until {
            let slot = ((t - chunk_start) / bin_secs) as usize;
            let index = ((t - start) / bin_secs) as usize;
            if let (Some(cell), Some(value)) = (self.values.get_mut(index), day.get(slot)) {
                *cell = *value;
            }
            t += bin_secs;
        }
        Ok(())
    }

    /// A staged bin at `bin_start` of the series' block.
    pub(crate) fn staged(&mut self, bin_start: UnixSecs, data: &[u8]) -> Result<(), StoreError> {
        let found = codec::find_staged(data, self.series_id).map_err(|e| {
            corrupt(
                self.label,
                format!("staged bin at {}: {e}", format_utc(bin_start)),
            )
        })?;
        if let Some(value) = found {
            let index = ((bin_start - self.start) / self.bin_secs) as usize;
            if let Some(cell) = self.values.get_mut(index) {
                *cell = value;
            }
        }
        Ok(())
    }
}

/// The values of series `series_id`'s chunk for `day`.
pub(crate) fn decode_day(
    label: &str,
    series_id: i64,
    day: UnixSecs,
    data: &[u8],
    slots: usize,
) -> Result<Vec<Option<f64>>, StoreError> {
    codec::decode_chunk(data, slots).map_err(|e| {
        corrupt(
            label,
            format!("chunk of series {series_id} for {}: {e}", format_utc(day)),
        )
    })
}

/// The values of a chunk once `updates` (slot, new value) are set: the
/// `existing` chunk's, or none.
pub(crate) fn updated_chunk(
    label: &str,
    series_id: i64,
    bin: BinSize,
    day: UnixSecs,
    existing: Option<&[u8]>,
    updates: &[(usize, Option<f64>)],
) -> Result<Vec<Option<f64>>, StoreError> {
    let slots = bin.bins_per_day() as usize;
    let mut values = match existing {
        Some(data) => decode_day(label, series_id, day, data, slots)?,
        None => vec![None; slots],
    };
    for &(slot, value) in updates {
        if let Some(cell) = values.get_mut(slot) {
            *cell = value;
        }
    }
    Ok(values)
}

/// The first bin with a value of a day's values, bins `step` apart.
pub(crate) fn first_in_day(day: UnixSecs, values: &[Option<f64>], step: i64) -> Option<UnixSecs> {
    values
        .iter()
        .position(Option::is_some)
        .map(|i| day + i as i64 * step)
}

/// The last bin with a value of a day's values, with the value.
pub(crate) fn last_in_day(
    day: UnixSecs,
    values: &[Option<f64>],
    step: i64,
) -> Option<(UnixSecs, f64)> {
    values
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, v)| v.map(|x| (day + i as i64 * step, x)))
}

/// Visits the values of a staged bin of width `bin` at `bin_start` being
/// folded into chunks: `add(series id, slot in its day, value)` takes each
/// and says false for a series already staged with another bin width.
pub(crate) fn fold_staged(
    label: &str,
    bin: BinSize,
    bin_start: UnixSecs,
    data: &[u8],
    mut add: impl FnMut(i64, usize, Option<f64>) -> bool,
) -> Result<(), StoreError> {
    let day = day_of(bin_start);
    let slot = ((bin_start - day) / i64::from(bin.secs())) as usize;
    let mut mismatch = None;
    codec::visit_staged(data, |series_id, value| {
        if !add(series_id, slot, value) {
            mismatch = Some(series_id);
            return false;
        }
        true
    })
    .map_err(|e| {
        corrupt(
            label,
            format!("staged bin at {}: {e}", format_utc(bin_start)),
        )
    })?;
    if let Some(series_id) = mismatch {
        return Err(corrupt(
            label,
            format!(
                "series {series_id} is staged with two bin sizes on {}",
                format_utc(day)
            ),
        ));
    }
    Ok(())
}
