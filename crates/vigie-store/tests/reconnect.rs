//! `Store::reconnect`: another handle on the same database, opened from a
//! handle rather than a path.

use vigie_model::{BinSize, Entity, SeriesKey, SignalKind};
use vigie_store::Store;

#[test]
fn a_reconnection_sees_what_the_first_handle_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Store::open(dir.path()).unwrap();
    let key = SeriesKey {
        entity: "KZ".parse::<Entity>().unwrap(),
        signal: SignalKind::BgpVisibleSlash24s,
    };
    first
        .write_bin(
            "test",
            BinSize::FIVE_MINUTES,
            1_641_000_000,
            &[(key.clone(), Some(7.0))],
        )
        .unwrap();
    let second = first.reconnect().unwrap();
    assert_eq!(second.location(), first.location());
    let series = second.list_series().unwrap();
    assert!(series.iter().any(|info| info.key == key));
}

#[test]
fn a_store_in_memory_has_no_other_connection() {
    let store = Store::open_in_memory().unwrap();
    assert!(store.reconnect().is_err());
}
