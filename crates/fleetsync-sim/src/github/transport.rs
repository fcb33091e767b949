//! The git transport of the simulated GitHub, reduced to what a DSS node does with it: a push
//! of one branch (objects travel with it; the ref is created, fast-forwarded, or refused as
//! git refuses it) and a fetch of every branch. It is not HTTP: the simulated DSS node calls
//! it in-process, resolving a remote URL to a repository here by host (see [`GitHosts`]).
//! Renamed and transferred repositories are followed, as GitHub follows them for git.

use super::super::git::ObjectStore;
use super::state::SimState;
use std::collections::BTreeMap;

/// What a successful push did to the branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// The branch did not exist (the first branch of an empty repository also becomes its
    /// default branch, as on GitHub).
    Created,
    /// The branch moved forward from `old`.
    FastForward { old: String },
    /// The branch already pointed at the commit.
    UpToDate,
}

/// Why a push or fetch was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such repository (or no access).
    NotFound,
    /// The repository is archived (read-only).
    Archived,
    /// The branch holds `remote_tip`, which the pushed commit does not contain.
    NotFastForward { remote_tip: String },
    /// The branch is protected and needs a pull request.
    Protected,
    /// GitHub is down (the simulator's outage knob).
    Unavailable,
}

/// The hosts a simulated GitHub answers git for: its own `host:port` and `github.com`.
#[derive(Debug, Clone)]
pub struct GitHosts(pub Vec<String>);

impl GitHosts {
    pub fn of_base_url(base_url: &str) -> GitHosts {
        let mut hosts = vec!["github.com".to_string()];
        if let Ok(u) = url::Url::parse(base_url) {
            if let Some(h) = u.host_str() {
                match u.port() {
                    Some(p) => hosts.push(format!("{h}:{p}")),
                    None => hosts.push(h.to_string()),
                }
            }
        }
        GitHosts(hosts)
    }

    pub fn serves(&self, host: &str) -> bool {
        self.0.iter().any(|h| h.eq_ignore_ascii_case(host))
    }
}

impl SimState {
    /// The current `(owner, name)` of the repository at `owner/name`, following renames and
    /// transfers.
    fn git_target(&self, owner: &str, name: &str) -> Option<(String, String)> {
        if let Some(r) = self.repo(owner, name) {
            return Some((r.owner.clone(), r.name.clone()));
        }
        let id = self.moved_id(owner, name)?;
        self.repo_by_id(id)
            .map(|r| (r.owner.clone(), r.name.clone()))
    }

    /// `git push <url> <tip>:refs/heads/<branch>` from a repository holding `objects`.
    pub fn receive_push(
        &mut self,
        owner: &str,
        name: &str,
        branch: &str,
        tip: &str,
        objects: &ObjectStore,
    ) -> Result<Pushed, Refusal> {
        if self.settings.outage {
            return Err(Refusal::Unavailable);
        }
        let (o, n) = self.git_target(owner, name).ok_or(Refusal::NotFound)?;
        let r = self.repo_mut(&o, &n).ok_or(Refusal::NotFound)?;
        if r.archived {
            return Err(Refusal::Archived);
        }
        let old = r.refs.get(branch).cloned();
        if old.as_deref() == Some(tip) {
            return Ok(Pushed::UpToDate);
        }
        objects.copy_closure(&[tip.to_string()], &mut r.objects);
        if let Some(old) = &old {
            if !r.objects.is_ancestor(old, tip) {
                return Err(Refusal::NotFastForward {
                    remote_tip: old.clone(),
                });
            }
        }
        // A DSS node pushes with its own git credentials, an administrator's in practice.
        if super::protect::blocks(r, branch, true) {
            return Err(Refusal::Protected);
        }
        let first = r.refs.is_empty();
        r.refs.insert(branch.to_string(), tip.to_string());
        if first {
            r.default_branch = branch.to_string();
        }
        r.pushed_at = chrono::Utc::now();
        self.record.counters.git_pushes += 1;
        Ok(match old {
            None => Pushed::Created,
            Some(old) => Pushed::FastForward { old },
        })
    }

    /// `git fetch <url>`: copies every branch's history into `into`; returns the branches.
    pub fn serve_fetch(
        &mut self,
        owner: &str,
        name: &str,
        into: &mut ObjectStore,
    ) -> Result<BTreeMap<String, String>, Refusal> {
        if self.settings.outage {
            return Err(Refusal::Unavailable);
        }
        let (o, n) = self.git_target(owner, name).ok_or(Refusal::NotFound)?;
        let r = self.repo(&o, &n).ok_or(Refusal::NotFound)?;
        let tips: Vec<String> = r.refs.values().cloned().collect();
        r.objects.copy_closure(&tips, into);
        let refs = r.refs.clone();
        self.record.counters.git_fetches += 1;
        Ok(refs)
    }
}
