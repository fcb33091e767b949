//! A DSS project's own git repository, as the simulated node keeps it: the objects, the local
//! branches, the current branch (`master` for a new project, as on DSS), and the
//! remote-tracking refs (`origin/master`) a fetch or push leaves. A new project starts with one
//! root commit holding its configuration files, authored by its owner.

use super::super::git::{Files, NewCommit, ObjectStore, Signature};
use std::collections::BTreeMap;

/// The branch a new DSS project is on.
pub const DEFAULT_BRANCH: &str = "master";

/// One project's repository.
#[derive(Debug, Clone)]
pub(crate) struct ProjectGit {
    pub objects: ObjectStore,
    pub branches: BTreeMap<String, String>,
    pub current: String,
    /// `remote/branch` → commit, as the last fetch or push saw it.
    pub tracking: BTreeMap<String, String>,
}

/// A DSS user's identity in commits.
pub(crate) fn user(login: &str, epoch: i64) -> Signature {
    Signature::new(login, &format!("{login}@dss.example.com"), epoch)
}

/// The configuration files DSS keeps for a project (a small but realistic set).
fn project_files(objects: &mut ObjectStore, key: &str, name: &str, owner: &str) -> Files {
    let k = key.to_ascii_lowercase();
    let params = serde_json::json!({
        "projectKey": key, "name": name, "owner": owner,
        "projectStatus": "Draft", "settings": {"gitCommitMode": "AUTO"},
    });
    let recipe = serde_json::json!({
        "type": "python", "inputs": {"main": {"items": [{"ref": format!("{k}_input")}]}},
        "outputs": {"main": {"items": [{"ref": format!("{k}_output")}]}},
    });
    let dataset = |n: &str| serde_json::json!({"type": "Filesystem", "name": n, "managed": true});
    let entries: Vec<(String, Vec<u8>)> = vec![
        ("params.json".into(), pretty(&params)),
        (format!("recipes/compute_{k}_output.json"), pretty(&recipe)),
        (
            format!("recipes/compute_{k}_output.py"),
            format!("import dataiku\n\ninput_ds = dataiku.Dataset(\"{k}_input\")\ndf = input_ds.get_dataframe()\ndataiku.Dataset(\"{k}_output\").write_with_schema(df)\n").into_bytes(),
        ),
        (format!("datasets/{k}_input.json"), pretty(&dataset(&format!("{k}_input")))),
        (format!("datasets/{k}_output.json"), pretty(&dataset(&format!("{k}_output")))),
    ];
    entries
        .into_iter()
        .map(|(p, bytes)| {
            let sha = objects.put_blob(&bytes);
            (p, sha)
        })
        .collect()
}

fn pretty(v: &serde_json::Value) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s.into_bytes()
}

impl ProjectGit {
    /// A new project's repository: one root commit on `master`.
    pub fn new(key: &str, name: &str, owner: &str, epoch: i64) -> ProjectGit {
        let mut objects = ObjectStore::default();
        let files = project_files(&mut objects, key, name, owner);
        let who = user(owner, epoch);
        let root = objects.commit(NewCommit {
            files,
            parents: vec![],
            author: who.clone(),
            committer: who,
            message: format!("Create project {key}"),
        });
        ProjectGit {
            objects,
            branches: [(DEFAULT_BRANCH.to_string(), root)].into_iter().collect(),
            current: DEFAULT_BRANCH.to_string(),
            tracking: BTreeMap::new(),
        }
    }

    /// The tip of the current branch.
    pub fn head(&self) -> Option<&String> {
        self.branches.get(&self.current)
    }

    /// The files of `branch` (current branch when `None`).
    pub fn files(&self, branch: Option<&str>) -> Option<&Files> {
        let b = branch.unwrap_or(&self.current);
        let tip = self.branches.get(b)?;
        self.objects.commits.get(tip).map(|c| &c.files)
    }

    /// A DSS user's change on `branch` (current when `None`): each path set to new content,
    /// or removed with `None`. Returns the new commit.
    pub fn commit(
        &mut self,
        branch: Option<&str>,
        changes: &[(String, Option<Vec<u8>>)],
        message: &str,
        author: &Signature,
    ) -> Result<String, String> {
        let b = branch.unwrap_or(&self.current).to_string();
        let parent = self
            .branches
            .get(&b)
            .cloned()
            .ok_or_else(|| format!("no branch {b}"))?;
        let mut files = self.files(Some(&b)).cloned().unwrap_or_default();
        for (path, content) in changes {
            match content {
                Some(bytes) => {
                    let sha = self.objects.put_blob(bytes);
                    files.insert(path.clone(), sha);
                }
                None => {
                    files.remove(path);
                }
            }
        }
        let sha = self.objects.commit(NewCommit {
            files,
            parents: vec![parent],
            author: author.clone(),
            committer: author.clone(),
            message: message.to_string(),
        });
        self.branches.insert(b, sha.clone());
        Ok(sha)
    }

    /// Commits on the current branch not on its remote-tracking branch, and the reverse.
    pub fn tracking_count(&self, remote: &str) -> (usize, usize) {
        let Some(head) = self.head() else {
            return (0, 0);
        };
        match self.tracking.get(&format!("{remote}/{}", self.current)) {
            Some(up) => (
                self.objects.range(Some(up), head).len(),
                self.objects.range(Some(head), up).len(),
            ),
            None => (0, 0),
        }
    }

    /// The commits of the current branch, newest first (`git log`), optionally only those
    /// changing something under `path`.
    pub fn log(&self, path: Option<&str>) -> Vec<String> {
        let Some(head) = self.head() else {
            return Vec::new();
        };
        let mut all = self.objects.range(None, head);
        all.reverse();
        match path.filter(|p| !p.is_empty()) {
            None => all,
            Some(prefix) => all
                .into_iter()
                .filter(|sha| self.touches(sha, prefix))
                .collect(),
        }
    }

    fn touches(&self, sha: &str, prefix: &str) -> bool {
        let Some(c) = self.objects.commits.get(sha) else {
            return false;
        };
        let before = self.objects.parent_files(sha);
        let under = |p: &String| {
            p == prefix || p.starts_with(&format!("{}/", prefix.trim_end_matches('/')))
        };
        before
            .iter()
            .filter(|(p, _)| under(p))
            .any(|(p, s)| c.files.get(p) != Some(s))
            || c.files
                .iter()
                .filter(|(p, _)| under(p))
                .any(|(p, s)| before.get(p) != Some(s))
    }
}

/// Whether git accepts `name` as a branch name (`git check-ref-format --branch`).
pub(crate) fn valid_branch_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.ends_with('.')
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("//")
        && !name.contains("@{")
        && name != "@"
        && !name
            .chars()
            .any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c))
        && !name.split('/').any(|part| part.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_project_has_one_root_commit_on_master() {
        let g = ProjectGit::new("CHURN", "Churn", "alice", 1_700_000_000);
        assert_eq!(g.current, "master");
        let head = g.head().unwrap();
        assert!(g.objects.commits[head].parents.is_empty());
        assert!(g.files(None).unwrap().contains_key("params.json"));
        // Same project, same moment: same commit (histories are deterministic).
        let again = ProjectGit::new("CHURN", "Churn", "alice", 1_700_000_000);
        assert_eq!(again.head(), g.head());
    }

    #[test]
    fn commits_and_log() {
        let mut g = ProjectGit::new("K", "K", "alice", 1);
        let who = user("bob", 2);
        let c = g
            .commit(
                None,
                &[("recipes/x.py".into(), Some(b"print(1)\n".to_vec()))],
                "Edit x",
                &who,
            )
            .unwrap();
        assert_eq!(g.head(), Some(&c));
        assert_eq!(g.log(None).len(), 2);
        assert_eq!(g.log(Some("recipes/x.py")), vec![c.clone()]);
        assert_eq!(g.log(Some("recipes")).first(), Some(&c));
        g.commit(None, &[("recipes/x.py".into(), None)], "Drop x", &who)
            .unwrap();
        assert!(!g.files(None).unwrap().contains_key("recipes/x.py"));
        assert!(g.commit(Some("nope"), &[], "m", &who).is_err());
    }

    #[test]
    fn branch_names_follow_git() {
        for ok in ["feature-1", "team/x", "v1.2"] {
            assert!(valid_branch_name(ok), "{ok}");
        }
        for bad in ["", "a b", "a..b", "-x", "x.lock", "x/", ".x", "a~1", "a:b"] {
            assert!(!valid_branch_name(bad), "{bad}");
        }
    }
}
