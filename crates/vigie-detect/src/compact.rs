//! Compact, lossless encodings of the detector's rings for its checkpoints.
//!
//! A ring of `f32`s is written as bytes: each value's bits XORed with the
//! previous value's (a season that holds for an hour, a weekly factor that
//! holds for a day, a level that moves a little become zeros or small
//! numbers), then byte plane by byte plane, high bytes first (the sign and
//! exponent bytes of neighbours are mostly equal, so whole planes are
//! zeros), which the deflate of a checkpoint then squeezes. Every bit is
//! kept (NaN payloads too): a restored detector is the same detector.

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::{Deserializer, Serializer};

/// Appends `value` as a LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a LEB128 varint from the front of `input`.
pub(crate) fn take_varint(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

/// Zigzag: small negative and positive numbers become small unsigned ones.
pub(crate) fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// The inverse of [`zigzag`].
pub(crate) fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// Takes `n` bytes from the front of `input`.
pub(crate) fn take_bytes<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if input.len() < n {
        return None;
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Some(head)
}

/// Appends `values` (their count is the reader's to know): XOR deltas of
/// the bits, byte plane by byte plane.
pub(crate) fn put_f32s(out: &mut Vec<u8>, values: impl Iterator<Item = f32>) {
    let mut previous = 0u32;
    let deltas: Vec<u32> = values
        .map(|v| {
            let bits = v.to_bits();
            let delta = bits ^ previous;
            previous = bits;
            delta
        })
        .collect();
    for plane in (0..4).rev() {
        out.extend(deltas.iter().map(|d| (d >> (8 * plane)) as u8));
    }
}

/// Appends `words` as they are (residuals the caller computed), byte
/// plane by byte plane, high bytes first.
pub(crate) fn put_u32s(out: &mut Vec<u8>, words: &[u32]) {
    for plane in (0..4).rev() {
        out.extend(words.iter().map(|d| (d >> (8 * plane)) as u8));
    }
}

/// Reads `n` words written by [`put_u32s`].
pub(crate) fn take_u32s(input: &mut &[u8], n: usize) -> Option<Vec<u32>> {
    let planes = take_bytes(input, n.checked_mul(4)?)?;
    Some(
        (0..n)
            .map(|i| {
                (0..4).fold(0u32, |acc, plane| {
                    acc | u32::from(planes[(3 - plane) * n + i]) << (8 * plane)
                })
            })
            .collect(),
    )
}

/// Reads `n` values written by [`put_f32s`].
pub(crate) fn take_f32s(input: &mut &[u8], n: usize) -> Option<Vec<f32>> {
    let planes = take_bytes(input, n.checked_mul(4)?)?;
    let mut previous = 0u32;
    Some(
        (0..n)
            .map(|i| {
                let delta = (0..4).fold(0u32, |acc, plane| {
                    acc | u32::from(planes[(3 - plane) * n + i]) << (8 * plane)
                });
                previous ^= delta;
                f32::from_bits(previous)
            })
            .collect(),
    )
}

/// Reads bytes a serializer wrote with `serialize_bytes` (as bytes in
/// binary formats, as a list of numbers in JSON).
pub(crate) fn deserialize_bytes<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<u8>, D::Error> {
    struct Bytes;
    impl<'de> Visitor<'de> for Bytes {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
            while let Some(byte) = seq.next_element::<u8>()? {
                out.push(byte);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_bytes(Bytes)
}

/// `#[serde(with)]` for a `Vec<f32>` ring: its length, then [`put_f32s`].
pub(crate) mod f32_ring {
    use super::*;

    pub fn serialize<S: Serializer>(values: &[f32], serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = Vec::with_capacity(values.len() * 4 + 3);
        put_varint(&mut out, values.len() as u64);
        put_f32s(&mut out, values.iter().copied());
        serializer.serialize_bytes(&out)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f32>, D::Error> {
        let bytes = deserialize_bytes(deserializer)?;
        let mut input = bytes.as_slice();
        take_varint(&mut input)
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| take_f32s(&mut input, n))
            .filter(|_| input.is_empty())
            .ok_or_else(|| D::Error::custom("a cut or damaged ring of values"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_floats_round_trip_bit_for_bit() {
        let mut out = Vec::new();
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            i64::MAX,
            i64::MIN,
            1_646_092_800 / 300,
        ] {
            put_varint(&mut out, zigzag(v));
        }
        let values = [
            0.0f32,
            -0.0,
            1.5,
            f32::NAN,
            f32::from_bits(0x7fc0_1234),
            f32::INFINITY,
            f32::MIN_POSITIVE,
            9001.0,
        ];
        put_f32s(&mut out, values.iter().copied());
        let mut input = out.as_slice();
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            i64::MAX,
            i64::MIN,
            1_646_092_800 / 300,
        ] {
            assert_eq!(take_varint(&mut input).map(unzigzag), Some(v));
        }
        let back = take_f32s(&mut input, values.len()).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&values));
        assert!(input.is_empty());
        assert!(take_f32s(&mut [0u8; 3].as_slice(), 1).is_none());
    }
}
