//! The continent of each country (ISO 3166-1 alpha-2), for IODA's entity
//! ids (`geo.provider.AS.KZ`): Africa (AF), Antarctica (AN), Asia (AS),
//! Europe (EU), North America (NA, with Central America and the
//! Caribbean), Oceania (OC) and South America (SA). Countries spanning two
//! continents are where Natural Earth's countries table puts them (Russia
//! in Europe; Turkey, Cyprus and the Caucasus in Asia).

const CONTINENTS: [(&str, &str); 7] = [
    (
        "AF",
        "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA \
         MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW",
    ),
    ("AN", "AQ BV GS HM TF"),
    (
        "AS",
        "AE AF AM AZ BD BH BN BT CC CN CX CY GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA \
         LB LK MM MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE",
    ),
    (
        "EU",
        "AD AL AT AX BA BE BG BY CH CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI \
         LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK",
    ),
    (
        "NA",
        "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX \
         NI PA PM PR SV SX TC TT US VC VG VI",
    ),
    (
        "OC",
        "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS",
    ),
    ("SA", "AR BO BR CL CO EC FK GF GY PE PY SR UY VE"),
];

/// The continent code of country `cc` (`KZ` → `AS`), if known.
pub fn continent_of(cc: &str) -> Option<&'static str> {
    CONTINENTS
        .iter()
        .find(|(_, list)| list.split_whitespace().any(|c| c.eq_ignore_ascii_case(cc)))
        .map(|(continent, _)| *continent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_have_one_continent() {
        assert_eq!(continent_of("KZ"), Some("AS"));
        assert_eq!(continent_of("IQ"), Some("AS"));
        assert_eq!(continent_of("fr"), Some("EU"));
        assert_eq!(continent_of("BR"), Some("SA"));
        assert_eq!(continent_of("ZZ"), None);
        let mut seen = std::collections::HashSet::new();
        for (_, list) in CONTINENTS {
            for cc in list.split_whitespace() {
                assert_eq!(cc.len(), 2, "{cc}");
                assert!(seen.insert(cc), "{cc} is listed twice");
            }
        }
        assert!(seen.len() > 240, "{}", seen.len());
    }
}
