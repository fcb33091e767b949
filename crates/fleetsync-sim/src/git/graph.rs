//! The commit graph: ancestry, the merge base of two commits, the commits of `base..head` in
//! the order GitHub's compare lists them, and the two history-joining operations the
//! simulators perform: a rebase (DSS's `pullRebase`) and a three-way merge (merging a pull
//! request). Both work on whole files: a path changed differently on both sides conflicts.

use super::{Files, NewCommit, ObjectStore, Signature};
use std::collections::{BTreeSet, HashSet, VecDeque};

impl ObjectStore {
    /// Every commit reachable from `tip` (itself included).
    pub fn ancestors(&self, tip: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut queue = VecDeque::from([tip.to_string()]);
        while let Some(c) = queue.pop_front() {
            if !seen.insert(c.clone()) {
                continue;
            }
            if let Some(commit) = self.commits.get(&c) {
                queue.extend(commit.parents.iter().cloned());
            }
        }
        seen
    }

    /// Whether `ancestor` is reachable from `descendant` (a commit is its own ancestor).
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> bool {
        self.ancestors(descendant).contains(ancestor)
    }

    /// The best common ancestor of `a` and `b` (none: unrelated histories): a common ancestor
    /// no other common ancestor descends from. Of several such (criss-cross merges) the most
    /// recent by committer time is chosen. Linear in the size of the history.
    pub fn merge_base(&self, a: &str, b: &str) -> Option<String> {
        let of_a = self.ancestors(a);
        let common: HashSet<String> = self
            .ancestors(b)
            .into_iter()
            .filter(|c| of_a.contains(c))
            .collect();
        // Everything below a common ancestor (reachable from its parents) is not the best.
        let mut below: HashSet<String> = HashSet::new();
        let mut queue: VecDeque<String> = common
            .iter()
            .filter_map(|c| self.commits.get(c))
            .flat_map(|c| c.parents.iter().cloned())
            .collect();
        while let Some(c) = queue.pop_front() {
            if !below.insert(c.clone()) {
                continue;
            }
            if let Some(commit) = self.commits.get(&c) {
                queue.extend(commit.parents.iter().cloned());
            }
        }
        common
            .into_iter()
            .filter(|c| !below.contains(c))
            .max_by_key(|c| {
                (
                    self.commits.get(c).map(|x| x.committer.epoch).unwrap_or(0),
                    c.clone(),
                )
            })
    }

    /// The commits reachable from `head` but not from `base`, parents before children (the
    /// order `git log --reverse base..head` and GitHub's compare list them).
    pub fn range(&self, base: Option<&str>, head: &str) -> Vec<String> {
        let exclude = base.map(|b| self.ancestors(b)).unwrap_or_default();
        let mut out = Vec::new();
        let mut done: HashSet<String> = HashSet::new();
        // Iterative post-order over parents, so deep histories cannot overflow the stack.
        let mut stack: Vec<(String, bool)> = vec![(head.to_string(), false)];
        while let Some((c, expanded)) = stack.pop() {
            if exclude.contains(&c) || (done.contains(&c) && !expanded) {
                continue;
            }
            if expanded {
                if done.insert(c.clone()) {
                    out.push(c);
                }
                continue;
            }
            stack.push((c.clone(), true));
            if let Some(commit) = self.commits.get(&c) {
                for p in commit.parents.iter().rev() {
                    if !done.contains(p) && !exclude.contains(p) {
                        stack.push((p.clone(), false));
                    }
                }
            }
        }
        out
    }

    /// The file map of a commit's first parent (empty for a root commit).
    pub fn parent_files(&self, commit: &str) -> Files {
        self.commits
            .get(commit)
            .and_then(|c| c.parent())
            .and_then(|p| self.commits.get(p))
            .map(|p| p.files.clone())
            .unwrap_or_default()
    }

    /// Replays the commits of `onto..tip` on top of `onto`, keeping each one's author and
    /// message and giving it `committer`: `git rebase onto`. A commit whose changes are already
    /// in the new base is dropped, as git drops it.
    pub fn rebase(
        &mut self,
        onto: &str,
        tip: &str,
        committer: &Signature,
    ) -> Result<Rebased, Conflict> {
        if self.is_ancestor(tip, onto) {
            // Nothing of our own: a fast-forward to the new base.
            return Ok(Rebased {
                tip: onto.to_string(),
                replayed: 0,
                dropped: 0,
            });
        }
        if self.is_ancestor(onto, tip) {
            // Already on top of the new base: "Current branch … is up to date."
            return Ok(Rebased {
                tip: tip.to_string(),
                replayed: 0,
                dropped: 0,
            });
        }
        let base = self.merge_base(onto, tip);
        let todo = self.range(base.as_deref().or(Some(onto)), tip);
        let mut current = onto.to_string();
        let (mut replayed, mut dropped) = (0, 0);
        for sha in todo {
            let Some(c) = self.commits.get(&sha).cloned() else {
                continue;
            };
            if c.parents.len() > 1 {
                // git rebase (without --rebase-merges) flattens merges away.
                continue;
            }
            let before = self.parent_files(&sha);
            let target = self
                .commits
                .get(&current)
                .map(|x| x.files.clone())
                .unwrap_or_default();
            let files = apply_change(&before, &c.files, &target).map_err(|path| Conflict {
                commit: sha.clone(),
                message: c.message.clone(),
                path,
            })?;
            if files == target {
                dropped += 1;
                continue;
            }
            current = self.commit(NewCommit {
                files,
                parents: vec![current.clone()],
                author: c.author.clone(),
                committer: committer.clone(),
                message: c.message.clone(),
            });
            replayed += 1;
        }
        Ok(Rebased {
            tip: current,
            replayed,
            dropped,
        })
    }

    /// A merge commit of `theirs` into `ours` (first parent `ours`), files merged three-way
    /// against their merge base (an empty tree for unrelated histories).
    pub fn merge(
        &mut self,
        ours: &str,
        theirs: &str,
        message: &str,
        who: &Signature,
    ) -> Result<String, Conflict> {
        let base_files = self
            .merge_base(ours, theirs)
            .and_then(|b| self.commits.get(&b).map(|c| c.files.clone()))
            .unwrap_or_default();
        let ours_files = self
            .commits
            .get(ours)
            .map(|c| c.files.clone())
            .unwrap_or_default();
        let theirs_files = self
            .commits
            .get(theirs)
            .map(|c| c.files.clone())
            .unwrap_or_default();
        let files =
            apply_change(&base_files, &theirs_files, &ours_files).map_err(|path| Conflict {
                commit: theirs.to_string(),
                message: message.to_string(),
                path,
            })?;
        Ok(self.commit(NewCommit {
            files,
            parents: vec![ours.to_string(), theirs.to_string()],
            author: who.clone(),
            committer: who.clone(),
            message: message.to_string(),
        }))
    }
}

/// The outcome of a rebase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebased {
    /// The new tip (the base itself when nothing was replayed).
    pub tip: String,
    /// Commits recreated on the new base.
    pub replayed: usize,
    /// Commits dropped because the new base already had their changes.
    pub dropped: usize,
}

/// A path both sides changed differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The commit being applied.
    pub commit: String,
    /// Its message.
    pub message: String,
    /// The conflicting path.
    pub path: String,
}

/// Applies the change `before → after` to `target`, path by path: a path the change touches
/// takes the change's version when `target` still has `before`'s (or already has `after`'s);
/// otherwise the path conflicts (returned as the error).
pub fn apply_change(before: &Files, after: &Files, target: &Files) -> Result<Files, String> {
    let mut out = target.clone();
    let paths: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for path in paths {
        let (b, a, t) = (before.get(path), after.get(path), target.get(path));
        if b == a || t == a {
            continue;
        }
        if t != b {
            return Err(path.clone());
        }
        match a {
            Some(sha) => out.insert(path.clone(), sha.clone()),
            None => out.remove(path),
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(store: &mut ObjectStore, pairs: &[(&str, &str)]) -> Files {
        pairs
            .iter()
            .map(|(p, c)| (p.to_string(), store.put_blob(c.as_bytes())))
            .collect()
    }

    fn commit(store: &mut ObjectStore, parents: &[&str], pairs: &[(&str, &str)], t: i64) -> String {
        let f = files(store, pairs);
        store.api_commit(f, parents.iter().map(|p| p.to_string()).collect(), "c", t)
    }

    #[test]
    fn merge_base_and_range() {
        let mut s = ObjectStore::default();
        let root = commit(&mut s, &[], &[("a", "1")], 1);
        let left = commit(&mut s, &[&root], &[("a", "2")], 2);
        let right = commit(&mut s, &[&root], &[("a", "1"), ("b", "1")], 3);
        let right2 = commit(&mut s, &[&right], &[("a", "1"), ("b", "2")], 4);
        assert_eq!(s.merge_base(&left, &right2), Some(root.clone()));
        assert_eq!(
            s.range(Some(&left), &right2),
            vec![right.clone(), right2.clone()]
        );
        assert!(s.is_ancestor(&root, &right2));
        assert!(!s.is_ancestor(&left, &right2));
        let other = commit(&mut s, &[], &[("z", "1")], 5);
        assert_eq!(s.merge_base(&left, &other), None);
    }

    #[test]
    fn merge_base_is_linear_on_a_long_history() {
        let mut s = ObjectStore::default();
        let mut tip = commit(&mut s, &[], &[("a", "0")], 0);
        let mut mid = tip.clone();
        for i in 1..3_000 {
            tip = commit(&mut s, &[&tip], &[("a", &i.to_string())], i);
            if i == 1_500 {
                mid = tip.clone();
            }
        }
        let started = std::time::Instant::now();
        assert_eq!(s.merge_base(&tip, &mid), Some(mid.clone()));
        assert_eq!(s.range(Some(&mid), &tip).len(), 1_499);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn rebase_replays_local_commits_on_the_remote_head() {
        let mut s = ObjectStore::default();
        let root = commit(&mut s, &[], &[("a", "1")], 1);
        let remote = commit(&mut s, &[&root], &[("a", "1"), (".github/w.yml", "w")], 2);
        let local = commit(&mut s, &[&root], &[("a", "2")], 3);
        let who = Signature::new("dss", "dss@x", 9);
        let r = s.rebase(&remote, &local, &who).unwrap();
        assert_eq!(r.replayed, 1);
        assert!(s.is_ancestor(&remote, &r.tip));
        let f = &s.commits[&r.tip].files;
        assert_eq!(s.blob(&f["a"]), b"2");
        assert_eq!(s.blob(&f[".github/w.yml"]), b"w");
        // Already up to date: nothing replayed, the tip stays.
        let again = s.rebase(&remote, &r.tip, &who).unwrap();
        assert_eq!(again.tip, r.tip);
        assert_eq!(again.replayed, 0);
    }

    #[test]
    fn rebase_and_merge_report_conflicts() {
        let mut s = ObjectStore::default();
        let root = commit(&mut s, &[], &[("a", "1")], 1);
        let remote = commit(&mut s, &[&root], &[("a", "remote")], 2);
        let local = commit(&mut s, &[&root], &[("a", "local")], 3);
        let who = Signature::new("dss", "dss@x", 9);
        let err = s.rebase(&remote, &local, &who).unwrap_err();
        assert_eq!(err.path, "a");
        assert_eq!(s.merge(&remote, &local, "m", &who).unwrap_err().path, "a");
    }

    #[test]
    fn merge_joins_both_sides() {
        let mut s = ObjectStore::default();
        let root = commit(&mut s, &[], &[("a", "1")], 1);
        let ours = commit(&mut s, &[&root], &[("a", "1"), ("o", "1")], 2);
        let theirs = commit(&mut s, &[&root], &[("a", "2")], 3);
        let who = Signature::github_api(9);
        let m = s.merge(&ours, &theirs, "Merge", &who).unwrap();
        let c = &s.commits[&m];
        assert_eq!(c.parents, vec![ours.clone(), theirs.clone()]);
        assert_eq!(s.blob(&c.files["a"]), b"2");
        assert!(c.files.contains_key("o"));
        assert_eq!(s.merge_base(&m, &theirs), Some(theirs));
    }
}
