//! The store's health (`vigie store check`, `vigie store repair`) and the
//! rule readers share: bins outside the plausible time window (an older
//! vigie stored a row dated 2099) are skipped with a warning, never a
//! failure.

use anyhow::Result;
use vigie_model::{format_utc, TimeRange, TimeWindow};
use vigie_store::{RepairReport, SeriesInfo, Store, StoreCheck};

/// The span of a stored series to read: its extent, cut to the window of
/// what a store may hold now ([`TimeWindow::stored_now`]). Says on stderr
/// when bins outside it are skipped; `None` when none is inside.
pub fn plausible_range(store: &Store, info: &SeriesInfo) -> Result<Option<TimeRange>> {
    let window = TimeWindow::stored_now();
    let range = store.plausible_range(info, window)?;
    let outside = [info.first_bin, info.last_bin]
        .iter()
        .flatten()
        .any(|&t| !window.contains(t));
    if outside {
        eprintln!(
            "warning: {} {} ({} s bins) holds bins outside the plausible time window ({} .. {}); \
             they are skipped (`vigie store check` lists them, `vigie store repair` removes them)",
            info.key.entity,
            info.key.signal,
            info.bin.secs(),
            format_utc(window.earliest()),
            format_utc(window.latest())
        );
    }
    Ok(range)
}

/// Checks the store against [`TimeWindow::stored_now`]: SQLite's
/// integrity check, every stored row decoded, bins outside the window.
pub fn check_store(store: &Store) -> Result<StoreCheck> {
    Ok(store.check(TimeWindow::stored_now())?)
}

/// Removes the bins outside [`TimeWindow::stored_now`].
pub fn repair_store(store: &mut Store) -> Result<RepairReport> {
    Ok(store.repair(TimeWindow::stored_now())?)
}

/// What a check found, for people: one line per finding, the last a
/// verdict.
pub fn describe_check(check: &StoreCheck) -> Vec<String> {
    let mut lines = Vec::new();
    for line in &check.integrity {
        lines.push(format!("integrity: {line}"));
    }
    for line in &check.damaged {
        lines.push(format!("damaged: {line}"));
    }
    for bins in &check.implausible {
        lines.push(format!(
            "implausible: {} {} ({} s bins): {} bin(s) from {} to {}",
            bins.key.entity,
            bins.key.signal,
            bins.bin.secs(),
            bins.bins,
            format_utc(bins.first),
            format_utc(bins.last)
        ));
    }
    let window = format!(
        "{} .. {}",
        format_utc(check.window.earliest()),
        format_utc(check.window.latest())
    );
    if check.is_clean() {
        lines.push(format!(
            "ok: {} stored rows checked, every bin inside {window}",
            check.rows_checked
        ));
    } else {
        lines.push(format!(
            "{} stored rows checked: {} integrity problem(s), {} damaged row(s), {} bin(s) outside {window}{}",
            check.rows_checked,
            check.integrity.len(),
            check.damaged.len(),
            check.implausible_bins(),
            if check.implausible.is_empty() {
                String::new()
            } else {
                "; `vigie store repair` removes the bins outside".to_string()
            }
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use vigie_model::{BinSize, SeriesKey, SignalKind};

    use super::*;

    #[test]
    fn a_bin_dated_2099_is_skipped_by_reads_and_removed_by_repair() {
        let mut store = Store::open_in_memory().unwrap();
        let key = SeriesKey {
            entity: "US".parse().unwrap(),
            signal: SignalKind::HttpRequests,
        };
        let bin = BinSize::FIVE_MINUTES;
        let t = 1_027_380_900;
        store
            .write_points(&key, bin, &[(t, Some(3.0)), (4_083_264_000, Some(9.0))])
            .unwrap();
        let info = store.list_series().unwrap().remove(0);
        let range = plausible_range(&store, &info).unwrap().unwrap();
        assert!(range.contains(t) && range.until() - range.from() <= 86_400);
        let check = check_store(&store).unwrap();
        assert_eq!(check.implausible_bins(), 1);
        assert!(describe_check(&check)
            .last()
            .unwrap()
            .contains("1 bin(s) outside"));
        assert_eq!(repair_store(&mut store).unwrap().bins_removed, 1);
        assert!(check_store(&store).unwrap().is_clean());
    }
}
