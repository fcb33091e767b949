//! observe: each managed repo's actual state on GitHub with as few requests as possible —
//! the repo, one recursive tree (blob SHAs compared locally), the secrets list, the variables
//! list, and protection per configured branch — all conditional, so an unchanged repo costs
//! ~0 of the hourly limit.

mod org;

pub use org::{observe_org, ObservedOrg, ObservedOrgItem};

use crate::desired::{ProtectionSpec, RepoSpec};
use crate::github::{GhError, GithubClient, ProtectionState};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// A branch as observed.
#[derive(Debug, Clone, PartialEq)]
pub enum BranchState {
    Missing,
    Unprotected,
    Protected(ProtectionSpec),
}

/// One repo as GitHub has it.
#[derive(Debug, Clone, Default)]
pub struct ObservedRepo {
    pub exists: bool,
    /// GitHub's id of the repo (what org secret and variable selections name).
    pub id: Option<u64>,
    pub archived: bool,
    pub visibility: Option<String>,
    pub description: Option<String>,
    pub default_branch: Option<String>,
    pub topics: Vec<String>,
    /// Files on the default branch: path → blob SHA (`None` for an empty repo).
    pub files: Option<BTreeMap<String, String>>,
    /// Secret name → `updated_at`.
    pub secrets: BTreeMap<String, DateTime<Utc>>,
    /// Variable name → value.
    pub variables: BTreeMap<String, String>,
    /// Branches fleetsync manages (the configured ones and protected ones).
    pub branches: BTreeMap<String, BranchState>,
    /// The DSS project's git remote URL (`Ok(None)`: unset), when linking is on.
    pub dss_remote: Option<Result<Option<String>, String>>,
    /// The default branch's root tree SHA (base of a plugin mirror commit).
    pub tree_sha: Option<String>,
    /// Files of each configured branch besides the default one: branch → path → blob SHA.
    pub branch_files: BTreeMap<String, BTreeMap<String, String>>,
    /// fleetsync's pull requests into each protected branch whose managed files differ,
    /// newest first.
    pub proposals: BTreeMap<String, Vec<crate::github::PullSummary>>,
    /// `owner/name` as GitHub answers it: another name than asked for when GitHub
    /// redirected (the repo was renamed or transferred).
    pub full_name: Option<String>,
    /// Custom property values (the ownership marker may be one).
    pub custom_properties: BTreeMap<String, serde_json::Value>,
    /// The current content of managed files that differ, by blob SHA: read only for plans
    /// that show diffs ([`read_before`]), empty otherwise.
    pub contents: BTreeMap<String, Vec<u8>>,
}

impl ObservedRepo {
    /// No commit, no secret, no variable (what `github.adopt = "empty"` takes over).
    pub fn is_empty_repo(&self) -> bool {
        self.exists && self.files.is_none() && self.secrets.is_empty() && self.variables.is_empty()
    }
}

/// Reads one repo. `Ok(ObservedRepo { exists: false, .. })` when it does not exist.
/// `settled`: branches whose managed files fleetsync confirmed and that are not read again
/// until the files change (keeps a converged repo's observation to its five reads).
pub async fn observe(
    gh: &GithubClient,
    spec: &RepoSpec,
    settled: &std::collections::BTreeSet<String>,
) -> Result<ObservedRepo, GhError> {
    match gh.get_repo(&spec.owner, &spec.name).await? {
        None => Ok(ObservedRepo::default()),
        Some(repo) => observe_from(gh, spec, repo, settled).await,
    }
}

/// Reads the rest of a repo whose GET answered `repo`. The reads go to the repo's name as
/// GitHub answered it (after a redirect, its new name).
pub async fn observe_from(
    gh: &GithubClient,
    spec: &RepoSpec,
    repo: crate::github::wire::Repo,
    settled: &std::collections::BTreeSet<String>,
) -> Result<ObservedRepo, GhError> {
    let mut obs = from_repo_object(spec, &repo);
    let full = obs.full_name.clone().unwrap_or_else(|| spec.full_name());
    let (owner, name) = match full.split_once('/') {
        Some((o, n)) => (o.to_string(), n.to_string()),
        None => (spec.owner.clone(), repo.name.clone()),
    };
    let (owner, name) = (&owner, &name);
    let default_branch = obs
        .default_branch
        .clone()
        .unwrap_or_else(|| spec.default_branch.clone());
    let tree = gh.get_tree(owner, name, &default_branch).await?;
    obs.tree_sha = tree.as_ref().map(|t| t.sha.clone());
    obs.files = tree.map(|t| {
        t.tree
            .into_iter()
            .filter(|e| e.kind == "blob")
            .map(|e| (e.path, e.sha))
            .collect()
    });
    if !spec.secrets.is_empty()
        || !spec.retired_secrets.is_empty()
        || !spec.removed.secrets.is_empty()
    {
        obs.secrets = gh
            .list_secrets(owner, name)
            .await?
            .into_iter()
            .map(|s| (s.name.to_ascii_uppercase(), s.updated_at))
            .collect();
    }
    if !spec.variables.is_empty()
        || !spec.retired_variables.is_empty()
        || !spec.removed.variables.is_empty()
    {
        obs.variables = gh
            .list_variables(owner, name)
            .await?
            .into_iter()
            .map(|v| (v.name.to_ascii_uppercase(), v.value))
            .collect();
    }
    observe_branches(gh, spec, owner, name, &default_branch, &mut obs).await?;
    observe_branch_files(gh, spec, &default_branch, settled, &mut obs).await?;
    Ok(obs)
}

/// What the repo object itself says (the GET observe starts from): no request.
fn from_repo_object(spec: &RepoSpec, repo: &crate::github::wire::Repo) -> ObservedRepo {
    let full = repo
        .full_name
        .clone()
        .unwrap_or_else(|| format!("{}/{}", spec.owner, repo.name));
    let default_branch = repo
        .default_branch
        .clone()
        .unwrap_or_else(|| spec.default_branch.clone());
    let mut topics = repo.topics.clone().unwrap_or_default();
    topics.sort();
    ObservedRepo {
        exists: true,
        id: Some(repo.id),
        archived: repo.archived,
        visibility: repo
            .visibility
            .clone()
            .or_else(|| Some(if repo.private { "private" } else { "public" }.to_string())),
        description: repo.description.clone(),
        default_branch: Some(default_branch),
        topics,
        full_name: Some(full),
        custom_properties: repo.custom_properties.clone().unwrap_or_default(),
        ..Default::default()
    }
}

/// Each configured branch: protected (with its protection), unprotected or missing. A
/// branch without protection in the config costs a ref read, unless it is the default.
async fn observe_branches(
    gh: &GithubClient,
    spec: &RepoSpec,
    owner: &str,
    name: &str,
    default_branch: &str,
    obs: &mut ObservedRepo,
) -> Result<(), GhError> {
    let mut branches: Vec<&String> = spec.protection.keys().collect();
    for b in &spec.branches {
        if !branches.contains(&b) {
            branches.push(b);
        }
    }
    for b in branches {
        let state = if spec.protection.contains_key(b) {
            match gh.get_protection(owner, name, b).await? {
                ProtectionState::Protected(p) => BranchState::Protected(p),
                ProtectionState::Unprotected => BranchState::Unprotected,
                ProtectionState::NoBranch => BranchState::Missing,
            }
        } else if b == default_branch {
            BranchState::Unprotected
        } else {
            match gh.get_branch_ref(owner, name, b).await? {
                Some(_) => BranchState::Unprotected,
                None => BranchState::Missing,
            }
        };
        obs.branches.insert(b.clone(), state);
    }
    Ok(())
}

/// The managed files of the configured branches besides the default one, and fleetsync's
/// pull requests into those where they differ and a review is required.
async fn observe_branch_files(
    gh: &GithubClient,
    spec: &RepoSpec,
    default_branch: &str,
    settled: &std::collections::BTreeSet<String>,
    obs: &mut ObservedRepo,
) -> Result<(), GhError> {
    let (owner, name) = (&spec.owner, &spec.name);
    let managed: Vec<(&String, &crate::desired::FileSpec)> = spec
        .files
        .iter()
        .filter(|(_, f)| f.mode == crate::config::FileMode::Managed)
        .collect();
    if managed.is_empty() {
        return Ok(());
    }
    for b in spec.branches.iter().filter(|b| *b != default_branch) {
        if settled.contains(b) || matches!(obs.branches.get(b), None | Some(BranchState::Missing)) {
            continue;
        }
        let Some(tree) = gh.get_tree(owner, name, b).await? else {
            continue;
        };
        let files: BTreeMap<String, String> = tree
            .tree
            .into_iter()
            .filter(|e| e.kind == "blob")
            .map(|e| (e.path, e.sha))
            .collect();
        let differs = managed
            .iter()
            .any(|(p, f)| files.get(*p) != Some(&f.blob_sha));
        if differs && spec.needs_review(b) {
            let pulls = gh
                .list_pulls(owner, name, &crate::desired::proposal_branch(b), b)
                .await?;
            obs.proposals.insert(b.clone(), pulls);
        }
        obs.branch_files.insert(b.clone(), files);
    }
    Ok(())
}

/// Reads the current content of the default branch's files that a plan would change (the
/// managed files and a plugin's mirrored files whose blob differs), so the plan can show a
/// diff: one conditional read per differing file, none for a repo in line.
pub async fn read_before(
    gh: &GithubClient,
    spec: &RepoSpec,
    obs: &mut ObservedRepo,
) -> Result<(), GhError> {
    let full = obs.full_name.clone().unwrap_or_else(|| spec.full_name());
    let Some((owner, name)) = full.split_once('/') else {
        return Ok(());
    };
    let branch = obs
        .default_branch
        .clone()
        .unwrap_or_else(|| spec.default_branch.clone());
    let managed = spec
        .files
        .iter()
        .filter(|(_, f)| f.mode == crate::config::FileMode::Managed)
        .chain(spec.mirror.iter());
    let mut wanted: Vec<(String, String)> = Vec::new();
    for (path, f) in managed {
        let current = obs.files.as_ref().and_then(|m| m.get(path));
        if let Some(sha) = current.filter(|sha| **sha != f.blob_sha) {
            wanted.push((path.clone(), sha.clone()));
        }
    }
    for (path, sha) in wanted {
        if obs.contents.contains_key(&sha) {
            continue;
        }
        if let Some(bytes) = gh.get_file(owner, name, &path, &branch).await? {
            obs.contents.insert(sha, bytes);
        }
    }
    Ok(())
}

/// Reads the DSS side of a project: its git remote.
pub async fn observe_dss(
    dss: &crate::dss::DssClient,
    link: &crate::desired::DssLink,
) -> Result<Option<String>, String> {
    dss.git_remote(&link.key, &link.remote_name)
        .await
        .map_err(|e| e.to_string())
}
