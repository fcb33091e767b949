//! The diff of one repo: desired vs observed, with the last-applied fingerprints deciding
//! whether a difference is drift (GitHub changed after our write) or a config change.

use super::step::{Action, DriftFinding, Op, Reason, RepoPlan, Step};
use crate::config::{DriftMode, FileMode};
use crate::desired::{fingerprint, RepoSpec};
use crate::observe::{BranchState, ObservedRepo};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::BTreeMap;

/// What fleetsync last wrote, per resource address.
#[derive(Debug, Clone, Default)]
pub struct LastApplied {
    /// address → (applied fingerprint, GitHub's `updated_at` seen after the write).
    pub by_address: BTreeMap<String, (Option<String>, Option<String>)>,
}

impl LastApplied {
    fn fp(&self, address: &str) -> Option<&str> {
        self.by_address
            .get(address)
            .and_then(|(fp, _)| fp.as_deref())
    }
    fn remote_updated(&self, address: &str) -> Option<DateTime<Utc>> {
        self.by_address
            .get(address)
            .and_then(|(_, u)| u.as_deref())
            .and_then(|u| DateTime::parse_from_rfc3339(u).ok())
            .map(|d| d.with_timezone(&Utc))
    }
}

/// Every resource of a spec: `(address, kind, desired fingerprint)`.
pub fn desired_resources(spec: &RepoSpec) -> Vec<(String, &'static str, String)> {
    let full = spec.full_name();
    let mut v = vec![
        (
            format!("repo:{full}"),
            "repo",
            fingerprint(&(&spec.description, &spec.visibility)),
        ),
        (
            format!("topics:{full}"),
            "topics",
            fingerprint(&spec.topics),
        ),
    ];
    for b in &spec.branches {
        v.push((format!("branch:{full}/{b}"), "branch", fingerprint(b)));
    }
    for (p, f) in &spec.files {
        v.push((format!("file:{full}/{p}"), "file", f.blob_sha.clone()));
    }
    for (n, val) in &spec.variables {
        v.push((format!("variable:{full}/{n}"), "variable", fingerprint(val)));
    }
    for (n, s) in &spec.secrets {
        v.push((
            format!("secret:{full}/{n}"),
            "secret",
            s.fingerprint.clone(),
        ));
    }
    for (b, p) in &spec.protection {
        v.push((
            format!("protection:{full}/{b}"),
            "protection",
            fingerprint(p),
        ));
    }
    if !spec.mirror.is_empty() {
        let shas: Vec<(&String, &String)> =
            spec.mirror.iter().map(|(p, f)| (p, &f.blob_sha)).collect();
        v.push((format!("mirror:{full}"), "mirror", fingerprint(&shas)));
    }
    if let Some(l) = &spec.dss_link {
        v.push((
            format!("dss-remote:{}/{}/{}", l.node, l.key, l.remote_name),
            "dss-remote",
            fingerprint(&l.url),
        ));
        if l.push {
            v.push((
                format!("dss-push:{}/{}", l.node, l.key),
                "dss-push",
                fingerprint(&l.url),
            ));
        }
    }
    v
}

struct Builder<'a> {
    last: &'a LastApplied,
    mode: DriftMode,
    plan: RepoPlan,
}

impl Builder<'_> {
    /// Adds a step for a resource that differs; the reason comes from the last-applied record.
    #[allow(clippy::too_many_arguments)]
    fn differs(
        &mut self,
        action: Action,
        kind: &'static str,
        address: String,
        desired_fp: &str,
        drift_what: String,
        config_what: String,
        op: Op,
        detail: String,
    ) {
        let reason = match self.last.fp(&address) {
            Some(fp) if fp == desired_fp => Reason::Drift { what: drift_what },
            Some(_) => Reason::ConfigChanged { what: config_what },
            None => Reason::ConfigChanged {
                what: format!("{config_what} (not written by fleetsync before)"),
            },
        };
        self.push(action, kind, address, reason, op, detail);
    }

    fn push(
        &mut self,
        action: Action,
        kind: &'static str,
        address: String,
        reason: Reason,
        op: Op,
        detail: String,
    ) {
        if let Reason::Drift { what } = &reason {
            let repair = self.mode == DriftMode::Repair;
            self.plan.drift.push(DriftFinding {
                address: address.clone(),
                kind,
                what: what.clone(),
                repair,
            });
            if !repair {
                return;
            }
        }
        self.plan.steps.push(Step {
            action,
            address,
            kind,
            reason,
            op,
            detail,
        });
    }

    /// A resource missing on GitHub: new, or deleted there after we wrote it (drift).
    fn missing(&mut self, kind: &'static str, address: String, op: Op, detail: String) {
        let reason = if self.last.fp(&address).is_some() {
            Reason::Drift {
                what: format!("{kind} deleted on GitHub"),
            }
        } else {
            Reason::NewResource
        };
        self.push(Action::Create, kind, address, reason, op, detail);
    }
}

/// Plans one repo.
pub fn plan_repo(
    spec: &RepoSpec,
    obs: &ObservedRepo,
    last: &LastApplied,
    mode: DriftMode,
) -> RepoPlan {
    let full = spec.full_name();
    let mut b = Builder {
        last,
        mode,
        plan: RepoPlan {
            repo: full.clone(),
            source: format!(
                "{}:{}/{}",
                spec.source.kind.as_str(),
                spec.source.node,
                spec.source.key
            ),
            ..Default::default()
        },
    };
    let fps: BTreeMap<String, String> = desired_resources(spec)
        .into_iter()
        .map(|(a, _, fp)| (a, fp))
        .collect();
    let fp = |a: &str| fps.get(a).cloned().unwrap_or_default();
    let new_repo = !obs.exists;

    // The repo itself.
    let repo_addr = format!("repo:{full}");
    if new_repo {
        let reason = if last.fp(&repo_addr).is_some() {
            Reason::Drift {
                what: "repo deleted on GitHub".into(),
            }
        } else {
            Reason::NewProject
        };
        b.push(
            Action::Create,
            "repo",
            repo_addr.clone(),
            reason,
            Op::CreateRepo,
            format!(
                "{} repo, default branch {}",
                spec.visibility, spec.default_branch
            ),
        );
        if b.plan.steps.is_empty() {
            // Report-only drift on a deleted repo: nothing more can be planned.
            return b.plan;
        }
    } else {
        if obs.archived {
            b.push(
                Action::Update,
                "repo",
                repo_addr.clone(),
                Reason::ProjectBack,
                Op::UpdateRepo {
                    patch: json!({"archived": false}),
                },
                "unarchive".into(),
            );
        }
        let mut patch = serde_json::Map::new();
        let mut what = Vec::new();
        if obs.description.as_deref().unwrap_or("") != spec.description {
            patch.insert("description".into(), json!(spec.description));
            what.push("description");
        }
        if obs.visibility.as_deref() != Some(spec.visibility.as_str()) {
            patch.insert("visibility".into(), json!(spec.visibility));
            what.push("visibility");
        }
        if !patch.is_empty() {
            let w = what.join(", ");
            b.differs(
                Action::Update,
                "repo",
                repo_addr.clone(),
                &fp(&repo_addr),
                format!("{w} changed on GitHub"),
                format!("{w} differs"),
                Op::UpdateRepo {
                    patch: serde_json::Value::Object(patch),
                },
                format!("set {w}"),
            );
        }
    }

    // Topics.
    let topics_addr = format!("topics:{full}");
    if obs.topics != spec.topics && !(new_repo && spec.topics.is_empty()) {
        let op = Op::ReplaceTopics {
            topics: spec.topics.clone(),
        };
        let detail = format!("[{}]", spec.topics.join(", "));
        if new_repo {
            b.push(
                Action::Update,
                "topics",
                topics_addr,
                Reason::NewResource,
                op,
                detail,
            );
        } else {
            b.differs(
                Action::Update,
                "topics",
                topics_addr.clone(),
                &fp(&topics_addr),
                "topics changed on GitHub".into(),
                "topics differ".into(),
                op,
                detail,
            );
        }
    }

    // Files.
    for (path, f) in &spec.files {
        let addr = format!("file:{full}/{path}");
        let current = if new_repo {
            None
        } else {
            obs.files.as_ref().and_then(|m| m.get(path))
        };
        match current {
            None => b.missing(
                "file",
                addr,
                Op::PutFile {
                    path: path.clone(),
                    sha: None,
                },
                format!("{} bytes", f.content.len()),
            ),
            Some(sha) if *sha != f.blob_sha && f.mode == FileMode::Managed => b.differs(
                Action::Update,
                "file",
                addr.clone(),
                &f.blob_sha,
                format!("edited on GitHub (blob {})", short(sha)),
                "content differs".into(),
                Op::PutFile {
                    path: path.clone(),
                    sha: Some(sha.clone()),
                },
                format!("blob {} → {}", short(sha), short(&f.blob_sha)),
            ),
            Some(_) => {}
        }
    }

    // Branches, created after the files so they hold the workflows.
    for br in &spec.branches {
        let state = obs.branches.get(br);
        if new_repo || matches!(state, None | Some(BranchState::Missing)) {
            b.missing(
                "branch",
                format!("branch:{full}/{br}"),
                Op::CreateBranch { branch: br.clone() },
                format!("from {} (after its files)", spec.default_branch),
            );
        }
    }

    // Variables.
    for (name, value) in &spec.variables {
        let addr = format!("variable:{full}/{name}");
        match (new_repo, obs.variables.get(name)) {
            (true, _) | (false, None) => b.missing(
                "variable",
                addr,
                Op::CreateVariable { name: name.clone() },
                String::new(),
            ),
            (false, Some(v)) if v != value => b.differs(
                Action::Update,
                "variable",
                addr.clone(),
                &fp(&addr),
                "value changed on GitHub".into(),
                "value differs".into(),
                Op::UpdateVariable { name: name.clone() },
                String::new(),
            ),
            _ => {}
        }
    }

    // Secrets (write-only on GitHub: compare fingerprints and updated_at).
    for (name, s) in &spec.secrets {
        let addr = format!("secret:{full}/{name}");
        let op = Op::PutSecret { name: name.clone() };
        let source = format!("from {}", s.source);
        match (new_repo, obs.secrets.get(name)) {
            (true, _) | (false, None) => b.missing("secret", addr, op, source),
            (false, Some(updated)) => match last.fp(&addr) {
                None => b.push(
                    Action::Update,
                    "secret",
                    addr,
                    Reason::SecretUnverified,
                    op,
                    source,
                ),
                Some(applied) if applied != s.fingerprint => b.push(
                    Action::Update,
                    "secret",
                    addr,
                    Reason::SecretSourceChanged,
                    op,
                    source,
                ),
                Some(_) => {
                    if let Some(seen) = last.remote_updated(&addr) {
                        if *updated > seen {
                            b.push(
                                Action::Update,
                                "secret",
                                addr,
                                Reason::Drift {
                                    what: format!(
                                        "updated on GitHub at {}",
                                        updated.format("%Y-%m-%dT%H:%M:%SZ")
                                    ),
                                },
                                op,
                                source,
                            );
                        }
                    }
                }
            },
        }
    }

    // Protection.
    for (branch, p) in &spec.protection {
        let addr = format!("protection:{full}/{branch}");
        let op = Op::PutProtection {
            branch: branch.clone(),
        };
        match obs.branches.get(branch) {
            _ if new_repo => b.missing("protection", addr, op, String::new()),
            None | Some(BranchState::Missing) | Some(BranchState::Unprotected) => {
                let what = "protection removed on GitHub".to_string();
                if last.fp(&addr).is_some() {
                    b.differs(
                        Action::Update,
                        "protection",
                        addr.clone(),
                        &fp(&addr),
                        what,
                        "protection differs".into(),
                        op,
                        String::new(),
                    );
                } else {
                    b.missing("protection", addr, op, String::new());
                }
            }
            Some(BranchState::Protected(cur)) if cur != p => {
                let d = cur.differences(p).join(", ");
                b.differs(
                    Action::Update,
                    "protection",
                    addr.clone(),
                    &fp(&addr),
                    format!("loosened or changed on GitHub: {d}"),
                    format!("settings differ: {d}"),
                    op,
                    d.clone(),
                );
            }
            Some(BranchState::Protected(_)) => {}
        }
    }

    // Dev plugin files, mirrored as one commit.
    if !spec.mirror.is_empty() {
        let addr = format!("mirror:{full}");
        let changed: Vec<String> = spec
            .mirror
            .iter()
            .filter(|(p, f)| {
                new_repo
                    || obs
                        .files
                        .as_ref()
                        .and_then(|m| m.get(*p))
                        .is_none_or(|sha| *sha != f.blob_sha)
            })
            .map(|(p, _)| p.clone())
            .collect();
        if !changed.is_empty() {
            let detail = format!("{} file(s), version {}", changed.len(), spec.source.version);
            let op = Op::MirrorFiles { changed };
            if new_repo || last.fp(&addr).is_none() {
                b.push(
                    Action::Update,
                    "mirror",
                    addr,
                    Reason::NewResource,
                    op,
                    detail,
                );
            } else {
                b.differs(
                    Action::Update,
                    "mirror",
                    addr.clone(),
                    &fp(&addr),
                    "plugin files changed on GitHub".into(),
                    format!("plugin files changed (version {})", spec.source.version),
                    op,
                    detail,
                );
            }
        }
    }

    // The DSS side: the project's git remote, and a first push.
    if let Some(l) = &spec.dss_link {
        let remote_addr = format!("dss-remote:{}/{}/{}", l.node, l.key, l.remote_name);
        let push_addr = format!("dss-push:{}/{}", l.node, l.key);
        let set = Op::SetDssRemote {
            node: l.node.clone(),
            key: l.key.clone(),
            name: l.remote_name.clone(),
            url: l.url.clone(),
        };
        let push = Op::DssPush {
            node: l.node.clone(),
            key: l.key.clone(),
        };
        let current = match &obs.dss_remote {
            Some(Ok(c)) => Some(c.clone()),
            _ => None, // not observed (error): plan nothing on the DSS side this run
        };
        let mut needs_push = false;
        match current {
            None => {}
            Some(None) => {
                b.push(
                    Action::Create,
                    "dss-remote",
                    remote_addr,
                    Reason::NewResource,
                    set,
                    l.url.clone(),
                );
                needs_push = true;
            }
            Some(Some(url)) if url == l.url => {
                needs_push = last.fp(&push_addr) != Some(fp(&push_addr).as_str());
            }
            Some(Some(url)) => {
                let what = format!("remote {} points at {url}", l.remote_name);
                if l.overwrite {
                    let remote_fp = fp(&remote_addr);
                    b.differs(
                        Action::Update,
                        "dss-remote",
                        remote_addr,
                        &remote_fp,
                        format!("{what} (changed in DSS)"),
                        what,
                        set,
                        l.url.clone(),
                    );
                    needs_push = true;
                } else {
                    b.plan.drift.push(DriftFinding {
                        address: remote_addr,
                        kind: "dss-remote",
                        what: format!("{what}; not overwritten (dss.git.overwrite_remote = false)"),
                        repair: false,
                    });
                }
            }
        }
        if needs_push && l.push {
            b.push(
                Action::Create,
                "dss-push",
                push_addr,
                Reason::NewResource,
                push,
                format!("push the project to {}", l.url),
            );
        }
    }
    b.plan
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}
