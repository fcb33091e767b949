//! One step → the GitHub calls that perform it. Non-idempotent creates tolerate finding the
//! thing already there (a previous run may have done it before a crash).

use crate::dss::DssClient;
use crate::github::{wire, FileWrite, GhError, GithubClient, OrgCollection, RepoCreate};
use crate::ownership::{self, MarkerMode, MarkerSpec};
use crate::plan::{Content, Op, OrgItemKind, RepoPatch, Step};

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    GitHub(#[from] GhError),
    #[error("{0}")]
    Dss(String),
}

fn is_status(e: &GhError, code: u16) -> bool {
    e.status() == Some(code)
}

/// Performs one step.
/// `head` carries the default branch's head commit between the steps of one repo, as the
/// file writes answer it, so creating a branch after them needs no extra read.
pub async fn execute(
    gh: &GithubClient,
    dss: &[DssClient],
    owner: &str,
    name: &str,
    step: &Step,
    head: &mut Option<String>,
) -> Result<(), StepError> {
    match &step.op {
        Op::SetDssRemote {
            node,
            key,
            name: remote,
            url,
        } => {
            let c = dss_client(dss, node)?;
            c.set_git_remote(key, remote, url)
                .await
                .map_err(|e| StepError::Dss(e.to_string()))
        }
        Op::DssPull { node, key } => {
            let c = dss_client(dss, node)?;
            let out = c
                .pull_rebase(key)
                .await
                .map_err(|e| StepError::Dss(e.to_string()))?;
            if out.success {
                Ok(())
            } else {
                Err(StepError::Dss(format!(
                    "DSS node {node}: project {key} could not pull (rebase) from its remote: {}",
                    out.output.trim()
                )))
            }
        }
        Op::DssPush { node, key } => {
            let c = dss_client(dss, node)?;
            let out = c
                .push(key, None)
                .await
                .map_err(|e| StepError::Dss(e.to_string()))?;
            if out.success {
                Ok(())
            } else {
                Err(StepError::Dss(format!(
                    "DSS node {node}: push of project {key} failed: {}",
                    out.output.trim()
                )))
            }
        }
        Op::MirrorFiles {
            files,
            branch,
            message,
            ..
        // The changed plugin files as one commit on the default branch.
        } => commit_listed(gh, owner, name, branch, files, message)
            .await
            .map_err(StepError::from),
        other => github_op(gh, owner, name, other, head)
            .await
            .map_err(StepError::from),
    }
}

/// An org-level step; `org` is the organisation (the plan's scope).
async fn org_op(gh: &GithubClient, org: &str, op: &Op) -> Result<(), GhError> {
    match op {
        Op::PutOrgSecret {
            name,
            value,
            repository_ids,
            ..
        } => {
            gh.put_org_secret(org, name, value.expose().as_bytes(), repository_ids)
                .await
        }
        Op::CreateOrgVariable {
            name,
            value,
            repository_ids,
            ..
        } => match gh
            .create_org_variable(org, name, value, repository_ids)
            .await
        {
            // Created by an earlier attempt whose answer was lost: set it instead.
            Err(e) if is_status(&e, 409) || matches!(e, GhError::Ambiguous { .. }) => {
                gh.update_org_variable(org, name, value, repository_ids)
                    .await
            }
            other => other,
        },
        Op::UpdateOrgVariable {
            name,
            value,
            repository_ids,
            ..
        } => {
            gh.update_org_variable(org, name, value, repository_ids)
                .await
        }
        Op::SetOrgSelection {
            of,
            name,
            repository_ids,
            ..
        } => {
            let what = match of {
                OrgItemKind::Secret => OrgCollection::Secrets,
                OrgItemKind::Variable => OrgCollection::Variables,
            };
            gh.set_selected_repos(what, org, name, repository_ids).await
        }
        other => Err(GhError::Setup(format!(
            "{org}: {} is not an org-level step",
            serde_json::to_string(other).unwrap_or_default()
        ))),
    }
}

fn dss_client<'a>(dss: &'a [DssClient], node: &str) -> Result<&'a DssClient, StepError> {
    dss.iter()
        .find(|c| c.node() == node)
        .ok_or_else(|| StepError::Dss(format!("no DSS client for node {node}")))
}

/// A step on one repo. The match names every `Op`, so a new one does not compile until it
/// is given a place; each group's function performs its own.
async fn github_op(
    gh: &GithubClient,
    owner: &str,
    name: &str,
    op: &Op,
    head: &mut Option<String>,
) -> Result<(), GhError> {
    match op {
        Op::CreateRepo { .. }
        | Op::SetMarker { .. }
        | Op::UpdateRepo { .. }
        | Op::ReplaceTopics { .. }
        | Op::ArchiveRepo
        | Op::DeleteRepo
        | Op::ForgetRepo
        | Op::PutProtection { .. } => repo_op(gh, owner, name, op).await,
        Op::CreateBranch { .. }
        | Op::PutFile { .. }
        | Op::DeleteFile { .. }
        | Op::CommitFiles { .. }
        | Op::ProposeFiles { .. } => content_op(gh, owner, name, op, head).await,
        Op::CreateVariable { .. }
        | Op::UpdateVariable { .. }
        | Op::PutSecret { .. }
        | Op::DeleteSecret { .. }
        | Op::DeleteVariable { .. } => actions_op(gh, owner, name, op).await,
        Op::PutOrgSecret { .. }
        | Op::CreateOrgVariable { .. }
        | Op::UpdateOrgVariable { .. }
        | Op::SetOrgSelection { .. } => org_op(gh, name, op).await,
        // Performed by `execute` (DSS calls, the plugin mirror).
        Op::MirrorFiles { .. }
        | Op::SetDssRemote { .. }
        | Op::DssPush { .. }
        | Op::DssPull { .. } => Ok(()),
    }
}

/// An op handed to the wrong group (a bug in `github_op`'s dispatch): failed, not panicked.
fn misrouted(group: &str, owner: &str, name: &str, op: &Op) -> GhError {
    GhError::Setup(format!(
        "{owner}/{name}: {} is not a {group} step",
        serde_json::to_string(op).unwrap_or_default()
    ))
}

/// The repo itself: creation, marker, settings, topics, archive, delete, protection.
async fn repo_op(gh: &GithubClient, owner: &str, name: &str, op: &Op) -> Result<(), GhError> {
    match op {
        Op::CreateRepo {
            description,
            visibility,
            default_branch,
            auto_init,
            marker,
        } => {
            let create = RepoCreate {
                name: name.to_string(),
                description: description.clone(),
                visibility: visibility.clone(),
                auto_init: *auto_init,
                custom_properties: marker
                    .as_ref()
                    .map(|m| m.creation_properties())
                    .unwrap_or_default(),
            };
            create_repo(gh, owner, &create, default_branch, marker.as_ref()).await
        }
        Op::SetMarker { property, value } => {
            gh.set_property_value(owner, name, property, value).await
        }
        Op::UpdateRepo { patch } => patch_repo(gh, owner, name, patch).await,
        Op::ReplaceTopics { topics } => gh.replace_topics(owner, name, topics).await,
        Op::ArchiveRepo => archive_repo(gh, owner, name).await,
        Op::DeleteRepo => tolerate_gone(gh.delete_repo(owner, name).await),
        Op::ForgetRepo => Ok(()),
        Op::PutProtection { branch, protection } => {
            gh.put_protection(owner, name, branch, protection).await
        }
        other => Err(misrouted("repo", owner, name, other)),
    }
}

/// Branches and files: a branch cut, a contents write, one commit, a pull request.
async fn content_op(
    gh: &GithubClient,
    owner: &str,
    name: &str,
    op: &Op,
    head: &mut Option<String>,
) -> Result<(), GhError> {
    match op {
        Op::CreateBranch { branch, from } => {
            create_branch_from(gh, owner, name, branch, from, head.as_deref()).await
        }
        Op::PutFile {
            path,
            sha,
            branch,
            content,
            blob_sha,
            ..
        } => {
            let file = FileToWrite {
                path,
                branch,
                content,
                blob_sha,
            };
            if let Some(commit) = put_file(gh, owner, name, &file, sha.as_deref()).await? {
                *head = Some(commit);
            }
            Ok(())
        }
        Op::DeleteFile { path, sha, branch } => {
            match gh.delete_file(owner, name, path, sha, branch).await {
                Ok(Some(commit)) => {
                    *head = Some(commit);
                    Ok(())
                }
                Ok(None) => Ok(()),
                Err(e) => tolerate_gone(Err(e)),
            }
        }
        Op::CommitFiles {
            branch,
            files,
            message,
            ..
        } => commit_listed(gh, owner, name, branch, files, message).await,
        Op::ProposeFiles {
            base,
            head,
            pull,
            files,
            title,
            body,
            ..
        } => {
            let proposal = Proposal {
                base,
                head,
                pull: *pull,
                files,
                title,
                body,
            };
            propose_files(gh, owner, name, &proposal).await
        }
        other => Err(misrouted("content", owner, name, other)),
    }
}

/// Actions variables and secrets of the repo.
async fn actions_op(gh: &GithubClient, owner: &str, name: &str, op: &Op) -> Result<(), GhError> {
    match op {
        Op::CreateVariable { name: var, value } => {
            create_variable(gh, owner, name, var, value).await
        }
        Op::UpdateVariable { name: var, value } => {
            update_variable(gh, owner, name, var, value).await
        }
        Op::PutSecret {
            name: secret,
            value,
        } => {
            gh.put_secret(owner, name, secret, value.expose().as_bytes())
                .await
        }
        Op::DeleteSecret { name: secret } => {
            tolerate_gone(gh.delete_secret(owner, name, secret).await)
        }
        Op::DeleteVariable { name: var } => {
            tolerate_gone(gh.delete_variable(owner, name, var).await)
        }
        other => Err(misrouted("variable or secret", owner, name, other)),
    }
}

/// A delete that finds nothing to delete has done its job.
fn tolerate_gone(result: Result<(), GhError>) -> Result<(), GhError> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

async fn patch_repo(
    gh: &GithubClient,
    owner: &str,
    name: &str,
    patch: &RepoPatch,
) -> Result<(), GhError> {
    gh.update_repo(owner, name, &patch_body(patch))
        .await
        .map(|_| ())
}

async fn archive_repo(gh: &GithubClient, owner: &str, name: &str) -> Result<(), GhError> {
    let patch = RepoPatch {
        archived: Some(true),
        ..Default::default()
    };
    patch_repo(gh, owner, name, &patch).await
}

/// A variable PATCHed but gone meanwhile is created instead.
async fn update_variable(
    gh: &GithubClient,
    owner: &str,
    name: &str,
    var: &str,
    value: &str,
) -> Result<(), GhError> {
    match gh.update_variable(owner, name, var, value).await {
        Err(e) if is_status(&e, 404) => gh.create_variable(owner, name, var, value).await,
        other => other,
    }
}

/// Cuts `branch` from the head the file writes of this repo answered, else from `from`'s.
async fn create_branch_from(
    gh: &GithubClient,
    owner: &str,
    name: &str,
    branch: &str,
    from: &str,
    head: Option<&str>,
) -> Result<(), GhError> {
    let sha = match head {
        Some(sha) => sha.to_string(),
        None => {
            gh.get_branch_ref(owner, name, from)
                .await?
                .ok_or_else(|| {
                    GhError::Setup(format!(
                        "{owner}/{name}: default branch {from} does not exist"
                    ))
                })?
                .object
                .sha
        }
    };
    create_branch_tolerant(gh, owner, name, branch, &sha).await
}

/// The managed files of one branch as one commit.
async fn commit_listed(
    gh: &GithubClient,
    owner: &str,
    name: &str,
    branch: &str,
    files: &[(String, Content)],
    message: &str,
) -> Result<(), GhError> {
    let files: Vec<(&str, &Content)> = files.iter().map(|(p, c)| (p.as_str(), c)).collect();
    commit_files(gh, owner, name, branch, &files, message)
        .await
        .map(|_| ())
}

/// The PATCH body of a repo patch (only the fields it sets).
fn patch_body(patch: &RepoPatch) -> serde_json::Value {
    serde_json::to_value(patch).unwrap_or_else(|_| serde_json::json!({}))
}

/// A repo found where fleetsync was creating one is taken as its own earlier creation
/// only when it carries this run's marker; anything else (made by hand meanwhile, another
/// install's) is not written to.
fn own_creation(
    owner: &str,
    found: wire::Repo,
    marker: Option<&MarkerSpec>,
) -> Result<wire::Repo, GhError> {
    let Some(m) = marker else { return Ok(found) };
    let property = match &m.mode {
        MarkerMode::Property(p) => p.as_str(),
        MarkerMode::Topic => "",
    };
    let seen = ownership::read(
        &found.custom_properties.clone().unwrap_or_default(),
        found.topics.as_deref().unwrap_or(&[]),
        property,
    );
    match ownership::claim(&seen, &m.install, &m.source) {
        // Topic mode: the topics are written after the creation, so a repo of this run's
        // own lost creation has none yet; one with other content is not ours either way.
        ownership::Claim::Ours => Ok(found),
        ownership::Claim::Unmarked if m.mode == MarkerMode::Topic => Ok(found),
        other => Err(GhError::NotOwned {
            repo: format!("{owner}/{}", found.name),
            reason: format!("{other:?}"),
        }),
    }
}

/// Creates the repo, tolerating an earlier run's creation (marked as this run's), then
/// moves its default branch.
async fn create_repo(
    gh: &GithubClient,
    owner: &str,
    create: &RepoCreate,
    default_branch: &str,
    marker: Option<&MarkerSpec>,
) -> Result<(), GhError> {
    let name = create.name.as_str();
    let created = match gh.create_repo(owner, create).await {
        Ok(r) => r,
        Err(e) if is_status(&e, 422) => match gh.get_repo(owner, name).await? {
            // Created by an earlier, interrupted run (it carries the marker): carry on.
            Some(r) => own_creation(owner, r, marker)?,
            None => return Err(e),
        },
        // The answer was lost (5xx, reset): look before creating again.
        Err(e @ GhError::Ambiguous { .. }) => match gh.get_repo(owner, name).await? {
            Some(r) => own_creation(owner, r, marker)?,
            None => gh.create_repo(owner, create).await.inspect_err(|_| {
                tracing::warn!(error = %e, "repo creation ambiguous, retry failed");
            })?,
        },
        Err(e) => return Err(e),
    };
    let current = created.default_branch.unwrap_or_else(|| "main".into());
    // An empty repo has no branch to move yet: the first push makes its default branch.
    if create.auto_init && current != default_branch {
        let head = gh
            .get_branch_ref(owner, name, &current)
            .await?
            .ok_or_else(|| {
                GhError::Setup(format!("{owner}/{name}: branch {current} has no commit"))
            })?;
        create_branch_tolerant(gh, owner, name, default_branch, &head.object.sha).await?;
        gh.update_repo(
            owner,
            name,
            &serde_json::json!({"default_branch": default_branch}),
        )
        .await?;
    }
    Ok(())
}

/// A managed file to write.
struct FileToWrite<'a> {
    path: &'a str,
    branch: &'a str,
    content: &'a Content,
    blob_sha: &'a str,
}

/// Writes one file; returns the commit it made, if any.
async fn put_file(
    gh: &GithubClient,
    owner: &str,
    name: &str,
    f: &FileToWrite<'_>,
    sha: Option<&str>,
) -> Result<Option<String>, GhError> {
    let message = format!("fleetsync: update {}", f.path);
    let write = |sha: Option<String>| {
        let message = message.clone();
        async move {
            gh.put_file(
                owner,
                name,
                &FileWrite {
                    path: f.path,
                    content: &f.content.0,
                    sha: sha.as_deref(),
                    branch: f.branch,
                    message: &message,
                },
            )
            .await
        }
    };
    let written = match write(sha.map(str::to_string)).await {
        // A create answered "sha wasn't supplied": the file exists — typically our own
        // write whose answer was lost and that the client retried. Look at it: done if it
        // holds the content, else update it with its sha.
        Err(e @ GhError::ShaRequired { .. }) if sha.is_none() => {
            let current = gh
                .get_tree(owner, name, f.branch)
                .await?
                .and_then(|t| t.tree.into_iter().find(|x| x.path == f.path))
                .map(|x| x.sha);
            match current {
                Some(c) if c == f.blob_sha => return Ok(None),
                Some(c) => write(Some(c)).await?,
                None => return Err(e),
            }
        }
        other => other?,
    };
    Ok(written.commit)
}

/// Creates a variable; an existing one (409) or a lost answer is set with the idempotent PATCH.
async fn create_variable(
    gh: &GithubClient,
    owner: &str,
    name: &str,
    var: &str,
    value: &str,
) -> Result<(), GhError> {
    match gh.create_variable(owner, name, var, value).await {
        Err(e) if is_status(&e, 409) => gh.update_variable(owner, name, var, value).await,
        // The answer was lost: set it with the idempotent PATCH, create if absent.
        Err(GhError::Ambiguous { .. }) => match gh.update_variable(owner, name, var, value).await {
            Err(e) if is_status(&e, 404) => gh.create_variable(owner, name, var, value).await,
            other => other,
        },
        other => other,
    }
}

async fn create_branch_tolerant(
    gh: &GithubClient,
    owner: &str,
    name: &str,
    branch: &str,
    sha: &str,
) -> Result<(), GhError> {
    match gh.create_branch(owner, name, branch, sha).await {
        Err(e) if is_status(&e, 422) => match gh.get_branch_ref(owner, name, branch).await? {
            Some(_) => Ok(()),
            None => Err(e),
        },
        // The answer was lost: look before creating again.
        Err(GhError::Ambiguous { .. }) => match gh.get_branch_ref(owner, name, branch).await? {
            Some(_) => Ok(()),
            None => gh.create_branch(owner, name, branch, sha).await,
        },
        other => other,
    }
}

/// Writes several files on `branch` as one commit (Git Data API, text inline in the tree,
/// binary content as blobs) and fast-forwards the branch. Returns the new commit.
pub(super) async fn commit_files(
    gh: &GithubClient,
    owner: &str,
    name: &str,
    branch: &str,
    files: &[(&str, &Content)],
    message: &str,
) -> Result<String, GhError> {
    let head = gh
        .get_branch_head(owner, name, branch)
        .await?
        .ok_or_else(|| {
            GhError::Setup(format!(
                "{owner}/{name}: branch {branch} does not exist (the project's push has not filled the repo)"
            ))
        })?;
    let texts: Vec<(&str, &str)> = files
        .iter()
        .filter_map(|(p, c)| std::str::from_utf8(&c.0).ok().map(|t| (*p, t)))
        .collect();
    let new_tree = if texts.len() == files.len() {
        gh.create_tree_inline(owner, name, &head.tree, &texts)
            .await?
    } else {
        let mut entries = Vec::new();
        for (path, content) in files {
            let sha = gh.create_blob(owner, name, &content.0).await?;
            entries.push((path.to_string(), Some(sha)));
        }
        gh.create_tree(owner, name, &head.tree, &entries).await?
    };
    let commit = gh
        .create_commit(owner, name, message, &new_tree, &head.commit)
        .await?;
    gh.update_branch(owner, name, branch, &commit).await?;
    Ok(commit)
}

/// A pull request of managed files into a protected branch.
struct Proposal<'a> {
    base: &'a str,
    head: &'a str,
    pull: Option<u64>,
    files: &'a [(String, Content)],
    title: &'a str,
    body: &'a str,
}

/// One commit of the files on top of the base branch, on fleetsync's proposal branch
/// (created, or moved: it is fleetsync's own), then the pull request opened or updated.
async fn propose_files(
    gh: &GithubClient,
    owner: &str,
    name: &str,
    p: &Proposal<'_>,
) -> Result<(), GhError> {
    let base = gh
        .get_branch_ref(owner, name, p.base)
        .await?
        .ok_or_else(|| {
            GhError::Setup(format!("{owner}/{name}: branch {} does not exist", p.base))
        })?;
    let tree = gh
        .get_tree(owner, name, p.base)
        .await?
        .ok_or_else(|| GhError::Setup(format!("{owner}/{name}: branch {} has no tree", p.base)))?;
    let texts: Vec<(&str, &str)> = p
        .files
        .iter()
        .filter_map(|(path, c)| std::str::from_utf8(&c.0).ok().map(|t| (path.as_str(), t)))
        .collect();
    if texts.len() != p.files.len() {
        return Err(GhError::Setup(format!(
            "{owner}/{name}: a managed file for {} is not text and cannot be proposed",
            p.base
        )));
    }
    let new_tree = gh
        .create_tree_inline(owner, name, &tree.sha, &texts)
        .await?;
    let message = format!("fleetsync: managed files for {}", p.base);
    let commit = gh
        .create_commit(owner, name, &message, &new_tree, &base.object.sha)
        .await?;
    match gh.get_branch_ref(owner, name, p.head).await? {
        Some(_) => gh.force_branch(owner, name, p.head, &commit).await?,
        None => gh.create_branch(owner, name, p.head, &commit).await?,
    }
    match p.pull {
        Some(n) => gh.update_pull(owner, name, n, p.title, p.body).await,
        None => gh
            .create_pull(owner, name, p.head, p.base, p.title, p.body)
            .await
            .map(|_| ()),
    }
}
