//! The git model both simulated services share: blobs, trees and commits hashed exactly as git
//! hashes them (so a SHA means the same thing on the simulated DSS node, on the simulated
//! GitHub and in a real clone), the commit graph (ancestry, merge base, ranges), the transfer
//! of objects between two stores (a push or a fetch), and the tree operations a rebase and a
//! merge need (`graph`). Remote URLs are parsed in `remote`.

pub mod graph;
pub mod remote;

use sha1::{Digest, Sha1};
use std::collections::{BTreeMap, HashMap};

/// git's blob SHA: sha1("blob <len>\0" + bytes).
pub fn blob_sha(bytes: &[u8]) -> String {
    object_sha("blob", bytes)
}

fn object_sha(kind: &str, body: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("{kind} {}\0", body.len()).as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

/// A flat file map: path → blob SHA.
pub type Files = BTreeMap<String, String>;

/// Who made a commit and when (seconds since the epoch, UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub name: String,
    pub email: String,
    pub epoch: i64,
}

impl Signature {
    pub fn new(name: &str, email: &str, epoch: i64) -> Self {
        Signature {
            name: name.to_string(),
            email: email.to_string(),
            epoch,
        }
    }

    /// The identity the simulated GitHub commits with for API writes.
    pub fn github_api(epoch: i64) -> Self {
        Signature::new("fleet-sim", "sim@example.com", epoch)
    }

    fn line(&self) -> String {
        format!("{} <{}> {} +0000", self.name, self.email, self.epoch)
    }
}

/// One entry of a tree object.
#[derive(Debug, Clone)]
pub struct TreeEntry {
    pub name: String,
    pub is_tree: bool,
    pub sha: String,
}

/// A commit: its root tree, the flat file map it snapshots, its parents (first parent first),
/// author, committer and message.
#[derive(Debug, Clone)]
pub struct Commit {
    pub tree: String,
    pub files: Files,
    pub parents: Vec<String>,
    pub author: Signature,
    pub committer: Signature,
    pub message: String,
}

impl Commit {
    /// The first parent, if any.
    pub fn parent(&self) -> Option<&String> {
        self.parents.first()
    }
}

/// What a new commit is made of.
#[derive(Debug, Clone)]
pub struct NewCommit {
    pub files: Files,
    pub parents: Vec<String>,
    pub author: Signature,
    pub committer: Signature,
    pub message: String,
}

/// Blobs, trees and commits of one repository.
#[derive(Debug, Default, Clone)]
pub struct ObjectStore {
    pub blobs: HashMap<String, Vec<u8>>,
    pub trees: HashMap<String, Vec<TreeEntry>>,
    pub commits: HashMap<String, Commit>,
}

impl ObjectStore {
    /// Stores a blob, returns its SHA.
    pub fn put_blob(&mut self, bytes: &[u8]) -> String {
        let sha = blob_sha(bytes);
        self.blobs
            .entry(sha.clone())
            .or_insert_with(|| bytes.to_vec());
        sha
    }

    /// Builds (and stores) the tree objects for a flat `path → blob sha` map; returns the root.
    pub fn build_tree(&mut self, files: &Files) -> String {
        let mut root: Node = Node::default();
        for (path, sha) in files {
            let parts: Vec<&str> = path.split('/').collect();
            root.insert(&parts, sha);
        }
        self.store_node(&root)
    }

    fn store_node(&mut self, node: &Node) -> String {
        let mut entries: Vec<TreeEntry> = Vec::new();
        for (name, child) in &node.children {
            match child {
                Child::Blob(sha) => entries.push(TreeEntry {
                    name: name.clone(),
                    is_tree: false,
                    sha: sha.clone(),
                }),
                Child::Dir(n) => {
                    let sha = self.store_node(n);
                    entries.push(TreeEntry {
                        name: name.clone(),
                        is_tree: true,
                        sha,
                    });
                }
            }
        }
        // git orders tree entries by name, with directories compared as "name/".
        entries.sort_by_key(sort_key);
        let mut body: Vec<u8> = Vec::new();
        for e in &entries {
            let mode = if e.is_tree { "40000" } else { "100644" };
            body.extend_from_slice(format!("{mode} {}\0", e.name).as_bytes());
            body.extend_from_slice(&hex::decode(&e.sha).unwrap_or_default());
        }
        let sha = object_sha("tree", &body);
        self.trees.insert(sha.clone(), entries);
        sha
    }

    /// Records a commit; returns its SHA (git's, over the exact commit object text).
    pub fn commit(&mut self, c: NewCommit) -> String {
        let tree = self.build_tree(&c.files);
        let mut text = format!("tree {tree}\n");
        for p in &c.parents {
            text.push_str(&format!("parent {p}\n"));
        }
        text.push_str(&format!(
            "author {}\ncommitter {}\n\n{}\n",
            c.author.line(),
            c.committer.line(),
            c.message
        ));
        let sha = object_sha("commit", text.as_bytes());
        self.commits.insert(
            sha.clone(),
            Commit {
                tree,
                files: c.files,
                parents: c.parents,
                author: c.author,
                committer: c.committer,
                message: c.message,
            },
        );
        sha
    }

    /// A commit by the simulated GitHub's API identity (author = committer), at `epoch`.
    pub fn api_commit(
        &mut self,
        files: Files,
        parents: Vec<String>,
        message: &str,
        epoch: i64,
    ) -> String {
        let who = Signature::github_api(epoch);
        self.commit(NewCommit {
            files,
            parents,
            author: who.clone(),
            committer: who,
            message: message.to_string(),
        })
    }

    /// Walks a tree: every entry as `(path, is_tree, sha, size)`, depth-first, git order.
    pub fn walk(&self, tree: &str, recursive: bool) -> Vec<(String, bool, String, usize)> {
        let mut out = Vec::new();
        self.walk_into(tree, "", recursive, &mut out);
        out
    }

    fn walk_into(
        &self,
        tree: &str,
        prefix: &str,
        recursive: bool,
        out: &mut Vec<(String, bool, String, usize)>,
    ) {
        let Some(entries) = self.trees.get(tree) else {
            return;
        };
        for e in entries {
            let path = format!("{prefix}{}", e.name);
            let size = if e.is_tree {
                0
            } else {
                self.blobs.get(&e.sha).map(|b| b.len()).unwrap_or(0)
            };
            out.push((path.clone(), e.is_tree, e.sha.clone(), size));
            if e.is_tree && recursive {
                self.walk_into(&e.sha, &format!("{path}/"), recursive, out);
            }
        }
    }

    /// The flat file map of a tree.
    pub fn tree_files(&self, tree: &str) -> Files {
        self.walk(tree, true)
            .into_iter()
            .filter(|(_, is_tree, _, _)| !is_tree)
            .map(|(p, _, sha, _)| (p, sha))
            .collect()
    }

    /// The content of a blob (empty when unknown).
    pub fn blob(&self, sha: &str) -> Vec<u8> {
        self.blobs.get(sha).cloned().unwrap_or_default()
    }

    /// Copies into `into` every commit reachable from `tips` that it lacks, with the trees and
    /// blobs they need: what a push sends, or a fetch receives. Returns how many commits moved.
    pub fn copy_closure(&self, tips: &[String], into: &mut ObjectStore) -> usize {
        let mut moved = 0;
        let mut stack: Vec<String> = tips.to_vec();
        while let Some(sha) = stack.pop() {
            if into.commits.contains_key(&sha) {
                continue;
            }
            let Some(c) = self.commits.get(&sha) else {
                continue;
            };
            self.copy_tree(&c.tree, into);
            into.commits.insert(sha.clone(), c.clone());
            moved += 1;
            stack.extend(c.parents.iter().cloned());
        }
        moved
    }

    fn copy_tree(&self, tree: &str, into: &mut ObjectStore) {
        if into.trees.contains_key(tree) {
            return;
        }
        let Some(entries) = self.trees.get(tree) else {
            return;
        };
        for e in entries {
            if e.is_tree {
                self.copy_tree(&e.sha, into);
            } else if let Some(b) = self.blobs.get(&e.sha) {
                into.blobs.entry(e.sha.clone()).or_insert_with(|| b.clone());
            }
        }
        into.trees.insert(tree.to_string(), entries.clone());
    }
}

fn sort_key(e: &TreeEntry) -> String {
    if e.is_tree {
        format!("{}/", e.name)
    } else {
        e.name.clone()
    }
}

#[derive(Default)]
struct Node {
    children: BTreeMap<String, Child>,
}

enum Child {
    Blob(String),
    Dir(Node),
}

impl Node {
    fn insert(&mut self, parts: &[&str], sha: &str) {
        match parts {
            [] => {}
            [leaf] => {
                self.children
                    .insert((*leaf).to_string(), Child::Blob(sha.to_string()));
            }
            [dir, rest @ ..] => {
                let child = self
                    .children
                    .entry((*dir).to_string())
                    .or_insert_with(|| Child::Dir(Node::default()));
                if let Child::Blob(_) = child {
                    *child = Child::Dir(Node::default());
                }
                if let Child::Dir(n) = child {
                    n.insert(rest, sha);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_sha_matches_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            blob_sha(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        // the empty blob
        assert_eq!(blob_sha(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    }

    #[test]
    fn tree_sha_matches_git() {
        // A tree holding `a.txt` ("hello\n"); `git mktree` gives this id.
        let mut store = ObjectStore::default();
        let sha = store.put_blob(b"hello\n");
        let mut files = BTreeMap::new();
        files.insert("a.txt".to_string(), sha);
        let tree = store.build_tree(&files);
        assert_eq!(tree, "2e81171448eb9f2ee3821e3d447aa6b2fe3ddba1");
    }

    #[test]
    fn commit_sha_matches_git() {
        // GIT_AUTHOR_DATE/GIT_COMMITTER_DATE="1700000000 +0000", name "A", email "a@x", tree of
        // a.txt ("hello\n"), message "m": `git commit-tree` gives this id.
        let mut store = ObjectStore::default();
        let sha = store.put_blob(b"hello\n");
        let files: Files = [("a.txt".to_string(), sha)].into_iter().collect();
        let who = Signature::new("A", "a@x", 1_700_000_000);
        let c = store.commit(NewCommit {
            files,
            parents: vec![],
            author: who.clone(),
            committer: who,
            message: "m".into(),
        });
        assert_eq!(c, "9630c8d7091284533399aead62ff28693d26cf6f");
    }

    #[test]
    fn copy_closure_moves_history_and_content() {
        let mut a = ObjectStore::default();
        let b1 = a.put_blob(b"one");
        let c1 = a.api_commit(
            [("x/f".to_string(), b1)].into_iter().collect(),
            vec![],
            "1",
            1,
        );
        let b2 = a.put_blob(b"two");
        let c2 = a.api_commit(
            [("x/f".to_string(), b2.clone())].into_iter().collect(),
            vec![c1.clone()],
            "2",
            2,
        );
        let mut b = ObjectStore::default();
        assert_eq!(a.copy_closure(std::slice::from_ref(&c2), &mut b), 2);
        assert!(b.commits.contains_key(&c1));
        let tree = b.commits[&c2].tree.clone();
        assert_eq!(b.tree_files(&tree).get("x/f"), Some(&b2));
        assert_eq!(b.blob(&b2), b"two");
        assert_eq!(a.copy_closure(&[c2], &mut b), 0);
    }
}
