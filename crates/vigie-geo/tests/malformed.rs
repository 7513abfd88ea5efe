//! Bad input is counted and reported, never fatal, never a panic.

use std::io::Write;

use vigie_geo::{GeoDbBuilder, GeoError, SourceKind, MAX_REPORTED_ERRORS};

#[test]
fn malformed_rir_rows_are_counted_with_file_and_line() {
    let text = "\
2|ripencc|1539467999|189189|19830705|20181013|+0200
ripencc|*|ipv4|*|72789|summary
ripencc|KZ|ipv4|2.132.0.0|262144|20101223|allocated|x
ripencc|KZ|ipv4|2.132.0|256|20101223|allocated|x
ripencc|KZ|ipv4|2.136.0.0|-5|20101223|allocated|x
ripencc|KZ|ipv4
ripencc|KZ|ipv6|2a00:12f8::|300|20090902|allocated|x
ripencc||ipv4|3.0.0.0|256||available|
ripencc|KZ|asn|9198|1|20020114|allocated|x
";
    let mut builder = GeoDbBuilder::empty();
    let report = builder
        .load_rir_delegated_from(text.as_bytes(), "stats.txt")
        .unwrap();
    assert_eq!(report.kind, SourceKind::RirDelegated);
    assert_eq!(report.rows_loaded, 1);
    assert_eq!(report.rows_malformed, 4);
    assert_eq!(report.rows_skipped, 6);
    assert_eq!(
        report.first_errors,
        [
            "stats.txt:4: '2.132.0' is not an IPv4 address",
            "stats.txt:5: '-5' is not a positive IPv4 address count",
            "stats.txt:6: expected registry|cc|type|start|value|date|status, found 3 field(s)",
            "stats.txt:7: '300' is not an IPv6 prefix length (0-128)",
        ]
    );
    let db = builder.build();
    assert_eq!(
        db.country_of("2.133.0.1".parse().unwrap())
            .map(|c| c.to_string()),
        Some("KZ".into())
    );
}

#[test]
fn malformed_csv_rows_and_invalid_utf8() {
    let mut text = b"1.0.0.0,1.0.0.255,AU\n".to_vec();
    text.extend_from_slice(b"1.0.1.0,1.0.1.255,\xff\xfe\n");
    text.extend_from_slice(b"1.0.2.0,1.0.1.255,AU\n");
    text.extend_from_slice(b"1.0.3.0\n");
    text.extend_from_slice(b"\"1.0.4.0,1.0.4.255,AU\n"); // unbalanced quote runs to the end
    let mut builder = GeoDbBuilder::empty();
    let report = builder
        .load_ip_location_db_country_from(text.as_slice(), "c.csv")
        .unwrap();
    assert_eq!(report.rows_loaded, 1, "{report}: {:?}", report.first_errors);
    assert_eq!(report.rows_malformed, 4, "{:?}", report.first_errors);
    assert_eq!(report.first_errors[0], "c.csv:2: not UTF-8 text");
    assert_eq!(
        report.first_errors[1],
        "c.csv:3: range start 1.0.2.0 is after its end 1.0.1.255"
    );
}

#[test]
fn many_errors_keep_only_the_first_messages() {
    let text: String = (0..100).map(|i| format!("garbage line {i}\n")).collect();
    let mut builder = GeoDbBuilder::empty();
    let report = builder.load_prefix2as_from(text.as_bytes(), "p2a").unwrap();
    assert_eq!(report.rows_malformed, 100);
    assert_eq!(report.first_errors.len(), MAX_REPORTED_ERRORS);
    assert!(
        report.first_errors[0].starts_with("p2a:1: "),
        "{}",
        report.first_errors[0]
    );
}

#[test]
fn as_names_bad_keys_and_values() {
    let mut builder = GeoDbBuilder::empty();
    let report = builder
        .load_as_names_from(
            r#"{"9198": "KAZTELECOM-AS", "x1": "bad", "5": 7, "6": ""}"#.as_bytes(),
            "n.json",
        )
        .unwrap();
    assert_eq!(
        (
            report.rows_loaded,
            report.rows_skipped,
            report.rows_malformed
        ),
        (1, 3, 2)
    );
    let error = builder
        .load_as_names_from("{\"9198\": ".as_bytes(), "cut.json")
        .unwrap_err();
    assert!(matches!(error, GeoError::Json { .. }), "{error}");
    // The text form.
    let report = builder
        .load_as_names_from("29355 KCELL-AS, KZ\nnot-a-number x\n".as_bytes(), "asn.txt")
        .unwrap();
    assert_eq!((report.rows_loaded, report.rows_malformed), (1, 1));
    let db = builder.build();
    assert_eq!(db.as_name(9198), Some("KAZTELECOM-AS"));
    assert_eq!(db.as_name(29355), Some("KCELL-AS, KZ"));
}

#[test]
fn gzip_input_and_truncated_gzip() {
    let text = "1.0.0.0/24\t15169\n2.132.88.0/22\t9198\n".repeat(2000);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();

    let mut builder = GeoDbBuilder::empty();
    let report = builder
        .load_prefix2as_from(bytes.as_slice(), "t.dat.gz")
        .unwrap();
    assert_eq!(report.rows_loaded, 4000);

    let cut = &bytes[..bytes.len() / 2];
    let error = builder.load_prefix2as_from(cut, "cut.dat.gz").unwrap_err();
    assert!(error.to_string().starts_with("cut.dat.gz:"), "{error}");
    assert!(
        error.to_string().contains("truncated or corrupt"),
        "{error}"
    );
}

#[test]
fn missing_and_unrecognisable_files() {
    let mut builder = GeoDbBuilder::empty();
    let error = builder.load_auto("/nonexistent/delegated-x").unwrap_err();
    assert!(matches!(error, GeoError::Open { .. }), "{error}");

    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("table.txt");
    std::fs::write(&odd, "hello world, how are you\n").unwrap();
    assert!(matches!(
        builder.load_auto(&odd),
        Err(GeoError::UnknownKind { .. })
    ));
    let binary = dir.path().join("blob.bin");
    std::fs::write(&binary, [0u8, 1, 2, 3, 0, 0, 7]).unwrap();
    assert!(matches!(
        builder.load_auto(&binary),
        Err(GeoError::Mmdb { .. })
    ));

    // Recognised by content when the name says nothing.
    let rir = dir.path().join("stats");
    std::fs::write(
        &rir,
        "apnic|JP|ipv4|1.0.16.0|4096|20110412|allocated|A92D9378\n",
    )
    .unwrap();
    assert_eq!(
        builder.load_auto(&rir).unwrap().kind,
        SourceKind::RirDelegated
    );
    let p2a = dir.path().join("routes");
    std::fs::write(&p2a, "1.0.0.0\t24\t13335\n").unwrap();
    assert_eq!(builder.load_auto(&p2a).unwrap().kind, SourceKind::Prefix2As);
    let asn = dir.path().join("ranges");
    std::fs::write(&asn, "1.0.0.0,1.0.0.255,13335,Cloudflare\n").unwrap();
    assert_eq!(
        builder.load_auto(&asn).unwrap().kind,
        SourceKind::IpLocationDbAsn
    );
    let db = builder.build();
    assert_eq!(db.asn_of("1.0.0.1".parse().unwrap()), Some(13335));
    assert_eq!(
        db.country_of("1.0.16.1".parse().unwrap())
            .map(|c| c.to_string()),
        Some("JP".into())
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap in-test fuzz pass; the fuzz/ crate does this properly.
    const ALPHABET: &[u8] = b"0123456789.:/|,\t\n;#{}\"_abKZ \xff";
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for round in 0..300 {
        let len = (round * 7) % 400;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Bias towards the characters the formats use.
                ALPHABET[(state % ALPHABET.len() as u64) as usize]
            })
            .collect();
        let mut builder = GeoDbBuilder::embedded();
        let _ = builder.load_rir_delegated_from(bytes.as_slice(), "fuzz");
        let _ = builder.load_ip_location_db_country_from(bytes.as_slice(), "fuzz");
        let _ = builder.load_ip_location_db_asn_from(bytes.as_slice(), "fuzz");
        let _ = builder.load_dbip_city_regions_from(bytes.as_slice(), "fuzz");
        let _ = builder.load_prefix2as_from(bytes.as_slice(), "fuzz");
        let _ = builder.load_as_names_from(bytes.as_slice(), "fuzz");
        let _ = builder.load_mmdb_country_bytes(bytes.clone(), "fuzz");
        let _ = builder.load_mmdb_asn_bytes(bytes.clone(), "fuzz");
    }
}
