//! The Git Data API, to write many files as one commit: blobs, a tree on top of a base tree,
//! a commit, and a fast-forward of the branch ref.

use super::error::GhError;
use super::ops::{path_segs, seg};
use super::routes;
use super::transport::GithubClient;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use http::Method;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Sha {
    sha: String,
}

fn sha_of(body: &str, method: &str, path: &str) -> Result<String, GhError> {
    serde_json::from_str::<Sha>(body)
        .map(|s| s.sha)
        .map_err(|e| GhError::Decode {
            method: method.into(),
            path: path.into(),
            reason: e.to_string(),
        })
}

/// A branch's head: the commit and its root tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchHead {
    pub commit: String,
    pub tree: String,
}

#[derive(Deserialize)]
struct BranchWire {
    commit: BranchCommit,
}

#[derive(Deserialize)]
struct BranchCommit {
    sha: String,
    commit: GitCommitWire,
}

#[derive(Deserialize)]
struct GitCommitWire {
    tree: Sha,
}

impl GithubClient {
    /// `GET /repos/{owner}/{repo}/branches/{branch}`: the head commit and its tree in one
    /// read; `None` when the branch does not exist.
    pub async fn get_branch_head(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
    ) -> Result<Option<BranchHead>, GhError> {
        let path = format!(
            "/repos/{}/{}/branches/{}",
            seg(owner),
            seg(repo),
            path_segs(branch)
        );
        match self
            .request(Method::GET, routes::BRANCH, &path, None, false)
            .await
        {
            Ok(r) => {
                let b: BranchWire = serde_json::from_str(&r.body).map_err(|e| GhError::Decode {
                    method: "GET".into(),
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                Ok(Some(BranchHead {
                    commit: b.commit.sha,
                    tree: b.commit.commit.tree.sha,
                }))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /repos/{owner}/{repo}/git/blobs` (base64); returns the blob SHA.
    pub async fn create_blob(
        &self,
        owner: &str,
        repo: &str,
        content: &[u8],
    ) -> Result<String, GhError> {
        let path = format!("/repos/{}/{}/git/blobs", seg(owner), seg(repo));
        let body = json!({"content": B64.encode(content), "encoding": "base64"});
        let r = self
            .request(Method::POST, routes::GIT_BLOBS, &path, Some(&body), false)
            .await?;
        sha_of(&r.body, "POST", &path)
    }

    /// `POST /repos/{owner}/{repo}/git/trees` on top of `base_tree`; each entry is a path and
    /// a blob SHA, or `None` to delete the path. Returns the tree SHA.
    pub async fn create_tree(
        &self,
        owner: &str,
        repo: &str,
        base_tree: &str,
        entries: &[(String, Option<String>)],
    ) -> Result<String, GhError> {
        let path = format!("/repos/{}/{}/git/trees", seg(owner), seg(repo));
        let tree: Vec<Value> = entries
            .iter()
            .map(|(p, sha)| json!({"path": p, "mode": "100644", "type": "blob", "sha": sha}))
            .collect();
        let body = json!({"base_tree": base_tree, "tree": tree});
        let r = self
            .request(Method::POST, routes::GIT_TREES, &path, Some(&body), false)
            .await?;
        sha_of(&r.body, "POST", &path)
    }

    /// `POST /repos/{owner}/{repo}/git/trees` on top of `base_tree` with each file's text
    /// inline (no blob request per file). Returns the tree SHA.
    pub async fn create_tree_inline(
        &self,
        owner: &str,
        repo: &str,
        base_tree: &str,
        files: &[(&str, &str)],
    ) -> Result<String, GhError> {
        let path = format!("/repos/{}/{}/git/trees", seg(owner), seg(repo));
        let tree: Vec<Value> = files
            .iter()
            .map(|(p, text)| json!({"path": p, "mode": "100644", "type": "blob", "content": text}))
            .collect();
        let body = json!({"base_tree": base_tree, "tree": tree});
        let r = self
            .request(Method::POST, routes::GIT_TREES, &path, Some(&body), false)
            .await?;
        sha_of(&r.body, "POST", &path)
    }

    /// `POST /repos/{owner}/{repo}/git/commits`; returns the commit SHA.
    pub async fn create_commit(
        &self,
        owner: &str,
        repo: &str,
        message: &str,
        tree: &str,
        parent: &str,
    ) -> Result<String, GhError> {
        let path = format!("/repos/{}/{}/git/commits", seg(owner), seg(repo));
        let body = json!({"message": message, "tree": tree, "parents": [parent]});
        let r = self
            .request(Method::POST, routes::GIT_COMMITS, &path, Some(&body), false)
            .await?;
        sha_of(&r.body, "POST", &path)
    }

    /// `PATCH /repos/{owner}/{repo}/git/refs/heads/{branch}`: fast-forward only.
    pub async fn update_branch(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
        sha: &str,
    ) -> Result<(), GhError> {
        self.move_branch(owner, repo, branch, sha, false).await
    }

    /// `PATCH /repos/{owner}/{repo}/git/refs/heads/{branch}` with `force`.
    pub(super) async fn move_branch(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
        sha: &str,
        force: bool,
    ) -> Result<(), GhError> {
        let path = format!(
            "/repos/{}/{}/git/refs/heads/{}",
            seg(owner),
            seg(repo),
            path_segs(branch)
        );
        let body = json!({"sha": sha, "force": force});
        self.request(
            Method::PATCH,
            routes::GIT_BRANCH_REF,
            &path,
            Some(&body),
            false,
        )
        .await
        .map(|_| ())
    }
}
