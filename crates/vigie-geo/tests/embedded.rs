//! The embedded tables built from the `iptocc` crate.

use vigie_geo::{
    embedded_build_times, prefix_units, unit_of, v4_unit, CountryCode, Family, GeoDb, GeoDbBuilder,
};

fn cc(text: &str) -> CountryCode {
    CountryCode::new(text).unwrap()
}

#[test]
fn embedded_tables_answer_like_iptocc() {
    let db = GeoDb::embedded();
    for text in [
        "2.132.0.1",
        "8.8.8.8",
        "1.1.1.1",
        "95.56.1.1",
        "2.16.0.1",
        "10.0.0.1",
        "127.0.0.1",
    ] {
        let addr = text.parse().unwrap();
        let want = iptocc::country_code(text).and_then(vigie_geo::registry_country);
        assert_eq!(db.country_of(addr), want, "{text}");
    }
    assert_eq!(db.country_of("2.132.0.1".parse().unwrap()), Some(cc("KZ")));
    assert_eq!(db.country_of("10.0.0.1".parse().unwrap()), None);
    // Every /24's first address agrees with iptocc, sampled across the space.
    let table = db.country_table(Family::V4);
    for unit in (0u64..1 << 24).step_by(9973) {
        let addr = std::net::Ipv4Addr::from((unit as u32) << 8);
        assert_eq!(
            table.get(unit),
            iptocc::country_code(addr).and_then(vigie_geo::registry_country),
            "{addr}"
        );
    }
    // IPv6: a /48 takes its /32's country.
    assert_eq!(
        db.country_of("2a00:12f8:1:2::1".parse().unwrap()),
        Some(cc("KZ"))
    );
    assert_eq!(db.country_of("2001:db8::1".parse().unwrap()), None);
    assert_eq!(db.country_of("3fff::1".parse().unwrap()), None);

    let (v4_time, v6_time) = embedded_build_times();
    let v4_ranges = db.country_table(Family::V4).len();
    let v6_ranges = db.country_table(Family::V6).len();
    eprintln!(
        "embedded tables: ipv4 {v4_ranges} ranges built in {v4_time:?}, ipv6 {v6_ranges} ranges built in {v6_time:?} (unoptimised test builds are several times slower than release)"
    );
    assert!(v4_time.is_some() && v6_time.is_some());
    assert!(v4_ranges > 100_000);
    assert!(v6_ranges > 10_000);
    // EU is kept as a pseudo-country.
    assert!(db.units_per_country(Family::V4).contains_key(&cc("EU")));
    assert!(vigie_geo::is_pseudo_country(cc("EU")));
    assert!(!vigie_geo::is_pseudo_country(cc("KZ")));
}

#[test]
fn split_a_real_prefix_across_countries() {
    // Find, in the embedded IPv4 table, a /16 whose /24s belong to exactly
    // two countries, and check that split_countries gives each its own count.
    let db = GeoDb::embedded();
    let table = db.country_table(Family::V4);
    let mut found = false;
    for slash16 in 0u64..65536 {
        let (first, last) = (slash16 << 8, (slash16 << 8) | 0xff);
        let mut split = Vec::new();
        db.split_countries(Family::V4, first, last, |country, units| {
            split.push((country, units))
        });
        let mut countries: Vec<CountryCode> = split.iter().map(|(c, _)| *c).collect();
        countries.sort();
        countries.dedup();
        if countries.len() != 2 {
            continue;
        }
        // Brute force over the 256 units.
        for &country in &countries {
            let brute = (first..=last)
                .filter(|&u| table.get(u) == Some(country))
                .count() as u64;
            let split_total: u64 = split
                .iter()
                .filter(|(c, _)| *c == country)
                .map(|(_, n)| n)
                .sum();
            assert_eq!(split_total, brute, "{slash16:#x} {country}");
        }
        found = true;
        break;
    }
    assert!(found, "no /16 split between two countries");
}

#[test]
fn a_prefix_split_between_two_countries_counts_each() {
    // 100.64.0.0/22: two /24s in one country, two in another, as a file says.
    let mut builder = GeoDbBuilder::empty();
    builder
        .load_ip_location_db_country_from(
            "100.64.0.0,100.64.1.255,KZ\n100.64.2.0,100.64.3.255,KG\n".as_bytes(),
            "two-countries.csv",
        )
        .unwrap();
    let db = builder.build();
    let (family, first, last) = prefix_units(&"100.64.0.0/22".parse().unwrap()).unwrap();
    let mut split = Vec::new();
    db.split_countries(family, first, last, |country, units| {
        split.push((country, units))
    });
    assert_eq!(split, vec![(cc("KZ"), 2), (cc("KG"), 2)]);
    assert_eq!(
        unit_of("100.64.2.9".parse().unwrap()),
        (Family::V4, v4_unit("100.64.2.0".parse().unwrap()))
    );
    assert_eq!(db.country_of_unit(Family::V4, first + 3), Some(cc("KG")));
}
