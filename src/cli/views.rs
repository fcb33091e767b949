//! Text layouts of fleetd's documents for people: `status`, the `repos` table and one repo's
//! detail, the `runs` table and one run, `drift` and `events`. Each takes the API's JSON (so
//! `-o json` and the text show the same facts) and `wide` for the layout with more columns.

use super::output::Table;
use serde_json::Value;

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(|x| x.as_str()).unwrap_or("-")
}

fn opt<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(|x| x.as_str()).unwrap_or("")
}

fn num(v: &Value, ptr: &str) -> String {
    match v.pointer(ptr) {
        Some(Value::Null) | None => "-".into(),
        Some(x) => x.to_string(),
    }
}

fn yes_no(v: &Value, ptr: &str) -> &'static str {
    if v.pointer(ptr).and_then(|b| b.as_bool()) == Some(true) {
        "yes"
    } else {
        "no"
    }
}

/// `synced`, or `pending-removal (archive in 71h)` for a repo whose source is gone.
pub fn repo_status(r: &Value) -> String {
    let status = s(r, "/status");
    match r.get("removal").filter(|x| !x.is_null()) {
        Some(rm) => format!(
            "{status} ({} {})",
            s(rm, "/action"),
            due_in(opt(rm, "/due_at"))
        ),
        None => status.to_string(),
    }
}

/// `in 71h` / `in 5m` / `now` (the guard acts at the next run) for an RFC 3339 time.
fn due_in(t: &str) -> String {
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(t) else {
        return "at the next run".into();
    };
    let secs = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    if secs <= 0 {
        return "at the next run".into();
    }
    format!("in {}", span(secs))
}

/// `71h` (whole hours from ten hours on), `2h 5m`, `4m 10s`, `12s`.
fn span(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (h, _) if h >= 10 => format!("{h}h"),
        (h, m) if h > 0 => format!("{h}h {m}m"),
        (_, m) if m > 0 => format!("{m}m {s}s"),
        _ => format!("{s}s"),
    }
}

/// Why a repo needs attention, in one line: its last error, or why it is being removed.
fn repo_message(r: &Value) -> String {
    if let Some(since) = r.get("suspended_since").and_then(|e| e.as_str()) {
        return format!(
            "suspended since {since}: no GitHub writes until `fleetctl resume --repo {}`",
            s(r, "/name")
        );
    }
    if let Some(e) = r.get("last_error").and_then(|e| e.as_str()) {
        return e.to_string();
    }
    match r.get("removal").filter(|x| !x.is_null()) {
        Some(rm) => format!(
            "{} gone since {}; {} due {}",
            s(rm, "/source"),
            s(rm, "/missing_since"),
            s(rm, "/action"),
            s(rm, "/due_at")
        ),
        None => String::new(),
    }
}

/// Text for `fleetctl repos`: one aligned row per repo, with a message column.
pub fn repos_text(v: &Value, wide: bool) -> String {
    let mut t = if wide {
        Table::new(&[
            "REPO", "STATUS", "DRIFT", "SOURCE", "LAST RUN", "UPDATED", "MESSAGE",
        ])
    } else {
        Table::new(&["REPO", "STATUS", "DRIFT", "SOURCE", "MESSAGE"])
    };
    for r in v["repos"].as_array().into_iter().flatten() {
        let source = format!(
            "{}:{}/{}",
            s(r, "/source_kind"),
            s(r, "/node"),
            s(r, "/source_key")
        );
        let mut row = vec![
            s(r, "/name").to_string(),
            repo_status(r),
            yes_no(r, "/drifted").to_string(),
            source,
        ];
        if wide {
            row.push(num(r, "/last_run_id"));
            row.push(s(r, "/updated_at").to_string());
        }
        row.push(repo_message(r));
        t.row(row);
    }
    if t.is_empty() {
        return "no managed repos\n".into();
    }
    t.render()
}

/// Text for `fleetctl repos NAME`: the repo, then its resources and its drift.
pub fn repo_detail_text(v: &Value, wide: bool) -> String {
    let r = &v["repo"];
    let mut out = String::new();
    let field = |out: &mut String, k: &str, val: &str| out.push_str(&format!("{k:<12}{val}\n"));
    field(&mut out, "repo:", s(r, "/name"));
    let source = format!(
        "{}:{}/{}",
        s(r, "/source_kind"),
        s(r, "/node"),
        s(r, "/source_key")
    );
    field(&mut out, "source:", &source);
    field(&mut out, "status:", &repo_status(r));
    field(&mut out, "drifted:", yes_no(r, "/drifted"));
    field(&mut out, "last run:", &num(r, "/last_run_id"));
    field(&mut out, "updated:", s(r, "/updated_at"));
    if let Some(e) = r.get("last_error").and_then(|e| e.as_str()) {
        field(&mut out, "last error:", e);
    }
    if let Some(rm) = r.get("removal").filter(|x| !x.is_null()) {
        let line = format!(
            "{} gone since {}; {} due {} ({})",
            s(rm, "/source"),
            s(rm, "/missing_since"),
            s(rm, "/action"),
            s(rm, "/due_at"),
            due_in(opt(rm, "/due_at"))
        );
        field(&mut out, "tombstone:", &line);
    }
    out.push('\n');
    out.push_str(&resources_table(v, wide));
    out.push('\n');
    out.push_str(&drift_text(&serde_json::json!({"drift": v["drift"]}), wide));
    out
}

fn resources_table(v: &Value, wide: bool) -> String {
    let mut t = if wide {
        Table::new(&["RESOURCE", "KIND", "STATUS", "APPLIED", "UPDATED", "ERROR"])
    } else {
        Table::new(&["RESOURCE", "KIND", "STATUS", "ERROR"])
    };
    for res in v["resources"].as_array().into_iter().flatten() {
        let mut row = vec![
            s(res, "/address").to_string(),
            s(res, "/kind").to_string(),
            s(res, "/status").to_string(),
        ];
        if wide {
            row.push(s(res, "/applied_at").to_string());
            row.push(s(res, "/updated_at").to_string());
        }
        row.push(opt(res, "/last_error").to_string());
        t.row(row);
    }
    if t.is_empty() {
        return "no resources recorded\n".into();
    }
    t.render()
}

/// Text for `fleetctl runs`.
pub fn runs_text(v: &Value, wide: bool) -> String {
    let mut t = if wide {
        Table::new(&[
            "RUN", "STATUS", "TRIGGER", "PROJECT", "STARTED", "FINISHED", "REQUESTS", "POINTS",
            "SUMMARY",
        ])
    } else {
        Table::new(&["RUN", "STATUS", "TRIGGER", "STARTED", "REQUESTS", "SUMMARY"])
    };
    for r in v["runs"].as_array().into_iter().flatten() {
        let mut row = vec![
            num(r, "/id"),
            s(r, "/status").to_string(),
            s(r, "/trigger").to_string(),
        ];
        if wide {
            row.push(s(r, "/project").to_string());
        }
        row.push(s(r, "/started_at").to_string());
        if wide {
            row.push(s(r, "/finished_at").to_string());
        }
        row.push(num(r, "/requests_sent"));
        if wide {
            row.push(num(r, "/rate_points"));
        }
        row.push(opt(r, "/summary").to_string());
        t.row(row);
    }
    if t.is_empty() {
        return "no runs recorded\n".into();
    }
    t.render()
}

/// Text for `fleetctl runs ID`: the run, its step counts, and its errors.
pub fn run_detail_text(v: &Value, _wide: bool) -> String {
    let r = &v["run"];
    let mut out = format!(
        "run #{} {} ({}{})\n",
        num(r, "/id"),
        s(r, "/status"),
        s(r, "/trigger"),
        r.get("project")
            .and_then(|p| p.as_str())
            .map(|p| format!(", projects {p}"))
            .unwrap_or_default()
    );
    out.push_str(&format!("started:    {}\n", s(r, "/started_at")));
    out.push_str(&format!("finished:   {}\n", s(r, "/finished_at")));
    out.push_str(&format!(
        "requests:   {} ({} rate-limit points)\n",
        num(r, "/requests_sent"),
        num(r, "/rate_points")
    ));
    out.push_str(&format!("summary:    {}\n", s(r, "/summary")));
    if let Some(e) = r.get("error").and_then(|e| e.as_str()) {
        out.push_str(&format!("error:      {e}\n"));
    }
    out.push('\n');
    let mut counts = Table::new(&["STEPS", "COUNT"]);
    for (k, n) in r["counts"].as_object().into_iter().flatten() {
        counts.row(vec![k.clone(), n.to_string()]);
    }
    out.push_str(&if counts.is_empty() {
        "no steps\n".to_string()
    } else {
        counts.render()
    });
    let mut errors = Table::new(&["REPO/RESOURCE", "ERROR"]);
    for e in v["errors"].as_array().into_iter().flatten() {
        let what = e.get("repo").or_else(|| e.get("address"));
        let what = what.and_then(|w| w.as_str()).unwrap_or("-");
        errors.row(vec![what.to_string(), s(e, "/error").to_string()]);
    }
    if !errors.is_empty() {
        out.push('\n');
        out.push_str(&errors.render());
    }
    out
}

/// Text for `fleetctl drift`.
pub fn drift_text(v: &Value, wide: bool) -> String {
    let mut t = if wide {
        Table::new(&["SEEN", "RUN", "REPO", "RESOURCE", "REPAIRED", "WHAT"])
    } else {
        Table::new(&["SEEN", "RESOURCE", "REPAIRED", "WHAT"])
    };
    for d in v["drift"].as_array().into_iter().flatten() {
        let mut row = vec![s(d, "/seen_at").to_string()];
        if wide {
            row.push(num(d, "/run_id"));
            row.push(s(d, "/repo").to_string());
        }
        row.push(s(d, "/address").to_string());
        row.push(yes_no(d, "/repaired").to_string());
        row.push(s(d, "/what").to_string());
        t.row(row);
    }
    if t.is_empty() {
        return "no drift recorded\n".into();
    }
    t.render()
}

/// Text for `fleetctl events`: oldest first, like a log.
pub fn events_text(v: &Value, wide: bool) -> String {
    let mut t = if wide {
        Table::new(&["TIME", "RUN", "KIND", "REPO", "RESOURCE", "REASON"])
    } else {
        Table::new(&["TIME", "KIND", "REPO", "REASON"])
    };
    for e in v["events"].as_array().into_iter().flatten() {
        let mut row = vec![s(e, "/at").to_string()];
        if wide {
            row.push(num(e, "/run_id"));
        }
        row.push(s(e, "/kind").to_string());
        row.push(s(e, "/repo").to_string());
        if wide {
            row.push(s(e, "/address").to_string());
        }
        row.push(s(e, "/reason").to_string());
        t.row(row);
    }
    if t.is_empty() {
        return "no events recorded\n".into();
    }
    t.render()
}

/// Text for `fleetctl status`.
pub fn status_text(v: &Value, _wide: bool) -> String {
    let mut out = String::new();
    out.push_str(&discovered_line(v));
    for (name, n) in v["dss_nodes"].as_object().into_iter().flatten() {
        if n.get("ok").and_then(|o| o.as_bool()) == Some(true) {
            out.push_str(&format!("  {name}: ok, {}\n", node_counts(n)));
        } else {
            out.push_str(&format!("  {name}: FAILING: {}\n", s(n, "/error")));
        }
    }
    out.push_str(&format!(
        "repos managed: {} (drifted: {})\n",
        num(v, "/repos/total"),
        num(v, "/repos/drifted")
    ));
    for (k, n) in v
        .pointer("/repos/by_status")
        .and_then(|b| b.as_object())
        .into_iter()
        .flatten()
    {
        out.push_str(&format!("  {k}: {n}\n"));
    }
    for rm in v["pending_removals"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {}: pending-removal ({} {}): {} gone since {}\n",
            s(rm, "/repo"),
            s(rm, "/action"),
            due_in(opt(rm, "/due_at")),
            s(rm, "/source"),
            s(rm, "/missing_since")
        ));
    }
    out.push_str(&suspension_line(v));
    out.push_str(&run_lines(v));
    out.push_str(&config_lines(v));
    out.push_str(&fleetd_line(v));
    out
}

/// `fleetd: 0.1.0 (commit 1a2b3c4d5e6f, built 2026-12-02)`, when the daemon says.
fn fleetd_line(v: &Value) -> String {
    match v.get("fleetd").filter(|b| b.is_object()) {
        Some(b) => format!(
            "fleetd: {} (commit {}, built {})\n",
            s(b, "/version"),
            s(b, "/commit"),
            s(b, "/built")
        ),
        None => String::new(),
    }
}

/// `discovered: 22 projects, 2 dev plugins` over the nodes that answered.
fn discovered_line(v: &Value) -> String {
    match v.get("plugins") {
        Some(g) => format!(
            "discovered: {} projects, {g} dev plugins\n",
            num(v, "/projects")
        ),
        None => format!("projects discovered: {}\n", num(v, "/projects")),
    }
}

/// `25 projects listed (22 managed, 3 left out by the filters), 2 dev plugins` (or the
/// older daemon's one count).
fn node_counts(n: &Value) -> String {
    let count = |k: &str| n.get(k).and_then(|c| c.as_u64());
    match (count("listed"), count("projects"), count("plugins")) {
        (Some(listed), Some(managed), Some(plugins)) => {
            let left_out = listed.saturating_sub(managed);
            let filtered = match left_out {
                0 => String::new(),
                n => format!(", {n} left out by the filters"),
            };
            format!("{listed} projects listed ({managed} managed{filtered}), {plugins} dev plugins")
        }
        (_, Some(p), _) => format!("{p} projects"),
        _ => "-".into(),
    }
}

/// Text for `fleetctl suspend` / `resume`.
pub fn suspension_text(suspended: bool, v: &Value) -> String {
    let what = s(v, "/what");
    let changed = v["changed"].as_bool() == Some(true);
    // The fleet is `the fleet`; a repo is its full name.
    let resume = match what.contains('/') {
        true => format!("fleetctl resume --repo {what}"),
        false => "fleetctl resume".to_string(),
    };
    let mut out = match (suspended, changed) {
        (true, _) => {
            format!("suspended {what}: fleetd writes nothing to it on GitHub until `{resume}`\n")
        }
        (false, true) => format!("resumed {what}: the next run reconciles it\n"),
        (false, false) => format!("{what} was not suspended\n"),
    };
    // After a resume, what is still suspended; after a suspend, the line above said it.
    if !suspended {
        out.push_str(&suspension_line(
            &serde_json::json!({"suspended": v["suspended"]}),
        ));
    }
    out
}

fn suspension_line(v: &Value) -> String {
    let Some(sp) = v.get("suspended").filter(|x| !x.is_null()) else {
        return String::new();
    };
    let mut out = String::new();
    if let Some(since) = sp.get("fleet").and_then(|f| f.as_str()) {
        out.push_str(&format!(
            "SUSPENDED since {since}: no GitHub writes (fleetctl resume)\n"
        ));
    }
    let repos: Vec<String> = sp["repos"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(r, since)| format!("{r} (since {})", since.as_str().unwrap_or("-")))
        .collect();
    if !repos.is_empty() {
        out.push_str(&format!(
            "suspended repos (no GitHub writes): {}\n",
            repos.join(", ")
        ));
    }
    out
}

fn run_lines(v: &Value) -> String {
    let mut out = String::new();
    match v.get("last_run").filter(|r| !r.is_null()) {
        Some(r) => out.push_str(&format!(
            "last run: #{} {} ({}), started {}: {}\n",
            num(r, "/id"),
            s(r, "/status"),
            s(r, "/trigger"),
            s(r, "/started_at"),
            s(r, "/summary")
        )),
        None => out.push_str("last run: none yet\n"),
    }
    if let Some(id) = v.get("running_run").filter(|r| !r.is_null()) {
        out.push_str(&format!("running now: #{id}\n"));
    }
    if let Some(id) = v.get("queued_run").filter(|r| !r.is_null()) {
        out.push_str(&format!("queued: #{id}\n"));
    }
    let suspended = v.pointer("/suspended/fleet").is_some_and(|f| f.is_string());
    match v.get("next_scheduled_run").and_then(|t| t.as_str()) {
        Some(t) if suspended => out.push_str(&format!(
            "next scheduled run: {t}{}, skipped while the fleet is suspended\n",
            from_now(t)
        )),
        Some(t) => out.push_str(&format!("next scheduled run: {t}{}\n", from_now(t))),
        None => out.push_str("next scheduled run: none\n"),
    }
    out
}

fn config_lines(v: &Value) -> String {
    let Some(c) = v.get("config").filter(|c| !c.is_null()) else {
        return String::new();
    };
    let mut out = format!(
        "config: {} ({}…, loaded {})\n",
        s(c, "/path"),
        s(c, "/hash").get(..12).unwrap_or("-"),
        s(c, "/loaded_at")
    );
    if let Some(r) = c.get("last_reload").filter(|r| !r.is_null()) {
        let outcome = if r["applied"].as_bool() == Some(true) {
            "applied"
        } else {
            "REFUSED"
        };
        let msg = r
            .get("message")
            .and_then(|m| m.as_str())
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        out.push_str(&format!("last reload: {outcome} at {}{msg}\n", s(r, "/at")));
    }
    out
}

/// ` (in 4m 10s)` for an RFC 3339 time in the future.
fn from_now(t: &str) -> String {
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(t) else {
        return String::new();
    };
    let secs = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    if secs < 0 {
        return String::new();
    }
    format!(" (in {})", span(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spans_read_like_a_person_would_say_them() {
        assert_eq!(span(71 * 3600 + 59 * 60), "71h");
        assert_eq!(span(71 * 3600), "71h");
        assert_eq!(span(2 * 3600 + 5 * 60), "2h 5m");
        assert_eq!(span(250), "4m 10s");
        assert_eq!(span(12), "12s");
    }

    #[test]
    fn a_repo_being_removed_says_what_and_when() {
        let due =
            (chrono::Utc::now() + chrono::Duration::hours(71) + chrono::Duration::minutes(30))
                .to_rfc3339();
        let r = json!({"name": "acme/dss-x", "status": "pending-removal",
            "removal": {"action": "archive", "due_at": due, "source": "project:design/X",
                        "missing_since": "2026-01-01T00:00:00Z"}});
        assert_eq!(repo_status(&r), "pending-removal (archive in 71h)");
        assert!(repo_message(&r).starts_with("project:design/X gone since 2026-01-01"));
    }

    #[test]
    fn the_repos_table_has_a_message_column() {
        let v = json!({"repos": [
            {"name": "acme/a", "status": "synced", "drifted": false, "source_kind": "project",
             "node": "design", "source_key": "A", "last_error": null},
            {"name": "acme/bb", "status": "error", "drifted": true, "source_kind": "project",
             "node": "design", "source_key": "BB", "last_error": "observe: HTTP 503"}]});
        let text = repos_text(&v, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "REPO     STATUS  DRIFT  SOURCE             MESSAGE"
        );
        assert_eq!(
            lines[2],
            "acme/bb  error   yes    project:design/BB  observe: HTTP 503"
        );
    }
}
