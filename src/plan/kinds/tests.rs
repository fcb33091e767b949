//! Table tests of the plan: `(RepoSpec, ObservedRepo, LastApplied) → steps` for every kind
//! and every reason, with no I/O.

use super::*;
use crate::config::{FileMode, SecretValue};
use crate::desired::{
    blob_sha, DssLink, FileSpec, ProtectionSpec, SecretSpec, SourceKind, SourceObject,
};
use crate::observe::BranchState;
use crate::plan::step::{Action, Op, Reason};
use chrono::{TimeZone, Utc};

fn protection(reviews: u8) -> ProtectionSpec {
    ProtectionSpec {
        required_approving_review_count: Some(reviews),
        dismiss_stale_reviews: true,
        require_code_owner_reviews: false,
        required_status_checks: vec!["dataiku-gitops".into()],
        strict_status_checks: false,
        enforce_admins: true,
        required_linear_history: false,
        allow_force_pushes: false,
        allow_deletions: false,
        required_conversation_resolution: false,
    }
}

fn file(text: &str) -> FileSpec {
    FileSpec {
        content: text.as_bytes().to_vec(),
        blob_sha: blob_sha(text.as_bytes()),
        mode: FileMode::Managed,
    }
}

fn spec() -> RepoSpec {
    let source = SourceObject {
        kind: SourceKind::Project,
        node: "design".into(),
        node_url: "http://dss".into(),
        repo_prefix: String::new(),
        key: "CHURN".into(),
        name: "Churn".into(),
        tags: vec![],
        owner: "alice".into(),
        short_desc: String::new(),
        version: "3".into(),
        custom: Default::default(),
        infra: None,
        mirror: None,
    };
    RepoSpec {
        owner: "acme".into(),
        name: "dss-churn".into(),
        source,
        description: "Churn".into(),
        visibility: "private".into(),
        default_branch: "main".into(),
        topics: vec!["dataiku".into()],
        branches: vec!["prod".into()],
        files: [(".github/workflows/pr.yml".to_string(), file("on: pr"))].into(),
        variables: [("DATAIKU_PROJECT_KEY".to_string(), "CHURN".to_string())].into(),
        secrets: [(
            "TOKEN".to_string(),
            SecretSpec {
                source: "file tok".into(),
                value: SecretValue::new("s3cr3t"),
                fingerprint: "fp-token".into(),
            },
        )]
        .into(),
        org_variables: Default::default(),
        org_secrets: Default::default(),
        retired_secrets: Default::default(),
        retired_variables: Default::default(),
        removed: Default::default(),
        protection: [("prod".to_string(), protection(1))].into(),
        mirror: Default::default(),
        dss_link: Some(DssLink {
            node: "design".into(),
            key: "CHURN".into(),
            remote_name: "origin".into(),
            url: "https://github.com/acme/dss-churn.git".into(),
            overwrite: false,
            push: false,
            branch: "main".into(),
        }),
        marker: None,
    }
}

/// Linked with a push: the repo is made from the project's history.
fn history_first_spec() -> RepoSpec {
    let mut s = spec();
    if let Some(l) = s.dss_link.as_mut() {
        l.push = true;
    }
    s
}

const T0: i64 = 1_700_000_000;

/// GitHub holding exactly the spec.
fn converged(spec: &RepoSpec) -> ObservedRepo {
    ObservedRepo {
        exists: true,
        id: Some(1),
        archived: false,
        visibility: Some(spec.visibility.clone()),
        description: Some(spec.description.clone()),
        default_branch: Some(spec.default_branch.clone()),
        topics: spec.topics.clone(),
        files: Some(
            spec.files
                .iter()
                .map(|(p, f)| (p.clone(), f.blob_sha.clone()))
                .collect(),
        ),
        secrets: spec
            .secrets
            .keys()
            .map(|n| (n.clone(), Utc.timestamp_opt(T0, 0).unwrap()))
            .collect(),
        variables: spec.variables.clone(),
        branches: spec
            .protection
            .iter()
            .map(|(b, p)| (b.clone(), BranchState::Protected(p.clone())))
            .collect(),
        dss_remote: Some(Ok(spec.dss_link.as_ref().map(|l| l.url.clone()))),
        tree_sha: Some("tree".into()),
        contents: Default::default(),
        branch_files: spec
            .branches
            .iter()
            .map(|b| {
                let files = spec
                    .files
                    .iter()
                    .map(|(p, f)| (p.clone(), f.blob_sha.clone()))
                    .collect();
                (b.clone(), files)
            })
            .collect(),
        proposals: Default::default(),
        full_name: Some(spec.full_name()),
        custom_properties: Default::default(),
    }
}

/// What fleetsync wrote last time: the spec, with the secrets' `updated_at` at T0.
fn applied(spec: &RepoSpec) -> LastApplied {
    let t0 = Utc
        .timestamp_opt(T0, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    LastApplied {
        by_address: desired_resources(spec)
            .into_iter()
            .map(|r| {
                let remote = (r.kind() == Kind::Secret).then(|| t0.clone());
                (r.address.to_string(), (Some(r.fingerprint), remote))
            })
            .collect(),
        ..Default::default()
    }
}

/// `(symbol address reason)` of each step, and the drift findings.
fn steps(p: &RepoPlan) -> Vec<(Action, String, Reason)> {
    p.steps
        .iter()
        .map(|s| (s.action, s.address.to_string(), s.reason.clone()))
        .collect()
}

fn plan(obs: &ObservedRepo, last: &LastApplied, mode: DriftMode) -> RepoPlan {
    plan_repo(&spec(), obs, last, mode)
}

fn drift(what: &str) -> Reason {
    Reason::Drift { what: what.into() }
}

#[test]
fn a_new_project_creates_every_resource_in_apply_order() {
    let s = spec();
    let p = plan(
        &ObservedRepo::default(),
        &LastApplied::default(),
        DriftMode::Repair,
    );
    let got: Vec<(Action, String)> = steps(&p).into_iter().map(|(a, s, _)| (a, s)).collect();
    assert_eq!(
        got,
        vec![
            (Action::Create, "repo:acme/dss-churn".into()),
            (Action::Update, "topics:acme/dss-churn".into()),
            (
                Action::Create,
                "file:acme/dss-churn/.github/workflows/pr.yml".into()
            ),
            (Action::Create, "branch:acme/dss-churn/prod".into()),
            (
                Action::Create,
                "variable:acme/dss-churn/DATAIKU_PROJECT_KEY".into()
            ),
            (Action::Create, "secret:acme/dss-churn/TOKEN".into()),
            (Action::Create, "protection:acme/dss-churn/prod".into()),
        ],
        "the DSS remote is not planned before it is observed: {:?}",
        s.dss_link
    );
    assert_eq!(p.steps[0].reason, Reason::NewProject);
    assert!(p.steps[1..].iter().all(|s| s.reason == Reason::NewResource));
    // Each step carries what apply writes.
    match &p.steps[5].op {
        Op::PutSecret { value, .. } => assert_eq!(value.expose(), "s3cr3t"),
        other => panic!("{other:?}"),
    }
    match &p.steps[4].op {
        Op::CreateVariable { value, .. } => assert_eq!(value, "CHURN"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_converged_repo_plans_nothing() {
    let s = spec();
    let p = plan(&converged(&s), &applied(&s), DriftMode::Repair);
    assert!(p.steps.is_empty(), "{:?}", steps(&p));
    assert!(p.drift.is_empty());
}

/// One change on GitHub, the reason it gets when fleetsync wrote the value before (drift),
/// when the config changed since (config changed), and when fleetsync never wrote it.
#[test]
fn every_kind_tells_drift_from_config_change_from_never_written() {
    let s = spec();
    type Edit = fn(&mut ObservedRepo);
    let cases: Vec<(&str, Edit, Reason)> = vec![
        (
            "repo:acme/dss-churn",
            |o| o.visibility = Some("public".into()),
            drift("visibility changed on GitHub"),
        ),
        (
            "topics:acme/dss-churn",
            |o| o.topics = vec!["other".into()],
            drift("topics changed on GitHub"),
        ),
        (
            "file:acme/dss-churn/.github/workflows/pr.yml",
            |o| {
                o.files
                    .as_mut()
                    .unwrap()
                    .insert(".github/workflows/pr.yml".into(), "abcdef0123".into());
            },
            drift("edited on GitHub (blob abcdef0)"),
        ),
        (
            "variable:acme/dss-churn/DATAIKU_PROJECT_KEY",
            |o| {
                o.variables
                    .insert("DATAIKU_PROJECT_KEY".into(), "HACKED".into());
            },
            drift("value changed on GitHub"),
        ),
        (
            "protection:acme/dss-churn/prod",
            |o| {
                o.branches
                    .insert("prod".into(), BranchState::Protected(protection(0)));
            },
            drift("loosened or changed on GitHub: required_approving_review_count"),
        ),
        (
            "protection:acme/dss-churn/prod",
            |o| {
                o.branches.insert("prod".into(), BranchState::Unprotected);
            },
            drift("protection removed on GitHub"),
        ),
    ];
    for (address, edit, want) in &cases {
        let mut obs = converged(&s);
        edit(&mut obs);
        // Written by fleetsync with the desired value, then changed on GitHub: drift.
        let p = plan(&obs, &applied(&s), DriftMode::Repair);
        assert_eq!(
            steps(&p),
            vec![(Action::Update, address.to_string(), want.clone())]
        );
        assert_eq!(p.drift.len(), 1, "{address}");
        assert!(p.drift[0].repair);
        // Report mode: the finding, no step.
        let p = plan(&obs, &applied(&s), DriftMode::Report);
        assert!(p.steps.is_empty(), "{address}: {:?}", steps(&p));
        assert_eq!(p.drift.len(), 1);
        assert!(!p.drift[0].repair);
        // Written before with another value: the config changed.
        let mut last = applied(&s);
        last.by_address.get_mut(*address).unwrap().0 = Some("older".into());
        let p = plan(&obs, &last, DriftMode::Report);
        assert_eq!(p.steps.len(), 1, "{address}");
        assert!(
            matches!(p.steps[0].reason, Reason::ConfigChanged { .. }),
            "{address}"
        );
        assert!(p.drift.is_empty());
        // Never written by fleetsync.
        let mut last = applied(&s);
        last.by_address.remove(*address);
        let p = plan(&obs, &last, DriftMode::Repair);
        match &p.steps[..] {
            [one] => match &one.reason {
                Reason::ConfigChanged { what } => {
                    assert!(
                        what.ends_with("(not written by fleetsync before)"),
                        "{what}"
                    )
                }
                // Removed protection never written before is simply missing.
                Reason::NewResource => assert!(address.starts_with("protection:")),
                other => panic!("{address}: {other:?}"),
            },
            other => panic!("{address}: {other:?}"),
        }
    }
}

#[test]
fn missing_resources_are_new_or_drift_when_fleetsync_wrote_them() {
    let s = spec();
    let mut obs = converged(&s);
    obs.variables.clear();
    obs.secrets.clear();
    obs.branches.insert("prod".into(), BranchState::Missing);
    obs.files = Some(Default::default());
    let p = plan(&obs, &applied(&s), DriftMode::Repair);
    let reasons: Vec<(String, Reason)> = p
        .steps
        .iter()
        .map(|s| (s.address.to_string(), s.reason.clone()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (
                "file:acme/dss-churn/.github/workflows/pr.yml".into(),
                drift("file deleted on GitHub")
            ),
            (
                "branch:acme/dss-churn/prod".into(),
                drift("branch deleted on GitHub")
            ),
            (
                "variable:acme/dss-churn/DATAIKU_PROJECT_KEY".into(),
                drift("variable deleted on GitHub")
            ),
            (
                "secret:acme/dss-churn/TOKEN".into(),
                drift("secret deleted on GitHub")
            ),
            (
                "protection:acme/dss-churn/prod".into(),
                drift("protection removed on GitHub")
            ),
        ]
    );
    let p = plan(&obs, &LastApplied::default(), DriftMode::Repair);
    assert!(
        p.steps.iter().all(|s| s.reason == Reason::NewResource),
        "{:?}",
        steps(&p)
    );
}

#[test]
fn secrets_are_rewritten_only_for_a_new_source_value_a_hand_edit_or_no_record() {
    let s = spec();
    let addr = "secret:acme/dss-churn/TOKEN";
    // Source value changed: its fingerprint differs from the one applied.
    let mut last = applied(&s);
    last.by_address.get_mut(addr).unwrap().0 = Some("fp-old".into());
    let p = plan(&converged(&s), &last, DriftMode::Repair);
    assert_eq!(
        steps(&p),
        vec![(Action::Update, addr.into(), Reason::SecretSourceChanged)]
    );
    // Updated on GitHub after fleetsync's write.
    let mut obs = converged(&s);
    obs.secrets
        .insert("TOKEN".into(), Utc.timestamp_opt(T0 + 60, 0).unwrap());
    let p = plan(&obs, &applied(&s), DriftMode::Repair);
    assert_eq!(
        steps(&p),
        vec![(
            Action::Update,
            addr.into(),
            drift("updated on GitHub at 2023-11-14T22:14:20Z")
        )]
    );
    // On GitHub, but no record of fleetsync writing it.
    let mut last = applied(&s);
    last.by_address.remove(addr);
    let p = plan(&converged(&s), &last, DriftMode::Repair);
    assert_eq!(
        steps(&p),
        vec![(Action::Update, addr.into(), Reason::SecretUnverified)]
    );
    // The same value, updated_at unchanged: nothing.
    assert!(plan(&converged(&s), &applied(&s), DriftMode::Repair)
        .steps
        .is_empty());
}

#[test]
fn a_repo_fleetsync_archived_is_unarchived_when_its_project_is_back() {
    let s = spec();
    let mut obs = converged(&s);
    obs.archived = true;
    let mut last = applied(&s);
    last.archived_by_fleetsync = true;
    for mode in [DriftMode::Repair, DriftMode::Report] {
        let p = plan(&obs, &last, mode);
        assert_eq!(
            steps(&p),
            vec![(
                Action::Update,
                "repo:acme/dss-churn".into(),
                Reason::ProjectBack
            )]
        );
    }
}

#[test]
fn a_repo_archived_by_hand_is_drift_left_alone_in_report_mode() {
    let s = spec();
    let mut obs = converged(&s);
    obs.archived = true;
    // Report: the finding only, and no other step (an archived repo takes no write).
    obs.variables
        .insert("DATAIKU_PROJECT_KEY".into(), "edited".into());
    let p = plan(&obs, &applied(&s), DriftMode::Report);
    assert!(p.steps.is_empty(), "{:?}", steps(&p));
    assert_eq!(p.drift.len(), 1);
    assert_eq!(p.drift[0].what, "archived on GitHub");
    // Repair: unarchived as a repair, then the rest.
    let p = plan(&obs, &applied(&s), DriftMode::Repair);
    assert_eq!(
        steps(&p)[0],
        (
            Action::Update,
            "repo:acme/dss-churn".into(),
            Reason::Drift {
                what: "archived on GitHub".into()
            }
        )
    );
    assert!(p.steps.len() > 1);
}

#[test]
fn after_a_rebuild_old_secrets_are_trusted_and_newer_ones_rewritten() {
    let s = spec();
    let obs = converged(&s);
    let rebuilt = LastApplied {
        trust_secrets_before: Some(Utc.timestamp_opt(T0 + 10, 0).unwrap()),
        ..Default::default()
    };
    let p = plan(&obs, &rebuilt, DriftMode::Repair);
    assert!(
        !p.steps.iter().any(|s| s.kind == Kind::Secret),
        "{:?}",
        steps(&p)
    );
    let before = LastApplied {
        trust_secrets_before: Some(Utc.timestamp_opt(T0 - 10, 0).unwrap()),
        ..Default::default()
    };
    let p = plan(&obs, &before, DriftMode::Repair);
    assert!(p
        .steps
        .iter()
        .any(|s| s.kind == Kind::Secret && s.reason == Reason::SecretUnverified));
}

#[test]
fn a_repo_deleted_on_github_in_report_mode_plans_nothing_more() {
    let s = spec();
    let p = plan(&ObservedRepo::default(), &applied(&s), DriftMode::Report);
    assert!(p.steps.is_empty());
    assert_eq!(p.drift.len(), 1);
    assert_eq!(p.drift[0].what, "repo deleted on GitHub");
}

#[test]
fn the_dss_remote_is_set_then_pushed_once_and_a_foreign_remote_is_only_reported() {
    let s = history_first_spec();
    let mut obs = converged(&s);
    obs.dss_remote = Some(Ok(None));
    let mut last = applied(&s);
    last.by_address.remove("dss-remote:design/CHURN/origin");
    last.by_address.remove("dss-push:design/CHURN");
    let p = plan_repo(&s, &obs, &last, DriftMode::Repair);
    assert_eq!(
        steps(&p),
        vec![
            (
                Action::Create,
                "dss-remote:design/CHURN/origin".into(),
                Reason::NewResource
            ),
            (
                Action::Create,
                "dss-push:design/CHURN".into(),
                Reason::NewResource
            ),
        ]
    );
    // Remote set, never pushed: push.
    let p = plan_repo(&s, &converged(&s), &last, DriftMode::Repair);
    assert_eq!(
        steps(&p),
        vec![(
            Action::Create,
            "dss-push:design/CHURN".into(),
            Reason::NewResource
        )]
    );
    // Pointing elsewhere, overwrite off: a report-only finding.
    let mut obs = converged(&s);
    obs.dss_remote = Some(Ok(Some("https://git.example.com/other.git".into())));
    let p = plan_repo(&s, &obs, &applied(&s), DriftMode::Repair);
    assert!(p.steps.is_empty());
    assert_eq!(p.drift.len(), 1);
    assert!(p.drift[0].what.contains("not overwritten"));
    // Not observable this run: nothing on the DSS side.
    let mut obs = converged(&s);
    obs.dss_remote = Some(Err("DSS down".into()));
    assert!(plan_repo(&s, &obs, &last, DriftMode::Repair)
        .steps
        .is_empty());
}

#[test]
fn a_changed_plugin_file_is_mirrored_as_one_step() {
    let mut s = spec();
    s.dss_link = None;
    s.mirror = [
        ("plugin.json".to_string(), file("{}")),
        ("python-lib/x.py".to_string(), file("x = 1")),
    ]
    .into();
    let mut obs = converged(&s);
    obs.dss_remote = None;
    let files = obs.files.as_mut().unwrap();
    files.insert("plugin.json".into(), blob_sha(b"{}"));
    files.insert("python-lib/x.py".into(), blob_sha(b"x = 0"));
    let mut last = applied(&s);
    last.by_address
        .insert("mirror:acme/dss-churn".into(), (Some("older".into()), None));
    let p = plan_repo(&s, &obs, &last, DriftMode::Repair);
    assert_eq!(p.steps.len(), 1, "{:?}", steps(&p));
    match &p.steps[0].op {
        Op::MirrorFiles { changed, files, .. } => {
            assert_eq!(changed, &vec!["python-lib/x.py".to_string()]);
            assert_eq!(files.len(), 1);
            assert_eq!(files[0].1 .0.as_slice(), b"x = 1");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_seeded_file_is_created_once_and_never_overwritten() {
    let mut s = spec();
    if let Some(f) = s.files.get_mut(".github/workflows/pr.yml") {
        f.mode = FileMode::Seeded;
    }
    let mut obs = converged(&s);
    obs.files
        .as_mut()
        .unwrap()
        .insert(".github/workflows/pr.yml".into(), "edited".into());
    assert!(plan_repo(&s, &obs, &applied(&s), DriftMode::Repair)
        .steps
        .is_empty());
}

#[test]
fn a_repo_made_from_the_project_history_has_the_push_first_and_the_pull_last() {
    let s = history_first_spec();
    let obs = ObservedRepo {
        dss_remote: Some(Ok(None)),
        ..Default::default()
    };
    let p = plan_repo(&s, &obs, &LastApplied::default(), DriftMode::Repair);
    let kinds: Vec<&str> = p.steps.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "repo",
            "topics",
            "dss-remote",
            "dss-push",
            "file",
            "branch",
            "variable",
            "secret",
            "protection",
            "dss-pull"
        ]
    );
    assert!(matches!(
        p.steps[0].op,
        Op::CreateRepo {
            auto_init: false,
            ..
        }
    ));
    assert!(matches!(p.steps[4].op, Op::PutFile { batched: true, .. }));
    // Without a push, fleetsync initialises the repo itself and DSS comes last, as before.
    let s = spec();
    let p = plan_repo(&s, &obs, &LastApplied::default(), DriftMode::Repair);
    let kinds: Vec<&str> = p.steps.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds.last(), Some(&"dss-remote"));
    assert!(matches!(
        p.steps[0].op,
        Op::CreateRepo {
            auto_init: true,
            ..
        }
    ));
    assert!(matches!(p.steps[2].op, Op::PutFile { batched: false, .. }));
}

#[test]
fn managed_files_reach_prod_by_one_pull_request_and_other_branches_by_a_commit() {
    let s = spec();
    let mut obs = converged(&s);
    obs.branch_files
        .get_mut("prod")
        .unwrap()
        .insert(".github/workflows/pr.yml".into(), "0ld".into());
    let p = plan(&obs, &applied(&s), DriftMode::Repair);
    assert_eq!(
        steps(&p),
        vec![(
            Action::Update,
            "pull-request:acme/dss-churn/prod".into(),
            Reason::FilesDiffer {
                files: vec![".github/workflows/pr.yml".into()]
            }
        )]
    );
    match &p.steps[0].op {
        Op::ProposeFiles {
            base,
            head,
            pull,
            body,
            ..
        } => {
            assert_eq!(
                (base.as_str(), head.as_str(), *pull),
                ("prod", "fleetsync/prod", None)
            );
            assert!(
                body.contains("`.github/workflows/pr.yml`: content differs"),
                "{body}"
            );
        }
        other => panic!("{other:?}"),
    }
    // The same files already proposed, the pull request open: nothing.
    let mut last = applied(&s);
    let open = crate::github::PullSummary {
        number: 7,
        state: "open".into(),
        merged_at: None,
        body: None,
    };
    obs.proposals.insert("prod".into(), vec![open]);
    assert!(plan(&obs, &last, DriftMode::Repair).steps.is_empty());
    // Other files since: the open pull request is updated, not duplicated.
    last.by_address
        .get_mut("pull-request:acme/dss-churn/prod")
        .unwrap()
        .0 = Some("older".into());
    let p = plan(&obs, &last, DriftMode::Repair);
    assert!(matches!(
        p.steps[0].op,
        Op::ProposeFiles { pull: Some(7), .. }
    ));
    // Without review required, the branch gets a direct commit.
    let mut s = spec();
    if let Some(pr) = s.protection.get_mut("prod") {
        pr.required_approving_review_count = None;
    }
    let p = plan_repo(&s, &obs, &applied(&s), DriftMode::Repair);
    let kinds: Vec<&str> = p.steps.iter().map(|s| s.kind.as_str()).collect();
    assert!(kinds.contains(&"branch-files"), "{kinds:?}");
    assert!(matches!(
        p.steps
            .iter()
            .find(|s| s.kind == Kind::BranchFiles)
            .unwrap()
            .op,
        Op::CommitFiles { .. }
    ));
}
