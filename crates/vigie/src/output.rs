//! Printing `vigie_pipeline::Rows` in the format of `--format`.

use std::io::{self, Write};

use vigie_pipeline::{Rows, TableFormat};

use crate::cli::Format;

/// Prints `rows` in `format` to standard output. A reader that stopped
/// early (`vigie series … | head`) is not an error.
pub fn print(rows: &Rows, format: Format) -> io::Result<()> {
    let format = match format {
        Format::Table => TableFormat::Table,
        Format::Csv => TableFormat::Csv,
        Format::Json => TableFormat::Json,
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    match rows.write(format, &mut out).and_then(|()| out.flush()) {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
