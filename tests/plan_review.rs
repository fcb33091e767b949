//! Plans people can review: `fleetctl plan` shows each change before → after (variables,
//! protection field by field, files as unified diffs, repo settings, topics; secrets only as
//! the kind of change and their source), in text and JSON; `plan --out` then `apply` writes
//! exactly the saved steps, and refuses (writing nothing) when GitHub or the config moved.
//! Against the simulated GitHub and DSS over HTTP, with the real `fleetctl` binary.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn fleetctl(f: &Fleet, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetctl"))
        .args(args)
        .arg("--config")
        .arg(&f.config_path)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One converged project repo.
async fn converged() -> (Fleet, String) {
    let f = Fleet::start(1, 0, roomy_github(), "").await;
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    let repo = f.wanted_project_repos().remove(0);
    (f, repo)
}

/// The steps of the JSON plan (`fleetctl --output json plan`).
fn json_steps(plan: &Value) -> Vec<Value> {
    plan["repos"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["steps"].as_array().unwrap().clone())
        .collect()
}

fn step<'a>(steps: &'a [Value], address: &str) -> &'a Value {
    steps
        .iter()
        .find(|s| s["address"] == address)
        .unwrap_or_else(|| panic!("no step {address} in {steps:#?}"))
}

fn field<'a>(step: &'a Value, name: &str) -> &'a Value {
    step["change"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == name)
        .unwrap_or_else(|| panic!("no field {name} in {step:#}"))
}

/// A hand edit through GitHub's REST API (as a person with the token would make it).
async fn patch_repo(f: &Fleet, repo: &str, body: Value) {
    let r = reqwest::Client::new()
        .patch(format!("{}/repos/{repo}", f.gh.url))
        .bearer_auth(GH_TOKEN)
        .header("user-agent", "hand-edit")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
}

/// Rewrites the config file with `from` replaced by `to`.
fn edit_config(f: &Fleet, from: &str, to: &str) {
    let text = std::fs::read_to_string(&f.config_path).unwrap();
    assert!(text.contains(from), "{from} not in the config");
    std::fs::write(&f.config_path, text.replacen(from, to, 1)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_shows_before_and_after_in_text_and_json() {
    let (f, repo) = converged().await;
    let key = f.dss.handle.project_keys().remove(0);
    let h = &f.gh.handle;
    assert!(h.set_variable(&repo, "DATAIKU_PROJECT_KEY", "HACKED"));
    let pr = ".github/workflows/pr.yml";
    let original = String::from_utf8(h.repo(&repo).unwrap().files[pr].clone()).unwrap();
    let edited = original.replacen("on:", "# edited by hand\non:", 1);
    assert_ne!(edited, original);
    assert!(h.edit_file(&repo, None, pr, edited.as_bytes()));
    assert!(h.set_topics(&repo, &["by-hand"]));
    // GitHub's `updated_at` has a resolution of one second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(h.overwrite_secret(&repo, "CLIENT_CERTIFICATE", "hand-set-value"));
    patch_repo(
        &f,
        &repo,
        serde_json::json!({"description": "edited by hand", "visibility": "public"}),
    )
    .await;
    edit_config(
        &f,
        "required_approving_review_count = 1",
        "required_approving_review_count = 2",
    );
    edit_config(
        &f,
        "required_status_checks = [\"dataiku-gitops\"]",
        "required_status_checks = [\"dataiku-gitops\", \"lint\"]",
    );

    let out = fleetctl(&f, &["plan"]);
    assert!(out.status.success(), "{}", err(&out));
    let t = text(&out);
    // Variables: the value on GitHub, then the one the config renders.
    assert!(t.contains(&format!("value: \"HACKED\" → \"{key}\"")), "{t}");
    // Protection, field by field.
    assert!(t.contains("required_approving_review_count: 1 → 2"), "{t}");
    assert!(
        t.contains("required_status_checks: [\"dataiku-gitops\"] → [\"dataiku-gitops\",\"lint\"]"),
        "{t}"
    );
    // Files as a unified diff: the hand-edited line goes.
    assert!(t.contains(&format!("--- a/{pr}")), "{t}");
    assert!(t.contains(&format!("+++ b/{pr}")), "{t}");
    assert!(t.contains("-# edited by hand"), "{t}");
    // Repo settings and topics.
    assert!(t.contains("description: \"edited by hand\" → "), "{t}");
    assert!(t.contains("visibility: \"public\" → \"private\""), "{t}");
    assert!(t.contains("topics: [\"by-hand\"] → "), "{t}");
    // Secrets: only that the value changes, and where it comes from.
    assert!(
        t.contains("value: (value changed on GitHub; set again) from file:"),
        "{t}"
    );

    let out = fleetctl(&f, &["--output", "json", "plan"]);
    assert!(out.status.success(), "{}", err(&out));
    let plan: Value = serde_json::from_str(&text(&out)).unwrap();
    let steps = json_steps(&plan);
    let var = step(&steps, &format!("variable:{repo}/DATAIKU_PROJECT_KEY"));
    assert_eq!(field(var, "value")["before"], "HACKED");
    assert_eq!(field(var, "value")["after"], key.as_str());
    let prot = step(&steps, &format!("protection:{repo}/prod"));
    let count = field(prot, "required_approving_review_count");
    assert_eq!(
        (count["before"].clone(), count["after"].clone()),
        (1.into(), 2.into())
    );
    let file = step(&steps, &format!("file:{repo}/{pr}"));
    let diff = &file["change"]["files"][0];
    assert!(
        diff["unified"]
            .as_str()
            .unwrap()
            .contains("-# edited by hand"),
        "{diff:#}"
    );
    assert_eq!(diff["lines_removed"], 1);
    assert!(diff["before_sha"].is_string() && diff["after_sha"].is_string());
    let settings = step(&steps, &format!("repo:{repo}"));
    assert_eq!(field(settings, "description")["before"], "edited by hand");
    assert_eq!(field(settings, "visibility")["after"], "private");
    let topics = step(&steps, &format!("topics:{repo}"));
    assert_eq!(
        field(topics, "topics")["before"],
        serde_json::json!(["by-hand"])
    );
    let secret = step(&steps, &format!("secret:{repo}/CLIENT_CERTIFICATE"));
    assert_eq!(secret["change"]["secret"]["change"], "changed_on_github");
    assert!(secret["change"]["secret"]["source"]
        .as_str()
        .unwrap()
        .starts_with("file:"));
    assert!(secret["change"]["fields"].is_null(), "{secret:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_repos_show_every_value_and_their_files_as_diffs() {
    let f = Fleet::start(1, 1, roomy_github(), "").await;
    let out = fleetctl(&f, &["plan"]);
    assert!(out.status.success(), "{}", err(&out));
    let t = text(&out);
    // Why each repo is created, in words that fit its source.
    let repo_line = |source: &str| {
        t.lines()
            .find(|l| l.trim_start().starts_with("+ repo:") && l.contains(source))
            .map(str::to_string)
    };
    let project = f.wanted_project_repos().remove(0);
    assert!(
        repo_line(&project).is_some_and(|l| l.ends_with("(new project)")),
        "{t}"
    );
    assert!(
        t.lines()
            .any(|l| l.trim_start().starts_with("+ repo:acme/dss-plugin-")
                && l.ends_with("(new dev plugin)")),
        "{t}"
    );
    // A step whose fields are shown has no summary of them in `[…]` as well.
    assert!(!t.contains("[private repo"), "{t}");
    assert!(!t.contains("[["), "{t}");
    assert!(!t.contains(" bytes]"), "a file's size beside its diff: {t}");
    assert!(t.contains("visibility: (none) → \"private\""), "{t}");
    assert!(
        t.contains("value: (none) → \"https://dss-prod.example.com\""),
        "{t}"
    );
    assert!(t.contains("value: (new) from file:"), "{t}");
    // ... and said once: not again as the step's `[from …]`.
    assert!(!t.contains("[from file:"), "{t}");
    assert!(t.contains("--- /dev/null"), "{t}");
    assert!(t.contains("+name: PR checks"), "{t}");
    let full = text(&fleetctl(&f, &["plan", "--diff"]));
    assert!(!full.contains("diff cut at"), "{full}");
}

/// Everything a secret could leak as: its values, and the keyed fingerprints fleetsync keeps.
fn secret_needles(f: &Fleet, repo: &str) -> Vec<String> {
    let mut needles: Vec<String> = vec![
        CANARY.into(),
        "staging-token-value".into(),
        "prod-token-value".into(),
        "BEGIN CERTIFICATE".into(),
        "hand-set-value".into(),
    ];
    let records = f.store().list_resources(Some(repo)).unwrap();
    let fps: Vec<String> = records
        .iter()
        .filter(|r| r.kind == "secret")
        .flat_map(|r| [r.applied_fp.clone(), r.desired_fp.clone()])
        .flatten()
        .collect();
    assert_eq!(fps.len(), 8, "{records:?}");
    needles.extend(fps);
    needles
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_value_or_fingerprint_reaches_a_plan_or_a_saved_plan() {
    let (f, repo) = converged().await;
    let needles = secret_needles(&f, &repo);
    // Secrets planned: one changed on GitHub, one whose source changed.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(f
        .gh
        .handle
        .overwrite_secret(&repo, "CLIENT_CERTIFICATE", "hand-set-value"));
    std::fs::write(f.dir.as_path().join("prod-token"), "prod-token-rotated").unwrap();
    let text_plan = text(&fleetctl(&f, &["plan", "--diff"]));
    assert!(
        text_plan.contains("(value changed) from file:"),
        "{text_plan}"
    );
    let json_plan = text(&fleetctl(&f, &["--output", "json", "plan"]));
    let saved = f.dir.as_path().join("review.plan");
    let out = fleetctl(&f, &["plan", "--out", saved.to_str().unwrap()]);
    assert!(out.status.success(), "{}", err(&out));
    let saved_text = std::fs::read_to_string(&saved).unwrap();
    assert!(saved_text.contains("CLIENT_CERTIFICATE"), "{saved_text}");
    for (what, doc) in [
        ("text", &text_plan),
        ("json", &json_plan),
        ("saved", &saved_text),
    ] {
        for n in needles
            .iter()
            .chain(std::iter::once(&"prod-token-rotated".to_string()))
        {
            assert!(!doc.contains(n.as_str()), "{what} plan holds {n:?}");
        }
    }
}

/// The writes (non-GET requests) the simulated GitHub received, as `METHOD route`.
fn writes(f: &Fleet) -> Vec<String> {
    f.gh.handle
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn saved_addresses(path: &Path) -> Vec<String> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["address"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_writes_exactly_the_saved_steps_and_records_them() {
    let (f, repo) = converged().await;
    let h = &f.gh.handle;
    assert!(h.set_variable(&repo, "DATAIKU_PROJECT_KEY", "HACKED"));
    assert!(h.set_topics(&repo, &["by-hand"]));
    let saved = f.dir.as_path().join("fix.plan");
    let out = fleetctl(&f, &["plan", "--out", saved.to_str().unwrap()]);
    assert!(out.status.success(), "{}", err(&out));
    let mut addresses = saved_addresses(&saved);
    addresses.sort();
    assert_eq!(
        addresses,
        [
            format!("topics:{repo}"),
            format!("variable:{repo}/DATAIKU_PROJECT_KEY")
        ]
    );
    h.reset_counters();
    let out = Command::new(env!("CARGO_BIN_EXE_fleetctl"))
        .args(["apply", saved.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", text(&out), err(&out));
    let mut w = writes(&f);
    w.sort();
    assert_eq!(
        w,
        [
            format!("PATCH /repos/{repo}/actions/variables/DATAIKU_PROJECT_KEY"),
            format!("PUT /repos/{repo}/topics"),
        ],
        "{}",
        text(&out)
    );
    let key = f.dss.handle.project_keys().remove(0);
    assert_eq!(h.repo(&repo).unwrap().variables["DATAIKU_PROJECT_KEY"], key);
    // Through the engine's record path: a run, its journal, the resources in sync.
    let store = f.store();
    let runs = store.list_runs(10).unwrap();
    assert_eq!(runs[0].trigger, "cli-apply", "{runs:?}");
    assert_eq!(runs[0].status, "succeeded", "{runs:?}");
    let c = rusqlite::Connection::open(f.dir.as_path().join("state.db")).unwrap();
    let journaled: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM journal WHERE run_id = ?1",
            [runs[0].id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(journaled >= 2, "{journaled} journal rows");
    // Nothing is left to do.
    let again = fleetctl(&f, &["plan", "--exit-code"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_edit_after_the_plan_makes_apply_refuse_and_write_nothing() {
    let (f, repo) = converged().await;
    let h = &f.gh.handle;
    assert!(h.set_variable(&repo, "DATAIKU_PROJECT_KEY", "HACKED"));
    let saved = f.dir.as_path().join("fix.plan");
    let out = fleetctl(&f, &["plan", "--out", saved.to_str().unwrap()]);
    assert!(out.status.success(), "{}", err(&out));
    // Someone edits the variable again before the reviewed plan is applied.
    assert!(h.set_variable(&repo, "DATAIKU_PROJECT_KEY", "HACKED-AGAIN"));
    let runs_before = f.store().list_runs(10).unwrap().len();
    h.reset_counters();
    let out = fleetctl(&f, &["apply", saved.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", text(&out), err(&out));
    let e = err(&out);
    assert!(e.contains("refusing to apply"), "{e}");
    assert!(
        e.contains(&format!(
            "variable:{repo}/DATAIKU_PROJECT_KEY: changed on GitHub"
        )),
        "{e}"
    );
    assert!(e.contains("\"HACKED\" then, \"HACKED-AGAIN\" now"), "{e}");
    assert!(writes(&f).is_empty(), "{:?}", writes(&f));
    assert_eq!(
        h.repo(&repo).unwrap().variables["DATAIKU_PROJECT_KEY"],
        "HACKED-AGAIN"
    );
    assert_eq!(f.store().list_runs(10).unwrap().len(), runs_before);

    // A new drift elsewhere in the repo is a step the review did not see: refused too.
    let saved2 = f.dir.as_path().join("fix2.plan");
    assert!(fleetctl(&f, &["plan", "--out", saved2.to_str().unwrap()])
        .status
        .success());
    assert!(h.set_topics(&repo, &["by-hand"]));
    h.reset_counters();
    let out = fleetctl(&f, &["apply", saved2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    assert!(
        err(&out).contains(&format!("topics:{repo}: a update not in the saved plan")),
        "{}",
        err(&out)
    );
    assert!(writes(&f).is_empty(), "{:?}", writes(&f));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_change_after_the_plan_makes_apply_refuse() {
    let (f, repo) = converged().await;
    assert!(f
        .gh
        .handle
        .set_variable(&repo, "DATAIKU_PROJECT_KEY", "HACKED"));
    let saved = f.dir.as_path().join("fix.plan");
    assert!(fleetctl(&f, &["plan", "--out", saved.to_str().unwrap()])
        .status
        .success());
    edit_config(
        &f,
        "topics = [\"dataiku\", \"gitops\"]",
        "topics = [\"dataiku\"]",
    );
    f.gh.handle.reset_counters();
    let out = fleetctl(&f, &["apply", saved.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    assert!(err(&out).contains("the config changed"), "{}", err(&out));
    assert!(f.gh.handle.requests().is_empty(), "no request at all");
    // Asked for JSON, the refusal is one JSON error document on stderr.
    let out = fleetctl(&f, &["-o", "json", "apply", saved.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    let e: Value = serde_json::from_str(&err(&out)).unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the config changed"),
        "{e:#}"
    );
    // A file that is not a plan is bad input (2), naming the file.
    std::fs::write(&saved, "{ not json").unwrap();
    let out = fleetctl(&f, &["apply", saved.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", err(&out));
    assert!(err(&out).contains("fix.plan:1:"), "{}", err(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_follow_terraforms_detailed_exitcode() {
    let (f, repo) = converged().await;
    let code = |args: &[&str]| fleetctl(&f, args).status.code();
    assert_eq!(code(&["plan", "--exit-code"]), Some(0));
    assert_eq!(code(&["plan"]), Some(0));
    assert!(f
        .gh
        .handle
        .set_variable(&repo, "DATAIKU_PROJECT_KEY", "HACKED"));
    assert_eq!(code(&["plan", "--exit-code"]), Some(2));
    assert_eq!(code(&["plan"]), Some(0));
    // An error is 1 with --exit-code (2 means changes there), fleetctl's usual 2 without.
    edit_config(&f, "owner = \"acme\"", "owner = 12");
    assert_eq!(code(&["plan", "--exit-code"]), Some(1));
    assert_eq!(code(&["plan"]), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_is_refused_while_another_writer_holds_the_state() {
    let (f, repo) = converged().await;
    assert!(f
        .gh
        .handle
        .set_variable(&repo, "DATAIKU_PROJECT_KEY", "HACKED"));
    let saved = f.dir.as_path().join("fix.plan");
    assert!(fleetctl(&f, &["plan", "--out", saved.to_str().unwrap()])
        .status
        .success());
    // As fleetd holds it while it runs.
    let lock = fleetsync::store::StateLock::acquire(&f.state_path(), "fleetd --config x").unwrap();
    f.gh.handle.reset_counters();
    let out = fleetctl(&f, &["apply", saved.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", err(&out));
    assert!(err(&out).contains("fleetd --config x"), "{}", err(&out));
    assert!(writes(&f).is_empty(), "{:?}", writes(&f));
    drop(lock);
    let out = fleetctl(&f, &["apply", saved.to_str().unwrap()]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(writes(&f).len(), 1, "{:?}", writes(&f));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_variables_show_before_and_after() {
    let mut f = Fleet::start(1, 0, roomy_github(), "").await;
    f.org_scoped = true;
    f.write_config();
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    let resp = reqwest::Client::new()
        .patch(format!(
            "{}/orgs/acme/actions/variables/DATAIKU_INFRA_ID_PROD",
            f.gh.url
        ))
        .bearer_auth(GH_TOKEN)
        .header("user-agent", "hand-edit")
        .json(&serde_json::json!({"value": "hand-infra"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{:?}", resp.text().await);
    let out = fleetctl(&f, &["plan"]);
    assert!(out.status.success(), "{}", err(&out));
    let t = text(&out);
    assert!(t.contains("org-variable:acme/DATAIKU_INFRA_ID_PROD"), "{t}");
    assert!(
        t.contains("value: \"hand-infra\" → \"prod-automation\""),
        "{t}"
    );
    let plan: Value = serde_json::from_str(&text(&fleetctl(&f, &["-o", "json", "plan"]))).unwrap();
    let steps = json_steps(&plan);
    let v = step(&steps, "org-variable:acme/DATAIKU_INFRA_ID_PROD");
    assert_eq!(field(v, "value")["before"], "hand-infra");
    assert_eq!(field(v, "value")["after"], "prod-automation");

    // A repo taken out of an org secret's selection by hand: which repo comes back, as a
    // field, not only in the step's summary.
    let repo = f.wanted_project_repos().remove(0);
    let http = reqwest::Client::new();
    let id = http
        .get(format!("{}/repos/{repo}", f.gh.url))
        .bearer_auth(GH_TOKEN)
        .header("user-agent", "hand-edit")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let secret = "DATAIKU_INSTANCE_PROD_CI_API_TOKEN";
    let resp = http
        .delete(format!(
            "{}/orgs/acme/actions/secrets/{secret}/repositories/{id}",
            f.gh.url
        ))
        .bearer_auth(GH_TOKEN)
        .header("user-agent", "hand-edit")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{:?}", resp.text().await);
    let t = text(&fleetctl(&f, &["plan"]));
    assert!(
        t.contains(&format!("repositories_added: (none) → [\"{repo}\"]")),
        "{t}"
    );
    let plan: Value = serde_json::from_str(&text(&fleetctl(&f, &["-o", "json", "plan"]))).unwrap();
    let steps = json_steps(&plan);
    let sel = step(&steps, &format!("org-secret:acme/{secret}"));
    assert_eq!(
        field(sel, "repositories_added")["after"][0],
        repo.as_str(),
        "{sel}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_change_shows_its_diff_on_the_default_branch_and_in_the_pull_request() {
    let (f, repo) = converged().await;
    let template = f.dir.as_path().join("templates").join("release.yml");
    let old = std::fs::read_to_string(&template).unwrap();
    assert!(old.contains("name: Release"));
    std::fs::write(
        &template,
        old.replacen("name: Release", "name: Release to prod", 1),
    )
    .unwrap();
    let out = fleetctl(&f, &["-o", "json", "plan"]);
    assert!(out.status.success(), "{}", err(&out));
    let plan: Value = serde_json::from_str(&text(&out)).unwrap();
    let steps = json_steps(&plan);
    let path = ".github/workflows/release.yml";
    for address in [
        format!("file:{repo}/{path}"),
        format!("pull-request:{repo}/prod"),
    ] {
        let s = step(&steps, &address);
        let d = &s["change"]["files"][0];
        assert_eq!(d["path"], path, "{s:#}");
        let unified = d["unified"].as_str().unwrap_or_else(|| panic!("{s:#}"));
        assert!(unified.contains("-name: Release\n"), "{unified}");
        assert!(unified.contains("+name: Release to prod\n"), "{unified}");
        assert_eq!(
            (d["lines_added"].clone(), d["lines_removed"].clone()),
            (1.into(), 1.into())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_file_edited_on_github_shows_its_diff() {
    let f = Fleet::start(1, 1, roomy_github(), "").await;
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    let repo =
        f.gh.handle
            .repo_names()
            .into_iter()
            .find(|n| n.starts_with("acme/dss-plugin-"))
            .unwrap();
    let files = f.gh.handle.repo(&repo).unwrap().files;
    let (path, content) = files
        .iter()
        .find(|(p, c)| !p.starts_with(".github/") && std::str::from_utf8(c).is_ok())
        .map(|(p, c)| (p.clone(), String::from_utf8(c.clone()).unwrap()))
        .unwrap();
    let edited = format!("{content}# edited by hand\n");
    assert!(f.gh.handle.edit_file(&repo, None, &path, edited.as_bytes()));
    let plan: Value = serde_json::from_str(&text(&fleetctl(&f, &["-o", "json", "plan"]))).unwrap();
    let steps = json_steps(&plan);
    let s = step(&steps, &format!("mirror:{repo}"));
    let d = &s["change"]["files"][0];
    assert_eq!(d["path"], path.as_str(), "{s:#}");
    assert!(
        d["unified"].as_str().unwrap().contains("-# edited by hand"),
        "{s:#}"
    );
}
