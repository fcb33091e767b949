//! The workflows fleetsync writes: every shipped workflow template, rendered for a sample
//! project and a sample plugin, is valid against GitHub's workflow schema (the vendored
//! SchemaStore schema) and has least-privilege `permissions:`; the actions' refs come from
//! `[actions]`; plugin repos get their own contents; a template that renders an invalid
//! workflow makes `fleetctl config check` fail naming the template file.

use fleetsync::config::{
    check_workflow, is_workflow_path, load, load_str, names, Config, Scope, TemplateContext,
};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every shipped config that names workflow templates.
const SHIPPED: &[&str] = &[
    "config/fleet.example.toml",
    "config/dev.toml",
    "tests/configs/base.toml",
];

fn sample(scope: Scope) -> TemplateContext {
    match scope {
        Scope::Project => TemplateContext::sample_project(),
        Scope::Plugin => TemplateContext::sample_plugin(),
    }
}

/// (template file, rendered text) of every workflow of a config, in both scopes.
fn rendered_workflows(cfg: &Config) -> Vec<(PathBuf, Scope, String)> {
    let mut out = Vec::new();
    for scope in [Scope::Project, Scope::Plugin] {
        for (path, f) in &cfg.contents(scope).files {
            if !is_workflow_path(path) {
                continue;
            }
            let text = cfg
                .templates
                .render(&names::file(scope, path), &sample(scope))
                .unwrap_or_else(|e| panic!("{path} does not render: {e}"));
            out.push((cfg.base_dir.join(f.template.get_ref()), scope, text));
        }
    }
    out
}

fn yaml(text: &str) -> serde_json::Value {
    serde_yaml_ng::from_str(text).expect("rendered workflow is YAML")
}

#[test]
fn every_shipped_workflow_template_renders_a_valid_workflow_for_a_project_and_a_plugin() {
    let mut templates_seen = std::collections::BTreeSet::new();
    let mut plugin_workflows = 0;
    // `.ci/run` asks for the rendered workflows, to check them with a second checker.
    let export = std::env::var_os("FLEETSYNC_RENDERED_WORKFLOWS_DIR").map(PathBuf::from);
    if let Some(dir) = &export {
        std::fs::create_dir_all(dir).expect("export folder");
    }
    for (n, f) in SHIPPED.iter().enumerate() {
        let cfg = load(Path::new(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        for (file, scope, text) in rendered_workflows(&cfg) {
            if let Err(why) = check_workflow(&text) {
                panic!("{} ({scope:?}) in {f}: {why}\n{text}", file.display());
            }
            if let Some(dir) = &export {
                let name = file
                    .file_name()
                    .and_then(|s| s.to_str())
                    .unwrap_or("workflow");
                let out = dir.join(format!("{n}-{scope:?}-{name}").to_lowercase());
                std::fs::write(&out, &text).expect("export a rendered workflow");
            }
            if scope == Scope::Plugin {
                plugin_workflows += 1;
            }
            templates_seen.insert(file.file_name().map(|n| n.to_owned()));
        }
    }
    assert!(
        plugin_workflows >= 2,
        "the shipped configs give plugin repos a workflow"
    );
    // No shipped workflow template escapes the check by not being named in a shipped config.
    for entry in std::fs::read_dir("config/templates").expect("config/templates") {
        let name = entry.expect("entry").file_name();
        if Path::new(&name).extension().is_some_and(|e| e == "yml") {
            assert!(templates_seen.contains(&Some(name.clone())), "{name:?}");
        }
    }
}

#[test]
fn every_shipped_workflow_has_least_privilege_permissions() {
    for f in SHIPPED {
        let cfg = load(Path::new(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        for (file, _, text) in rendered_workflows(&cfg) {
            let doc = yaml(&text);
            // The Dataiku action and the plugin checks only read the repository: no job
            // comments on a pull request or writes to GitHub with the workflow's token.
            assert_eq!(
                doc["permissions"],
                serde_json::json!({"contents": "read"}),
                "{} in {f}",
                file.display()
            );
            for (job, body) in doc["jobs"].as_object().expect("jobs") {
                assert!(
                    body.get("permissions").is_none(),
                    "{} job {job} widens the permissions",
                    file.display()
                );
            }
        }
    }
}

/// Every `uses:` of a rendered workflow.
fn uses_of(doc: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for job in doc["jobs"].as_object().expect("jobs").values() {
        for step in job["steps"].as_array().expect("steps") {
            if let Some(u) = step["uses"].as_str() {
                out.push(u.to_string());
            }
        }
    }
    out
}

fn example_with(extra_actions: &str) -> String {
    let text = std::fs::read_to_string("config/fleet.example.toml").expect("example");
    let marker = "[actions]\n";
    let start = text.find(marker).expect("[actions] in the example");
    let end = start + text[start..].find("\n\n").expect("end of [actions]");
    format!("{}{marker}{extra_actions}{}", &text[..start], &text[end..])
}

#[test]
fn the_actions_refs_come_from_the_config() {
    let cfg = load(Path::new("config/fleet.example.toml")).expect("example");
    let pr = cfg
        .templates
        .render(
            &names::file(Scope::Project, ".github/workflows/pr.yml"),
            &sample(Scope::Project),
        )
        .expect("pr.yml");
    assert_eq!(
        uses_of(&yaml(&pr)),
        [
            "actions/checkout@v4",
            "qcastel/dataiku-gitops-github-action@master"
        ]
    );
    // Pinned in [actions]: the workflows use exactly those references.
    let sha = "754f20240384465e0ae38871601fd5595b588650";
    let pinned = example_with(&format!(
        "gitops = \"acme/dataiku-gitops-fork@{sha}\"\ncheckout = \"actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683\""
    ));
    let cfg = load_str(Path::new("config/fleet.example.toml"), &pinned).expect("pinned");
    for file in [".github/workflows/pr.yml", ".github/workflows/release.yml"] {
        let text = cfg
            .templates
            .render(&names::file(Scope::Project, file), &sample(Scope::Project))
            .expect("renders");
        assert_eq!(
            uses_of(&yaml(&text)),
            [
                "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683".to_string(),
                format!("acme/dataiku-gitops-fork@{sha}")
            ],
            "{file}"
        );
        assert!(check_workflow(&text).is_ok());
    }
    // The plugin workflow keeps the default it was not given.
    let plugin = cfg
        .templates
        .render(
            &names::file(Scope::Plugin, ".github/workflows/plugin-check.yml"),
            &sample(Scope::Plugin),
        )
        .expect("plugin-check.yml");
    assert!(uses_of(&yaml(&plugin)).contains(&"actions/setup-python@v5".to_string()));
}

#[test]
fn a_bad_action_reference_is_a_config_error_at_its_line() {
    for (value, why) in [
        ("qcastel/dataiku-gitops-github-action", "has no @ref"),
        ("dataiku-gitops@master", "is not owner/repo"),
        ("qcastel/x@ master", "white space"),
    ] {
        let text = example_with(&format!("gitops = \"{value}\""));
        let errs = load_str(Path::new("fleet.toml"), &text).expect_err(value);
        let msg = errs.to_string();
        assert!(
            msg.contains("`actions.gitops`") && msg.contains(why),
            "{msg}"
        );
        let line = text
            .lines()
            .position(|l| l.starts_with("gitops = "))
            .expect("line")
            + 1;
        assert!(msg.contains(&format!("fleet.toml:{line}:")), "{msg}");
    }
    let text = example_with("Gitops = \"a/b@c\"");
    let msg = load_str(Path::new("fleet.toml"), &text)
        .expect_err("upper-case name")
        .to_string();
    assert!(msg.contains("actions.Gitops"), "{msg}");
}

#[test]
fn plugin_repos_get_plugin_contents_not_the_project_ones() {
    // The example: one plugin check workflow, no variables, secrets, branches or protection.
    let cfg = load(Path::new("config/fleet.example.toml")).expect("example");
    let plugin = cfg.contents(Scope::Plugin);
    assert_eq!(
        plugin.files.keys().collect::<Vec<_>>(),
        [".github/workflows/plugin-check.yml"]
    );
    assert!(plugin.variables.is_empty() && plugin.secrets.is_empty());
    assert!(plugin.branches.is_empty() && plugin.protection.is_empty());
    let check = cfg
        .templates
        .render(
            &names::file(Scope::Plugin, ".github/workflows/plugin-check.yml"),
            &sample(Scope::Plugin),
        )
        .expect("renders for a plugin");
    assert!(check.contains("PLUGIN_ID: \"sample-plugin\""), "{check}");
    assert!(!check.contains("DATAIKU_PROJECT_KEY") && !check.contains("secrets."));
    // No [plugin_repo]: the project's topics and nothing else.
    let base = load(Path::new("tests/configs/base.toml")).expect("base");
    assert!(base.raw.plugin_repo.is_none());
    let p = base.contents(Scope::Plugin);
    assert!(p.files.is_empty() && p.variables.is_empty() && p.secrets.is_empty());
    assert!(p.branches.is_empty() && p.protection.is_empty());
    assert_eq!(p.topics, base.contents(Scope::Project).topics);
}

/// A config folder whose only workflow template renders an invalid workflow.
fn broken_workflow_folder(template: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let base = std::fs::read_to_string("tests/configs/base.toml").expect("base.toml");
    std::fs::write(dir.path().join("fleet.toml"), base).expect("write config");
    std::fs::create_dir(dir.path().join("templates")).expect("templates");
    std::fs::write(dir.path().join("templates/pr.yml"), template).expect("write template");
    dir
}

fn config_check(config: &Path, json: bool) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleetctl"));
    if json {
        cmd.args(["--output", "json"]);
    }
    let out = cmd
        .args(["config", "check", "--skip-secrets", "--config"])
        .arg(config)
        .output()
        .expect("run fleetctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_invalid_workflow_template_is_a_config_check_error_naming_the_file_and_the_failure() {
    // `runs-on` misspelt, and a permission GitHub does not have: valid YAML, valid minijinja,
    // not a workflow GitHub would run.
    let dir = broken_workflow_folder(
        "# {{ key }}\non:\n  pull_request:\n    branches: [prod]\npermissions:\n  contents: reed\njobs:\n  dataiku-gitops:\n    runs_on: ubuntu-latest\n    steps:\n      - uses: {{ actions.checkout }}\n",
    );
    let config = dir.path().join("fleet.toml");
    let (code, out, err) = config_check(&config, false);
    assert_eq!(code, 2, "{out}{err}");
    let template = dir.path().join("templates/pr.yml");
    let line = err
        .lines()
        .find(|l| l.contains("invalid workflow"))
        .unwrap_or_else(|| panic!("no workflow error in {err}"));
    assert!(line.contains(&template.display().to_string()), "{line}");
    assert!(
        line.contains("repo.files.\".github/workflows/pr.yml\""),
        "{line}"
    );
    assert!(line.contains("rendered for a sample project"), "{line}");
    assert!(line.contains("GitHub's workflow schema"), "{line}");
    assert!(line.contains("at /permissions/contents"), "{line}");
    assert!(line.contains("at /jobs/dataiku-gitops"), "{line}");
    // The same as JSON.
    let (code, out, _) = config_check(&config, true);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let e = &v["errors"][0];
    assert_eq!(e["file"], template.display().to_string());
    assert!(e["message"]
        .as_str()
        .is_some_and(|m| m.contains("GitHub's workflow schema")));

    // Not YAML at all once rendered.
    let dir = broken_workflow_folder("on: [push\njobs: {}\n");
    let (code, _, err) = config_check(&dir.path().join("fleet.toml"), false);
    assert_eq!(code, 2);
    assert!(err.contains("not valid YAML"), "{err}");

    // The control: the shipped template in the same folder passes.
    let dir = broken_workflow_folder(include_str!("../config/templates/pr.yml"));
    let (code, out, err) = config_check(&dir.path().join("fleet.toml"), false);
    assert_eq!(code, 0, "{out}{err}");
}
