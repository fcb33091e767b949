//! Rendering a plan: Pulumi/Terraform-style text (`+ ~ -` lines, counts) and JSON.

use super::change::{Change, FileDiff};
use super::step::Plan;
use serde_json::{json, Value};
use std::fmt::Write;

/// How much of a file's diff text shows by default (`fleetctl plan --diff`: all of it).
pub const DIFF_LINES: usize = 40;

/// Options of the text rendering.
#[derive(Debug, Clone, Copy)]
pub struct TextOptions {
    /// Lines of each file's diff shown (`None`: all).
    pub diff_lines: Option<usize>,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            diff_lines: Some(DIFF_LINES),
        }
    }
}

/// A value as a plan shows it: JSON (strings quoted), `(none)` when absent.
fn shown(v: &Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => "(none)".into(),
        Some(v) => v.to_string(),
    }
}

/// One file's before → after: its diff, cut at `limit` lines (saying so).
fn render_file(out: &mut String, f: &FileDiff, limit: Option<usize>) {
    let shas = match &f.before_sha {
        Some(b) => format!(
            "blob {} → {}",
            super::builder::short(b),
            super::builder::short(&f.after_sha)
        ),
        None => format!("new, blob {}", super::builder::short(&f.after_sha)),
    };
    let _ = writeln!(
        out,
        "      {}: {shas} (+{} -{})",
        f.path, f.lines_added, f.lines_removed
    );
    let Some(text) = &f.unified else {
        if let Some(n) = &f.note {
            let _ = writeln!(out, "        ({n})");
        }
        return;
    };
    let lines: Vec<&str> = text.lines().collect();
    let shown = limit.unwrap_or(lines.len()).min(lines.len());
    for l in &lines[..shown] {
        let _ = writeln!(out, "        {l}");
    }
    if shown < lines.len() {
        let _ = writeln!(
            out,
            "        (diff cut at {shown} of {} lines; `fleetctl plan --diff` shows all of it)",
            lines.len()
        );
    }
}

/// What a step changes, indented under it.
fn render_change(out: &mut String, c: &Change, opts: TextOptions) {
    for f in &c.fields {
        let _ = writeln!(
            out,
            "      {}: {} → {}",
            f.field,
            shown(&f.before),
            shown(&f.after)
        );
    }
    if let Some(s) = &c.secret {
        let from = s
            .source
            .as_ref()
            .map(|src| format!(" from {src}"))
            .unwrap_or_default();
        let _ = writeln!(out, "      value: {}{from}", s.change.describe());
    }
    for f in &c.files {
        render_file(out, f, opts.diff_lines);
    }
}

/// The one-line summary, e.g. `Plan: 3 to create, 1 to update, 0 to archive, 0 to delete.`
pub fn summary_line(plan: &Plan) -> String {
    let c = plan.counts();
    let n = |k: &str| c.get(k).copied().unwrap_or(0);
    format!(
        "Plan: {} to create, {} to update, {} to archive, {} to delete, {} to forget.",
        n("create"),
        n("update"),
        n("archive"),
        n("delete"),
        n("forget")
    )
}

/// Text for a terminal (file diffs cut at [`DIFF_LINES`] lines).
pub fn render_text(plan: &Plan) -> String {
    render_text_with(plan, TextOptions::default())
}

/// Text for a terminal, with options.
pub fn render_text_with(plan: &Plan, opts: TextOptions) -> String {
    let mut out = String::new();
    for n in &plan.notices {
        let _ = writeln!(out, "NOTE: {n}");
    }
    for r in &plan.repos {
        if r.steps.is_empty() && r.drift.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}  ({})", r.repo, r.source);
        for s in &r.steps {
            // A secret's `[from SOURCE]` is said on its value line below.
            let said_below = s
                .change
                .secret
                .as_ref()
                .and_then(|c| c.source.as_ref())
                .is_some_and(|src| s.detail == format!("from {src}"));
            // Fields before → after, or a file's own line, say what the detail summarised.
            let shown_below = !s.change.fields.is_empty()
                || (s.kind == crate::plan::Kind::File && !s.change.files.is_empty());
            let detail = if s.detail.is_empty() || said_below || shown_below {
                String::new()
            } else {
                format!(" [{}]", s.detail)
            };
            let _ = writeln!(
                out,
                "  {} {}  ({}){detail}",
                s.action.symbol(),
                s.address,
                s.reason.describe()
            );
            render_change(&mut out, &s.change, opts);
        }
        for d in r.drift.iter().filter(|d| !d.repair) {
            let _ = writeln!(out, "  ! {}  (drift, report only: {})", d.address, d.what);
        }
    }
    if !plan.blocked.is_empty() {
        let _ = writeln!(out, "Not removed:");
        for b in &plan.blocked {
            let _ = writeln!(out, "  = {}  ({})", b.repo, b.reason);
        }
    }
    if !plan.conflicts.is_empty() {
        let _ = writeln!(
            out,
            "Conflicts (not this install's repos; nothing is written to them):"
        );
        for c in &plan.conflicts {
            let _ = writeln!(out, "  ! {}  ({}: {})", c.repo, c.source, c.reason);
        }
    }
    if !plan.unknown_nodes.is_empty() {
        let _ = writeln!(
            out,
            "Discovery unknown (nothing is removed for these nodes):"
        );
        for b in &plan.unknown_nodes {
            let which = match b.listing {
                crate::desired::SourceKind::Project => "",
                crate::desired::SourceKind::Plugin => " (plugins)",
            };
            let _ = writeln!(out, "  ? {}{which}  ({})", b.node, b.reason);
        }
    }
    if !plan.errors.is_empty() {
        let _ = writeln!(out, "Errors:");
        for b in &plan.errors {
            let _ = writeln!(out, "  x {}  ({})", b.repo, b.reason);
        }
    }
    let drifted: usize = plan.repos.iter().map(|r| r.drift.len()).sum();
    let _ = write!(out, "{}", summary_line(plan));
    if drifted > 0 {
        let _ = write!(out, " {drifted} drift finding(s).");
    }
    if !plan.conflicts.is_empty() {
        let _ = write!(
            out,
            " {} ownership conflict(s), not written.",
            plan.conflicts.len()
        );
    }
    out.push('\n');
    out
}

/// JSON: the plan with counts and the summary line.
pub fn render_json(plan: &Plan) -> Value {
    let mut v = serde_json::to_value(plan).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("counts".into(), json!(plan.counts()));
        m.insert("summary".into(), json!(summary_line(plan)));
        m.insert("changes".into(), json!(plan.has_changes()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::change::file_diff;

    #[test]
    fn a_long_diff_is_cut_saying_so_unless_asked_whole() {
        let before: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let after: String = (0..100).map(|i| format!("line {}\n", i * 2)).collect();
        let d = file_diff(
            "a.yml",
            Some("1111111"),
            Some(before.as_bytes()),
            "2222222",
            after.as_bytes(),
        );
        let mut cut = String::new();
        render_file(&mut cut, &d, Some(DIFF_LINES));
        assert!(cut.contains("(diff cut at 40 of"), "{cut}");
        assert!(
            cut.contains("`fleetctl plan --diff` shows all of it"),
            "{cut}"
        );
        let mut whole = String::new();
        render_file(&mut whole, &d, None);
        assert!(!whole.contains("diff cut"), "{whole}");
        assert!(whole.contains("+line 198"), "{whole}");
        assert_eq!(
            whole.lines().count(),
            d.unified.as_deref().unwrap_or("").lines().count() + 1
        );
    }
}
