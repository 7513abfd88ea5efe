//! Binary encodings of values, independent of the database backend.
//!
//! Two layouts share one value classification:
//!
//! - a **chunk** holds one series over one UTC day, as runs of equal values:
//!   `[format 1][varint slot count]` then runs, each
//!   `[varint (run_len << 2 | tag)][payload]`. Tags: 0 no data; 1 integer,
//!   payload the zigzag varint of the difference from the previous integer run
//!   (0 before the first); 2 any other finite f64, payload its 8 bits
//!   little-endian; 3 a short decimal (`mantissa / 10^k`, k in 1..=6),
//!   payload the varint `zigzag(mantissa) << 3 | k`.
//! - a **staged block** holds the values of one bin for up to
//!   1,024 series ([`BLOCK_SHIFT`]): `[format 1][varint count]` then entries sorted
//!   by series id, each `[varint series id gap]` `[varint (payload << 2 |
//!   tag)]` with the same tags (integers absolute), raw f64 bits following
//!   the varint. Every 64th entry is a mark: its id is absolute, and the
//!   header lists each mark's id and byte offset (`[varint id][varint
//!   offset]` after the count), so finding one series decodes at most 64
//!   entries.
//!
//! Every value round-trips bit for bit, and "no data" stays distinct from 0.0.
//! Decoding never panics: damaged bytes give a [`CodecError`].

use std::fmt;

use vigie_model::UnixSecs;

/// Seconds in a UTC day: a chunk holds one series' bins of one day.
pub(crate) const DAY_SECS: i64 = 86_400;

/// The start of the UTC day holding `t`.
pub(crate) fn day_of(t: UnixSecs) -> UnixSecs {
    t.div_euclid(DAY_SECS) * DAY_SECS
}

/// Chunk layout version written in the first byte.
const CHUNK_FORMAT: u8 = 1;
/// Staged block layout version written in the first byte.
const STAGED_FORMAT: u8 = 1;

/// Staged rows group series ids by blocks of `1 << BLOCK_SHIFT` (1,024), so
/// reading one series decodes one small row per staged bin.
pub(crate) const BLOCK_SHIFT: u32 = 10;

/// Staged entries between two marks; a mark gives an entry's absolute id
/// and byte offset so a lookup skips to it.
const MARK_EVERY: usize = 64;

const TAG_NONE: u64 = 0;
const TAG_INT: u64 = 1;
const TAG_RAW: u64 = 2;
const TAG_DECIMAL: u64 = 3;

/// Largest integer magnitude every f64 in range represents exactly.
const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0; // 2^53
const POW10: [f64; 7] = [1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0];

/// Why a stored blob could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodecError(pub String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn damaged(what: impl Into<String>) -> CodecError {
    CodecError(what.into())
}

/// The staged block that holds `series_id`.
pub(crate) fn block_of(series_id: i64) -> i64 {
    series_id >> BLOCK_SHIFT
}

/// One value, classified for the shortest exact encoding.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Packed {
    Missing,
    Int(i64),
    Decimal { mantissa: i64, exponent: u8 },
    Raw(f64),
}

fn classify(value: Option<f64>) -> Packed {
    let Some(x) = value else {
        return Packed::Missing;
    };
    if x.is_finite() && x.fract() == 0.0 && x.abs() <= MAX_EXACT_INT {
        let int = x as i64;
        if (int as f64).to_bits() == x.to_bits() {
            return Packed::Int(int);
        }
    }
    if x.is_finite() {
        for (exponent, scale) in POW10.iter().enumerate().skip(1) {
            let scaled = (x * scale).round();
            if scaled.abs() > MAX_EXACT_INT {
                break;
            }
            let mantissa = scaled as i64;
            if ((mantissa as f64) / scale).to_bits() == x.to_bits() {
                return Packed::Decimal {
                    mantissa,
                    exponent: exponent as u8,
                };
            }
        }
    }
    Packed::Raw(x)
}

fn decimal_value(word: u64) -> Result<f64, CodecError> {
    let exponent = (word & 7) as usize;
    let mantissa = unzigzag(word >> 3);
    match POW10.get(exponent) {
        Some(scale) if exponent >= 1 => Ok(mantissa as f64 / scale),
        _ => Err(damaged(format!("bad decimal exponent {exponent}"))),
    }
}

fn decimal_word(mantissa: i64, exponent: u8) -> u64 {
    zigzag(mantissa) << 3 | u64::from(exponent)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A cursor over a blob that fails instead of panicking.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    fn byte(&mut self) -> Result<u8, CodecError> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or_else(|| damaged(format!("truncated at byte {}", self.pos)))?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, CodecError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                break;
            }
            value |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(damaged(format!("varint too long at byte {}", self.pos)))
    }

    fn raw_f64(&mut self) -> Result<f64, CodecError> {
        let end = self.pos + 8;
        let bytes: [u8; 8] = self
            .data
            .get(self.pos..end)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| damaged(format!("truncated f64 at byte {}", self.pos)))?;
        self.pos = end;
        let value = f64::from_le_bytes(bytes);
        if value.is_finite() {
            Ok(value)
        } else {
            Err(damaged(format!(
                "non-finite value before byte {}",
                self.pos
            )))
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }
}

fn same(a: Option<f64>, b: Option<f64>) -> bool {
    a.map(f64::to_bits) == b.map(f64::to_bits)
}

/// Encodes one day of a series (`values.len()` bins) as runs.
pub(crate) fn encode_chunk(values: &[Option<f64>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    out.push(CHUNK_FORMAT);
    put_varint(&mut out, values.len() as u64);
    let mut previous_int = 0i64;
    let mut i = 0;
    while let Some(&value) = values.get(i) {
        let run = values[i..].iter().take_while(|v| same(**v, value)).count();
        let header = (run as u64) << 2;
        match classify(value) {
            Packed::Missing => put_varint(&mut out, header | TAG_NONE),
            Packed::Int(int) => {
                put_varint(&mut out, header | TAG_INT);
                put_varint(&mut out, zigzag(int.wrapping_sub(previous_int)));
                previous_int = int;
            }
            Packed::Raw(x) => {
                put_varint(&mut out, header | TAG_RAW);
                out.extend_from_slice(&x.to_le_bytes());
            }
            Packed::Decimal { mantissa, exponent } => {
                put_varint(&mut out, header | TAG_DECIMAL);
                put_varint(&mut out, decimal_word(mantissa, exponent));
            }
        }
        i += run;
    }
    out
}

/// Decodes a chunk that must hold exactly `expected_slots` bins.
pub(crate) fn decode_chunk(
    data: &[u8],
    expected_slots: usize,
) -> Result<Vec<Option<f64>>, CodecError> {
    let mut reader = Reader::new(data);
    let format = reader.byte()?;
    if format != CHUNK_FORMAT {
        return Err(damaged(format!("unknown chunk format {format}")));
    }
    let slots = reader.varint()?;
    if slots != expected_slots as u64 {
        return Err(damaged(format!(
            "chunk holds {slots} bins, its series needs {expected_slots}"
        )));
    }
    let mut values = Vec::with_capacity(expected_slots);
    let mut previous_int = 0i64;
    while values.len() < expected_slots {
        let header = reader.varint()?;
        let run = header >> 2;
        let room = (expected_slots - values.len()) as u64;
        if run == 0 || run > room {
            return Err(damaged(format!(
                "bad run length {run} at bin {}",
                values.len()
            )));
        }
        let value = match header & 3 {
            TAG_NONE => None,
            TAG_INT => {
                let int = previous_int.wrapping_add(unzigzag(reader.varint()?));
                previous_int = int;
                Some(int as f64)
            }
            TAG_RAW => Some(reader.raw_f64()?),
            _ => Some(decimal_value(reader.varint()?)?),
        };
        values.extend(std::iter::repeat_n(value, run as usize));
    }
    if !reader.at_end() {
        return Err(damaged(format!(
            "{} stray bytes after the last run",
            data.len() - reader.pos
        )));
    }
    Ok(values)
}

/// Encodes one bin's values for a block of series, sorted by series id with
/// no duplicates (the caller checks both).
pub(crate) fn encode_staged(entries: &[(i64, Option<f64>)]) -> Vec<u8> {
    let mut body = Vec::with_capacity(entries.len() * 4);
    let mut marks: Vec<(i64, usize)> = Vec::with_capacity(entries.len() / MARK_EVERY + 1);
    let mut previous_id = 0i64;
    for (i, &(series_id, value)) in entries.iter().enumerate() {
        if i % MARK_EVERY == 0 {
            marks.push((series_id, body.len()));
            put_varint(&mut body, series_id as u64);
        } else {
            put_varint(&mut body, (series_id - previous_id) as u64);
        }
        previous_id = series_id;
        match classify(value) {
            Packed::Missing => put_varint(&mut body, TAG_NONE),
            Packed::Int(int) => put_varint(&mut body, zigzag(int) << 2 | TAG_INT),
            Packed::Raw(x) => {
                put_varint(&mut body, TAG_RAW);
                body.extend_from_slice(&x.to_le_bytes());
            }
            Packed::Decimal { mantissa, exponent } => put_varint(
                &mut body,
                decimal_word(mantissa, exponent) << 2 | TAG_DECIMAL,
            ),
        }
    }
    let mut out = Vec::with_capacity(body.len() + marks.len() * 5 + 8);
    out.push(STAGED_FORMAT);
    put_varint(&mut out, entries.len() as u64);
    for &(series_id, offset) in &marks {
        put_varint(&mut out, series_id as u64);
        put_varint(&mut out, offset as u64);
    }
    out.extend_from_slice(&body);
    out
}

/// A parsed staged block header: where the entries start and the marks.
struct StagedHeader {
    count: usize,
    body_start: usize,
    /// The mark to start from and its entry index, when looking for an id.
    start: Option<(i64, usize, usize)>,
}

/// Reads the header; with `target`, also picks the last mark at or before it.
fn staged_header(reader: &mut Reader<'_>, target: Option<i64>) -> Result<StagedHeader, CodecError> {
    let format = reader.byte()?;
    if format != STAGED_FORMAT {
        return Err(damaged(format!("unknown staged block format {format}")));
    }
    let count = reader.varint()?;
    if count > reader.data.len() as u64 {
        return Err(damaged(format!(
            "claims {count} values in {} bytes",
            reader.data.len()
        )));
    }
    let count = count as usize;
    let mut start = None;
    for mark in 0..count.div_ceil(MARK_EVERY) {
        let series_id = reader.varint()?;
        let offset = reader.varint()?;
        if let Some(target) = target {
            if series_id as i64 <= target {
                start = Some((series_id as i64, offset as usize, mark * MARK_EVERY));
            }
        }
    }
    Ok(StagedHeader {
        count,
        body_start: reader.pos,
        start,
    })
}

/// Walks entries `from..until` starting at the reader's position (which must
/// be a mark), calling `visit` until it returns false.
fn walk_staged(
    reader: &mut Reader<'_>,
    from: usize,
    until: usize,
    mut visit: impl FnMut(i64, Option<f64>) -> bool,
) -> Result<bool, CodecError> {
    let mut series_id = 0i64;
    for i in from..until {
        let gap = reader.varint()?;
        if gap > i64::MAX as u64 || (i % MARK_EVERY != 0 && gap == 0) {
            return Err(damaged(format!("bad series id gap {gap} at entry {i}")));
        }
        series_id = if i % MARK_EVERY == 0 {
            gap as i64
        } else {
            series_id
                .checked_add(gap as i64)
                .ok_or_else(|| damaged(format!("series id overflows at entry {i}")))?
        };
        let word = reader.varint()?;
        let value = match word & 3 {
            TAG_NONE => None,
            TAG_INT => Some(unzigzag(word >> 2) as f64),
            TAG_RAW => Some(reader.raw_f64()?),
            _ => Some(decimal_value(word >> 2)?),
        };
        if !visit(series_id, value) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Walks a staged block, calling `visit(series_id, value)` in id order until
/// it returns false.
pub(crate) fn visit_staged(
    data: &[u8],
    visit: impl FnMut(i64, Option<f64>) -> bool,
) -> Result<(), CodecError> {
    let mut reader = Reader::new(data);
    let header = staged_header(&mut reader, None)?;
    let finished = walk_staged(&mut reader, 0, header.count, visit)?;
    if finished && !reader.at_end() {
        return Err(damaged(format!(
            "{} stray bytes after the last value",
            data.len() - reader.pos
        )));
    }
    Ok(())
}

/// Every (series id, value) of a staged block.
pub(crate) fn decode_staged(data: &[u8]) -> Result<Vec<(i64, Option<f64>)>, CodecError> {
    let mut entries = Vec::new();
    visit_staged(data, |id, value| {
        entries.push((id, value));
        true
    })?;
    Ok(entries)
}

/// The value a staged block holds for `series_id`: `None` when the block
/// does not mention it, `Some(None)` for an explicit "no data". Jumps to the
/// nearest mark, so it decodes at most 64 entries.
pub(crate) fn find_staged(data: &[u8], series_id: i64) -> Result<Option<Option<f64>>, CodecError> {
    let mut reader = Reader::new(data);
    let header = staged_header(&mut reader, Some(series_id))?;
    let Some((mark_id, offset, first_entry)) = header.start else {
        return Ok(None);
    };
    reader.pos = header
        .body_start
        .checked_add(offset)
        .filter(|&pos| pos < data.len())
        .ok_or_else(|| damaged(format!("mark offset {offset} is outside the block")))?;
    let until = (first_entry + MARK_EVERY).min(header.count);
    let mut found = None;
    let mut first_id = None;
    walk_staged(&mut reader, first_entry, until, |id, value| {
        if first_id.is_none() {
            first_id = Some(id);
            if id != mark_id {
                return false;
            }
        }
        if id == series_id {
            found = Some(value);
        }
        id < series_id
    })?;
    if first_id != Some(mark_id) {
        return Err(damaged(format!(
            "mark for series {mark_id} points at series {first_id:?}"
        )));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(values: &[Option<f64>]) -> Vec<Option<u64>> {
        values.iter().map(|v| v.map(f64::to_bits)).collect()
    }

    fn tricky_values() -> Vec<Option<f64>> {
        vec![
            None,
            Some(0.0),
            Some(-0.0),
            Some(1.0),
            Some(2917.0),
            Some(-5.0),
            Some(4.4),
            Some(0.1),
            Some(0.5433471067577657),
            Some(3_112_278_020.0),
            Some(9_007_199_254_740_993.0),
            Some(-9_007_199_254_740_992.0),
            Some(f64::MAX),
            Some(f64::MIN_POSITIVE),
            Some(5e-324),
            Some(123_456.789_012),
            Some(1e300),
            None,
        ]
    }

    #[test]
    fn chunk_round_trips_bit_for_bit() {
        let mut values = tricky_values();
        values.extend(std::iter::repeat_n(Some(2917.0), 100));
        values.extend(std::iter::repeat_n(None, 10));
        values.push(Some(0.0));
        let encoded = encode_chunk(&values);
        let decoded = decode_chunk(&encoded, values.len()).unwrap();
        assert_eq!(bits(&decoded), bits(&values));
        assert_eq!(decoded[0], None);
        assert_eq!(decoded[1], Some(0.0));
        assert!(decoded[2].unwrap().is_sign_negative());
    }

    #[test]
    fn constant_day_is_a_few_bytes() {
        let values = vec![Some(2917.0); 288];
        let encoded = encode_chunk(&values);
        // format, slot count (2 bytes), run header (2 bytes), delta (2 bytes)
        assert_eq!(encoded.len(), 7);
        let empty = encode_chunk(&[None; 288]);
        assert_eq!(empty.len(), 5);
    }

    #[test]
    fn staged_round_trips_and_finds() {
        let values = tricky_values();
        let entries: Vec<(i64, Option<f64>)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (1000 + 3 * i as i64, *v))
            .collect();
        let encoded = encode_staged(&entries);
        let decoded = decode_staged(&encoded).unwrap();
        assert_eq!(decoded.len(), entries.len());
        for (a, b) in decoded.iter().zip(&entries) {
            assert_eq!(a.0, b.0);
            assert_eq!(a.1.map(f64::to_bits), b.1.map(f64::to_bits));
        }
        assert_eq!(find_staged(&encoded, 1003).unwrap(), Some(Some(0.0)));
        assert_eq!(find_staged(&encoded, 1000).unwrap(), Some(None));
        assert_eq!(find_staged(&encoded, 1001).unwrap(), None);
        assert_eq!(find_staged(&encoded, 99_999).unwrap(), None);
        assert_eq!(find_staged(&encoded, 1).unwrap(), None);

        // A full block: lookups jump through marks and find every id.
        let block: Vec<(i64, Option<f64>)> = (0..1000)
            .map(|i| (5000 + 2 * i, (i % 9 != 0).then_some(i as f64 * 1.5)))
            .collect();
        let encoded = encode_staged(&block);
        assert_eq!(decode_staged(&encoded).unwrap(), block);
        for &(id, value) in &block {
            assert_eq!(find_staged(&encoded, id).unwrap(), Some(value), "id {id}");
            assert_eq!(
                find_staged(&encoded, id + 1).unwrap(),
                None,
                "id {}",
                id + 1
            );
        }
        assert_eq!(find_staged(&encoded, 4999).unwrap(), None);
        assert_eq!(encode_staged(&[]).len(), 2);
        assert_eq!(find_staged(&encode_staged(&[]), 3).unwrap(), None);
    }

    #[test]
    fn damaged_blobs_are_errors_not_panics() {
        let values = tricky_values();
        let chunk = encode_chunk(&values);
        let entries: Vec<(i64, Option<f64>)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64 + 1, *v))
            .collect();
        let staged = encode_staged(&entries);
        assert!(decode_chunk(&chunk, values.len() + 1).is_err());
        assert!(decode_chunk(&[], 1).is_err());
        assert!(decode_staged(&[]).is_err());
        assert!(decode_staged(&[STAGED_FORMAT, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        for cut in 0..chunk.len() {
            assert!(decode_chunk(&chunk[..cut], values.len()).is_err());
        }
        for cut in 0..staged.len() {
            assert!(decode_staged(&staged[..cut]).is_err());
            let _ = find_staged(&staged[..cut], 7);
        }
        // Flipping bytes must never panic; most flips are detected.
        for i in 0..chunk.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = chunk.clone();
                bad[i] ^= flip;
                let _ = decode_chunk(&bad, values.len());
            }
        }
        for i in 0..staged.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = staged.clone();
                bad[i] ^= flip;
                let _ = decode_staged(&bad);
                let _ = find_staged(&bad, 7);
            }
        }
        let mut trailing = chunk.clone();
        trailing.push(0);
        assert!(decode_chunk(&trailing, values.len()).is_err());
    }

    #[test]
    fn classify_prefers_short_exact_forms() {
        assert_eq!(
            classify(Some(4.4)),
            Packed::Decimal {
                mantissa: 44,
                exponent: 1
            }
        );
        assert_eq!(classify(Some(2917.0)), Packed::Int(2917));
        assert!(matches!(classify(Some(-0.0)), Packed::Raw(_)));
        assert!(matches!(classify(Some(0.5433471067577657)), Packed::Raw(_)));
        assert_eq!(classify(None), Packed::Missing);
    }
}
