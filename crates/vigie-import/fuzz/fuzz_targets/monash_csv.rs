//! Any bytes given to the Monash IP Observatory importer: an error or a
//! report, never a panic.
//!
//! The first byte picks one of the four layouts' headers to put before the
//! rest (or none), and whether a zone is given, so the fuzzer spends its time
//! on rows each layout reads as well as on arbitrary headers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_import::{import_monash, ImportOptions, LocalZone};

/// The layouts' headers; the last entry means "no header added".
const HEADERS: [&str; 6] = [
    "time_e_utc,time_e_utc_str,connectivity,iso,name_1,name_2,lat,lon\n",
    "iso,id_1,name_1,time_e,time_e_str,lat,lon,connectivity\n",
    "country_iso_three_char_code,country_iso_name,adm1_name,adm1_unique_identifier,timezone_offset,timezone_name,time_local,latency_indx\n",
    "ip_hash,iso,name_0,name_1,name_2,isp_name,owner_name,time_local_str,time_local_hr,rtt\n",
    "iso,id_1,name_1,time_e,time_e_str,lat,lon,connectivity\nVEN,2,Zulia,1563580800,20-Jul-2019 00:00:00,10.1,-64.7,100\n",
    "",
];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let mut input = HEADERS[usize::from(choice) % HEADERS.len()]
        .as_bytes()
        .to_vec();
    input.extend_from_slice(rest);
    let options = ImportOptions {
        zone: (choice & 0x80 != 0)
            .then(|| LocalZone::from_offset_secs(-4 * 3600))
            .flatten(),
        ..ImportOptions::default()
    };
    if let Ok(imported) = import_monash(input.as_slice(), "fuzz.csv", &options) {
        for series in &imported.series {
            assert!(series
                .values
                .iter()
                .flatten()
                .all(|v| v.is_finite() && *v >= 0.0));
        }
    }
});
