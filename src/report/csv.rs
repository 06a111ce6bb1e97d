//! A small CSV table, rewritten whole on every save so that a run can save
//! it after each epoch and a reader always finds a complete file.

use std::path::Path;

use super::{write_file, ReportError};

/// A table of strings: a header row and data rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Csv {
    /// Column names.
    pub header: Vec<String>,
    /// Data rows, each a list of cells in column order.
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    /// An empty table with these column names.
    pub fn new<S: ToString>(header: &[S]) -> Csv {
        Csv {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends one row; use `format!` for numbers so the caller picks the
    /// precision. A row shorter or longer than the header is kept as it is.
    pub fn push_row<S: ToString>(&mut self, row: &[S]) {
        self.rows.push(row.iter().map(|c| c.to_string()).collect());
    }

    /// The table as CSV text (RFC 4180 quoting, `\n` line ends).
    pub fn to_string_csv(&self) -> String {
        let mut out = String::new();
        for line in std::iter::once(&self.header).chain(self.rows.iter()) {
            let cells: Vec<String> = line.iter().map(|c| quote(c)).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    /// Parses CSV text as written by [`Csv::to_string_csv`]: the first
    /// record is the header.
    pub fn parse(text: &str) -> Csv {
        let mut records = parse_records(text).into_iter();
        let header = records.next().unwrap_or_default();
        Csv {
            header,
            rows: records.collect(),
        }
    }

    /// Writes the whole table to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), ReportError> {
        write_file(path, self.to_string_csv().as_bytes())
    }

    /// Reads a table written by [`Csv::save`].
    pub fn load(path: &Path) -> Result<Csv, ReportError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReportError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Csv::parse(&text))
    }
}

fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

fn parse_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut cell = String::new();
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    cell.push('"');
                    chars.next();
                }
                '"' => in_quotes = false,
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            ',' => record.push(std::mem::take(&mut cell)),
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut cell));
                records.push(std::mem::take(&mut record));
            }
            _ => cell.push(c),
        }
    }
    if !cell.is_empty() || !record.is_empty() {
        record.push(cell);
        records.push(record);
    }
    records
}
