//! Printing rows as an aligned table, CSV or JSON.

use std::io::{self, Write};

use crate::cli::Format;

/// A table to print: a header and rows of cells; `None` cells are empty.
pub struct Rows {
    /// Column names.
    pub header: Vec<&'static str>,
    /// The rows.
    pub rows: Vec<Vec<Option<String>>>,
}

impl Rows {
    /// A table with these columns and no rows yet.
    pub fn new(header: Vec<&'static str>) -> Self {
        Rows {
            header,
            rows: Vec::new(),
        }
    }

    /// Prints the table in `format` to standard output.
    /// A reader that stopped early (`vigie series … | head`) is not an error.
    pub fn print(&self, format: Format) -> io::Result<()> {
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        let written = match format {
            Format::Table => self.write_table(&mut out),
            Format::Csv => self.write_csv(&mut out),
            Format::Json => self.write_json(&mut out),
        }
        .and_then(|()| out.flush());
        match written {
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }

    fn write_table(&self, out: &mut impl Write) -> io::Result<()> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                let len = cell.as_deref().unwrap_or("-").chars().count();
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(len);
                }
            }
        }
        let line = |cells: Vec<&str>, out: &mut dyn Write| -> io::Result<()> {
            let text: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            writeln!(out, "{}", text.join("  ").trim_end())
        };
        line(self.header.clone(), out)?;
        for row in &self.rows {
            line(
                row.iter().map(|c| c.as_deref().unwrap_or("-")).collect(),
                out,
            )?;
        }
        Ok(())
    }

    fn write_csv(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "{}", self.header.join(","))?;
        for row in &self.rows {
            let cells: Vec<String> = row
                .iter()
                .map(|c| csv_cell(c.as_deref().unwrap_or("")))
                .collect();
            writeln!(out, "{}", cells.join(","))?;
        }
        Ok(())
    }

    fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        let objects: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|row| {
                let map: serde_json::Map<String, serde_json::Value> = self
                    .header
                    .iter()
                    .zip(row)
                    .map(|(h, c)| (h.to_string(), json_cell(c.as_deref())))
                    .collect();
                serde_json::Value::Object(map)
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &objects)?;
        writeln!(out)
    }
}

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn json_cell(text: Option<&str>) -> serde_json::Value {
    match text {
        None => serde_json::Value::Null,
        Some(t) => match t.parse::<f64>() {
            Ok(n) if n.is_finite() && !t.starts_with('+') => serde_json::json!(n),
            _ => serde_json::Value::String(t.to_string()),
        },
    }
}

/// Formats a value: integers without a decimal point.
pub fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}
