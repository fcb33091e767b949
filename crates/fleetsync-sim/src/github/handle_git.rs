//! The in-process handle's git side: the transport a simulated DSS node pushes and fetches
//! through, what a human does on GitHub (merge a pull request, rename or transfer a
//! repository, push an unrelated branch), and read-outs of branches and pull requests.

use super::super::git::{Files, ObjectStore};
use super::pulls::{self, MergeRefusal};
use super::transport::{GitHosts, Pushed, Refusal};
use super::GithubSimHandle;
use std::collections::BTreeMap;

/// A pull request, as tests read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullView {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    pub merged: bool,
    pub head: String,
    pub base: String,
    pub head_sha: String,
    pub merge_commit_sha: Option<String>,
}

fn split(full: &str) -> Result<(&str, &str), String> {
    full.split_once('/')
        .ok_or_else(|| format!("{full}: not owner/name"))
}

impl GithubSimHandle {
    /// The hosts this GitHub answers git for (its own `host:port`, and `github.com`).
    pub fn git_hosts(&self) -> GitHosts {
        GitHosts::of_base_url(&self.shared.base_url)
    }

    /// A git push of `tip` to `branch` of `owner/name`, from a repository holding `objects`.
    pub fn receive_push(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
        tip: &str,
        objects: &ObjectStore,
    ) -> Result<Pushed, Refusal> {
        self.shared
            .lock()
            .receive_push(owner, name, branch, tip, objects)
    }

    /// A git fetch of every branch of `owner/name` into `into`; returns the branches.
    pub fn serve_fetch(
        &self,
        owner: &str,
        name: &str,
        into: &mut ObjectStore,
    ) -> Result<BTreeMap<String, String>, Refusal> {
        self.shared.lock().serve_fetch(owner, name, into)
    }

    /// The commit a branch points at.
    pub fn branch_head(&self, full_name: &str, branch: &str) -> Option<String> {
        let (o, n) = split(full_name).ok()?;
        self.shared.lock().repo(o, n)?.refs.get(branch).cloned()
    }

    /// Whether commit `ancestor` is in the history of commit `descendant`.
    pub fn is_ancestor(&self, full_name: &str, ancestor: &str, descendant: &str) -> bool {
        let Ok((o, n)) = split(full_name) else {
            return false;
        };
        self.shared
            .lock()
            .repo(o, n)
            .is_some_and(|r| r.objects.is_ancestor(ancestor, descendant))
    }

    /// The parents of a commit.
    pub fn commit_parents(&self, full_name: &str, sha: &str) -> Option<Vec<String>> {
        let (o, n) = split(full_name).ok()?;
        let st = self.shared.lock();
        st.repo(o, n)?
            .objects
            .commits
            .get(sha)
            .map(|c| c.parents.clone())
    }

    /// Every pull request of a repository, by number.
    pub fn pulls(&self, full_name: &str) -> Vec<PullView> {
        let Ok((o, n)) = split(full_name) else {
            return Vec::new();
        };
        let st = self.shared.lock();
        let Some(r) = st.repo(o, n) else {
            return Vec::new();
        };
        r.pulls
            .items
            .values()
            .map(|p| PullView {
                number: p.number,
                title: p.title.clone(),
                body: p.body.clone(),
                state: p.state().to_string(),
                merged: p.merged(),
                head: p.head_ref.clone(),
                base: p.base_ref.clone(),
                head_sha: pulls::head_sha(r, p),
                merge_commit_sha: p.merge_commit_sha.clone(),
            })
            .collect()
    }

    /// A reviewer merges pull request `number` (a merge commit on its base). Returns the merge
    /// commit.
    pub fn merge_pull(&self, full_name: &str, number: u64) -> Result<String, String> {
        let (o, n) = split(full_name)?;
        let mut st = self.shared.lock();
        let r = st
            .repo_mut(o, n)
            .ok_or_else(|| format!("no repository {full_name}"))?;
        pulls::merge(r, number, "sim-reviewer").map_err(|e| match e {
            MergeRefusal::NotFound => format!("no pull request #{number}"),
            MergeRefusal::NotOpen => format!("pull request #{number} is not open"),
            MergeRefusal::MissingBranch => format!("pull request #{number} lost a branch"),
            MergeRefusal::Conflict(p) => format!("merge conflict in {p}"),
        })
    }

    /// Someone renames the repository on GitHub (its old name then redirects).
    pub fn rename_repo(&self, full_name: &str, new_name: &str) -> Result<(), String> {
        let (o, n) = split(full_name)?;
        self.shared.lock().relocate(o, n, o, new_name)
    }

    /// Someone transfers the repository to `new_owner` (an organisation of the simulator),
    /// optionally renaming it (its old place then redirects).
    pub fn transfer_repo(
        &self,
        full_name: &str,
        new_owner: &str,
        new_name: Option<&str>,
    ) -> Result<(), String> {
        let (o, n) = split(full_name)?;
        self.shared
            .lock()
            .relocate(o, n, new_owner, new_name.unwrap_or(n))
    }

    /// Creates an empty repository (no commits), as `POST /orgs/{org}/repos` without
    /// `auto_init` does; false when it exists or the organisation is unknown.
    pub fn create_empty_repo(&self, org: &str, name: &str) -> bool {
        let mut st = self.shared.lock();
        match st.org(org) {
            Some(o) if st.repo(&o, name).is_none() => {
                st.insert_repo(&o, name);
                true
            }
            _ => false,
        }
    }

    /// Someone pushes `files` to `branch` as a new root commit (a history unrelated to the
    /// repository's), replacing the branch if it exists. Returns the commit.
    pub fn push_unrelated(
        &self,
        full_name: &str,
        branch: &str,
        files: &[(&str, &[u8])],
    ) -> Option<String> {
        let (o, n) = split(full_name).ok()?;
        let mut st = self.shared.lock();
        let r = st.repo_mut(o, n)?;
        let mut map = Files::new();
        for (path, bytes) in files {
            map.insert(path.to_string(), r.objects.put_blob(bytes));
        }
        let now = chrono::Utc::now();
        let sha = r
            .objects
            .api_commit(map, Vec::new(), "Unrelated history", now.timestamp());
        if r.refs.is_empty() {
            r.default_branch = branch.to_string();
        }
        r.refs.insert(branch.to_string(), sha.clone());
        r.pushed_at = now;
        Some(sha)
    }
}
