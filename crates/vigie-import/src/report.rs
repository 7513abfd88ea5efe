//! What an import read, kept and skipped, and why.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// How many issues are listed one by one; later ones are only counted.
pub const MAX_LISTED_ISSUES: usize = 200;

/// The kind of a problem found in the input. Every kind is counted; none stops
/// the import.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssueKind {
    /// A row or record that could not be read at all (wrong field count,
    /// broken quoting, invalid UTF-8); it was skipped.
    BadRow,
    /// A time that is not ISO 8601 UTC, a date or Unix seconds; the row was skipped.
    BadTime,
    /// A value that is not a number; rejected (not stored: a value stored
    /// before for that bin stays).
    BadNumber,
    /// A NaN or infinite value; rejected (not stored).
    NotANumber,
    /// A negative value for a signal that counts things; rejected (not stored).
    Negative,
    /// A value a little outside its scale by construction (a smoothed
    /// connectivity index below 0); stored at the scale's bound.
    Clamped,
    /// A second value for a bin that already had one; the first was kept.
    Duplicate,
    /// A row whose time is earlier than the previous row of the same series;
    /// it was placed in its bin all the same.
    OutOfOrder,
    /// A time that is not on a bin boundary; it was moved to the start of its bin.
    Misaligned,
    /// Steps between rows of different sizes; the most common one was used.
    MixedBinSizes,
    /// A column that vigie does not know; its values were ignored.
    UnknownColumn,
    /// A signal or IODA datasource name with no vigie equivalent; skipped.
    UnknownSignal,
    /// An entity that could not be read or mapped; the row or series was skipped.
    UnknownEntity,
    /// A label that is neither 0 nor 1; ignored.
    BadLabel,
    /// A series header that contradicts its values (length, step, times).
    Inconsistent,
}

impl IssueKind {
    /// A short stable name, as used in JSON reports.
    pub fn name(self) -> &'static str {
        match self {
            IssueKind::BadRow => "bad-row",
            IssueKind::BadTime => "bad-time",
            IssueKind::BadNumber => "bad-number",
            IssueKind::NotANumber => "not-a-number",
            IssueKind::Negative => "negative",
            IssueKind::Clamped => "clamped",
            IssueKind::Duplicate => "duplicate",
            IssueKind::OutOfOrder => "out-of-order",
            IssueKind::Misaligned => "misaligned",
            IssueKind::MixedBinSizes => "mixed-bin-sizes",
            IssueKind::UnknownColumn => "unknown-column",
            IssueKind::UnknownSignal => "unknown-signal",
            IssueKind::UnknownEntity => "unknown-entity",
            IssueKind::BadLabel => "bad-label",
            IssueKind::Inconsistent => "inconsistent",
        }
    }
}

impl fmt::Display for IssueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One problem found in the input, with where it was.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct Issue {
    /// What kind of problem.
    pub kind: IssueKind,
    /// Where: `file:line` for CSV, `file: data[i][j].values[k]` for JSON.
    pub location: String,
    /// What happened and what was done about it.
    pub message: String,
}

/// The account of one import: what was read, kept, fixed and skipped.
///
/// Every issue is counted in [`ImportReport::counts`]; the first
/// [`MAX_LISTED_ISSUES`] are also listed with their location.
#[derive(Clone, PartialEq, Debug, Default, Serialize)]
pub struct ImportReport {
    /// The file or stream name the locations refer to.
    pub source: String,
    /// Data rows (CSV) or values (JSON) read, good or bad.
    pub rows_read: u64,
    /// Values stored into series (including explicit "no data" cells).
    pub values_imported: u64,
    /// How many issues of each kind were found.
    pub counts: BTreeMap<IssueKind, u64>,
    /// The first issues, with their location.
    pub issues: Vec<Issue>,
    /// Columns that were ignored because vigie does not know them.
    pub unknown_columns: Vec<String>,
    /// Remarks about the whole file (bin size chosen, normalised values...).
    pub notes: Vec<String>,
}

impl ImportReport {
    /// An empty report for `source`.
    pub fn new(source: &str) -> Self {
        ImportReport {
            source: source.to_string(),
            ..ImportReport::default()
        }
    }

    /// Counts an issue and lists it while fewer than [`MAX_LISTED_ISSUES`] are listed.
    pub fn add(&mut self, kind: IssueKind, location: String, message: String) {
        *self.counts.entry(kind).or_insert(0) += 1;
        if self.issues.len() < MAX_LISTED_ISSUES {
            self.issues.push(Issue {
                kind,
                location,
                message,
            });
        }
    }

    /// How many issues of `kind` were found.
    pub fn count(&self, kind: IssueKind) -> u64 {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    /// The total number of issues of every kind.
    pub fn total_issues(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Records a note about the whole input.
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// `file:line`, the location format of CSV issues.
    pub(crate) fn at_line(&self, line: u64) -> String {
        format!("{}:{}", self.source, line)
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} rows read, {} values imported, {} issues",
            self.source,
            self.rows_read,
            self.values_imported,
            self.total_issues()
        )?;
        for (kind, count) in &self.counts {
            writeln!(f, "  {kind}: {count}")?;
        }
        if !self.unknown_columns.is_empty() {
            writeln!(f, "  ignored columns: {}", self.unknown_columns.join(", "))?;
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        for issue in &self.issues {
            writeln!(f, "  {} [{}] {}", issue.location, issue.kind, issue.message)?;
        }
        let unlisted = self.total_issues().saturating_sub(self.issues.len() as u64);
        if unlisted > 0 {
            writeln!(f, "  ... and {unlisted} more issues (counted above)")?;
        }
        Ok(())
    }
}
