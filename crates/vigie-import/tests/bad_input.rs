//! Hostile and broken inputs: every one is reported, none panics.

use vigie_import::{
    import_dashboard_csv, import_ioda_json, import_long_csv, ImportOptions, IssueKind,
};

fn iq() -> ImportOptions {
    ImportOptions {
        entity: Some("IQ".parse().unwrap()),
        ..ImportOptions::default()
    }
}

#[test]
fn dashboard_csv_with_every_kind_of_problem() {
    let csv = "timestamp,bgp,ping-slash24,mystery,LABEL\n\
               1692493200,2917,581,1,0\n\
               1692493500,2917,-3,1,1\n\
               1692493500,2918,580,1,1\n\
               1692493200,2917,581,1,0\n\
               not-a-time,1,1,1,0\n\
               1692494100,inf,NaN,1,maybe\n\
               1692494700,2917\n\
               1692495000,\"broken,2917,1,1,0\n";
    let imported = import_dashboard_csv(csv.as_bytes(), "bad.csv", &iq()).unwrap();
    let r = &imported.report;
    assert_eq!(r.count(IssueKind::Negative), 1, "{r}");
    assert_eq!(r.count(IssueKind::Duplicate), 4, "{r}"); // two signals × two repeated times
    assert_eq!(r.count(IssueKind::OutOfOrder), 2, "{r}");
    assert_eq!(r.count(IssueKind::BadTime), 1, "{r}");
    assert_eq!(r.count(IssueKind::BadNumber), 1, "{r}"); // the broken quote swallows the row
    assert_eq!(r.count(IssueKind::NotANumber), 2, "{r}");
    assert_eq!(r.count(IssueKind::BadLabel), 1, "{r}");
    assert_eq!(r.count(IssueKind::UnknownColumn), 1, "{r}");
    assert!(r.count(IssueKind::BadRow) >= 1, "{r}");
    assert_eq!(r.unknown_columns, vec!["mystery".to_string()]);
    // The text report names the file and line of each problem.
    let text = r.to_string();
    assert!(text.contains("bad.csv:3"), "{text}");
    // Values kept: bin 01:05 keeps its first values (2917, and no data for -3).
    let bgp = &imported.series[0];
    assert_eq!(bgp.values[1], Some(2917.0));
}

#[test]
fn mixed_bin_sizes_are_reported() {
    let mut csv = String::from("time,entity,signal,value\n");
    let t0 = 1_692_493_200i64;
    for i in 0..20 {
        csv.push_str(&format!("{},IQ,bgp,10\n", t0 + i * 300));
    }
    for i in 0..5 {
        csv.push_str(&format!("{},IQ,bgp,10\n", t0 + 6000 + 420 * i));
    }
    let imported = import_long_csv(csv.as_bytes(), "mixed.csv", &ImportOptions::default()).unwrap();
    assert_eq!(imported.report.count(IssueKind::MixedBinSizes), 1);
    assert_eq!(imported.series[0].bin.secs(), 300);
    assert!(imported.report.count(IssueKind::Misaligned) >= 1);
}

#[test]
fn arbitrary_bytes_never_panic() {
    let samples: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff, 0xfe, 0x00, 0x01],
        b"\"".to_vec(),
        b"timestamp,bgp\n99999999999999999999,1\n".to_vec(),
        b"timestamp,bgp\n-1,1\n1e300,2\n".to_vec(),
        b"time,entity,signal,value\n2022-01-01,AS99999999999,bgp,1\n".to_vec(),
        b"[[{\"datasource\":\"bgp\",\"entityType\":\"country\",\"entityCode\":\"IQ\",\"from\":9223372036854775807,\"step\":300,\"values\":[1,2]}]]".to_vec(),
        b"[[{\"datasource\":\"bgp\",\"entityType\":\"country\",\"entityCode\":\"IQ\",\"from\":1692493200,\"step\":-300,\"values\":[1]}]]".to_vec(),
        b"{\"data\":[[{\"datasource\":\"bgp\",\"entityType\":\"asn\",\"entityCode\":\"x\",\"from\":1692493200,\"step\":300,\"values\":[\"a\",{},[],true,-1,1e999]}]]}".to_vec(),
    ];
    for bytes in samples {
        let _ = import_ioda_json(&bytes, "fuzz", &ImportOptions::default());
        let _ = import_dashboard_csv(bytes.as_slice(), "fuzz", &iq());
        let _ = import_long_csv(bytes.as_slice(), "fuzz", &ImportOptions::default());
    }
}

#[test]
fn ioda_json_values_of_the_wrong_type_are_no_data() {
    let json = br#"{"data":[[{"datasource":"bgp","entityType":"country","entityCode":"IQ",
        "from":1692493200,"until":1692494700,"step":300,"values":[1,"2",null,"x",-4]}]]}"#;
    let imported = import_ioda_json(json, "t.json", &ImportOptions::default()).unwrap();
    assert_eq!(
        imported.series[0].values,
        vec![Some(1.0), Some(2.0), None, None, None]
    );
    assert_eq!(imported.report.count(IssueKind::BadNumber), 1);
    assert_eq!(imported.report.count(IssueKind::Negative), 1);
    assert_eq!(imported.report.count(IssueKind::Inconsistent), 0);
}
