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
