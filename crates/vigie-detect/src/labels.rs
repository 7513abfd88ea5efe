//! Reading labelled outages: IODA's hand-investigated outage list (the
//! SIGCOMM'23 "Destination Unreachable" ground truth) and JSON labels.
//!
//! The investigated list has one row per outage: `ID`, `Begin time`, `End
//! time` (`Wednesday, March 17, 2021, 4:40:00 PM`, UTC), `Country` (an English
//! name), and `Scope` (`Country`, `Region (Rangpur)` or `AS (6849)`). JSON
//! labels are a list (or `{"labels": [...]}`) of
//! `{"entity": "KZ", "start": "2022-01-05T10:30:00Z", "end": ..., "id": ..., "note": ...}`.
//! The object form may also list, under `"covers"`, the entities (and
//! periods) the file vouches for with `{"entity", "start", "end"}`: every
//! outage of a covered entity in its period is labelled, so one with no
//! label had none, and detections there are false alarms. Other keys
//! (a description, the derivation rule, sources) are ignored.

use std::io::Read;

use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;
use vigie_model::{parse_utc, CountryCode, Entity, RegionId, UnixSecs};

use crate::eval::Label;

/// An entity and period whose outages a label file lists completely: a
/// period without a label there is a period without an outage.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Coverage {
    /// Whose signals were checked.
    pub entity: Entity,
    /// The start of the checked period.
    pub start: UnixSecs,
    /// The end of the checked period (exclusive).
    pub end: UnixSecs,
}

/// Labels read from a file, with the rows that could not be used.
#[derive(Clone, PartialEq, Debug, Default, Serialize)]
pub struct LabelSet {
    /// The labels read.
    pub labels: Vec<Label>,
    /// Entities and periods the file lists every outage of (JSON `covers`).
    pub covers: Vec<Coverage>,
    /// Rows or items read.
    pub rows_read: u64,
    /// Rows skipped: location and reason.
    pub skipped: Vec<(String, String)>,
}

/// Why a label file could not be read at all.
#[derive(Debug, Error)]
pub enum LabelError {
    /// Not JSON, or not a list of labels.
    #[error("{source_name}: not a JSON label list: {reason}")]
    NotJson {
        /// The file.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// The CSV header lacks a needed column.
    #[error("{source_name}: {reason}")]
    BadHeader {
        /// The file.
        source_name: String,
        /// What is missing.
        reason: String,
    },
}

/// Reads IODA's investigated-outage list (CSV).
pub fn parse_truth_csv(reader: impl Read, source_name: &str) -> Result<LabelSet, LabelError> {
    let mut csv_reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers: Vec<String> = csv_reader
        .byte_headers()
        .map_err(|err| LabelError::BadHeader {
            source_name: source_name.to_string(),
            reason: format!("cannot read the header: {err}"),
        })?
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim_start_matches('\u{feff}')
                .trim()
                .to_string()
        })
        .collect();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let prefixed = |prefix: &str| {
        headers
            .iter()
            .position(|h| h.to_ascii_lowercase().starts_with(prefix))
    };
    let (Some(begin), Some(end), Some(country)) =
        (column("Begin time"), column("End time"), column("Country"))
    else {
        return Err(LabelError::BadHeader {
            source_name: source_name.to_string(),
            reason: "expected the columns 'Begin time', 'End time' and 'Country'".to_string(),
        });
    };
    let id = column("ID");
    let scope = prefixed("scope");
    let region = column("Region");
    let asn = column("AS");
    let cause = column("Cause");
    let mut set = LabelSet::default();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = csv_reader.position().line() + 1;
        match csv_reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(err) => {
                set.rows_read += 1;
                set.skipped.push((
                    format!("{source_name}:{line}"),
                    format!("unreadable row: {err}"),
                ));
                continue;
            }
        }
        set.rows_read += 1;
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        let at = format!("{source_name}:{line}");
        let cell = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .map(|b| String::from_utf8_lossy(b).trim().to_string())
                .unwrap_or_default()
        };
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        let (Some(start), Some(stop)) = (
            parse_truth_time(&cell(Some(begin))),
            parse_truth_time(&cell(Some(end))),
        ) else {
            set.skipped.push((
                at,
                format!(
                    "unreadable begin/end time '{}' / '{}'",
                    cell(Some(begin)),
                    cell(Some(end))
                ),
            ));
            continue;
        };
        if stop <= start {
            set.skipped.push((at, "end is not after begin".to_string()));
            continue;
        }
        let country_name = cell(Some(country));
        let Some(code) = country_code_from_name(&country_name) else {
            set.skipped
                .push((at, format!("unknown country name '{country_name}'")));
            continue;
        };
        let scope_text = cell(scope);
        let entity = match entity_from_scope(code, &scope_text, &cell(region), &cell(asn)) {
            Some(entity) => entity,
            None => {
                set.skipped
                    .push((at, format!("cannot read scope '{scope_text}'")));
                continue;
            }
        };
        let note = cell(cause);
        set.labels.push(Label {
            entity,
            start,
            end: stop,
            id: Some(cell(id)).filter(|s| !s.is_empty()),
            note: Some(note).filter(|s| !s.is_empty()),
        });
    }
    Ok(set)
}

/// Times as the investigated list writes them, taken as UTC:
/// `Wednesday, March 17, 2021, 4:40:00 PM` (seconds optional; the weekday,
/// sometimes wrong in the list, is ignored), `7/28/2020  17:00:00 PM`
/// (month/day/year; an hour past 12 ignores its AM/PM), or ISO 8601.
fn parse_truth_time(text: &str) -> Option<UnixSecs> {
    let text = text.trim().replace(": ", " ");
    let text = text.trim_end_matches(':').trim();
    // Drop a leading weekday, with or without its comma.
    let without_weekday = match text.split_once(' ') {
        Some((first, rest))
            if first.trim_end_matches(',').len() >= 6
                && first.trim_end_matches(',').ends_with("day") =>
        {
            rest.trim()
        }
        _ => text,
    };
    for pattern in ["%B %d, %Y, %I:%M:%S %p", "%B %d, %Y, %I:%M %p"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(without_weekday, pattern) {
            return Some(time.and_utc().timestamp());
        }
    }
    if let Some(t) = parse_slashed(text) {
        return Some(t);
    }
    parse_utc(text).ok()
}

/// `M/D/YYYY H:M[:S] [AM|PM]`.
fn parse_slashed(text: &str) -> Option<UnixSecs> {
    let mut parts = text.split_whitespace();
    let date = parts.next()?;
    let time = parts.next()?;
    let suffix = parts.next().map(str::to_ascii_uppercase);
    let mut d = date.split('/').map(|n| n.parse::<u32>().ok());
    let (month, day, year) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|n| n.parse::<u32>().ok());
    let hour = t.next()??;
    let minute = t.next().flatten().unwrap_or(0);
    let second = t.next().flatten().unwrap_or(0);
    let hour = match (suffix.as_deref(), hour) {
        (_, h) if h > 12 => h,
        (Some("PM"), 12) => 12,
        (Some("PM"), h) => h + 12,
        (Some("AM"), 12) => 0,
        (_, h) => h,
    };
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(
        date.and_hms_opt(hour, minute, second)?
            .and_utc()
            .timestamp(),
    )
}

fn entity_from_scope(country: CountryCode, scope: &str, region: &str, asn: &str) -> Option<Entity> {
    let lower = scope.trim().to_ascii_lowercase();
    let inner = scope
        .split_once('(')
        .and_then(|(_, rest)| rest.rsplit_once(')'))
        .map(|(inside, _)| inside.trim().to_string());
    if lower.starts_with("region") {
        let name = inner
            .filter(|n| !n.is_empty())
            .or_else(|| Some(region.to_string()).filter(|r| !r.is_empty()))?;
        return Some(Entity::Region(RegionId { country, name }));
    }
    if lower.starts_with("as") {
        let number = inner.unwrap_or_else(|| asn.to_string());
        return number.trim().parse::<u32>().ok().map(Entity::Asn);
    }
    Some(Entity::Country(country))
}

/// Reads JSON labels: a list, or an object with a `labels` list, of
/// `{entity, start, end, id?, note?}` (times in ISO 8601 or Unix seconds),
/// and the object's optional `covers` list of `{entity, start, end}`.
pub fn parse_json_labels(bytes: &[u8], source_name: &str) -> Result<LabelSet, LabelError> {
    let root: Value = serde_json::from_slice(bytes).map_err(|err| LabelError::NotJson {
        source_name: source_name.to_string(),
        reason: format!("{err}"),
    })?;
    let mut set = LabelSet::default();
    let items = match &root {
        Value::Array(items) => items,
        Value::Object(map) => match map.get("labels") {
            Some(Value::Array(items)) => {
                read_covers(map.get("covers"), source_name, &mut set)?;
                items
            }
            _ => {
                return Err(LabelError::NotJson {
                    source_name: source_name.to_string(),
                    reason: "expected a list or an object with a \"labels\" list".to_string(),
                })
            }
        },
        _ => {
            return Err(LabelError::NotJson {
                source_name: source_name.to_string(),
                reason: "expected a list of labels".to_string(),
            })
        }
    };
    for (i, item) in items.iter().enumerate() {
        set.rows_read += 1;
        let at = format!("{source_name}: [{i}]");
        let text = |name: &str| match item.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let entity = text("entity").and_then(|e| e.parse::<Entity>().ok());
        let start = text("start").and_then(|t| parse_utc(&t).ok());
        let end = text("end").and_then(|t| parse_utc(&t).ok());
        match (entity, start, end) {
            (Some(entity), Some(start), Some(end)) if end > start => set.labels.push(Label {
                entity,
                start,
                end,
                id: text("id"),
                note: text("note"),
            }),
            (None, _, _) => set
                .skipped
                .push((at, "missing or unreadable \"entity\"".to_string())),
            _ => set.skipped.push((
                at,
                "missing or unreadable \"start\"/\"end\", or end not after start".to_string(),
            )),
        }
    }
    Ok(set)
}

/// Reads the `covers` list of a JSON label file into `set`.
fn read_covers(
    covers: Option<&Value>,
    source_name: &str,
    set: &mut LabelSet,
) -> Result<(), LabelError> {
    let items = match covers {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(LabelError::NotJson {
                source_name: source_name.to_string(),
                reason: "\"covers\" must be a list of {entity, start, end}".to_string(),
            })
        }
    };
    for (i, item) in items.iter().enumerate() {
        let text = |name: &str| match item.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let entity = text("entity").and_then(|e| e.parse::<Entity>().ok());
        let start = text("start").and_then(|t| parse_utc(&t).ok());
        let end = text("end").and_then(|t| parse_utc(&t).ok());
        match (entity, start, end) {
            (Some(entity), Some(start), Some(end)) if end > start => {
                set.covers.push(Coverage { entity, start, end })
            }
            _ => set.skipped.push((
                format!("{source_name}: covers[{i}]"),
                "missing or unreadable \"entity\", \"start\" or \"end\", or end not after start"
                    .to_string(),
            )),
        }
    }
    Ok(())
}

/// ISO 3166-1 alpha-2 codes for English country names, including the
/// spellings of IODA's investigated-outage list.
const COUNTRY_NAMES: &[(&str, &str)] = &[
    ("afghanistan", "AF"),
    ("albania", "AL"),
    ("algeria", "DZ"),
    ("andorra", "AD"),
    ("angola", "AO"),
    ("anguilla", "AI"),
    ("antigua and barbuda", "AG"),
    ("argentina", "AR"),
    ("armenia", "AM"),
    ("aruba", "AW"),
    ("australia", "AU"),
    ("austria", "AT"),
    ("azerbaijan", "AZ"),
    ("bahamas", "BS"),
    ("bahrain", "BH"),
    ("bangladesh", "BD"),
    ("barbados", "BB"),
    ("belarus", "BY"),
    ("belgium", "BE"),
    ("belize", "BZ"),
    ("benin", "BJ"),
    ("bermuda", "BM"),
    ("bhutan", "BT"),
    ("bolivia", "BO"),
    ("bonaire sint eustatius and saba", "BQ"),
    ("bonaire", "BQ"),
    ("bosnia and herzegovina", "BA"),
    ("botswana", "BW"),
    ("brazil", "BR"),
    ("brunei darussalam", "BN"),
    ("brunei", "BN"),
    ("bulgaria", "BG"),
    ("burkina faso", "BF"),
    ("burundi", "BI"),
    ("cambodia", "KH"),
    ("cameroon", "CM"),
    ("canada", "CA"),
    ("cape verde", "CV"),
    ("cabo verde", "CV"),
    ("cayman islands", "KY"),
    ("central african republic", "CF"),
    ("chad", "TD"),
    ("chile", "CL"),
    ("china", "CN"),
    ("colombia", "CO"),
    ("comoros", "KM"),
    ("congo", "CG"),
    ("republic of the congo", "CG"),
    ("democratic republic of the congo", "CD"),
    ("democratic republic of", "CD"),
    ("drc", "CD"),
    ("cook islands", "CK"),
    ("costa rica", "CR"),
    ("cote divoire", "CI"),
    ("ivory coast", "CI"),
    ("croatia", "HR"),
    ("cuba", "CU"),
    ("curacao", "CW"),
    ("cyprus", "CY"),
    ("czech republic", "CZ"),
    ("czechia", "CZ"),
    ("denmark", "DK"),
    ("djibouti", "DJ"),
    ("dominica", "DM"),
    ("dominican republic", "DO"),
    ("ecuador", "EC"),
    ("egypt", "EG"),
    ("el salvador", "SV"),
    ("equatorial guinea", "GQ"),
    ("eritrea", "ER"),
    ("estonia", "EE"),
    ("eswatini", "SZ"),
    ("swaziland", "SZ"),
    ("ethiopia", "ET"),
    ("faroe islands", "FO"),
    ("fiji", "FJ"),
    ("finland", "FI"),
    ("france", "FR"),
    ("french guiana", "GF"),
    ("french polynesia", "PF"),
    ("gabon", "GA"),
    ("gambia", "GM"),
    ("georgia", "GE"),
    ("germany", "DE"),
    ("ghana", "GH"),
    ("gibraltar", "GI"),
    ("great britain", "GB"),
    ("united kingdom", "GB"),
    ("greece", "GR"),
    ("greenland", "GL"),
    ("grenada", "GD"),
    ("guadeloupe", "GP"),
    ("guam", "GU"),
    ("guatemala", "GT"),
    ("guernsey", "GG"),
    ("guinea", "GN"),
    ("guineabissau", "GW"),
    ("guinea bissau", "GW"),
    ("guyana", "GY"),
    ("haiti", "HT"),
    ("honduras", "HN"),
    ("hong kong", "HK"),
    ("hungary", "HU"),
    ("iceland", "IS"),
    ("india", "IN"),
    ("indonesia", "ID"),
    ("iran", "IR"),
    ("iran islamic republic of", "IR"),
    ("iraq", "IQ"),
    ("ireland", "IE"),
    ("isle of man", "IM"),
    ("israel", "IL"),
    ("italy", "IT"),
    ("jamaica", "JM"),
    ("japan", "JP"),
    ("jersey", "JE"),
    ("jordan", "JO"),
    ("kazakhstan", "KZ"),
    ("kenya", "KE"),
    ("kiribati", "KI"),
    ("kuwait", "KW"),
    ("kyrgyz republic", "KG"),
    ("kyrgyzstan", "KG"),
    ("laos", "LA"),
    ("lao peoples democratic republic", "LA"),
    ("latvia", "LV"),
    ("lebanon", "LB"),
    ("lesotho", "LS"),
    ("liberia", "LR"),
    ("libya", "LY"),
    ("liechtenstein", "LI"),
    ("lithuania", "LT"),
    ("luxembourg", "LU"),
    ("macao", "MO"),
    ("macau", "MO"),
    ("macedonia", "MK"),
    ("north macedonia", "MK"),
    ("madagascar", "MG"),
    ("malawi", "MW"),
    ("malaysia", "MY"),
    ("maldives", "MV"),
    ("mali", "ML"),
    ("malta", "MT"),
    ("marshall islands", "MH"),
    ("martinique", "MQ"),
    ("mauritania", "MR"),
    ("mauritius", "MU"),
    ("mayotte", "YT"),
    ("mexico", "MX"),
    ("micronesia", "FM"),
    ("federated states of micronesia", "FM"),
    ("moldova", "MD"),
    ("monaco", "MC"),
    ("mongolia", "MN"),
    ("montenegro", "ME"),
    ("montserrat", "MS"),
    ("morocco", "MA"),
    ("mozambique", "MZ"),
    ("myanmar", "MM"),
    ("burma", "MM"),
    ("namibia", "NA"),
    ("nauru", "NR"),
    ("nepal", "NP"),
    ("netherlands", "NL"),
    ("new caledonia", "NC"),
    ("new zealand", "NZ"),
    ("nicaragua", "NI"),
    ("niger", "NE"),
    ("nigeria", "NG"),
    ("north korea", "KP"),
    ("northern mariana islands", "MP"),
    ("norway", "NO"),
    ("oman", "OM"),
    ("pakistan", "PK"),
    ("palau", "PW"),
    ("palestine", "PS"),
    ("state of palestine", "PS"),
    ("palestinian territories", "PS"),
    ("panama", "PA"),
    ("papua new guinea", "PG"),
    ("paraguay", "PY"),
    ("peru", "PE"),
    ("philippines", "PH"),
    ("poland", "PL"),
    ("portugal", "PT"),
    ("puerto rico", "PR"),
    ("qatar", "QA"),
    ("reunion", "RE"),
    ("romania", "RO"),
    ("russia", "RU"),
    ("russian federation", "RU"),
    ("rwanda", "RW"),
    ("saint kitts and nevis", "KN"),
    ("saint lucia", "LC"),
    ("saint martin", "MF"),
    ("sint maarten", "SX"),
    ("saint vincent and the grenadines", "VC"),
    ("samoa", "WS"),
    ("san marino", "SM"),
    ("sao tome and principe", "ST"),
    ("saudi arabia", "SA"),
    ("senegal", "SN"),
    ("serbia", "RS"),
    ("seychelles", "SC"),
    ("sierra leone", "SL"),
    ("singapore", "SG"),
    ("slovakia", "SK"),
    ("slovenia", "SI"),
    ("solomon islands", "SB"),
    ("somalia", "SO"),
    ("south africa", "ZA"),
    ("south korea", "KR"),
    ("korea", "KR"),
    ("south sudan", "SS"),
    ("spain", "ES"),
    ("sri lanka", "LK"),
    ("sudan", "SD"),
    ("suriname", "SR"),
    ("sweden", "SE"),
    ("switzerland", "CH"),
    ("syria", "SY"),
    ("syrian arab republic", "SY"),
    ("taiwan", "TW"),
    ("tajikistan", "TJ"),
    ("tanzania", "TZ"),
    ("thailand", "TH"),
    ("timor leste", "TL"),
    ("east timor", "TL"),
    ("togo", "TG"),
    ("tonga", "TO"),
    ("trinidad and tobago", "TT"),
    ("tunisia", "TN"),
    ("turkey", "TR"),
    ("turkiye", "TR"),
    ("turkmenistan", "TM"),
    ("turks and caicos islands", "TC"),
    ("tuvalu", "TV"),
    ("uganda", "UG"),
    ("ukraine", "UA"),
    ("united arab emirates", "AE"),
    ("united states", "US"),
    ("united states of america", "US"),
    ("usa", "US"),
    ("uruguay", "UY"),
    ("uzbekistan", "UZ"),
    ("vanuatu", "VU"),
    ("venezuela", "VE"),
    ("vietnam", "VN"),
    ("viet nam", "VN"),
    ("virgin islands", "VI"),
    ("yemen", "YE"),
    ("zambia", "ZM"),
    ("zimbabwe", "ZW"),
];

/// Lower case, `&` as `and`, letters and digits only, single spaces.
fn normalise_name(name: &str) -> String {
    let replaced = name.to_lowercase().replace('&', " and ");
    let kept: String = replaced
        .chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' => 'e',
            'ç' => 'c',
            'ô' | 'ö' => 'o',
            'ü' => 'u',
            'ã' | 'á' => 'a',
            c if c.is_ascii_alphanumeric() || c == ' ' || c == '/' || c == ',' => c,
            '-' => ' ',
            _ => '\0',
        })
        .filter(|c| *c != '\0')
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The ISO code for an English country name (or a code itself); tries the
/// whole name, then the parts around parentheses and slashes.
pub fn country_code_from_name(name: &str) -> Option<CountryCode> {
    let trimmed = name.trim();
    if trimmed.len() == 2 {
        if let Ok(code) = CountryCode::new(trimmed) {
            return Some(code);
        }
    }
    let lookup = |candidate: &str| {
        let key = normalise_name(candidate).replace([',', '/'], " ");
        let key = key.split_whitespace().collect::<Vec<_>>().join(" ");
        COUNTRY_NAMES
            .iter()
            .find(|(n, _)| *n == key)
            .and_then(|(_, code)| CountryCode::new(code).ok())
    };
    if let Some(code) = lookup(trimmed) {
        return Some(code);
    }
    let mut parts: Vec<&str> = Vec::new();
    if let Some((before, rest)) = trimmed.split_once('(') {
        parts.push(before);
        parts.push(rest.trim_end_matches(')'));
    }
    parts.extend(trimmed.split('/'));
    parts.into_iter().find_map(lookup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_names_of_the_ioda_list() {
        for (name, code) in [
            ("Iraq", "IQ"),
            ("Antigua & Barbuda", "AG"),
            ("Ivory Coast (Cote d'Ivoire)", "CI"),
            ("Kyrgyz Republic (Kyrgyzstan)", "KG"),
            ("Myanmar/Burma", "MM"),
            ("Democratic Republic of (DRC)", "CD"),
            ("United States of America (USA)", "US"),
            ("Bonaire, Sint Eustatius and Saba", "BQ"),
            ("Bonaire/Sint Eustatius/Saba", "BQ"),
            ("Timor-Leste", "TL"),
            ("Palestinian Territories", "PS"),
        ] {
            assert_eq!(
                country_code_from_name(name).map(|c| c.to_string()),
                Some(code.to_string()),
                "{name}"
            );
        }
        assert_eq!(country_code_from_name("European Union"), None);
    }

    #[test]
    fn reads_truth_rows() {
        let csv = "\u{feff}ID,Begin time,End time,Country,IODA BGP visible by human,Scope (based on granularity),Region,AS,Cause\n\
                   A1,\"Wednesday, June 13, 2018, 3:00 AM\",\"Wednesday, June 13, 2018, 8:00 AM\",Iraq,True,Country,,,Exams\n\
                   A2,\"Thursday, February 25, 2021, 6:40:00 AM\",\"Thursday, February 25, 2021, 8:00:00 AM\",Bangladesh,x,Region (Rangpur),,,\n\
                   A3,\"Monday, March 16, 2020, 10:00:00 PM\",\"Monday, March 16, 2020, 10:50:00 PM\",Ukraine,x,AS (6849),,,\n\
                   A4,never,never,Iraq,x,Country,,,\n\
                   A5,\"Monday, March 16, 2020, 10:00:00 PM\",\"Monday, March 16, 2020, 10:50:00 PM\",Narnia,x,Country,,,\n";
        let set = parse_truth_csv(csv.as_bytes(), "t.csv").unwrap();
        assert_eq!(set.rows_read, 5);
        assert_eq!(set.labels.len(), 3);
        assert_eq!(set.skipped.len(), 2);
        assert_eq!(set.labels[0].entity.to_string(), "IQ");
        assert_eq!(set.labels[0].start, 1_528_858_800); // 2018-06-13T03:00:00Z
        assert_eq!(set.labels[0].note.as_deref(), Some("Exams"));
        assert_eq!(set.labels[1].entity.to_string(), "BD/Rangpur");
        assert_eq!(set.labels[2].entity.to_string(), "AS6849");
    }

    #[test]
    fn reads_the_lists_odd_times() {
        let t = |s: &str| parse_truth_time(s).map(vigie_model::format_utc);
        assert_eq!(
            t("Monday, May 29, 2018, 11:00 PM").as_deref(),
            Some("2018-05-29T23:00:00Z")
        );
        assert_eq!(
            t("Saturday June 2, 2018, 8:00 AM").as_deref(),
            Some("2018-06-02T08:00:00Z")
        );
        assert_eq!(
            t("Monday, October 25, 2021, 2:30: AM").as_deref(),
            Some("2021-10-25T02:30:00Z")
        );
        assert_eq!(
            t("7/28/2020  17:00:00 PM").as_deref(),
            Some("2020-07-28T17:00:00Z")
        );
        assert_eq!(
            t("7/28/2020  16:1:00 PM").as_deref(),
            Some("2020-07-28T16:01:00Z")
        );
        assert_eq!(
            t("4/3/2020  3:15:00 PM").as_deref(),
            Some("2020-04-03T15:15:00Z")
        );
        assert_eq!(t("N/A"), None);
        assert_eq!(t(""), None);
    }

    #[test]
    fn reads_json_labels() {
        let json = br#"{"labels":[{"entity":"KZ","start":"2022-01-05T10:30:00Z","end":"2022-01-05T17:30:00Z","note":"unrest"},
                                   {"entity":"KZ","start":"2022-01-05","end":"2022-01-04"}, {"start":1}]}"#;
        let set = parse_json_labels(json, "l.json").unwrap();
        assert_eq!(set.labels.len(), 1);
        assert_eq!(set.skipped.len(), 2);
        assert!(parse_json_labels(b"{", "x").is_err());
    }

    #[test]
    fn reads_what_a_json_label_file_covers() {
        let json = br#"{"description": "x", "covers": [
              {"entity": "UA/Kiev City", "start": "2021-12-01T03:00:00Z", "end": "2022-01-18T00:00:00Z"},
              {"entity": "Narnia", "start": 1, "end": 2}],
            "labels": []}"#;
        let set = parse_json_labels(json, "c.json").unwrap();
        assert!(set.labels.is_empty());
        assert_eq!(set.covers.len(), 1);
        assert_eq!(set.covers[0].entity.to_string(), "UA/Kiev City");
        assert_eq!(set.covers[0].start, 1_638_327_600);
        assert_eq!(set.skipped.len(), 1);
        assert!(parse_json_labels(br#"{"covers": 3, "labels": []}"#, "x").is_err());
    }
}
