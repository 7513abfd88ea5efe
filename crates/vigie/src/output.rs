//! Printing: `vigie_pipeline::Rows` to standard output, and progress bars.

use std::io::{self, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vigie_pipeline::{Rows, TableFormat};

/// Prints `rows` in `format` to standard output. A reader that stopped
/// early (`vigie series … | head`) is not an error.
pub fn print(rows: &Rows, format: TableFormat) -> io::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    match rows.write(format, &mut out).and_then(|()| out.flush()) {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The progress bar of a command going through entities.
pub const ENTITIES_BAR: &str =
    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} entities ({eta} left) {msg}";

/// A progress bar on stderr drawn with `template` (indicatif's syntax).
pub fn progress_bar(length: Option<u64>, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// A progress bar of bytes with an ETA on stderr, hidden when `hidden`.
pub fn bytes_bar(hidden: bool) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let template =
        "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({eta} left) {msg}";
    let bar = progress_bar(Some(1), template);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
