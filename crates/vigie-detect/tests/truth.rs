//! IODA's hand-investigated outages (SIGCOMM'23), read as labels.

mod common;

use vigie_detect::parse_truth_csv;
use vigie_model::format_utc;

#[test]
fn reads_the_investigated_outage_list() {
    let Some(dir) = common::shared_data() else {
        return;
    };
    let path = dir.join("truth/ioda_investigated_outages_2018-2022.csv");
    let file = std::fs::File::open(&path).expect("open truth list");
    let set = parse_truth_csv(file, &path.display().to_string()).expect("parse");
    assert_eq!(set.rows_read, 1704);
    // Every row is either a label or a reported skip. The list itself has
    // 78 rows whose end is not after their begin (midnight crossings with
    // the date unchanged, zero-length entries) and some with no end time.
    assert_eq!(set.labels.len() + set.skipped.len(), 1704);
    assert!(
        set.labels.len() >= 1590,
        "{} labels, skipped: {:?}",
        set.labels.len(),
        set.skipped
    );
    assert!(set
        .skipped
        .iter()
        .all(|(_, reason)| reason == "end is not after begin" || reason.contains("unreadable")));
    let iraq = set
        .labels
        .iter()
        .find(|l| l.id.as_deref() == Some("9DAE1FAD"))
        .expect("Iraq 2018-06-13");
    assert_eq!(iraq.entity.to_string(), "IQ");
    assert_eq!(format_utc(iraq.start), "2018-06-13T03:00:00Z");
    assert_eq!(format_utc(iraq.end), "2018-06-13T08:00:00Z");
    let regions = set
        .labels
        .iter()
        .filter(|l| matches!(l.entity, vigie_model::Entity::Region(_)))
        .count();
    let ases = set
        .labels
        .iter()
        .filter(|l| matches!(l.entity, vigie_model::Entity::Asn(_)))
        .count();
    assert!(regions > 600 && ases > 50, "regions {regions}, ASes {ases}");
    for (location, reason) in &set.skipped {
        println!("skipped {location}: {reason}");
    }
}
