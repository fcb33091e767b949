//! A tiny git object store: blobs, trees and commits hashed exactly as git hashes them, so the
//! `sha` the contents API reports matches the tree API and a locally computed blob SHA.

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

/// One entry of a tree object.
#[derive(Debug, Clone)]
pub struct TreeEntry {
    pub name: String,
    pub is_tree: bool,
    pub sha: String,
}

/// A commit: its root tree, the flat file map it snapshots, and its parent.
#[derive(Debug, Clone)]
pub struct Commit {
    pub tree: String,
    pub files: BTreeMap<String, String>,
    pub parent: Option<String>,
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
    pub fn build_tree(&mut self, files: &BTreeMap<String, String>) -> String {
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

    /// Records a commit of `files` on top of `parent`; returns its SHA.
    pub fn commit(
        &mut self,
        files: BTreeMap<String, String>,
        parent: Option<String>,
        message: &str,
        epoch: i64,
    ) -> String {
        let tree = self.build_tree(&files);
        let mut text = format!("tree {tree}\n");
        if let Some(p) = &parent {
            text.push_str(&format!("parent {p}\n"));
        }
        text.push_str(&format!(
            "author fleet-sim <sim@example.com> {epoch} +0000\ncommitter fleet-sim <sim@example.com> {epoch} +0000\n\n{message}\n"
        ));
        let sha = object_sha("commit", text.as_bytes());
        self.commits.insert(
            sha.clone(),
            Commit {
                tree,
                files,
                parent,
                message: message.to_string(),
            },
        );
        sha
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
}
