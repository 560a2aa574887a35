//! Where the CLI writes ([`Console`]) and how: `--output table|yaml|json`, and borderless aligned tables.

use std::io::Write;

use serde_json::Value;

use super::exit::{CliError, CliResult};

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns (lists), or a summary line (writes).
    Table,
    /// YAML.
    Yaml,
    /// Pretty JSON.
    Json,
}

impl Format {
    /// Reads `table`, `yaml` or `json`.
    pub fn parse(text: &str) -> CliResult<Format> {
        match text.to_ascii_lowercase().as_str() {
            "table" | "wide" => Ok(Format::Table),
            "yaml" | "yml" => Ok(Format::Yaml),
            "json" => Ok(Format::Json),
            other => Err(CliError::usage(format!(
                "Unknown output format '{other}'; use table, yaml or json."
            ))),
        }
    }
}

/// The CLI's standard output and error; `tty` says whether the error stream is a terminal (progress bars).
pub struct Console<'a> {
    /// Results.
    pub out: &'a mut (dyn Write + Send),
    /// Progress and messages.
    pub err: &'a mut (dyn Write + Send),
    /// Whether `err` is a terminal.
    pub tty: bool,
}

impl Console<'_> {
    /// Writes `text` to standard output, adding a newline if it has none.
    pub fn print(&mut self, text: &str) -> CliResult<()> {
        let nl = if text.ends_with('\n') { "" } else { "\n" };
        write!(self.out, "{text}{nl}").map_err(|e| CliError::Failed(format!("cannot write output: {e}")))
    }

    /// Writes `text` and a newline to standard error.
    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.err, "{text}");
    }

    /// Writes `value` as YAML or JSON (a table format falls back to YAML).
    pub fn value(&mut self, value: &Value, format: Format) -> CliResult<()> {
        let text = render(value, format)?;
        self.print(&text)
    }
}

/// `value` as YAML or pretty JSON.
pub fn render(value: &Value, format: Format) -> CliResult<String> {
    match format {
        Format::Json => serde_json::to_string_pretty(value)
            .map_err(|e| CliError::Failed(format!("cannot write JSON: {e}"))),
        Format::Table | Format::Yaml => {
            let text = vamp_core::dsl::write::json_to_yaml_string(value)
                .map_err(|e| CliError::Failed(e.message().to_string()))?;
            Ok(text.strip_prefix("---\n").unwrap_or(&text).to_string())
        }
    }
}

/// A borderless table: upper-case headers, columns padded to their widest cell, three spaces apart.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(cell.chars().count())
                    + 3;
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// A scalar JSON value as table text (`-` for missing or null).
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => other.to_string(),
    }
}
