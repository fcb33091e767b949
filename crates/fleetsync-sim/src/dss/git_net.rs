//! What a DSS project's git does over the network: push a branch, fetch, and pull with rebase,
//! against the simulated GitHub the remote URL names (hosts a linked GitHub serves: its own
//! `host:port` and `github.com`). Answers carry git's own output, as DSS relays it:
//! `{success, logs, output}`.

use super::super::git::remote::{self, RemoteRepo};
use super::super::github::{GitHosts, GithubSimHandle, Pushed, Refusal};
use super::git::user;
use super::state::{SimProject, SimState};
use serde_json::{json, Value};

/// A simulated GitHub a node can reach.
#[derive(Clone)]
pub(crate) struct GithubLink {
    pub hosts: GitHosts,
    pub handle: GithubSimHandle,
}

impl std::fmt::Debug for GithubLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GithubLink({:?})", self.hosts.0)
    }
}

/// The outcome of a git action, as DSS answers it.
pub(crate) struct GitAnswer {
    pub success: bool,
    pub output: String,
}

impl GitAnswer {
    fn ok(output: String) -> Self {
        GitAnswer {
            success: true,
            output,
        }
    }

    fn fail(output: String) -> Self {
        GitAnswer {
            success: false,
            output,
        }
    }

    pub fn json(&self) -> Value {
        json!({"success": self.success, "logs": [], "output": self.output})
    }
}

const NO_ACCESS: &str = "fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.";

fn is_https(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// Finds the linked GitHub and the repository a URL names; `Err` is git's failure output.
fn resolve(links: &[GithubLink], url: &str) -> Result<(GithubSimHandle, RemoteRepo), String> {
    let Some(target) = remote::parse(url) else {
        return Err(format!(
            "fatal: '{url}' does not appear to be a git repository\n{NO_ACCESS}"
        ));
    };
    match links.iter().find(|l| l.hosts.serves(&target.host)) {
        Some(l) => Ok((l.handle.clone(), target)),
        None if is_https(url) => Err(format!(
            "fatal: unable to access '{url}/': Could not resolve host: {}",
            target.host
        )),
        None => Err(format!(
            "ssh: Could not resolve hostname {}: Name or service not known\r\n{NO_ACCESS}",
            target.host
        )),
    }
}

fn refusal_output(url: &str, why: &Refusal) -> String {
    match (why, is_https(url)) {
        (Refusal::NotFound, true) => {
            format!("remote: Repository not found.\nfatal: repository '{url}/' not found")
        }
        (Refusal::NotFound, false) => format!("ERROR: Repository not found.\n{NO_ACCESS}"),
        (Refusal::Archived, _) => {
            format!("ERROR: This repository was archived so it is read-only.\n{NO_ACCESS}")
        }
        (Refusal::Unavailable, _) => {
            format!("fatal: unable to access '{url}/': The requested URL returned error: 503")
        }
        _ => format!("error: failed to push some refs to '{url}'"),
    }
}

/// The `origin` remote (or the only one).
fn remote_url(p: &SimProject) -> Option<String> {
    p.remotes
        .get("origin")
        .or_else(|| p.remotes.values().next())
        .cloned()
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

const HINT_FETCH_FIRST: &str = "hint: Updates were rejected because the remote contains work that you do not\nhint: have locally. This is usually caused by another repository pushing to\nhint: the same ref. If you want to integrate the remote changes, use\nhint: 'git pull' before pushing again.\nhint: See the 'Note about fast-forwards' in 'git push --help' for details.";
const HINT_BEHIND: &str = "hint: Updates were rejected because the tip of your current branch is behind\nhint: its remote counterpart. If you want to integrate the remote changes,\nhint: use 'git pull' before pushing again.\nhint: See the 'Note about fast-forwards' in 'git push --help' for details.";

/// git's output for a refused ref update of `branch`.
fn rejected_output(p: &mut SimProject, url: &str, branch: &str, why: &Refusal) -> String {
    match why {
        Refusal::NotFastForward { remote_tip } => {
            let known = p.git().objects.commits.contains_key(remote_tip);
            let (reason, hint) = if known {
                ("non-fast-forward", HINT_BEHIND)
            } else {
                ("fetch first", HINT_FETCH_FIRST)
            };
            format!(
                "To {url}\n ! {:<17} {branch} -> {branch} ({reason})\nerror: failed to push some refs to '{url}'\n{hint}",
                "[rejected]"
            )
        }
        Refusal::Protected => format!(
            "remote: error: GH006: Protected branch update failed for refs/heads/{branch}.\nremote: \nremote: - {}\nremote: \nTo {url}\n ! [remote rejected] {branch} -> {branch} (protected branch hook declined)\nerror: failed to push some refs to '{url}'",
            super::super::github::THROUGH_PR
        ),
        other => refusal_output(url, other),
    }
}

/// `git push origin <branch>` (the current branch by default).
pub(crate) fn push(s: &mut SimState, key: &str, branch: Option<&str>) -> Option<GitAnswer> {
    let links = s.github.clone();
    let failure = s.push_failure.clone();
    let p = s.projects.get_mut(key)?;
    let branch = branch.unwrap_or(&p.git().current).to_string();
    let Some(url) = remote_url(p) else {
        return Some(GitAnswer::fail("fatal: No configured push destination.\nEither specify the URL from the command-line or configure a remote repository".into()));
    };
    if let Some(out) = failure {
        return Some(GitAnswer::fail(format!(
            "To {url}\n ! [rejected] {branch} -> {branch}\n{out}"
        )));
    }
    let Some(tip) = p.git().branches.get(&branch).cloned() else {
        return Some(GitAnswer::fail(format!(
            "error: src refspec {branch} does not match any\nerror: failed to push some refs to '{url}'"
        )));
    };
    let (gh, target) = match resolve(&links, &url) {
        Ok(t) => t,
        Err(out) => return Some(GitAnswer::fail(out)),
    };
    let outcome = gh.receive_push(&target.owner, &target.name, &branch, &tip, &p.git().objects);
    Some(match outcome {
        Ok(pushed) => {
            p.git()
                .tracking
                .insert(format!("origin/{branch}"), tip.clone());
            p.pushes += 1;
            let line = match pushed {
                Pushed::Created => format!(" * {:<17} {branch} -> {branch}", "[new branch]"),
                Pushed::FastForward { old } => {
                    let range = format!("{}..{}", short(&old), short(&tip));
                    format!("   {range:<17} {branch} -> {branch}")
                }
                Pushed::UpToDate => return Some(GitAnswer::ok("Everything up-to-date".into())),
            };
            GitAnswer::ok(format!("To {url}\n{line}"))
        }
        Err(why) => GitAnswer::fail(rejected_output(p, &url, &branch, &why)),
    })
}

/// `git fetch origin`: every remote branch into `origin/*`.
pub(crate) fn fetch(s: &mut SimState, key: &str) -> Option<GitAnswer> {
    let links = s.github.clone();
    let p = s.projects.get_mut(key)?;
    let Some(url) = remote_url(p) else {
        return Some(GitAnswer::fail("fatal: 'origin' does not appear to be a git repository\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.".into()));
    };
    let (gh, target) = match resolve(&links, &url) {
        Ok(t) => t,
        Err(out) => return Some(GitAnswer::fail(out)),
    };
    let refs = match gh.serve_fetch(&target.owner, &target.name, &mut p.git().objects) {
        Ok(r) => r,
        Err(why) => return Some(GitAnswer::fail(refusal_output(&url, &why))),
    };
    let mut lines = Vec::new();
    for (b, sha) in &refs {
        let key = format!("origin/{b}");
        match p.git().tracking.insert(key.clone(), sha.clone()) {
            None => lines.push(format!(" * {:<17} {b:<10} -> {key}", "[new branch]")),
            Some(old) if old != *sha => {
                let range = format!("{}..{}", short(&old), short(sha));
                lines.push(format!("   {range:<17} {b:<10} -> {key}"));
            }
            Some(_) => {}
        }
    }
    p.git()
        .tracking
        .retain(|k, _| !k.starts_with("origin/") || refs.contains_key(&k["origin/".len()..]));
    let output = if lines.is_empty() {
        String::new()
    } else {
        format!("From {url}\n{}", lines.join("\n"))
    };
    Some(GitAnswer::ok(output))
}

/// `git pull --rebase origin <branch>` into the current branch (its own name by default).
pub(crate) fn pull_rebase(s: &mut SimState, key: &str, branch: Option<&str>) -> Option<GitAnswer> {
    let fetched = fetch(s, key)?;
    if !fetched.success {
        return Some(fetched);
    }
    let p = s.projects.get_mut(key)?;
    let current = p.git().current.clone();
    let upstream_branch = branch.unwrap_or(&current).to_string();
    let Some(upstream) = p
        .git()
        .tracking
        .get(&format!("origin/{upstream_branch}"))
        .cloned()
    else {
        return Some(GitAnswer::fail(format!(
            "fatal: couldn't find remote ref {upstream_branch}"
        )));
    };
    let prefix = if fetched.output.is_empty() {
        String::new()
    } else {
        format!("{}\n", fetched.output)
    };
    let Some(local) = p.git().branches.get(&current).cloned() else {
        p.git().branches.insert(current.clone(), upstream);
        return Some(GitAnswer::ok(format!(
            "{prefix}Successfully rebased and updated refs/heads/{current}."
        )));
    };
    if p.git().objects.is_ancestor(&upstream, &local) {
        return Some(GitAnswer::ok(format!(
            "{prefix}Current branch {current} is up to date."
        )));
    }
    let committer = user(&p.owner_login, chrono::Utc::now().timestamp());
    match p.git().objects.rebase(&upstream, &local, &committer) {
        Ok(done) => {
            p.git().branches.insert(current.clone(), done.tip);
            Some(GitAnswer::ok(format!(
                "{prefix}Successfully rebased and updated refs/heads/{current}."
            )))
        }
        Err(c) => Some(GitAnswer::fail(format!(
            "{prefix}Auto-merging {path}\nCONFLICT (content): Merge conflict in {path}\nerror: could not apply {}... {}\nhint: Resolve all conflicts manually, mark them as resolved with\nhint: \"git add/rm <conflicted_files>\", then run \"git rebase --continue\".\nhint: You can instead skip this commit: run \"git rebase --skip\".\nhint: To abort and get back to the state before \"git rebase\", run \"git rebase --abort\".\nThe rebase was aborted; {current} is unchanged.",
            short(&c.commit),
            c.message.lines().next().unwrap_or(""),
            path = c.path,
        ))),
    }
}
