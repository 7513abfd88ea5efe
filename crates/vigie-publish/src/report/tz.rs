//! Local time for reports: a small static table of each country's standard
//! UTC offset at its capital.
//!
//! Source: the IANA time zone database (tzdata 2024a; zone of the capital,
//! standard time). Daylight-saving time is **not** applied, and a country
//! spanning several zones gets its capital's; reports say so. Offsets that
//! changed recently carry the date of the change, so a report on an old
//! incident uses the offset of its time (Kazakhstan moved from UTC+6 to
//! UTC+5 on 2024-03-01; Syria from UTC+2 to UTC+3 on 2022-10-28).

use vigie_model::{format_utc, CountryCode, UnixSecs};

/// (country, offset in minutes east of UTC, in force until this Unix time
/// or forever). Entries of a country are ordered by time.
const OFFSETS: &[(&str, i32, Option<UnixSecs>)] = &[
    ("AE", 240, None),
    ("AF", 270, None),
    ("AL", 60, None),
    ("AM", 240, None),
    ("AO", 60, None),
    ("AR", -180, None),
    ("AT", 60, None),
    ("AU", 600, None),
    ("AZ", 240, None),
    ("BA", 60, None),
    ("BD", 360, None),
    ("BE", 60, None),
    ("BF", 0, None),
    ("BH", 180, None),
    ("BI", 120, None),
    ("BJ", 60, None),
    ("BO", -240, None),
    ("BR", -180, None),
    ("BY", 180, None),
    ("CA", -300, None),
    ("CD", 60, None),
    ("CF", 60, None),
    ("CG", 60, None),
    ("CH", 60, None),
    ("CI", 0, None),
    ("CL", -240, None),
    ("CM", 60, None),
    ("CN", 480, None),
    ("CO", -300, None),
    ("CU", -300, None),
    ("CZ", 60, None),
    ("DE", 60, None),
    ("DJ", 180, None),
    ("DK", 60, None),
    ("DZ", 60, None),
    ("EG", 120, None),
    ("ER", 180, None),
    ("ES", 60, None),
    ("ET", 180, None),
    ("FI", 120, None),
    ("FR", 60, None),
    ("GA", 60, None),
    ("GB", 0, None),
    ("GE", 240, None),
    ("GH", 0, None),
    ("GM", 0, None),
    ("GN", 0, None),
    ("GR", 120, None),
    ("HK", 480, None),
    ("HN", -360, None),
    ("HT", -300, None),
    ("HU", 60, None),
    ("ID", 420, None),
    ("IE", 0, None),
    ("IL", 120, None),
    ("IN", 330, None),
    ("IQ", 180, None),
    ("IR", 210, None),
    ("IT", 60, None),
    ("JO", 180, None),
    ("JP", 540, None),
    ("KE", 180, None),
    ("KG", 360, None),
    ("KH", 420, None),
    ("KP", 540, None),
    ("KR", 540, None),
    ("KW", 180, None),
    ("KZ", 360, Some(1_709_229_600)),
    ("KZ", 300, None),
    ("LA", 420, None),
    ("LB", 120, None),
    ("LK", 330, None),
    ("LY", 120, None),
    ("MA", 60, None),
    ("MD", 120, None),
    ("MG", 180, None),
    ("ML", 0, None),
    ("MM", 390, None),
    ("MN", 480, None),
    ("MR", 0, None),
    ("MX", -360, None),
    ("MZ", 120, None),
    ("NE", 60, None),
    ("NG", 60, None),
    ("NI", -360, None),
    ("NL", 60, None),
    ("NO", 60, None),
    ("NP", 345, None),
    ("NZ", 720, None),
    ("OM", 240, None),
    ("PA", -300, None),
    ("PE", -300, None),
    ("PH", 480, None),
    ("PK", 300, None),
    ("PL", 60, None),
    ("PS", 120, None),
    ("PT", 0, None),
    ("PY", -240, None),
    ("QA", 180, None),
    ("RO", 120, None),
    ("RS", 60, None),
    ("RU", 180, None),
    ("RW", 120, None),
    ("SA", 180, None),
    ("SD", 120, None),
    ("SE", 60, None),
    ("SG", 480, None),
    ("SL", 0, None),
    ("SN", 0, None),
    ("SO", 180, None),
    ("SS", 120, None),
    ("SY", 120, Some(1_666_908_000)),
    ("SY", 180, None),
    ("TD", 60, None),
    ("TG", 0, None),
    ("TH", 420, None),
    ("TJ", 300, None),
    ("TM", 300, None),
    ("TN", 60, None),
    ("TR", 180, None),
    ("TW", 480, None),
    ("TZ", 180, None),
    ("UA", 120, None),
    ("UG", 180, None),
    ("US", -300, None),
    ("UY", -180, None),
    ("UZ", 300, None),
    ("VE", -240, None),
    ("VN", 420, None),
    ("YE", 180, None),
    ("ZA", 120, None),
    ("ZM", 120, None),
    ("ZW", 120, None),
];

/// The standard UTC offset (minutes east) of `country` at time `t`, if the
/// table knows the country.
pub fn utc_offset_minutes(country: CountryCode, t: UnixSecs) -> Option<i32> {
    OFFSETS
        .iter()
        .filter(|(cc, _, _)| *cc == country.as_str())
        .find(|(_, _, until)| until.is_none_or(|u| t < u))
        .map(|(_, minutes, _)| *minutes)
}

/// `UTC+03:00`, `UTC-04:30`.
pub fn offset_label(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let abs = minutes.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", abs / 60, abs % 60)
}

/// `t` shifted by `minutes`, written `2023-08-21 04:00` (no zone letter).
pub fn format_local(t: UnixSecs, minutes: i32) -> String {
    let shifted = format_utc(t + i64::from(minutes) * 60);
    // format_utc gives 2023-08-21T04:00:00Z.
    shifted
        .get(..16)
        .map(|s| s.replace('T', " "))
        .unwrap_or(shifted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_the_table_and_its_changes() {
        let iq = CountryCode::new("IQ").unwrap();
        assert_eq!(utc_offset_minutes(iq, 1_692_579_600), Some(180));
        let kz = CountryCode::new("KZ").unwrap();
        assert_eq!(
            utc_offset_minutes(kz, 1_641_340_800),
            Some(360),
            "January 2022: UTC+6"
        );
        assert_eq!(
            utc_offset_minutes(kz, 1_720_000_000),
            Some(300),
            "after March 2024: UTC+5"
        );
        assert_eq!(utc_offset_minutes(CountryCode::new("ZZ").unwrap(), 0), None);
        assert_eq!(offset_label(180), "UTC+03:00");
        assert_eq!(offset_label(-270), "UTC-04:30");
        assert_eq!(offset_label(345), "UTC+05:45");
        assert_eq!(format_local(1_692_579_600, 180), "2023-08-21 04:00");
    }

    #[test]
    fn table_is_sorted_sane_and_unique_per_period() {
        for window in OFFSETS.windows(2) {
            let (a, b) = (window[0], window[1]);
            assert!(a.0 <= b.0, "{} before {}", a.0, b.0);
            if a.0 == b.0 {
                assert!(a.2.is_some(), "{} has two open-ended entries", a.0);
            }
        }
        assert!(OFFSETS.iter().all(|(_, m, _)| (-720..=840).contains(m)));
    }
}
