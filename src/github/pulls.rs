//! Pull requests: the way fleetsync proposes its managed files to a protected branch, and
//! the one branch ref update it needs for that (moving its own proposal branch).

use super::error::GhError;
use super::ops::{decode, seg};
use super::routes;
use super::transport::GithubClient;
use http::Method;
use serde::Deserialize;
use serde_json::json;

/// A pull request as fleetsync reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PullSummary {
    pub number: u64,
    /// `open` or `closed`.
    pub state: String,
    /// Set when it was merged.
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
}

impl PullSummary {
    pub fn is_open(&self) -> bool {
        self.state == "open"
    }
    pub fn is_merged(&self) -> bool {
        self.merged_at.is_some()
    }
}

#[derive(Deserialize)]
struct Created {
    number: u64,
}

impl GithubClient {
    /// `GET /repos/{owner}/{repo}/pulls?head=OWNER:HEAD&base=BASE&state=all`, newest first.
    pub async fn list_pulls(
        &self,
        owner: &str,
        repo: &str,
        head: &str,
        base: &str,
    ) -> Result<Vec<PullSummary>, GhError> {
        let first = format!(
            "/repos/{}/{}/pulls?head={}:{}&base={}&state=all&sort=created&direction=desc&per_page=100",
            seg(owner),
            seg(repo),
            seg(owner),
            seg(head),
            seg(base)
        );
        self.list_pages(routes::PULLS, first, |page: Vec<PullSummary>| {
            (page.len() as u64, page)
        })
        .await
    }

    /// `POST /repos/{owner}/{repo}/pulls`; returns the new pull request's number.
    pub async fn create_pull(
        &self,
        owner: &str,
        repo: &str,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<u64, GhError> {
        let path = format!("/repos/{}/{}/pulls", seg(owner), seg(repo));
        let req = json!({"title": title, "head": head, "base": base, "body": body});
        let r = self
            .request(Method::POST, routes::PULLS, &path, Some(&req), false)
            .await?;
        decode::<Created>(&r, "POST", &path).map(|c| c.number)
    }

    /// `PATCH /repos/{owner}/{repo}/pulls/{number}` with a new title and body.
    pub async fn update_pull(
        &self,
        owner: &str,
        repo: &str,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<(), GhError> {
        let path = format!("/repos/{}/{}/pulls/{number}", seg(owner), seg(repo));
        let req = json!({"title": title, "body": body});
        self.request(Method::PATCH, routes::PULL, &path, Some(&req), false)
            .await
            .map(|_| ())
    }

    /// Moves fleetsync's own proposal branch to a new commit, even when that is not a
    /// fast-forward (never used on a branch fleetsync does not own).
    pub async fn force_branch(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
        sha: &str,
    ) -> Result<(), GhError> {
        self.move_branch(owner, repo, branch, sha, true).await
    }
}
