//! The MMDB loaders, against databases written here with the `mmdb-writer`
//! crate in the GeoIP2 layout (`country.iso_code`, `registered_country`,
//! `autonomous_system_number`...).

use std::collections::BTreeMap;
use std::io::Write;

use ipnet::IpNet;
use mmdb_writer::Writer;
use serde::Serialize;
use vigie_geo::{CountryCode, Family, GeoDbBuilder, SourceKind};

#[derive(Serialize)]
struct Iso {
    iso_code: &'static str,
    names: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize, Default)]
struct CountryRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<Iso>,
    #[serde(skip_serializing_if = "Option::is_none")]
    registered_country: Option<Iso>,
}

fn iso(code: &'static str, name: &'static str) -> Option<Iso> {
    Some(Iso {
        iso_code: code,
        names: [("en", name)].into(),
    })
}

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

fn cc(text: &str) -> CountryCode {
    CountryCode::new(text).unwrap()
}

fn country_mmdb() -> Vec<u8> {
    let mut writer = Writer::new("GeoLite2-Country");
    let kz = CountryRecord {
        country: iso("KZ", "Kazakhstan"),
        registered_country: iso("KZ", "Kazakhstan"),
    };
    writer.insert(net("2.132.0.0/14"), &kz).unwrap();
    // A more specific network elsewhere in the same /14.
    let kg = CountryRecord {
        country: iso("KG", "Kyrgyzstan"),
        registered_country: iso("KZ", "Kazakhstan"),
    };
    writer.insert(net("2.133.0.0/23"), &kg).unwrap();
    // Only the registered country is known: the loader falls back to it.
    let registered_only = CountryRecord {
        country: None,
        registered_country: iso("UZ", "Uzbekistan"),
    };
    writer.insert(net("5.34.0.0/20"), &registered_only).unwrap();
    // A bad code: reported, not fatal.
    let bad = CountryRecord {
        country: iso("K1", "Nowhere"),
        registered_country: None,
    };
    writer.insert(net("5.35.0.0/24"), &bad).unwrap();
    // No country at all (an anonymous-proxy-like record).
    writer
        .insert(net("5.36.0.0/24"), &CountryRecord::default())
        .unwrap();
    writer.insert(net("2a00:12f8::/32"), &kz).unwrap();
    writer.to_bytes().unwrap()
}

#[test]
fn mmdb_country_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("GeoLite2-Country.mmdb");
    std::fs::write(&path, country_mmdb()).unwrap();

    let mut builder = GeoDbBuilder::empty();
    let report = builder.load_auto(&path).unwrap();
    assert_eq!(report.kind, SourceKind::MmdbCountry);
    assert_eq!(
        report.rows_malformed, 1,
        "{report}: {:?}",
        report.first_errors
    );
    assert!(
        report.first_errors[0].contains("'K1' is not a two-letter country code"),
        "{:?}",
        report.first_errors
    );
    assert_eq!(
        report.rows_skipped, 2,
        "the bad network and the one without a country"
    );
    assert!(report.rows_loaded >= 4, "{report}");
    let db = builder.build();

    assert_eq!(db.country_of("2.132.1.1".parse().unwrap()), Some(cc("KZ")));
    assert_eq!(db.country_of("2.133.1.1".parse().unwrap()), Some(cc("KG")));
    assert_eq!(db.country_of("2.133.2.1".parse().unwrap()), Some(cc("KZ")));
    assert_eq!(db.country_of("5.34.15.1".parse().unwrap()), Some(cc("UZ")));
    assert_eq!(db.country_of("5.35.0.1".parse().unwrap()), None);
    assert_eq!(db.country_of("5.36.0.1".parse().unwrap()), None);
    assert_eq!(
        db.country_of("2a00:12f8:ab::1".parse().unwrap()),
        Some(cc("KZ"))
    );
    let v4 = db.units_per_country(Family::V4);
    assert_eq!(v4[&cc("KZ")], 1024 - 2);
    assert_eq!(v4[&cc("KG")], 2);
    assert_eq!(v4[&cc("UZ")], 16);
    assert_eq!(db.units_per_country(Family::V6)[&cc("KZ")], 65536);
}

#[test]
fn mmdb_gzip_and_ipv4_only_database() {
    let mut writer = Writer::builder("Test-Country")
        .ip_version(mmdb_writer::IpVersion::V4)
        .build();
    let kz = CountryRecord {
        country: iso("KZ", "Kazakhstan"),
        registered_country: None,
    };
    writer.insert(net("95.56.0.0/16"), &kz).unwrap();
    let bytes = writer.to_bytes().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("country.mmdb.gz");
    std::fs::write(&path, gz.finish().unwrap()).unwrap();

    let mut builder = GeoDbBuilder::empty();
    let report = builder.load_mmdb_country(&path).unwrap();
    assert_eq!(
        (report.rows_loaded, report.rows_skipped),
        (1, 0),
        "{report}"
    );
    let db = builder.build();
    assert_eq!(db.units_per_country(Family::V4)[&cc("KZ")], 256);
}

#[derive(Serialize)]
struct AsnRecord {
    autonomous_system_number: u32,
    autonomous_system_organization: &'static str,
}

#[test]
fn mmdb_asn_database() {
    let mut writer = Writer::new("GeoLite2-ASN");
    let kaztelecom = AsnRecord {
        autonomous_system_number: 9198,
        autonomous_system_organization: "JSC Kazakhtelecom",
    };
    writer.insert(net("2.132.0.0/14"), &kaztelecom).unwrap();
    writer.insert(net("95.56.0.0/15"), &kaztelecom).unwrap();
    writer
        .insert(
            net("2.72.0.0/13"),
            &AsnRecord {
                autonomous_system_number: 29355,
                autonomous_system_organization: "Kcell JSC",
            },
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("GeoLite2-ASN.mmdb");
    std::fs::write(&path, writer.to_bytes().unwrap()).unwrap();

    let mut builder = GeoDbBuilder::empty();
    let report = builder.load_auto(&path).unwrap();
    assert_eq!(report.kind, SourceKind::MmdbAsn);
    assert_eq!(report.rows_malformed, 0, "{report}");
    let db = builder.build();
    assert_eq!(db.asn_of("2.134.0.1".parse().unwrap()), Some(9198));
    assert_eq!(db.asn_of("95.57.0.1".parse().unwrap()), Some(9198));
    assert_eq!(db.asn_of("2.79.0.1".parse().unwrap()), Some(29355));
    assert_eq!(db.as_name(29355), Some("Kcell JSC"));
    assert_eq!(db.as_name(9198), Some("JSC Kazakhtelecom"));
}

#[test]
fn not_an_mmdb_is_an_error_not_a_panic() {
    let mut builder = GeoDbBuilder::empty();
    let error = builder
        .load_mmdb_country_bytes(b"this is not a MaxMind database".to_vec(), "junk.mmdb")
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("junk.mmdb: not a usable MaxMind DB file"),
        "{error}"
    );
    // A real database cut short.
    let mut bytes = country_mmdb();
    bytes.truncate(bytes.len() / 2);
    assert!(builder.load_mmdb_country_bytes(bytes, "half.mmdb").is_err());
}
