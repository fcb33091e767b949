//! Branch-protection enforcement: a branch whose protection requires pull-request reviews
//! accepts no direct write (contents PUT/DELETE, ref update, git push). Administrators bypass
//! it unless `enforce_admins` is on (GitHub's "Do not allow bypassing the above settings");
//! a PAT of the simulator is an organisation administrator, an App installation is not.
//!
//! The answers are GitHub's:
//! - contents API: 409 `Could not create file: Changes must be made through a pull request.`
//!   (`update`/`delete` for the other two verbs), `documentation_url`
//!   `https://docs.github.com/articles/about-protected-branches` — quoted from live GitHub
//!   answers in public issue reports (e.g. BobAnkh/auto-generate-changelog#78, a 409 "Could not
//!   update file: … Changes must be made through a pull request.").
//! - ref update (`PATCH …/git/refs/heads/{b}`): 422 `Changes must be made through a pull
//!   request.` — the message release-please reports from GitHub's update-ref
//!   (googleapis/repo-automation-bots#5551); 422 is the update-ref answer for a refused update
//!   in the official OpenAPI description.
//! - git push: `GH006: Protected branch update failed for refs/heads/{b}.` then
//!   `Changes must be made through a pull request.`, the ref `(protected branch hook declined)`
//!   (seen verbatim in many public push logs, e.g. ietf-tools/xml2rfc#1251).

use super::auth::Caller;
use super::reply::json_reply;
use super::state::Repo;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

/// The documentation link GitHub sends with a protected-branch refusal.
pub const PROTECTED_DOCS: &str = "https://docs.github.com/articles/about-protected-branches";

/// The line GitHub gives for a write that needs a pull request.
pub const THROUGH_PR: &str = "Changes must be made through a pull request.";

/// Whether `branch` is protected with required pull-request reviews.
pub fn requires_reviews(r: &Repo, branch: &str) -> bool {
    r.protection
        .get(branch)
        .and_then(|p| p.get("required_pull_request_reviews"))
        .is_some_and(|v| !v.is_null())
}

fn enforce_admins(r: &Repo, branch: &str) -> bool {
    r.protection
        .get(branch)
        .and_then(|p| p.get("enforce_admins"))
        .and_then(|e| e.get("enabled"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Whether a direct write to `branch` by a caller (administrator or not) is refused.
pub fn blocks(r: &Repo, branch: &str, admin: bool) -> bool {
    requires_reviews(r, branch) && (enforce_admins(r, branch) || !admin)
}

/// Whether the caller counts as an organisation administrator (a PAT of the simulator).
pub fn is_admin(caller: Option<&Caller>) -> bool {
    caller.is_some_and(|c| c.installation.is_none())
}

/// The contents API's refusal; `verb` is `create`, `update` or `delete`.
pub fn contents_refusal(verb: &str) -> Response {
    json_reply(
        StatusCode::CONFLICT,
        json!({"message": format!("Could not {verb} file: {THROUGH_PR}"),
               "documentation_url": PROTECTED_DOCS, "status": "409"}),
    )
}

/// The ref-update refusal.
pub fn ref_refusal() -> Response {
    json_reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"message": THROUGH_PR,
               "documentation_url": "https://docs.github.com/rest/git/refs#update-a-reference",
               "status": "422"}),
    )
}
