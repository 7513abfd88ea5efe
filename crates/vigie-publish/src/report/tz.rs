//! Local time for reports, from the IANA time zone database (`chrono-tz`,
//! daylight saving time and every past change of offset applied): the
//! zone of the entity's region where [`REGION_ZONES`] knows it, else its
//! country's main zone ([`COUNTRY_ZONES`], the capital's). The tables hold
//! zone names only; every offset comes from `chrono-tz`.

use chrono::{Offset, TimeZone};
use chrono_tz::Tz;
use vigie_model::{format_utc, CountryCode, Entity, UnixSecs};

/// (country, IANA zone of its capital or most populous area), by country.
pub const COUNTRY_ZONES: &[(&str, &str)] = &[
    ("AE", "Asia/Dubai"),
    ("AF", "Asia/Kabul"),
    ("AL", "Europe/Tirane"),
    ("AM", "Asia/Yerevan"),
    ("AO", "Africa/Luanda"),
    ("AR", "America/Argentina/Buenos_Aires"),
    ("AT", "Europe/Vienna"),
    ("AU", "Australia/Sydney"),
    ("AZ", "Asia/Baku"),
    ("BA", "Europe/Sarajevo"),
    ("BD", "Asia/Dhaka"),
    ("BE", "Europe/Brussels"),
    ("BF", "Africa/Ouagadougou"),
    ("BG", "Europe/Sofia"),
    ("BH", "Asia/Bahrain"),
    ("BI", "Africa/Bujumbura"),
    ("BJ", "Africa/Porto-Novo"),
    ("BN", "Asia/Brunei"),
    ("BO", "America/La_Paz"),
    ("BR", "America/Sao_Paulo"),
    ("BT", "Asia/Thimphu"),
    ("BW", "Africa/Gaborone"),
    ("BY", "Europe/Minsk"),
    ("CA", "America/Toronto"),
    ("CD", "Africa/Kinshasa"),
    ("CF", "Africa/Bangui"),
    ("CG", "Africa/Brazzaville"),
    ("CH", "Europe/Zurich"),
    ("CI", "Africa/Abidjan"),
    ("CL", "America/Santiago"),
    ("CM", "Africa/Douala"),
    ("CN", "Asia/Shanghai"),
    ("CO", "America/Bogota"),
    ("CR", "America/Costa_Rica"),
    ("CU", "America/Havana"),
    ("CY", "Asia/Nicosia"),
    ("CZ", "Europe/Prague"),
    ("DE", "Europe/Berlin"),
    ("DJ", "Africa/Djibouti"),
    ("DK", "Europe/Copenhagen"),
    ("DO", "America/Santo_Domingo"),
    ("DZ", "Africa/Algiers"),
    ("EC", "America/Guayaquil"),
    ("EE", "Europe/Tallinn"),
    ("EG", "Africa/Cairo"),
    ("ER", "Africa/Asmara"),
    ("ES", "Europe/Madrid"),
    ("ET", "Africa/Addis_Ababa"),
    ("FI", "Europe/Helsinki"),
    ("FR", "Europe/Paris"),
    ("GA", "Africa/Libreville"),
    ("GB", "Europe/London"),
    ("GE", "Asia/Tbilisi"),
    ("GH", "Africa/Accra"),
    ("GM", "Africa/Banjul"),
    ("GN", "Africa/Conakry"),
    ("GR", "Europe/Athens"),
    ("GT", "America/Guatemala"),
    ("GW", "Africa/Bissau"),
    ("HK", "Asia/Hong_Kong"),
    ("HN", "America/Tegucigalpa"),
    ("HR", "Europe/Zagreb"),
    ("HT", "America/Port-au-Prince"),
    ("HU", "Europe/Budapest"),
    ("ID", "Asia/Jakarta"),
    ("IE", "Europe/Dublin"),
    ("IL", "Asia/Jerusalem"),
    ("IN", "Asia/Kolkata"),
    ("IQ", "Asia/Baghdad"),
    ("IR", "Asia/Tehran"),
    ("IS", "Atlantic/Reykjavik"),
    ("IT", "Europe/Rome"),
    ("JM", "America/Jamaica"),
    ("JO", "Asia/Amman"),
    ("JP", "Asia/Tokyo"),
    ("KE", "Africa/Nairobi"),
    ("KG", "Asia/Bishkek"),
    ("KH", "Asia/Phnom_Penh"),
    ("KP", "Asia/Pyongyang"),
    ("KR", "Asia/Seoul"),
    ("KW", "Asia/Kuwait"),
    ("KZ", "Asia/Almaty"),
    ("LA", "Asia/Vientiane"),
    ("LB", "Asia/Beirut"),
    ("LK", "Asia/Colombo"),
    ("LR", "Africa/Monrovia"),
    ("LT", "Europe/Vilnius"),
    ("LU", "Europe/Luxembourg"),
    ("LV", "Europe/Riga"),
    ("LY", "Africa/Tripoli"),
    ("MA", "Africa/Casablanca"),
    ("MD", "Europe/Chisinau"),
    ("MG", "Indian/Antananarivo"),
    ("ML", "Africa/Bamako"),
    ("MM", "Asia/Yangon"),
    ("MN", "Asia/Ulaanbaatar"),
    ("MO", "Asia/Macau"),
    ("MR", "Africa/Nouakchott"),
    ("MV", "Indian/Maldives"),
    ("MW", "Africa/Blantyre"),
    ("MX", "America/Mexico_City"),
    ("MY", "Asia/Kuala_Lumpur"),
    ("MZ", "Africa/Maputo"),
    ("NA", "Africa/Windhoek"),
    ("NE", "Africa/Niamey"),
    ("NG", "Africa/Lagos"),
    ("NI", "America/Managua"),
    ("NL", "Europe/Amsterdam"),
    ("NO", "Europe/Oslo"),
    ("NP", "Asia/Kathmandu"),
    ("NZ", "Pacific/Auckland"),
    ("OM", "Asia/Muscat"),
    ("PA", "America/Panama"),
    ("PE", "America/Lima"),
    ("PG", "Pacific/Port_Moresby"),
    ("PH", "Asia/Manila"),
    ("PK", "Asia/Karachi"),
    ("PL", "Europe/Warsaw"),
    ("PS", "Asia/Gaza"),
    ("PT", "Europe/Lisbon"),
    ("PY", "America/Asuncion"),
    ("QA", "Asia/Qatar"),
    ("RO", "Europe/Bucharest"),
    ("RS", "Europe/Belgrade"),
    ("RU", "Europe/Moscow"),
    ("RW", "Africa/Kigali"),
    ("SA", "Asia/Riyadh"),
    ("SD", "Africa/Khartoum"),
    ("SE", "Europe/Stockholm"),
    ("SG", "Asia/Singapore"),
    ("SI", "Europe/Ljubljana"),
    ("SK", "Europe/Bratislava"),
    ("SL", "Africa/Freetown"),
    ("SN", "Africa/Dakar"),
    ("SO", "Africa/Mogadishu"),
    ("SS", "Africa/Juba"),
    ("SV", "America/El_Salvador"),
    ("SY", "Asia/Damascus"),
    ("TD", "Africa/Ndjamena"),
    ("TG", "Africa/Lome"),
    ("TH", "Asia/Bangkok"),
    ("TJ", "Asia/Dushanbe"),
    ("TL", "Asia/Dili"),
    ("TM", "Asia/Ashgabat"),
    ("TN", "Africa/Tunis"),
    ("TR", "Europe/Istanbul"),
    ("TW", "Asia/Taipei"),
    ("TZ", "Africa/Dar_es_Salaam"),
    ("UA", "Europe/Kyiv"),
    ("UG", "Africa/Kampala"),
    ("US", "America/New_York"),
    ("UY", "America/Montevideo"),
    ("UZ", "Asia/Tashkent"),
    ("VE", "America/Caracas"),
    ("VN", "Asia/Ho_Chi_Minh"),
    ("YE", "Asia/Aden"),
    ("ZA", "Africa/Johannesburg"),
    ("ZM", "Africa/Lusaka"),
    ("ZW", "Africa/Harare"),
];

/// (country, region name as geo tables spell it, IANA zone) for regions
/// outside their country's main zone; names are matched ignoring case.
pub const REGION_ZONES: &[(&str, &str, &str)] = &[
    ("AU", "Northern Territory", "Australia/Darwin"),
    ("AU", "Queensland", "Australia/Brisbane"),
    ("AU", "South Australia", "Australia/Adelaide"),
    ("AU", "Tasmania", "Australia/Hobart"),
    ("AU", "Victoria", "Australia/Melbourne"),
    ("AU", "Western Australia", "Australia/Perth"),
    ("BR", "Acre", "America/Rio_Branco"),
    ("BR", "Amazonas", "America/Manaus"),
    ("BR", "Mato Grosso", "America/Cuiaba"),
    ("BR", "Mato Grosso do Sul", "America/Campo_Grande"),
    ("BR", "Rondônia", "America/Porto_Velho"),
    ("BR", "Roraima", "America/Boa_Vista"),
    ("CA", "Alberta", "America/Edmonton"),
    ("CA", "British Columbia", "America/Vancouver"),
    ("CA", "Manitoba", "America/Winnipeg"),
    ("CA", "New Brunswick", "America/Moncton"),
    ("CA", "Newfoundland and Labrador", "America/St_Johns"),
    ("CA", "Nova Scotia", "America/Halifax"),
    ("CA", "Prince Edward Island", "America/Halifax"),
    ("CA", "Saskatchewan", "America/Regina"),
    ("ID", "Bali", "Asia/Makassar"),
    ("ID", "Papua", "Asia/Jayapura"),
    ("ID", "South Sulawesi", "Asia/Makassar"),
    ("KZ", "Aktobe Region", "Asia/Aqtobe"),
    ("KZ", "Atyrau Region", "Asia/Atyrau"),
    ("KZ", "Kyzylorda Region", "Asia/Qyzylorda"),
    ("KZ", "Mangystau Region", "Asia/Aqtau"),
    ("KZ", "West Kazakhstan", "Asia/Oral"),
    ("MX", "Baja California", "America/Tijuana"),
    ("MX", "Chihuahua", "America/Chihuahua"),
    ("MX", "Quintana Roo", "America/Cancun"),
    ("MX", "Sinaloa", "America/Mazatlan"),
    ("MX", "Sonora", "America/Hermosillo"),
    ("RU", "Irkutsk Oblast", "Asia/Irkutsk"),
    ("RU", "Kaliningrad Oblast", "Europe/Kaliningrad"),
    ("RU", "Kamchatka Krai", "Asia/Kamchatka"),
    ("RU", "Krasnoyarsk Krai", "Asia/Krasnoyarsk"),
    ("RU", "Novosibirsk Oblast", "Asia/Novosibirsk"),
    ("RU", "Omsk Oblast", "Asia/Omsk"),
    ("RU", "Primorsky Krai", "Asia/Vladivostok"),
    ("RU", "Samara Oblast", "Europe/Samara"),
    ("RU", "Sverdlovsk Oblast", "Asia/Yekaterinburg"),
    ("US", "Alabama", "America/Chicago"),
    ("US", "Alaska", "America/Anchorage"),
    ("US", "Arizona", "America/Phoenix"),
    ("US", "Arkansas", "America/Chicago"),
    ("US", "California", "America/Los_Angeles"),
    ("US", "Colorado", "America/Denver"),
    ("US", "Hawaii", "Pacific/Honolulu"),
    ("US", "Idaho", "America/Boise"),
    ("US", "Illinois", "America/Chicago"),
    ("US", "Iowa", "America/Chicago"),
    ("US", "Kansas", "America/Chicago"),
    ("US", "Louisiana", "America/Chicago"),
    ("US", "Minnesota", "America/Chicago"),
    ("US", "Mississippi", "America/Chicago"),
    ("US", "Missouri", "America/Chicago"),
    ("US", "Montana", "America/Denver"),
    ("US", "Nebraska", "America/Chicago"),
    ("US", "Nevada", "America/Los_Angeles"),
    ("US", "New Mexico", "America/Denver"),
    ("US", "North Dakota", "America/Chicago"),
    ("US", "Oklahoma", "America/Chicago"),
    ("US", "Oregon", "America/Los_Angeles"),
    ("US", "South Dakota", "America/Chicago"),
    ("US", "Tennessee", "America/Chicago"),
    ("US", "Texas", "America/Chicago"),
    ("US", "Utah", "America/Denver"),
    ("US", "Washington", "America/Los_Angeles"),
    ("US", "Wisconsin", "America/Chicago"),
    ("US", "Wyoming", "America/Denver"),
];

/// Where a zone came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ZoneSource {
    /// The entity's region has a zone of its own.
    Region,
    /// The country's main zone.
    Country,
}

fn parse(name: &str) -> Option<Tz> {
    name.parse().ok()
}

/// The main zone of `country`, if the table knows it.
pub fn country_zone(country: CountryCode) -> Option<Tz> {
    let i = COUNTRY_ZONES
        .binary_search_by(|(cc, _)| (*cc).cmp(country.as_str()))
        .ok()?;
    parse(COUNTRY_ZONES[i].1)
}

/// The zone of `region` of `country` when it has one of its own.
pub fn region_zone(country: CountryCode, region: &str) -> Option<Tz> {
    REGION_ZONES
        .iter()
        .find(|(cc, name, _)| *cc == country.as_str() && name.eq_ignore_ascii_case(region.trim()))
        .and_then(|(_, _, zone)| parse(zone))
}

/// The zone of an entity's local time: its region's where known, else its
/// country's main zone; `None` for an AS or an unknown country.
pub fn entity_zone(entity: &Entity) -> Option<(Tz, ZoneSource)> {
    match entity {
        Entity::Country(cc) => country_zone(*cc).map(|z| (z, ZoneSource::Country)),
        Entity::Region(r) => region_zone(r.country, &r.name)
            .map(|z| (z, ZoneSource::Region))
            .or_else(|| country_zone(r.country).map(|z| (z, ZoneSource::Country))),
        Entity::Asn(_) => None,
    }
}

/// The standard UTC offset (seconds east, daylight saving time left out)
/// of an entity's zone ([`entity_zone`]), as its offset on 1 January 2020;
/// `None` for an AS or an unknown country. One number an entity, the same
/// whenever it is asked, so that detection counts the same local days in
/// batch and live.
pub fn standard_offset_secs(entity: &Entity) -> Option<i64> {
    use chrono_tz::OffsetComponents;
    let (zone, _) = entity_zone(entity)?;
    let reference = chrono::DateTime::from_timestamp(1_577_836_800, 0)?.naive_utc();
    let offset = zone.offset_from_utc_datetime(&reference);
    Some(offset.base_utc_offset().num_seconds())
}

/// The UTC offset (minutes east) of `zone` at time `t`, daylight saving
/// time included.
pub fn offset_minutes_at(zone: Tz, t: UnixSecs) -> i32 {
    let offset = zone.offset_from_utc_datetime(
        &chrono::DateTime::from_timestamp(t, 0)
            .unwrap_or_default()
            .naive_utc(),
    );
    offset.fix().local_minus_utc() / 60
}

/// The UTC offset (minutes east) of `country`'s main zone at time `t`, if
/// the table knows the country.
pub fn utc_offset_minutes(country: CountryCode, t: UnixSecs) -> Option<i32> {
    country_zone(country).map(|z| offset_minutes_at(z, t))
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

/// `t` in `zone`: `2023-08-21 04:00 (UTC+03:00)`.
pub fn local_label(zone: Tz, t: UnixSecs) -> String {
    let minutes = offset_minutes_at(zone, t);
    format!("{} ({})", format_local(t, minutes), offset_label(minutes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(code: &str) -> CountryCode {
        CountryCode::new(code).unwrap()
    }

    #[test]
    fn offsets_come_from_the_iana_database() {
        // 2023-08-21T01:00:00Z in Baghdad: UTC+3, no DST.
        assert_eq!(utc_offset_minutes(cc("IQ"), 1_692_579_600), Some(180));
        // Kazakhstan moved from UTC+6 to UTC+5 on 2024-03-01.
        assert_eq!(utc_offset_minutes(cc("KZ"), 1_641_340_800), Some(360));
        assert_eq!(utc_offset_minutes(cc("KZ"), 1_720_000_000), Some(300));
        // Syria from UTC+2 (+3 in summer) to UTC+3 all year in October 2022.
        assert_eq!(utc_offset_minutes(cc("SY"), 1_641_340_800), Some(120));
        assert_eq!(utc_offset_minutes(cc("SY"), 1_704_067_200), Some(180));
        assert_eq!(utc_offset_minutes(cc("ZZ"), 0), None);
        assert_eq!(offset_label(180), "UTC+03:00");
        assert_eq!(offset_label(-270), "UTC-04:30");
        assert_eq!(offset_label(345), "UTC+05:45");
        assert_eq!(format_local(1_692_579_600, 180), "2023-08-21 04:00");
    }

    #[test]
    fn daylight_saving_time_and_half_hours() {
        let summer = 1_688_212_800; // 2023-07-01T12:00:00Z
        let winter = 1_673_179_200; // 2023-01-08T12:00:00Z
        assert_eq!(utc_offset_minutes(cc("UA"), summer), Some(180));
        assert_eq!(utc_offset_minutes(cc("UA"), winter), Some(120));
        assert_eq!(utc_offset_minutes(cc("US"), summer), Some(-240));
        assert_eq!(utc_offset_minutes(cc("US"), winter), Some(-300));
        // Half and three-quarter hours, all year.
        for t in [summer, winter] {
            assert_eq!(utc_offset_minutes(cc("IN"), t), Some(330));
            assert_eq!(utc_offset_minutes(cc("MM"), t), Some(390));
            assert_eq!(utc_offset_minutes(cc("NP"), t), Some(345));
        }
        // Across the US change of 2023-03-12 07:00 UTC (02:00 EST).
        let change = 1_678_604_400;
        assert_eq!(utc_offset_minutes(cc("US"), change - 1), Some(-300));
        assert_eq!(utc_offset_minutes(cc("US"), change), Some(-240));
        let zone = country_zone(cc("US")).unwrap();
        assert_eq!(
            local_label(zone, change - 60),
            "2023-03-12 01:59 (UTC-05:00)"
        );
        assert_eq!(local_label(zone, change), "2023-03-12 03:00 (UTC-04:00)");
    }

    #[test]
    fn regions_have_their_own_zone_else_the_country_s() {
        let california: Entity = "US/California".parse().unwrap();
        let (zone, source) = entity_zone(&california).unwrap();
        assert_eq!(
            (zone, source),
            (chrono_tz::America::Los_Angeles, ZoneSource::Region)
        );
        assert_eq!(offset_minutes_at(zone, 1_688_212_800), -420);
        let arizona: Entity = "US/arizona".parse().unwrap();
        assert_eq!(
            offset_minutes_at(entity_zone(&arizona).unwrap().0, 1_688_212_800),
            -420
        );
        let kyiv: Entity = "UA/Kyiv City".parse().unwrap();
        assert_eq!(
            entity_zone(&kyiv),
            Some((chrono_tz::Europe::Kyiv, ZoneSource::Country))
        );
        assert_eq!(entity_zone(&"AS9198".parse().unwrap()), None);
    }

    #[test]
    fn tables_name_real_zones_in_order() {
        for window in COUNTRY_ZONES.windows(2) {
            assert!(
                window[0].0 < window[1].0,
                "{} before {}",
                window[0].0,
                window[1].0
            );
        }
        for (code, zone) in COUNTRY_ZONES {
            assert!(CountryCode::new(code).is_ok(), "{code}");
            assert!(parse(zone).is_some(), "{code}: {zone}");
        }
        for (code, region, zone) in REGION_ZONES {
            assert!(country_zone(cc(code)).is_some(), "{code}/{region}");
            assert!(parse(zone).is_some(), "{code}/{region}: {zone}");
        }
    }
}
