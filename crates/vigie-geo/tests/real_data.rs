//! Every loader against the real files in the shared data folder. The
//! expected numbers were read off the files independently (awk, Python's
//! `ipaddress` and `json`).

mod common;

use std::net::IpAddr;

use vigie_geo::{prefix_units, CountryCode, Family, GeoDbBuilder, SourceKind};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn cc(text: &str) -> CountryCode {
    CountryCode::new(text).unwrap()
}

const RIR_FILES: [(&str, u64); 5] = [
    // (file, ipv4+ipv6 rows with a country and status allocated/assigned)
    ("delegated-afrinic-extended-latest.gz", 4317),
    ("delegated-apnic-extended-latest.gz", 48815),
    ("delegated-arin-extended-latest.gz", 68132),
    ("delegated-lacnic-extended-latest.gz", 23067),
    ("delegated-ripencc-extended-latest.gz", 87961),
];

#[test]
fn rir_delegated_files_load_with_exact_row_counts() {
    let Some(dir) = common::shared_data("geo/rir_delegated_2018-10-13") else {
        return;
    };
    let mut builder = GeoDbBuilder::empty();
    for (file, rows) in RIR_FILES {
        let report = builder.load_rir_delegated(dir.join(file)).unwrap();
        assert_eq!(report.kind, SourceKind::RirDelegated);
        assert_eq!(report.rows_loaded, rows, "{report}");
        assert_eq!(report.rows_malformed, 0, "{:?}", report.first_errors);
        assert!(
            report.rows_skipped > 0,
            "asn rows and available/reserved rows are skipped"
        );
    }
    let db = builder.build();
    // ripencc|KZ|ipv4|2.132.0.0|262144|20101223|allocated
    assert_eq!(db.country_of(ip("2.132.0.1")), Some(cc("KZ")));
    assert_eq!(db.country_of(ip("2.135.255.255")), Some(cc("KZ")));
    // ripencc|EU|ipv4|2.16.0.0|524288: the pseudo-country is kept.
    assert_eq!(db.country_of(ip("2.16.1.1")), Some(cc("EU")));
    // ripencc|KZ|ipv6|2a00:12f8::|32
    assert_eq!(db.country_of(ip("2a00:12f8:1234::1")), Some(cc("KZ")));
    // arin|US|ipv4|... Google's 8.8.8.0 is ARIN space held in the US.
    assert_eq!(db.country_of(ip("8.8.8.8")), Some(cc("US")));
    assert_eq!(db.country_of(ip("10.0.0.1")), None);

    // Splitting a prefix across countries: 45.4.0.0/21 holds lacnic's
    // CL 45.4.0.0 (1024 addresses) and BR 45.4.4.0 (1024 addresses).
    let (family, first, last) = prefix_units(&"45.4.0.0/21".parse().unwrap()).unwrap();
    let mut split = Vec::new();
    db.split_countries(family, first, last, |country, units| {
        split.push((country, units))
    });
    assert_eq!(split, vec![(cc("CL"), 4), (cc("BR"), 4)]);

    let kz_units = db.units_per_country(Family::V4)[&cc("KZ")];
    assert!(kz_units > 10_000, "KZ holds {kz_units} /24s");
    assert!(db.countries().len() > 200);
}

#[test]
fn ip_location_db_country_subsets() {
    let Some(dir) = common::shared_data("geo/ip_location_db_KZ_subset_2026-06-17") else {
        return;
    };
    let mut builder = GeoDbBuilder::empty();
    let v4 = builder
        .load_ip_location_db_country(dir.join("geo-whois-asn-country-ipv4.KZ.csv"))
        .unwrap();
    assert_eq!((v4.rows_loaded, v4.rows_skipped), (1043, 0), "{v4}");
    let v6 = builder
        .load_auto(dir.join("geo-whois-asn-country-ipv6.KZ.csv"))
        .unwrap();
    assert_eq!(v6.kind, SourceKind::IpLocationDbCountry);
    assert_eq!((v6.rows_loaded, v6.rows_skipped), (340, 0), "{v6}");
    let db = builder.build();
    // 2.132.0.0,2.135.255.255,KZ
    assert_eq!(db.country_of(ip("2.133.10.20")), Some(cc("KZ")));
    // 2001:678:98::,2001:678:98:ffff:...,KZ
    assert_eq!(db.country_of(ip("2001:678:98::1")), Some(cc("KZ")));
    assert_eq!(db.country_of(ip("8.8.8.8")), None);
    // Units counted independently with Python's ipaddress, first-address rule.
    assert_eq!(db.units_per_country(Family::V4)[&cc("KZ")], 13_721);
    assert_eq!(db.units_per_country(Family::V6)[&cc("KZ")], 49_367_903);
}

#[test]
fn ip_location_db_asn_subset_gives_asns_and_names() {
    let Some(dir) = common::shared_data("geo/ip_location_db_KZ_subset_2026-06-17") else {
        return;
    };
    let mut builder = GeoDbBuilder::empty();
    let report = builder.load_auto(dir.join("asn-ipv4.KZ-asns.csv")).unwrap();
    assert_eq!(report.kind, SourceKind::IpLocationDbAsn);
    assert_eq!(
        (report.rows_loaded, report.rows_malformed),
        (779, 0),
        "{report}"
    );
    let db = builder.build();
    // 2.132.0.0,2.135.255.255,9198,JSC Kazakhtelecom
    assert_eq!(db.asn_of(ip("2.134.1.1")), Some(9198));
    assert_eq!(db.as_name(9198), Some("JSC Kazakhtelecom"));
    // 2.72.0.0,2.79.255.255,29355,Kcell JSC
    assert_eq!(db.asn_of(ip("2.72.0.1")), Some(29355));
    assert_eq!(db.as_name(29355), Some("Kcell JSC"));
    // A quoted name with doubled quotes: 5.59.40.0,5.59.43.255,61367,"TOO ""B-TEL"""
    assert_eq!(db.as_name(61367), Some("TOO \"B-TEL\""));
    let mut per_as = std::collections::BTreeMap::new();
    for (first, last, asn) in db.asn_table(Family::V4).iter() {
        *per_as.entry(asn).or_insert(0u64) += last - first + 1;
    }
    assert_eq!(per_as.len(), 111);
    assert_eq!(per_as[&9198], 5698);
    assert_eq!(per_as[&29355], 2793);
}

#[test]
fn pyasn_tables_give_longest_prefix_origin() {
    let Some(dir) = common::shared_data("geo/pyasn") else {
        return;
    };
    let mut builder = GeoDbBuilder::empty();
    let v4 = builder
        .load_prefix2as(dir.join("ipasn_20140513.dat.gz"))
        .unwrap();
    // "; Prefixes : 512621" in the file's header, and that many data lines.
    assert_eq!((v4.rows_loaded, v4.rows_skipped), (512_621, 0), "{v4}");
    let db = builder.build();
    assert_eq!(db.asn_of(ip("1.0.0.1")), Some(15169));
    assert_eq!(db.asn_of(ip("2.132.88.1")), Some(9198));
    assert!(db.asn_of(ip("10.1.1.1")).is_none());

    let mut builder = GeoDbBuilder::empty();
    let both = builder
        .load_auto(dir.join("ipasn6_20151101.dat.gz"))
        .unwrap();
    assert_eq!(both.kind, SourceKind::Prefix2As);
    // "; Prefixes-v4 : 606138" and "; Prefixes-v6 : 27693".
    assert_eq!(both.rows_loaded, 606_138 + 27_693, "{both}");
    let db = builder.build();
    // 2001::/32 6939 and the more specific 2001:4:112::/48 112.
    assert_eq!(db.asn_of(ip("2001:0:1::1")), Some(6939));
    assert_eq!(db.asn_of(ip("2001:4:112::1")), Some(112));
    assert_eq!(db.asn_of(ip("1.0.0.1")), Some(15169));
}

#[test]
fn pyasn_as_names_json() {
    let Some(dir) = common::shared_data("geo/pyasn") else {
        return;
    };
    let mut builder = GeoDbBuilder::empty();
    let report = builder.load_auto(dir.join("asnames.json.gz")).unwrap();
    assert_eq!(report.kind, SourceKind::AsNames);
    assert_eq!(
        (report.rows_loaded, report.rows_skipped),
        (77_586, 0),
        "{report}"
    );
    let db = builder.build();
    assert_eq!(db.as_name_count(), 77_586);
    assert_eq!(
        db.as_name(9198),
        Some("KAZTELECOM-AS JSC Kazakhtelecom, KZ")
    );
    assert_eq!(db.as_name(29355), Some("KCELL-AS \"KCell\" JSC, KZ"));
    assert_eq!(db.as_name(15169), Some("GOOGLE - Google Inc., US"));
}

#[test]
fn files_layer_over_the_embedded_tables() {
    let Some(dir) = common::shared_data("geo/ip_location_db_KZ_subset_2026-06-17") else {
        return;
    };
    let mut builder = GeoDbBuilder::embedded();
    builder
        .load_ip_location_db_country(dir.join("geo-whois-asn-country-ipv4.KZ.csv"))
        .unwrap();
    let db = builder.build();
    // The file's KZ range, and embedded data where the file says nothing.
    assert_eq!(db.country_of(ip("2.133.10.20")), Some(cc("KZ")));
    assert_eq!(db.country_of(ip("8.8.8.8")), Some(cc("US")));
    assert_eq!(db.country_of(ip("2a00:12f8::1")), Some(cc("KZ")));
}
