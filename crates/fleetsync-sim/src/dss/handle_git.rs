//! The in-process handle's git side: linking the node to a simulated GitHub (so project pushes
//! and fetches reach it), a DSS user's commit, and read-outs of a project's history.

use super::super::github::GithubSimHandle;
use super::git::user;
use super::git_net::GithubLink;
use super::state::{bump, now_ms, DssSimHandle};
use std::collections::BTreeMap;

impl DssSimHandle {
    /// Lets this node's projects push to and fetch from `github`: a remote URL naming one of
    /// its hosts (`github.com`, or its own `host:port`) resolves to its repositories.
    pub fn link_github(&self, github: &GithubSimHandle) {
        self.lock().github.push(GithubLink {
            hosts: github.git_hosts(),
            handle: github.clone(),
        });
    }

    /// A DSS user (`author`, the project's owner when `None`) changes the project on `branch`
    /// (the current branch when `None`): each path set to new content or removed (`None`).
    /// Returns the new commit.
    pub fn commit_project(
        &self,
        key: &str,
        author: Option<&str>,
        branch: Option<&str>,
        changes: &[(&str, Option<&[u8]>)],
        message: &str,
    ) -> Result<String, String> {
        let mut s = self.lock();
        let p = s
            .projects
            .get_mut(key)
            .ok_or_else(|| format!("no project {key}"))?;
        let login = author.unwrap_or(&p.owner_login).to_string();
        let changes: Vec<(String, Option<Vec<u8>>)> = changes
            .iter()
            .map(|(path, c)| (path.to_string(), c.map(<[u8]>::to_vec)))
            .collect();
        let who = user(&login, now_ms() / 1000);
        let sha = p.git().commit(branch, &changes, message, &who)?;
        bump(p);
        p.modified_by = login;
        Ok(sha)
    }

    /// The project's current branch.
    pub fn current_branch(&self, key: &str) -> Option<String> {
        self.lock()
            .projects
            .get_mut(key)
            .map(|p| p.git().current.clone())
    }

    /// The commit a local branch (or a remote-tracking one, `origin/<branch>`) points at.
    pub fn branch_head(&self, key: &str, branch: &str) -> Option<String> {
        let mut s = self.lock();
        let g = s.projects.get_mut(key)?.git();
        g.branches
            .get(branch)
            .or_else(|| g.tracking.get(branch))
            .cloned()
    }

    /// The files of a branch (the current one when `None`), path → content.
    pub fn project_files(
        &self,
        key: &str,
        branch: Option<&str>,
    ) -> Option<BTreeMap<String, Vec<u8>>> {
        let mut s = self.lock();
        let g = s.projects.get_mut(key)?.git();
        let files = g.files(branch)?;
        Some(
            files
                .iter()
                .map(|(p, sha)| (p.clone(), g.objects.blob(sha)))
                .collect(),
        )
    }

    /// The commits of the current branch, newest first.
    pub fn project_log(&self, key: &str) -> Vec<String> {
        self.lock()
            .projects
            .get_mut(key)
            .map(|p| p.git().log(None))
            .unwrap_or_default()
    }
}
