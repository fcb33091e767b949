//! `fleetctl config check` on the shipped configs and on a corpus of broken ones: each broken
//! file exits 2 with an error naming `file:line:col` and the key.

use std::path::Path;
use std::process::Command;

/// The environment variables the shipped configs read their secrets from.
const SECRET_ENV: &[(&str, &str)] = &[
    ("FLEETSYNC_API_TOKEN", "api-token-for-tests"),
    ("DSS_API_KEY", "dss-key-for-tests"),
    ("GITHUB_TOKEN", "ghp_forTests"),
    ("DATAIKU_DEV_CI_API_TOKEN", "dev-token"),
    ("DATAIKU_STAGING_CI_API_TOKEN", "staging-token"),
    ("DATAIKU_PROD_CI_API_TOKEN", "prod-token"),
    ("DATAIKU_CLIENT_CERTIFICATE", "cert"),
];

fn check(path: &Path, json: bool) -> (i32, String, String) {
    check_env(path, json, SECRET_ENV)
}

fn check_env(path: &Path, json: bool, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleetctl"));
    for (k, _) in SECRET_ENV {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    if json {
        cmd.args(["--output", "json"]);
    }
    let out = cmd
        .args(["config", "check", "--config"])
        .arg(path)
        .output()
        .expect("run fleetctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn shipped_configs_are_valid() {
    for f in [
        "config/fleet.example.toml",
        "config/dev.toml",
        "tests/configs/base.toml",
    ] {
        let (code, out, err) = check(Path::new(f), false);
        assert_eq!(code, 0, "{f}: {out}{err}");
        assert!(out.contains("ok"), "{f}: {out}");
    }
}

/// (file, `line:col`, a piece of the key, a piece of the message)
const BROKEN: &[(&str, &str, &str, &str)] = &[
    ("unknown_top_level_key", "1:1", "colour", "unknown field"),
    ("unknown_github_key", "12:1", "github.ownr", "unknown field"),
    (
        "toml_syntax",
        "11:14",
        "github.owner",
        "invalid basic string",
    ),
    (
        "bad_deletion_policy",
        "13:19",
        "github.deletion_policy",
        "destroy",
    ),
    (
        "bad_cron",
        "3:12",
        "daemon.schedule",
        "invalid cron schedule",
    ),
    (
        "bad_variable_template",
        "23:23",
        "repo.variables.DATAIKU_PROJECT_KEY",
        "syntax error",
    ),
    ("bad_listen", "2:10", "daemon.listen", "not an address"),
    (
        "bad_duration",
        "14:16",
        "github.grace_period",
        "invalid duration",
    ),
    (
        "inline_secret_value",
        "26:37",
        "repo.secrets.DATAIKU_INSTANCE_DEV_CI_API_TOKEN",
        "never written in the config",
    ),
    (
        "bad_variable_name",
        "23:22",
        "repo.variables.GITHUB_PROJECT_KEY",
        "must not start with GITHUB_",
    ),
    (
        "protection_on_missing_branch",
        "28:1",
        "repo.protection.staging",
        "would not exist",
    ),
    (
        "missing_template_file",
        "20:43",
        "repo.files",
        "cannot read template",
    ),
    ("bad_glob", "9:12", "dss.include", "invalid pattern"),
    (
        "review_count_too_high",
        "29:1",
        "required_approving_review_count",
        "maximum of 6",
    ),
    ("credentials_in_url", "7:7", "dss.url", "credentials"),
    ("missing_owner", "10:1", "github", "missing field `owner`"),
    (
        "template_typo",
        "12:21",
        "github.project_repo_name",
        "undefined value",
    ),
    (
        "wrong_type",
        "15:25",
        "github.max_deletions_per_run",
        "invalid type",
    ),
    ("no_dss_node", "1:1", "dss", "at least one"),
    (
        "org_scoped_template",
        "24:28",
        "repo.variables.DATAIKU_INSTANCE_DEV_URL",
        "may not use template syntax",
    ),
    (
        "org_scope_disagrees",
        "26:1",
        "repo.secrets.DATAIKU_INSTANCE_DEV_CI_API_TOKEN",
        "declared differently in [repo] and [plugin_repo]",
    ),
    (
        "org_scope_unknown",
        "23:23",
        "repo.variables.DATAIKU_PROJECT_KEY",
        "scope = \"org\"",
    ),
];

#[test]
fn every_broken_config_exits_2_naming_file_line_col_and_key() {
    let dir = Path::new("tests/configs/broken");
    let on_disk = std::fs::read_dir(dir).unwrap().count();
    assert_eq!(
        on_disk,
        BROKEN.len(),
        "every broken config has an expectation"
    );
    for (name, pos, key, msg) in BROKEN {
        let path = dir.join(format!("{name}.toml"));
        let (code, out, err) = check(&path, false);
        assert_eq!(code, 2, "{name}: exit {code}\n{out}{err}");
        let place = format!("{}:{pos}: `", path.display());
        assert!(
            err.contains(&place),
            "{name}: expected {place:?} in:\n{err}"
        );
        assert!(err.contains(key), "{name}: expected key {key:?} in:\n{err}");
        assert!(err.contains(msg), "{name}: expected {msg:?} in:\n{err}");
    }
}

#[test]
fn inline_secret_is_not_echoed() {
    let (code, out, err) = check(
        Path::new("tests/configs/broken/inline_secret_value.toml"),
        false,
    );
    assert_eq!(code, 2);
    assert!(
        !out.contains("s3cr3t-inline") && !err.contains("s3cr3t-inline"),
        "{err}"
    );
    let (_, out, err) = check(
        Path::new("tests/configs/broken/credentials_in_url.toml"),
        true,
    );
    assert!(
        !out.contains("hunter2") && !err.contains("hunter2"),
        "{out}{err}"
    );
}

#[test]
fn json_output_lists_errors_with_positions() {
    let (code, out, _) = check(Path::new("tests/configs/broken/bad_listen.toml"), true);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"][0]["line"], 2);
    assert_eq!(v["errors"][0]["col"], 10);
    assert_eq!(v["errors"][0]["key"], "daemon.listen");
}

#[test]
fn missing_file_is_a_clear_error() {
    let (code, _, err) = check(Path::new("tests/configs/does-not-exist.toml"), false);
    assert_eq!(code, 2);
    assert!(
        err.contains("does-not-exist.toml") && err.contains("cannot read config"),
        "{err}"
    );
}

#[test]
fn example_workflows_render_with_github_expressions_intact() {
    use fleetsync::config::{load, names, Scope, TemplateContext};
    let cfg = load(Path::new("config/fleet.example.toml")).expect("example config loads");
    let ctx = TemplateContext::sample_project();
    let pr = cfg
        .templates
        .render(
            &names::file(Scope::Project, ".github/workflows/pr.yml"),
            &ctx,
        )
        .expect("pr.yml renders");
    assert!(pr.contains("branches: [prod]") && pr.contains("pull_request:"));
    assert!(
        pr.contains("${{ secrets.DATAIKU_INSTANCE_DEV_CI_API_TOKEN }}"),
        "{pr}"
    );
    assert!(pr.contains("${{ vars.DATAIKU_PROJECT_KEY }}"));
    assert!(pr.contains("run_tests_only: \"true\""));
    assert!(pr.ends_with('\n'));
    let rel = cfg
        .templates
        .render(
            &names::file(Scope::Project, ".github/workflows/release.yml"),
            &ctx,
        )
        .expect("release.yml renders");
    assert!(rel.contains("push:") && rel.contains("run_tests_only: \"false\""));
    let key = cfg
        .templates
        .render(
            &names::variable(Scope::Project, "DATAIKU_PROJECT_KEY"),
            &ctx,
        )
        .expect("variable renders");
    assert_eq!(key, "SAMPLE_PROJECT");
    assert_eq!(cfg.raw.repo.secrets.len(), 4);
    assert_eq!(cfg.raw.repo.variables.len(), 6);
    assert!(cfg.raw.repo.protection.contains_key("prod"));
}

#[test]
fn errors_are_listed_in_reading_order() {
    // [github] before [daemon] in the file: its error comes first, though [daemon] is
    // validated first.
    let base = std::fs::read_to_string("tests/configs/base.toml").unwrap();
    let templates = std::fs::canonicalize("tests/configs/templates").unwrap();
    let daemon = "[daemon]\nlisten = \"127.0.0.1:9464\"\nschedule = \"0 */10 * * * *\"\n";
    assert!(base.starts_with(daemon));
    let text = base
        .replacen(daemon, "", 1)
        .replacen("owner = \"acme\"", "owner = \"\"", 1)
        .replace("templates/", &format!("{}/", templates.display()))
        + "\n[daemon]\nlisten = \"not an address\"\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.toml");
    std::fs::write(&path, text).unwrap();
    let (code, _, err) = check(&path, false);
    assert_eq!(code, 2, "{err}");
    let lines: Vec<usize> = err
        .lines()
        .filter(|l| l.starts_with("error: "))
        .filter_map(|l| l.split(':').nth(2).and_then(|n| n.trim().parse().ok()))
        .collect();
    assert!(lines.len() >= 2, "{err}");
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted, "{err}");
}
