//! Times the way a reporter writes them: "5 Jan 2022 10:30 UTC (16:30
//! Almaty)", the local time from the world's fixed UTC offset.

use vigie_model::UnixSecs;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 → (year, month 1..12, day 1..31) (Howard
/// Hinnant's civil-from-days algorithm).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The three-letter English name of month 1..12.
pub fn month_name(month: i64) -> &'static str {
    MONTHS
        .get((month - 1).clamp(0, 11) as usize)
        .copied()
        .unwrap_or("Jan")
}

/// "5 Jan 2022" for the day holding `t` (already shifted to the zone wanted).
pub fn day_text(t: UnixSecs) -> String {
    let (year, month, day) = civil_from_days(t.div_euclid(86_400));
    format!("{day} {} {year}", month_name(month))
}

/// "16:30" for `t` (already shifted).
pub fn hour_text(t: UnixSecs) -> String {
    let secs = t.rem_euclid(86_400);
    format!("{:02}:{:02}", secs / 3600, (secs / 60) % 60)
}

/// "5 Jan 2022 10:30 UTC (16:30 Almaty)", or "(03:30 Almaty, 5 Jan)" when
/// the local day differs from the UTC one.
pub fn reporter_time(t: UnixSecs, utc_offset_secs: i64, place: &str) -> String {
    let local = t + utc_offset_secs;
    let same_day = t.div_euclid(86_400) == local.div_euclid(86_400);
    let local_text = if same_day {
        format!("{} {place}", hour_text(local))
    } else {
        let (_, month, day) = civil_from_days(local.div_euclid(86_400));
        format!("{} {place}, {day} {}", hour_text(local), month_name(month))
    };
    format!("{} {} UTC ({local_text})", day_text(t), hour_text(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_a_news_report() {
        assert_eq!(
            reporter_time(1_641_378_600, 6 * 3600, "Almaty"),
            "5 Jan 2022 10:30 UTC (16:30 Almaty)"
        );
        // 21:30 UTC on the 4th is 03:30 on the 5th in Almaty.
        assert_eq!(
            reporter_time(1_641_331_800, 6 * 3600, "Almaty"),
            "4 Jan 2022 21:30 UTC (03:30 Almaty, 5 Jan)"
        );
        assert_eq!(day_text(951_782_400), "29 Feb 2000");
    }
}
