//! The TOML schema of a fleet config. Every table rejects unknown keys; fields that are
//! checked after parsing (templates, cron, patterns) keep their position with `Spanned`.

use super::duration::HumanDuration;
use super::secrets::{SecretConfig, SecretSource};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use toml::Spanned;

/// The whole file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// The daemon process.
    #[serde(default)]
    pub daemon: DaemonConfig,
    /// One or more DSS design nodes.
    pub dss: Vec<DssNodeConfig>,
    /// The GitHub organisation and how repos are named and removed.
    pub github: GithubConfig,
    /// What every project repo holds.
    #[serde(default)]
    pub repo: RepoContents,
    /// What every plugin repo holds; when absent, plugin repos hold only their mirrored
    /// plugin files and `[repo]`'s topics (no workflows, variables, secrets or protection).
    #[serde(default)]
    pub plugin_repo: Option<RepoContents>,
    /// `[actions]`: name → `uses:` reference (`owner/repo@ref`) the workflow templates read as
    /// `{{ actions.NAME }}`; see [`DEFAULT_ACTIONS`] for the names that always exist.
    #[serde(default)]
    pub actions: BTreeMap<String, Spanned<String>>,
    /// How fast fleetsync talks to GitHub.
    #[serde(default)]
    pub pacing: PacingConfig,
    /// Knobs of the built-in simulator (only read by `fleetd --dev` and `fleetctl sim`).
    #[cfg(feature = "dev")]
    #[serde(default)]
    pub sim: Option<fleetsync_sim::SimSettings>,
    /// A build without the simulator (no `dev` feature) accepts the table and never reads it.
    #[cfg(not(feature = "dev"))]
    #[serde(default)]
    pub sim: Option<toml::Table>,
}

/// The actions the shipped workflow templates use, and the reference each has unless
/// `[actions]` sets another. Moving refs (a branch or a tag) keep the behaviour of earlier
/// releases; pin them to a full commit SHA in `[actions]`.
pub const DEFAULT_ACTIONS: &[(&str, &str)] = &[
    ("checkout", "actions/checkout@v4"),
    ("gitops", "qcastel/dataiku-gitops-github-action@master"),
    ("setup_python", "actions/setup-python@v5"),
];

/// `[daemon]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Address of the status API and metrics; loopback unless you mean otherwise.
    pub listen: Spanned<String>,
    /// Path of the SQLite state file (relative paths are relative to the config file).
    pub state_path: PathBuf,
    /// Cron schedule with seconds: `sec min hour day-of-month month day-of-week`.
    pub schedule: Spanned<String>,
    /// Source of the bearer token that `POST /api/v1/reconcile` requires.
    pub api_token: Option<SecretSource>,
    /// Log format: `text` or `json`.
    pub log_format: LogFormat,
    /// Log level filter (`info`, `debug`, `fleetsync=debug,info`); `RUST_LOG` overrides it.
    pub log_level: String,
    /// Reconcile once as soon as fleetd has started (then on the schedule).
    pub run_at_start: bool,
    /// `[daemon.retention]`: how long finished runs and journal rows are kept.
    pub retention: RetentionConfig,
}

/// `[daemon.retention]`: pruning of the `runs` and `journal` tables (after every run).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Finished runs older than this are deleted.
    pub runs: HumanDuration,
    /// Whatever their age, the newest this many runs (and the last successful one) are kept.
    pub keep_runs: u32,
    /// Journal rows (one per apply step) older than this are deleted.
    pub journal: HumanDuration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            runs: HumanDuration(std::time::Duration::from_secs(90 * 86_400)),
            keep_runs: 100,
            journal: HumanDuration(std::time::Duration::from_secs(30 * 86_400)),
        }
    }
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            listen: Spanned::new(0..0, "127.0.0.1:9464".to_string()),
            state_path: PathBuf::from("fleetsync.db"),
            schedule: Spanned::new(0..0, "0 */10 * * * *".to_string()),
            api_token: None,
            log_format: LogFormat::Text,
            log_level: "info".to_string(),
            run_at_start: true,
            retention: RetentionConfig::default(),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[[dss]]`: one DSS design node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DssNodeConfig {
    /// A short name for this node, used in logs, metrics and templates.
    pub name: String,
    /// Base URL, e.g. `https://dss.example.com:11200`.
    pub url: Spanned<String>,
    /// Source of the API key.
    pub api_key: SecretSource,
    /// Skip TLS certificate verification (self-signed test nodes only).
    #[serde(default)]
    pub no_check_certificate: bool,
    /// PEM file holding a client certificate and its key, for mutual TLS.
    #[serde(default)]
    pub client_certificate: Option<PathBuf>,
    /// PEM file of an extra CA to trust.
    #[serde(default)]
    pub ca_certificate: Option<PathBuf>,
    /// API path prefix: `/public/api` (default) or `/dip/publicapi`.
    #[serde(default = "default_api_prefix")]
    pub api_prefix: String,
    /// Request timeout.
    #[serde(default = "default_dss_timeout")]
    pub timeout: HumanDuration,
    /// Glob patterns on project keys to manage (default: all).
    #[serde(default = "default_include")]
    pub include: Vec<Spanned<String>>,
    /// Glob patterns on project keys to leave alone.
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
    /// Tag filters.
    #[serde(default)]
    pub tags: TagFilter,
    /// Manage repos for this node's dev plugins.
    #[serde(default = "default_true")]
    pub plugins: bool,
    /// Prefix put in front of repo names from this node (to keep several nodes apart).
    #[serde(default)]
    pub repo_prefix: String,
    /// `[dss.git]`: link each project's git remote to its repo.
    #[serde(default)]
    pub git: DssGitConfig,
    /// `[dss.infra]`: fill the infrastructure-id variables from the deployer.
    #[serde(default)]
    pub infra: DssInfraConfig,
    /// `[dss.overrides]`: per-project values from project metadata custom fields.
    #[serde(default)]
    pub overrides: DssOverrides,
    /// Mirror each dev plugin's files (from its zip download) into its repo, as one commit
    /// each time they change.
    #[serde(default = "default_true")]
    pub mirror_plugins: bool,
    /// Suspicious-drop rule: when a listing has lost more than this fraction of the projects
    /// of the last accepted listing (0.5 = half), the node counts as *unknown* for removals
    /// (nothing is archived or deleted, `/readyz` and the metrics show it) until the listing
    /// recovers or the drop is accepted by raising this to 1.0 (off) for one run.
    #[serde(default = "default_max_listing_drop")]
    pub max_listing_drop: f64,
}

/// How the DSS side of a project is linked to its repo.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DssGitConfig {
    /// Set the project's git remote to its repo (and push once).
    pub link_remote: bool,
    /// Remote name.
    pub remote_name: String,
    /// `ssh` (`git@host:owner/repo.git`) or `https` (`https://host/owner/repo.git`).
    pub url_scheme: RemoteScheme,
    /// Git host in the remote URL; empty: derived from `github.api_url`.
    pub host: String,
    /// Replace a remote that points elsewhere (otherwise it is reported as drift).
    pub overwrite_remote: bool,
    /// Push the project's branch once after linking. With `link_remote`, the repo is then
    /// made from the project's history: created empty, DSS pushes first, fleetsync's files
    /// go on top in one commit, `prod` is cut from that, and DSS pulls them back.
    pub push: bool,
    /// The DSS project's git branch (DSS's own default is `master`): what DSS pushes first,
    /// and the repo's default branch when the repo is made from the project's history.
    pub branch: String,
}

impl Default for DssGitConfig {
    fn default() -> Self {
        DssGitConfig {
            link_remote: false,
            remote_name: "origin".into(),
            url_scheme: RemoteScheme::Ssh,
            host: String::new(),
            overwrite_remote: false,
            push: true,
            branch: "master".into(),
        }
    }
}

/// Remote URL form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoteScheme {
    #[default]
    Ssh,
    Https,
}

/// Which deployer infrastructures fill `DATAIKU_INFRA_ID_STAGING` / `_PROD`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DssInfraConfig {
    /// Fill the two variables from `GET /project-deployer/infras`.
    pub fill_variables: bool,
    /// Lifecycle stage of the staging infrastructure.
    pub staging_stage: String,
    /// Lifecycle stage of the production infrastructure.
    pub prod_stage: String,
}

impl Default for DssInfraConfig {
    fn default() -> Self {
        DssInfraConfig {
            fill_variables: false,
            staging_stage: "Test".into(),
            prod_stage: "Production".into(),
        }
    }
}

/// Project metadata custom fields that override per-project values.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DssOverrides {
    /// Custom field holding `private`, `internal` or `public`.
    pub visibility_field: String,
    /// Custom field holding the number of required approving reviews (0–6).
    pub required_reviews_field: String,
}

fn default_max_listing_drop() -> f64 {
    0.5
}

fn default_api_prefix() -> String {
    "/public/api".into()
}
fn default_dss_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30))
}
fn default_include() -> Vec<Spanned<String>> {
    vec![Spanned::new(0..0, "*".to_string())]
}
fn default_true() -> bool {
    true
}

/// `[dss.tags]`: projects are managed when they carry any `include` tag (or `include` is
/// empty) and no `exclude` tag.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TagFilter {
    /// Manage only projects carrying at least one of these tags (empty: no such requirement).
    pub include: Vec<String>,
    /// Never manage projects carrying one of these tags (an opt-out tag).
    pub exclude: Vec<String>,
}

/// `[github]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// REST API base URL (`https://api.github.com`, or your GHES `https://host/api/v3`).
    #[serde(default = "default_github_api")]
    pub api_url: Spanned<String>,
    /// The organisation that owns the repos.
    pub owner: String,
    /// How fleetsync authenticates.
    pub auth: GithubAuth,
    /// Template of a project repo's name.
    #[serde(default = "default_project_repo_name")]
    pub project_repo_name: Spanned<String>,
    /// Template of a dev plugin repo's name.
    #[serde(default = "default_plugin_repo_name")]
    pub plugin_repo_name: Spanned<String>,
    /// Template of the repo description.
    #[serde(default = "default_description")]
    pub description: Spanned<String>,
    /// `private`, `internal` or `public`.
    #[serde(default)]
    pub visibility: Visibility,
    /// Branch the repo is created with.
    #[serde(default = "default_branch")]
    pub default_branch: String,
    /// What happens to the repo of a project that is gone.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// How long a project must be gone before its repo is touched.
    #[serde(default = "default_grace")]
    pub grace_period: HumanDuration,
    /// Above this many archive/delete steps in one run, none is done.
    #[serde(default = "default_max_deletions")]
    pub max_deletions_per_run: u32,
    /// Repos fleetsync never touches, whatever the plan says.
    #[serde(default)]
    pub protected_repos: Vec<String>,
    /// `repair` manual changes on GitHub, or only `report` them.
    #[serde(default)]
    pub drift: DriftMode,
    /// This install's id in ownership markers (`fleetsync:<install_id>`). Default: derived
    /// from `owner` and the DSS nodes' URLs, so two installs never share one by accident.
    #[serde(default)]
    pub install_id: Option<String>,
    /// The organisation's repository custom property that carries the ownership marker
    /// (when the organisation defines it; otherwise the marker is a topic).
    #[serde(default = "default_marker_property")]
    pub marker_property: String,
    /// Which existing repos without this install's marker fleetsync takes over: `none`
    /// (each is a conflict, nothing is written to it), `empty` (repos without any commit,
    /// secret or variable) or `all` (a migration of hand-made repos).
    #[serde(default)]
    pub adopt: AdoptPolicy,
}

/// `github.adopt`: which unmarked repos a run takes over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AdoptPolicy {
    /// None: a repo without this install's marker is a conflict.
    #[default]
    None,
    /// Repos with no commit, secret or variable.
    Empty,
    /// Every repo fleetsync would manage (a migration).
    All,
}

impl AdoptPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            AdoptPolicy::None => "none",
            AdoptPolicy::Empty => "empty",
            AdoptPolicy::All => "all",
        }
    }
}

fn default_marker_property() -> String {
    "fleetsync".into()
}

fn default_github_api() -> Spanned<String> {
    Spanned::new(0..0, "https://api.github.com".to_string())
}
fn default_project_repo_name() -> Spanned<String> {
    Spanned::new(
        0..0,
        "{{ node.repo_prefix }}dss-{{ project.key | lower }}".to_string(),
    )
}
fn default_plugin_repo_name() -> Spanned<String> {
    Spanned::new(
        0..0,
        "{{ node.repo_prefix }}dss-plugin-{{ plugin.id | lower }}".to_string(),
    )
}
fn default_description() -> Spanned<String> {
    Spanned::new(
        0..0,
        "{% if project %}DSS project {{ project.key }}: {{ project.name }}{% else %}DSS plugin {{ plugin.id }}{% endif %} (managed by fleetsync)".to_string(),
    )
}
fn default_branch() -> String {
    "main".into()
}
fn default_grace() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(72 * 3600))
}
fn default_max_deletions() -> u32 {
    5
}

/// `[github.auth]`: exactly one of `pat` or `app`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum GithubAuth {
    /// A personal access token (classic needs `repo`, `workflow`, and `delete_repo` to delete).
    Pat(SecretSource),
    /// A GitHub App installation.
    App(GithubAppAuth),
}

/// `[github.auth.app]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubAppAuth {
    /// The App's numeric id.
    pub app_id: u64,
    /// The installation id in the organisation.
    pub installation_id: u64,
    /// Source of the App's PEM private key.
    pub private_key: SecretSource,
}

/// Repo visibility.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Only members with access.
    #[default]
    Private,
    /// Everyone in the enterprise.
    Internal,
    /// Everyone.
    Public,
}

impl Visibility {
    /// GitHub's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Internal => "internal",
            Visibility::Public => "public",
        }
    }
}

/// What to do with the repo of a project that is gone (after the grace period).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletionPolicy {
    /// Archive it (read-only, recoverable). The default.
    #[default]
    Archive,
    /// Delete it (irreversible).
    Delete,
    /// Stop managing it and leave it as it is.
    Orphan,
}

/// How manual changes on GitHub are handled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftMode {
    /// Record and repair.
    #[default]
    Repair,
    /// Record only.
    Report,
}

/// `[repo]` / `[plugin_repo]`: the managed contents of a repo.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RepoContents {
    /// Path in the repo → file spec.
    pub files: BTreeMap<String, FileConfig>,
    /// Actions variable name → value template (or `{ value = "…", scope = "org" }`).
    pub variables: BTreeMap<String, Spanned<VariableConfig>>,
    /// Actions secret name → where its value comes from (and its scope).
    pub secrets: BTreeMap<String, SecretConfig>,
    /// Branches to create from the default branch (e.g. `prod`).
    pub branches: Vec<String>,
    /// Branch name → protection.
    pub protection: BTreeMap<String, ProtectionConfig>,
    /// Repository topics.
    pub topics: Vec<String>,
}

/// Where an Actions secret or variable lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueScope {
    /// One copy in each repo (per-project values need this).
    #[default]
    Repo,
    /// One organisation secret or variable (`visibility = "selected"`) whose repository list
    /// fleetsync manages: one write changes it for the whole fleet.
    Org,
}

/// An Actions variable: a value template, or `{ value = "…", scope = "org" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableConfig {
    /// The value (a template for repo-scoped variables).
    pub value: String,
    /// Where it lives.
    pub scope: ValueScope,
}

impl<'de> Deserialize<'de> for VariableConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            value: String,
            #[serde(default)]
            scope: ValueScope,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Table(Table),
        }
        match Either::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "a variable is a value (a template) or { value = \"…\", scope = \"org\" | \"repo\" }",
            )
        })? {
            Either::Text(value) => Ok(VariableConfig {
                value,
                scope: ValueScope::Repo,
            }),
            Either::Table(t) => Ok(VariableConfig {
                value: t.value,
                scope: t.scope,
            }),
        }
    }
}

/// A managed file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Template file, relative to the config file's folder.
    pub template: Spanned<PathBuf>,
    /// `managed` (kept exactly as rendered) or `seeded` (created once if missing, then the
    /// team's to edit).
    #[serde(default)]
    pub mode: FileMode,
}

/// How a file is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileMode {
    /// Kept exactly as rendered; edits on GitHub are drift.
    #[default]
    Managed,
    /// Created once when missing, never overwritten.
    Seeded,
}

/// Branch protection, in the words of GitHub's settings page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectionConfig {
    /// Approving reviews a pull request needs (0–6); `None` disables required reviews.
    #[serde(default)]
    pub required_approving_review_count: Option<u8>,
    /// Dismiss approvals when new commits are pushed.
    #[serde(default)]
    pub dismiss_stale_reviews: bool,
    /// Require a review from code owners.
    #[serde(default)]
    pub require_code_owner_reviews: bool,
    /// Status checks (contexts) that must pass, e.g. the PR workflow's job.
    #[serde(default)]
    pub required_status_checks: Vec<String>,
    /// Require branches to be up to date before merging.
    #[serde(default)]
    pub strict_status_checks: bool,
    /// Apply the rules to administrators too.
    #[serde(default)]
    pub enforce_admins: bool,
    /// Require linear history.
    #[serde(default)]
    pub required_linear_history: bool,
    /// Allow force pushes.
    #[serde(default)]
    pub allow_force_pushes: bool,
    /// Allow the branch to be deleted.
    #[serde(default)]
    pub allow_deletions: bool,
    /// Require conversations to be resolved.
    #[serde(default)]
    pub required_conversation_resolution: bool,
}

/// `[pacing]`: keeps fleetsync inside GitHub's secondary limits. The defaults are GitHub.com's
/// published numbers; lower them to leave room for other clients on the same identity, or set
/// a GitHub Enterprise Server's own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PacingConfig {
    /// Repos worked on at once.
    pub concurrency: u32,
    /// Requests in flight at once, across all repos (GitHub allows 100).
    pub max_in_flight: u32,
    /// Content-generating requests per minute (GitHub: 80).
    pub writes_per_minute: u32,
    /// Content-generating requests per hour (GitHub: 500).
    pub writes_per_hour: u32,
    /// Points per minute per endpoint, a read costing 1 and a write 5 (GitHub: 900).
    pub points_per_minute: u32,
    /// Divides the pacer's minute and hour windows; only for runs against the simulator
    /// with the same `[sim.github] time_scale`. Leave it at 1 for GitHub.
    pub time_scale: u32,
    /// Timeout of one GitHub request.
    pub request_timeout: HumanDuration,
    /// Give up on a request after this many attempts.
    pub max_attempts: u32,
}

impl Default for PacingConfig {
    fn default() -> Self {
        PacingConfig {
            concurrency: 32,
            max_in_flight: 64,
            writes_per_minute: 80,
            writes_per_hour: 500,
            points_per_minute: 900,
            time_scale: 1,
            request_timeout: HumanDuration(std::time::Duration::from_secs(30)),
            max_attempts: 5,
        }
    }
}
