//! Reading CSV records the same way in every CSV format: ragged rows
//! allowed, cells trimmed, and a row that cannot be read counted, reported
//! and skipped.

use std::io::Read;

use csv::{ByteRecord, Reader, ReaderBuilder};

use crate::report::{ImportReport, IssueKind};

/// A CSV reader over `input` that accepts rows of any length and trims
/// every cell; `has_headers` says whether the first row is a header.
pub(crate) fn reader<R: Read>(input: R, has_headers: bool) -> Reader<R> {
    ReaderBuilder::new()
        .has_headers(has_headers)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input)
}

/// Reads the next readable record into `record` and returns its line, or
/// `None` at the end of the input. Each unreadable row on the way (broken
/// quoting, an I/O error) is counted as read and reported as a bad row.
pub(crate) fn next_record<R: Read>(
    csv_reader: &mut Reader<R>,
    record: &mut ByteRecord,
    report: &mut ImportReport,
) -> Option<u64> {
    loop {
        let line = csv_reader.position().line() + 1;
        match csv_reader.read_byte_record(record) {
            Ok(false) => return None,
            Ok(true) => return Some(record.position().map(|p| p.line()).unwrap_or(line)),
            Err(err) => {
                report.rows_read += 1;
                let at = report.at_line(line);
                report.add(
                    IssueKind::BadRow,
                    at,
                    format!("unreadable row ({err}); skipped"),
                );
            }
        }
    }
}
