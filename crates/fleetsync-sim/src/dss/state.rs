//! The simulated node's state (projects, plugins, git remotes, pushes, fault knobs, request
//! counters) and [`DssSimHandle`], the cheap handle tests use to change and inspect it.

use super::git::ProjectGit;
use super::git_net::GithubLink;
use super::{seed, DssSimSettings, SimInfra};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// A project as the simulated node stores it.
#[derive(Debug, Clone)]
pub(crate) struct SimProject {
    pub key: String,
    pub name: String,
    pub short_desc: String,
    pub description: String,
    pub tags: Vec<String>,
    pub owner_login: String,
    pub owner_display: String,
    pub status: String,
    pub tutorial: bool,
    pub version: u64,
    pub modified_by: String,
    pub modified_on: i64,
    pub created_by: String,
    pub created_on: i64,
    /// The project's git repository (history, branches, current branch), materialised on
    /// first use from what the project was created with (so it is the same history either way).
    pub git_repo: Option<ProjectGit>,
    pub remotes: BTreeMap<String, String>,
    pub pushes: usize,
    /// Metadata custom fields (`customFields`).
    pub custom_fields: BTreeMap<String, serde_json::Value>,
}

impl SimProject {
    /// The project's git repository; its root commit is made from the project's key, name,
    /// owner and creation time, which never change.
    pub fn git(&mut self) -> &mut ProjectGit {
        let SimProject {
            key,
            name,
            owner_login,
            created_on,
            git_repo,
            ..
        } = self;
        git_repo.get_or_insert_with(|| ProjectGit::new(key, name, owner_login, *created_on / 1000))
    }
}

/// A plugin as the simulated node stores it.
#[derive(Debug, Clone)]
pub(crate) struct SimPlugin {
    pub id: String,
    pub version: String,
    pub is_dev: bool,
    pub label: String,
    pub description: String,
    pub author: String,
    pub tags: Vec<String>,
    pub category: String,
}

/// Everything the simulated node knows.
#[derive(Debug)]
pub(crate) struct SimState {
    pub version: String,
    pub api_keys: Vec<String>,
    pub projects: BTreeMap<String, SimProject>,
    pub plugins: BTreeMap<String, SimPlugin>,
    pub infras: Vec<SimInfra>,
    /// The deployer's lifecycle stages.
    pub stages: Vec<String>,
    /// The simulated GitHubs this node's git can reach.
    pub github: Vec<GithubLink>,
    pub outage: bool,
    pub error_rate: f64,
    pub latency_ms: u64,
    pub empty_listing: bool,
    /// When set, every push answers `success: false` with this output.
    pub push_failure: Option<String>,
    /// When set, `GET /projects/` lists only this fraction (0.0–1.0) of the projects.
    pub partial_listing: Option<f64>,
    /// When on, `GET /projects/` answers 200 with a body that is not valid JSON.
    pub malformed_listing: bool,
    pub requests: u64,
    pub routes: BTreeMap<String, u64>,
    pub rng: StdRng,
}

impl SimState {
    /// Decides, with the seeded generator, whether this request gets an injected 500.
    pub fn roll_error(&mut self) -> bool {
        let rate = self.error_rate;
        rate > 0.0 && (rate >= 1.0 || self.rng.gen_bool(rate.clamp(0.0, 1.0)))
    }
}

/// Control of a running simulated node, for tests and the admin API. Clones share the state.
#[derive(Clone)]
pub struct DssSimHandle {
    inner: Arc<Mutex<SimState>>,
}

impl std::fmt::Debug for DssSimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The state holds the accepted API keys: never print it.
        f.write_str("DssSimHandle")
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl DssSimHandle {
    pub(crate) fn new(settings: &DssSimSettings, api_keys: Vec<String>) -> Self {
        let mut rng = StdRng::seed_from_u64(settings.seed);
        let projects = seed::projects(&mut rng, settings.projects);
        let plugins = seed::plugins(&mut rng, settings.plugins);
        let state = SimState {
            version: settings.version.clone(),
            api_keys,
            projects: projects.into_iter().map(|p| (p.key.clone(), p)).collect(),
            plugins: plugins.into_iter().map(|p| (p.id.clone(), p)).collect(),
            infras: settings.infras.clone(),
            stages: settings.stages.clone(),
            github: Vec::new(),
            outage: settings.outage,
            error_rate: settings.error_rate,
            latency_ms: settings.latency_ms,
            empty_listing: false,
            push_failure: None,
            partial_listing: None,
            malformed_listing: false,
            requests: 0,
            routes: BTreeMap::new(),
            rng,
        };
        DssSimHandle {
            inner: Arc::new(Mutex::new(state)),
        }
    }

    /// Locks the state; a panic elsewhere while holding the lock does not make it unusable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, SimState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds (or replaces) a project with the given tags.
    pub fn add_project(&self, key: &str, name: &str, tags: &[&str]) {
        let mut s = self.lock();
        let p = seed::new_project(key, name, tags.iter().map(|t| t.to_string()).collect());
        s.projects.insert(key.to_string(), p);
    }

    /// Removes a project; false when there was none.
    pub fn remove_project(&self, key: &str) -> bool {
        self.lock().projects.remove(key).is_some()
    }

    /// Replaces a project's tags; false when the project does not exist.
    pub fn set_project_tags(&self, key: &str, tags: &[&str]) -> bool {
        let mut s = self.lock();
        match s.projects.get_mut(key) {
            Some(p) => {
                p.tags = tags.iter().map(|t| t.to_string()).collect();
                bump(p);
                true
            }
            None => false,
        }
    }

    /// Sets a metadata custom field of a project.
    pub fn set_custom_field(&self, key: &str, field: &str, value: serde_json::Value) -> bool {
        let mut s = self.lock();
        match s.projects.get_mut(key) {
            Some(p) => {
                p.custom_fields.insert(field.to_string(), value);
                bump(p);
                true
            }
            None => false,
        }
    }

    /// Makes every push fail with `output` (DSS's git message), or succeed again with `None`.
    pub fn set_push_failure(&self, output: Option<&str>) {
        self.lock().push_failure = output.map(str::to_string);
    }

    /// Changes a plugin's version (its downloaded files change with it).
    pub fn set_plugin_version(&self, id: &str, version: &str) -> bool {
        let mut s = self.lock();
        match s.plugins.get_mut(id) {
            Some(p) => {
                p.version = version.to_string();
                true
            }
            None => false,
        }
    }

    /// Records a change of the project (bumps `versionTag`); returns the new version number.
    pub fn touch_project(&self, key: &str) -> Option<u64> {
        let mut s = self.lock();
        let p = s.projects.get_mut(key)?;
        bump(p);
        Some(p.version)
    }

    /// Adds (or replaces) a plugin.
    pub fn add_plugin(&self, id: &str, is_dev: bool) {
        self.lock()
            .plugins
            .insert(id.to_string(), seed::new_plugin(id, is_dev));
    }

    /// Removes a plugin; false when there was none.
    pub fn remove_plugin(&self, id: &str) -> bool {
        self.lock().plugins.remove(id).is_some()
    }

    /// Every API request is answered 503 while on.
    pub fn set_outage(&self, on: bool) {
        self.lock().outage = on;
    }

    /// Fraction (0.0–1.0) of API requests answered 500.
    pub fn set_error_rate(&self, rate: f64) {
        self.lock().error_rate = rate;
    }

    /// Delay added to every API request.
    pub fn set_latency_ms(&self, ms: u64) {
        self.lock().latency_ms = ms;
    }

    /// While on, `GET /projects/` answers `[]` although projects exist.
    pub fn set_empty_listing(&self, on: bool) {
        self.lock().empty_listing = on;
    }

    /// While `Some(f)`, `GET /projects/` lists only the first fraction `f` (0.0–1.0, by key)
    /// of the projects: a listing that silently lost projects.
    pub fn set_partial_listing(&self, keep: Option<f64>) {
        self.lock().partial_listing = keep.map(|f| f.clamp(0.0, 1.0));
    }

    /// While on, `GET /projects/` answers 200 `application/json` with a truncated, malformed body.
    pub fn set_malformed_listing(&self, on: bool) {
        self.lock().malformed_listing = on;
    }

    /// Keys of all projects, sorted.
    pub fn project_keys(&self) -> Vec<String> {
        self.lock().projects.keys().cloned().collect()
    }

    /// Tags of a project.
    pub fn project_tags(&self, key: &str) -> Option<Vec<String>> {
        self.lock().projects.get(key).map(|p| p.tags.clone())
    }

    /// Ids of all plugins (dev or not), sorted.
    pub fn plugin_ids(&self) -> Vec<String> {
        self.lock().plugins.keys().cloned().collect()
    }

    /// The project's `origin` remote URL.
    pub fn remote_of(&self, key: &str) -> Option<String> {
        self.lock()
            .projects
            .get(key)
            .and_then(|p| p.remotes.get("origin").cloned())
    }

    /// How many successful pushes the project has had.
    pub fn pushes_of(&self, key: &str) -> usize {
        self.lock().projects.get(key).map(|p| p.pushes).unwrap_or(0)
    }

    /// API requests received (admin requests not counted).
    pub fn request_count(&self) -> u64 {
        self.lock().requests
    }

    /// Requests per route, keyed like `GET /projects/{key}/git/remotes/{name}`.
    pub fn route_counts(&self) -> BTreeMap<String, u64> {
        self.lock().routes.clone()
    }

    /// Requests of one route (see [`DssSimHandle::route_counts`] for the keys).
    pub fn route_count(&self, route: &str) -> u64 {
        self.lock().routes.get(route).copied().unwrap_or(0)
    }

    /// Zeroes the request counters.
    pub fn reset_counters(&self) {
        let mut s = self.lock();
        s.requests = 0;
        s.routes.clear();
    }
}

pub(crate) fn bump(p: &mut SimProject) {
    p.version += 1;
    p.modified_on = now_ms().max(p.modified_on + 1);
    p.modified_by = "admin".to_string();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_state_is_deterministic_and_has_opt_out_projects() {
        let s = DssSimSettings::default();
        let a = DssSimHandle::new(&s, vec![]);
        let b = DssSimHandle::new(&s, vec![]);
        assert_eq!(a.project_keys(), b.project_keys());
        assert_eq!(a.project_keys().len(), 25);
        let opted_out = a
            .project_keys()
            .iter()
            .filter(|k| {
                a.project_tags(k)
                    .unwrap_or_default()
                    .contains(&"no-gitops".into())
            })
            .count();
        assert!((2..=4).contains(&opted_out), "{opted_out}");
        assert_eq!(a.plugin_ids().len(), 4);
    }

    #[test]
    fn touch_bumps_version() {
        let h = DssSimHandle::new(&DssSimSettings::default(), vec![]);
        h.add_project("K", "k", &[]);
        let v1 = h.touch_project("K").unwrap();
        let v2 = h.touch_project("K").unwrap();
        assert_eq!(v2, v1 + 1);
        assert!(h.touch_project("NOPE").is_none());
    }
}
