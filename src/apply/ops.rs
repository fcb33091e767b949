//! One step → the GitHub calls that perform it. Non-idempotent creates tolerate finding the
//! thing already there (a previous run may have done it before a crash).

use crate::desired::RepoSpec;
use crate::dss::DssClient;
use crate::github::{FileWrite, GhError, GithubClient, RepoCreate};
use crate::plan::{Op, Step};
use serde_json::json;

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    GitHub(#[from] GhError),
    #[error("{0}")]
    Dss(String),
}

fn need<'a>(spec: Option<&'a RepoSpec>, step: &Step) -> Result<&'a RepoSpec, GhError> {
    spec.ok_or_else(|| GhError::Setup(format!("{}: no desired state for this step", step.address)))
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
    spec: Option<&RepoSpec>,
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
        Op::MirrorFiles { changed } => {
            let s = need(spec, step)?;
            mirror(gh, owner, name, s, changed)
                .await
                .map_err(StepError::from)
        }
        other => github_op(gh, owner, name, spec, step, other, head)
            .await
            .map_err(StepError::from),
    }
}

fn dss_client<'a>(dss: &'a [DssClient], node: &str) -> Result<&'a DssClient, StepError> {
    dss.iter()
        .find(|c| c.node() == node)
        .ok_or_else(|| StepError::Dss(format!("no DSS client for node {node}")))
}

/// Writes the changed plugin files as one commit on the default branch.
async fn mirror(
    gh: &GithubClient,
    owner: &str,
    name: &str,
    s: &RepoSpec,
    changed: &[String],
) -> Result<(), GhError> {
    let branch = &s.default_branch;
    let head = gh
        .get_branch_ref(owner, name, branch)
        .await?
        .ok_or_else(|| GhError::Setup(format!("{owner}/{name}: branch {branch} does not exist")))?;
    let tree = gh
        .get_tree(owner, name, branch)
        .await?
        .ok_or_else(|| GhError::Setup(format!("{owner}/{name}: branch {branch} has no tree")))?;
    let mut entries = Vec::new();
    for path in changed {
        if let Some(f) = s.mirror.get(path) {
            let sha = gh.create_blob(owner, name, &f.content).await?;
            entries.push((path.clone(), Some(sha)));
        }
    }
    let new_tree = gh.create_tree(owner, name, &tree.sha, &entries).await?;
    let message = format!(
        "fleetsync: mirror plugin {} version {} ({} file(s))",
        s.source.key,
        s.source.version,
        entries.len()
    );
    let commit = gh
        .create_commit(owner, name, &message, &new_tree, &head.object.sha)
        .await?;
    gh.update_branch(owner, name, branch, &commit).await
}

async fn github_op(
    gh: &GithubClient,
    owner: &str,
    name: &str,
    spec: Option<&RepoSpec>,
    step: &Step,
    op: &Op,
    head: &mut Option<String>,
) -> Result<(), GhError> {
    match op {
        Op::CreateRepo => {
            let s = need(spec, step)?;
            let created = match gh
                .create_repo(
                    owner,
                    &RepoCreate {
                        name: name.to_string(),
                        description: s.description.clone(),
                        visibility: s.visibility.clone(),
                    },
                )
                .await
            {
                Ok(r) => r,
                Err(e) if is_status(&e, 422) => match gh.get_repo(owner, name).await? {
                    // Created by an earlier, interrupted run: adopt it.
                    Some(r) => r,
                    None => return Err(e),
                },
                // The answer was lost (5xx, reset): look before creating again.
                Err(e @ GhError::Ambiguous { .. }) => match gh.get_repo(owner, name).await? {
                    Some(r) => r,
                    None => gh
                        .create_repo(
                            owner,
                            &RepoCreate {
                                name: name.to_string(),
                                description: s.description.clone(),
                                visibility: s.visibility.clone(),
                            },
                        )
                        .await
                        .inspect_err(|_| {
                            tracing::warn!(error = %e, "repo creation ambiguous, retry failed");
                        })?,
                },
                Err(e) => return Err(e),
            };
            let current = created.default_branch.unwrap_or_else(|| "main".into());
            if current != s.default_branch {
                let head = gh
                    .get_branch_ref(owner, name, &current)
                    .await?
                    .ok_or_else(|| {
                        GhError::Setup(format!("{owner}/{name}: branch {current} has no commit"))
                    })?;
                create_branch_tolerant(gh, owner, name, &s.default_branch, &head.object.sha)
                    .await?;
                gh.update_repo(owner, name, &json!({"default_branch": s.default_branch}))
                    .await?;
            }
            Ok(())
        }
        Op::UpdateRepo { patch } => gh.update_repo(owner, name, patch).await.map(|_| ()),
        Op::ReplaceTopics { topics } => gh.replace_topics(owner, name, topics).await,
        Op::CreateBranch { branch } => {
            let s = need(spec, step)?;
            let sha = match head.clone() {
                Some(sha) => sha,
                None => {
                    gh.get_branch_ref(owner, name, &s.default_branch)
                        .await?
                        .ok_or_else(|| {
                            GhError::Setup(format!(
                                "{owner}/{name}: default branch {} does not exist",
                                s.default_branch
                            ))
                        })?
                        .object
                        .sha
                }
            };
            create_branch_tolerant(gh, owner, name, branch, &sha).await
        }
        Op::PutFile { path, sha } => {
            let s = need(spec, step)?;
            let f = s
                .files
                .get(path)
                .ok_or_else(|| GhError::Setup(format!("{}: file not in the spec", step.address)))?;
            let message = format!("fleetsync: update {path}");
            let write = |sha: Option<String>| {
                let message = message.clone();
                async move {
                    gh.put_file(
                        owner,
                        name,
                        &FileWrite {
                            path,
                            content: &f.content,
                            sha: sha.as_deref(),
                            branch: &s.default_branch,
                            message: &message,
                        },
                    )
                    .await
                }
            };
            let written = match write(sha.clone()).await {
                // A create answered "sha wasn't supplied": the file exists — typically our own
                // write whose answer was lost and that the client retried. Look at it: done if
                // it holds the content, else update it with its sha.
                Err(e) if sha.is_none() && is_status(&e, 422) && e.to_string().contains("sha") => {
                    let current = gh
                        .get_tree(owner, name, &s.default_branch)
                        .await?
                        .and_then(|t| t.tree.into_iter().find(|x| x.path == *path))
                        .map(|x| x.sha);
                    match current {
                        Some(c) if c == f.blob_sha => return Ok(()),
                        Some(c) => write(Some(c)).await?,
                        None => return Err(e),
                    }
                }
                other => other?,
            };
            if written.commit.is_some() {
                *head = written.commit;
            }
            Ok(())
        }
        Op::CreateVariable { name: var } | Op::UpdateVariable { name: var } => {
            let s = need(spec, step)?;
            let value = s.variables.get(var).ok_or_else(|| {
                GhError::Setup(format!("{}: variable not in the spec", step.address))
            })?;
            let create_first = matches!(step.op, Op::CreateVariable { .. });
            if create_first {
                match gh.create_variable(owner, name, var, value).await {
                    Err(e) if is_status(&e, 409) => {
                        gh.update_variable(owner, name, var, value).await
                    }
                    // The answer was lost: set it with the idempotent PATCH, create if absent.
                    Err(GhError::Ambiguous { .. }) => {
                        match gh.update_variable(owner, name, var, value).await {
                            Err(e) if is_status(&e, 404) => {
                                gh.create_variable(owner, name, var, value).await
                            }
                            other => other,
                        }
                    }
                    other => other,
                }
            } else {
                match gh.update_variable(owner, name, var, value).await {
                    Err(e) if is_status(&e, 404) => {
                        gh.create_variable(owner, name, var, value).await
                    }
                    other => other,
                }
            }
        }
        Op::PutSecret { name: secret } => {
            let s = need(spec, step)?;
            let v = s.secrets.get(secret).ok_or_else(|| {
                GhError::Setup(format!("{}: secret not in the spec", step.address))
            })?;
            gh.put_secret(owner, name, secret, v.value.expose().as_bytes())
                .await
        }
        Op::PutProtection { branch } => {
            let s = need(spec, step)?;
            let p = s.protection.get(branch).ok_or_else(|| {
                GhError::Setup(format!("{}: protection not in the spec", step.address))
            })?;
            gh.put_protection(owner, name, branch, &p.to_put_body())
                .await
        }
        Op::ArchiveRepo => gh
            .update_repo(owner, name, &json!({"archived": true}))
            .await
            .map(|_| ()),
        Op::DeleteRepo => match gh.delete_repo(owner, name).await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        },
        Op::ForgetRepo => Ok(()),
        Op::MirrorFiles { .. } | Op::SetDssRemote { .. } | Op::DssPush { .. } => Ok(()),
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
