//! How `fleetctl` prints: the `-o text|wide|json|yaml` formats (kubectl's), aligned tables
//! for people, documents for programs, and errors in the asked-for format on stderr (a
//! script that asks for JSON gets `{"error": {...}}`, never a line of prose to parse).

use clap::ValueEnum;
use serde_json::{json, Value};
use std::process::ExitCode;

/// Output format of a command (`-o`, `--output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people: aligned tables and short layouts.
    Text,
    /// Text with more columns.
    Wide,
    /// For programs: the API's document as JSON.
    Json,
    /// The same document as YAML.
    Yaml,
}

impl Output {
    /// A document format (JSON or YAML) rather than text for people.
    pub fn is_document(self) -> bool {
        matches!(self, Output::Json | Output::Yaml)
    }

    /// The wide text layout.
    pub fn is_wide(self) -> bool {
        self == Output::Wide
    }
}

/// A value as the asked-for document: pretty JSON or YAML, ending with a newline.
pub fn document(output: Output, v: &Value) -> String {
    let text = match output {
        Output::Yaml => serde_yaml_ng::to_string(v).map_err(|e| e.to_string()),
        _ => serde_json::to_string_pretty(v)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
    };
    // Both serialisers only fail on maps with non-string keys, which a `Value` never has.
    text.unwrap_or_else(|e| format!("cannot serialise the answer: {e}\n"))
}

/// Exit code when stdout's reader went away: 128 + SIGPIPE, what a shell reports for a
/// program SIGPIPE ended (so `set -o pipefail` still sees that the output was cut).
pub const EXIT_BROKEN_PIPE: i32 = 141;

/// Writes `text` to stdout. A closed pipe (`fleetctl plan | head`) ends fleetctl at once with
/// [`EXIT_BROKEN_PIPE`] and no message, as SIGPIPE ends `cat`; any other write error ends it
/// with the error on stderr and exit 1. Ending in the middle of `reconcile --local` is what a
/// kill would be: the next run observes GitHub again before it writes.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(EXIT_BROKEN_PIPE);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(1);
    }
}

/// Prints a value as a document, or as text for people through `text` (`wide` says which
/// layout).
pub fn print(output: Output, v: &Value, text: impl FnOnce(&Value, bool) -> String) {
    if output.is_document() {
        out!("{}", document(output, v));
    } else {
        out!("{}", text(v, output.is_wide()));
    }
}

/// Prints an error on stderr: `error: …` for people, `{"error": {"message": …}}` (or its
/// YAML) when a document was asked for. Returns the exit code.
pub fn error(output: Output, code: u8, message: impl std::fmt::Display) -> ExitCode {
    // A message may be several errors, each on its line and perhaps already prefixed
    // (a config's errors): said once each, with one prefix.
    let text = message.to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect();
    if output.is_document() {
        let v = json!({"error": {"message": lines.join("\n"), "exit_code": code}});
        eprint!("{}", document(output, &v));
    } else {
        for line in &lines {
            eprintln!("error: {line}");
        }
    }
    ExitCode::from(code)
}

/// A text table whose columns are as wide as their widest cell; the last column is not
/// padded.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Table {
        Table {
            rows: vec![headers.iter().map(|h| h.to_string()).collect()],
        }
    }

    /// Adds a row (missing cells are blank).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Rows besides the header.
    pub fn len(&self) -> usize {
        self.rows.len() - 1
    }

    /// No rows besides the header.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The table as lines.
    pub fn render(&self) -> String {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0usize; cols];
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        for r in &self.rows {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = r.get(i).map(String::as_str).unwrap_or("");
                line.push_str(cell);
                if i + 1 < cols {
                    let pad = width - cell.chars().count();
                    line.push_str(&" ".repeat(pad + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut t = Table::new(&["REPO", "STATUS", "MESSAGE"]);
        t.row(vec!["acme/a".into(), "synced".into(), String::new()]);
        t.row(vec![
            "acme/longer-name".into(),
            "error".into(),
            "boom".into(),
        ]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "REPO              STATUS  MESSAGE");
        assert_eq!(lines[1], "acme/a            synced");
        assert_eq!(lines[2], "acme/longer-name  error   boom");
    }

    #[test]
    fn yaml_is_the_same_document() {
        let v = json!({"repo": {"name": "acme/x", "drifted": false}, "n": [1, 2]});
        let y = document(Output::Yaml, &v);
        let back: Value = serde_yaml_ng::from_str(&y).unwrap();
        assert_eq!(back, v);
        assert!(y.contains("name: acme/x"), "{y}");
    }
}
