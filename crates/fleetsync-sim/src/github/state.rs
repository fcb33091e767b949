//! The simulator's state: organisations' repositories with their git objects, secrets
//! (kept unsealed so tests can check them), variables, protection and environments; plus the
//! auth registry, rate-limit buckets and the request record.

use super::super::git::ObjectStore;
use super::auth::AuthRegistry;
use super::limits::Limits;
use super::pulls::Pulls;
use super::record::Record;
use super::settings::{GithubSimSettings, SimToken};
use chrono::{DateTime, Utc};
use crypto_box::SecretKey;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::Value;
use std::collections::BTreeMap;

/// A named value with its timestamps: a secret (its unsealed value) or a variable.
#[derive(Debug, Clone)]
pub struct ValueRec {
    pub value: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A secret as the simulator keeps it: the unsealed value and its timestamps.
pub type SecretRec = ValueRec;

/// A variable.
pub type VarRec = ValueRec;

/// Writes `value` under `name` (upper-cased, as GitHub keeps these names), created now when
/// absent: a hand edit of a secret or variable.
fn upsert_value(map: &mut BTreeMap<String, ValueRec>, name: &str, value: &str) {
    let now = Utc::now();
    let e = map.entry(name.to_ascii_uppercase()).or_insert(ValueRec {
        value: String::new(),
        created_at: now,
        updated_at: now,
    });
    e.value = value.to_string();
    e.updated_at = now;
}

/// An environment.
#[derive(Debug, Clone)]
pub struct EnvRec {
    pub id: u64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub wait_timer: u64,
    pub prevent_self_review: bool,
    pub deployment_branch_policy: Value,
}

/// One repository.
pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub description: Option<String>,
    pub homepage: Option<String>,
    pub private: bool,
    pub visibility: String,
    pub default_branch: String,
    pub archived: bool,
    pub is_template: bool,
    pub topics: Vec<String>,
    pub settings: serde_json::Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub pushed_at: DateTime<Utc>,
    pub objects: ObjectStore,
    pub refs: BTreeMap<String, String>,
    pub secret_key: SecretKey,
    pub key_id: String,
    pub secrets: BTreeMap<String, SecretRec>,
    pub variables: BTreeMap<String, VarRec>,
    pub protection: BTreeMap<String, Value>,
    pub environments: BTreeMap<String, EnvRec>,
    pub pulls: Pulls,
    /// Custom property values set on the repo (a string, or an array for multi-select).
    pub custom_properties: BTreeMap<String, Value>,
}

impl Repo {
    /// `owner/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// The flat file map of a branch (`None` = default branch); `None` if it does not exist.
    pub fn branch_files(&self, branch: Option<&str>) -> Option<&BTreeMap<String, String>> {
        let b = branch.unwrap_or(&self.default_branch);
        let commit = self.refs.get(b)?;
        self.objects.commits.get(commit).map(|c| &c.files)
    }

    /// Commits `files` on `branch`, creating the branch if the repo is empty. Returns the commit.
    pub fn commit_on(
        &mut self,
        branch: &str,
        files: BTreeMap<String, String>,
        message: &str,
    ) -> String {
        let parents = self.refs.get(branch).cloned().into_iter().collect();
        let now = Utc::now();
        let sha = self
            .objects
            .api_commit(files, parents, message, now.timestamp());
        self.refs.insert(branch.to_string(), sha.clone());
        self.pushed_at = now;
        sha
    }
}

/// A public snapshot of a repo, for tests.
#[derive(Debug, Clone)]
pub struct RepoView {
    pub full_name: String,
    pub archived: bool,
    pub private: bool,
    pub visibility: String,
    pub description: Option<String>,
    pub default_branch: String,
    pub topics: Vec<String>,
    /// Files on the default branch.
    pub files: BTreeMap<String, Vec<u8>>,
    pub branches: Vec<String>,
    pub secrets: BTreeMap<String, SecretView>,
    pub variables: BTreeMap<String, String>,
    /// Protection per branch, in the GET response shape.
    pub protection: BTreeMap<String, Value>,
    pub environments: Vec<String>,
    /// Custom property values.
    pub custom_properties: BTreeMap<String, Value>,
}

/// A secret's unsealed value and last update.
#[derive(Debug, Clone)]
pub struct SecretView {
    pub value: String,
    pub updated_at: DateTime<Utc>,
}

/// Everything the simulator holds.
pub struct SimState {
    pub settings: GithubSimSettings,
    pub auth: AuthRegistry,
    pub limits: Limits,
    pub record: Record,
    pub repos: BTreeMap<(String, String), Repo>,
    /// Old `(owner, name)` (lower-cased) of renamed or transferred repositories → their id.
    pub moved: BTreeMap<(String, String), u64>,
    pub rng: StdRng,
    /// Organisation-level Actions secrets and variables, by lower-cased org.
    pub org_actions: BTreeMap<String, super::routes_org_actions::OrgActions>,
    next_id: u64,
}

fn key(owner: &str, name: &str) -> (String, String) {
    (owner.to_ascii_lowercase(), name.to_ascii_lowercase())
}

/// Splits `owner/name`.
fn split(full: &str) -> Option<(&str, &str)> {
    full.split_once('/')
}

impl SimState {
    pub fn new(settings: GithubSimSettings, tokens: Vec<SimToken>) -> Result<Self, String> {
        let auth = AuthRegistry::new(tokens, &settings.apps)?;
        let rng = StdRng::seed_from_u64(settings.seed);
        let record = Record::new(settings.log_capacity);
        Ok(SimState {
            settings,
            auth,
            limits: Limits::default(),
            record,
            repos: BTreeMap::new(),
            moved: BTreeMap::new(),
            rng,
            org_actions: BTreeMap::new(),
            next_id: 100_000,
        })
    }

    /// The organisation's canonical spelling if it exists.
    pub fn org(&self, org: &str) -> Option<String> {
        self.settings
            .orgs
            .iter()
            .find(|o| o.eq_ignore_ascii_case(org))
            .cloned()
    }

    pub fn repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos.get(&key(owner, name))
    }

    pub fn repo_mut(&mut self, owner: &str, name: &str) -> Option<&mut Repo> {
        self.repos.get_mut(&key(owner, name))
    }

    pub fn remove_repo(&mut self, owner: &str, name: &str) -> Option<Repo> {
        self.repos.remove(&key(owner, name))
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Creates an empty repo record (no commits) and returns its key.
    pub fn insert_repo(&mut self, org: &str, name: &str) -> (String, String) {
        let now = Utc::now();
        let id = self.next_id();
        let key_id: String = (0..18)
            .map(|_| char::from(b'0' + self.rng.gen_range(0..10u8)))
            .collect();
        let secret_key = SecretKey::generate(&mut rand::rngs::OsRng);
        let repo = Repo {
            id,
            owner: org.to_string(),
            name: name.to_string(),
            description: None,
            homepage: None,
            private: false,
            visibility: "public".into(),
            default_branch: "main".into(),
            archived: false,
            is_template: false,
            topics: Vec::new(),
            settings: serde_json::Map::new(),
            created_at: now,
            updated_at: now,
            pushed_at: now,
            objects: ObjectStore::default(),
            refs: BTreeMap::new(),
            secret_key,
            key_id,
            secrets: BTreeMap::new(),
            variables: BTreeMap::new(),
            protection: BTreeMap::new(),
            environments: BTreeMap::new(),
            pulls: Pulls::default(),
            custom_properties: BTreeMap::new(),
        };
        let k = key(org, name);
        // A repository taking a moved one's old name ends the redirect (GitHub does the same).
        self.moved.remove(&k);
        self.repos.insert(k.clone(), repo);
        k
    }

    pub fn repo_names(&self) -> Vec<String> {
        self.repos.values().map(|r| r.full_name()).collect()
    }

    pub fn repo_view(&self, full: &str) -> Option<RepoView> {
        let (o, n) = split(full)?;
        let r = self.repo(o, n)?;
        let files = r
            .branch_files(None)
            .map(|m| {
                m.iter()
                    .map(|(p, sha)| {
                        (
                            p.clone(),
                            r.objects.blobs.get(sha).cloned().unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(RepoView {
            full_name: r.full_name(),
            archived: r.archived,
            private: r.private,
            visibility: r.visibility.clone(),
            description: r.description.clone(),
            default_branch: r.default_branch.clone(),
            topics: r.topics.clone(),
            files,
            branches: r.refs.keys().cloned().collect(),
            secrets: r
                .secrets
                .iter()
                .map(|(k, s)| {
                    (
                        k.clone(),
                        SecretView {
                            value: s.value.clone(),
                            updated_at: s.updated_at,
                        },
                    )
                })
                .collect(),
            variables: r
                .variables
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect(),
            protection: r.protection.clone(),
            environments: r.environments.keys().cloned().collect(),
            custom_properties: r.custom_properties.clone(),
        })
    }

    pub(crate) fn with_repo<T>(&mut self, full: &str, f: impl FnOnce(&mut Repo) -> T) -> Option<T> {
        let (o, n) = split(full)?;
        self.repo_mut(o, n).map(f)
    }

    pub fn edit_file(
        &mut self,
        full: &str,
        branch: Option<&str>,
        path: &str,
        content: &[u8],
    ) -> bool {
        self.with_repo(full, |r| {
            let b = branch.unwrap_or(&r.default_branch).to_string();
            let mut files = r.branch_files(Some(&b)).cloned().unwrap_or_default();
            let sha = r.objects.put_blob(content);
            files.insert(path.to_string(), sha);
            r.commit_on(&b, files, &format!("Edit {path} by hand"));
        })
        .is_some()
    }

    pub fn set_variable(&mut self, full: &str, name: &str, value: &str) -> bool {
        self.with_repo(full, |r| upsert_value(&mut r.variables, name, value))
            .is_some()
    }

    pub fn delete_variable(&mut self, full: &str, name: &str) -> bool {
        self.with_repo(full, |r| {
            r.variables.remove(&name.to_ascii_uppercase()).is_some()
        })
        .unwrap_or(false)
    }

    pub fn overwrite_secret(&mut self, full: &str, name: &str, value: &str) -> bool {
        self.with_repo(full, |r| upsert_value(&mut r.secrets, name, value))
            .is_some()
    }

    pub fn remove_protection(&mut self, full: &str, branch: &str) -> bool {
        self.with_repo(full, |r| r.protection.remove(branch).is_some())
            .unwrap_or(false)
    }

    pub fn set_archived(&mut self, full: &str, archived: bool) -> bool {
        self.with_repo(full, |r| {
            r.archived = archived;
            r.updated_at = Utc::now();
        })
        .is_some()
    }

    pub fn create_repo_directly(&mut self, org: &str, name: &str) -> bool {
        if self.repo(org, name).is_some() {
            return false;
        }
        let (o, n) = self.insert_repo(org, name);
        if let Some(r) = self.repos.get_mut(&(o, n)) {
            init_readme(r);
        }
        true
    }
}

/// The initial commit `auto_init` makes: a README on the default branch.
pub fn init_readme(r: &mut Repo) {
    let text = format!("# {}\n", r.name);
    let sha = r.objects.put_blob(text.as_bytes());
    let mut files = BTreeMap::new();
    files.insert("README.md".to_string(), sha);
    let b = r.default_branch.clone();
    r.commit_on(&b, files, "Initial commit");
}
