//! The bus's message decoders (bins, vantage states) on arbitrary bytes
//! and subjects: no panic, and every accepted message encodes back to
//! messages that decode to the same values, bit for bit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_bus::codec::{decode, encode, VantageRound};

fuzz_target!(|data: &[u8]| {
    // The first byte picks a subject check: none, or the message's own.
    let (check, payload) = data.split_first().unwrap_or((&0, data));
    if let Ok(message) = decode(None, payload) {
        let parts = encode(message.kind, &message.source, &message.bin).expect("a decoded bin encodes");
        let mut values = Vec::new();
        for part in &parts {
            let again = decode(Some(&part.subject), &part.payload).expect("an encoded bin decodes");
            assert_eq!((again.kind, &again.source), (message.kind, &message.source));
            assert_eq!((again.bin.bin, again.bin.bin_start), (message.bin.bin, message.bin.bin_start));
            values.extend(again.bin.values);
        }
        let bits = |values: &[(vigie_model::SeriesKey, Option<f64>)]| {
            values.iter().map(|(k, v)| (k.clone(), v.map(f64::to_bits))).collect::<Vec<_>>()
        };
        assert_eq!(bits(&values), bits(&message.bin.values));
        if check & 1 == 1 {
            assert!(decode(Some(&parts[0].subject), payload).is_ok() || parts.len() > 1);
        }
    }
    if let Ok(round) = VantageRound::decode(None, payload) {
        let (subject, _, encoded) = round.encode().expect("decoded states encode");
        assert_eq!(VantageRound::decode(Some(&subject), &encoded).unwrap(), round);
    }
});
