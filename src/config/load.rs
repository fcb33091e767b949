//! Loading a config file: parse (unknown keys rejected), then validate every field and parse
//! every template, collecting all problems with their `file:line:col`.

use super::error::{line_col, ConfigError, ConfigErrors};
use super::preflight::SecretRef;
use super::schema::*;
use super::secrets::SecretSource;
use super::templates::{TemplateContext, Templates};
use globset::{Glob, GlobSet, GlobSetBuilder};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A loaded, validated config.
#[derive(Debug)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// That file's folder; relative paths in the config are relative to it.
    pub base_dir: PathBuf,
    /// The settings as written.
    pub raw: RawConfig,
    /// Every template, parsed.
    pub templates: Templates,
    /// The status API address.
    pub listen: SocketAddr,
    /// Per DSS node (same order as `raw.dss`): include and exclude patterns.
    pub key_filters: Vec<KeyFilter>,
    /// Warnings (e.g. a secret file readable by everyone). Loading still succeeded.
    pub warnings: Vec<String>,
    /// SHA-256 (hex) of the config file and of every template file it names: two loads with
    /// the same hash manage the fleet the same way (secret values are not part of it).
    pub hash: String,
    /// Every secret source of the file, with its place, for [`Config::preflight`].
    pub(super) secrets: Vec<SecretRef>,
    /// This install's id in ownership markers (`github.install_id`, or derived).
    pub install_id: String,
    /// `{{ actions.NAME }}` of the templates: [`DEFAULT_ACTIONS`] with `[actions]` over them.
    pub actions: BTreeMap<String, String>,
    /// What plugin repos hold: `[plugin_repo]`, or without it [`plugin_defaults`].
    plugin_contents: RepoContents,
}

/// What plugin repos hold when the config has no `[plugin_repo]`: `[repo]`'s topics and
/// nothing else of a project's (no workflows, variables, secrets, branches or protection:
/// a plugin is not bundled and deployed like a project). Their mirrored files come on top.
pub fn plugin_defaults(repo: &RepoContents) -> RepoContents {
    RepoContents {
        topics: repo.topics.clone(),
        ..RepoContents::default()
    }
}

/// Compiled include/exclude patterns on project keys.
#[derive(Debug, Clone)]
pub struct KeyFilter {
    include: GlobSet,
    exclude: GlobSet,
}

impl KeyFilter {
    /// Whether the project key passes the patterns.
    pub fn matches(&self, key: &str) -> bool {
        self.include.is_match(key) && !self.exclude.is_match(key)
    }
}

/// Which managed-contents table a template belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `[repo]`: project repos.
    Project,
    /// `[plugin_repo]` (or `[repo]` when absent): plugin repos.
    Plugin,
}

impl Scope {
    fn prefix(self) -> &'static str {
        match self {
            Scope::Project => "project",
            Scope::Plugin => "plugin",
        }
    }
}

/// Template names, shared by the loader and the stages that render them.
pub mod names {
    use super::Scope;
    /// Name template of project repos.
    pub const PROJECT_REPO_NAME: &str = "repo_name:project";
    /// Name template of plugin repos.
    pub const PLUGIN_REPO_NAME: &str = "repo_name:plugin";
    /// Description template.
    pub const DESCRIPTION: &str = "description";
    /// A managed file's template.
    pub fn file(scope: Scope, path: &str) -> String {
        format!("{}:file:{path}", scope.prefix())
    }
    /// A variable's value template.
    pub fn variable(scope: Scope, name: &str) -> String {
        format!("{}:variable:{name}", scope.prefix())
    }
    /// A secret source's name/path template.
    pub fn secret(scope: Scope, name: &str) -> String {
        format!("{}:secret:{name}", scope.prefix())
    }
}

impl Config {
    /// The contents of repos in `scope`.
    pub fn contents(&self, scope: Scope) -> &RepoContents {
        match scope {
            Scope::Project => &self.raw.repo,
            Scope::Plugin => &self.plugin_contents,
        }
    }

    /// The state file's path, resolved against the config's folder.
    pub fn state_path(&self) -> PathBuf {
        let p = &self.raw.daemon.state_path;
        if p.is_absolute() {
            p.clone()
        } else {
            tidy(&self.base_dir.join(p))
        }
    }
}

/// `a/b/../c` → `a/c` where `b` is a real folder (not a symbolic link, through which `..`
/// would lead elsewhere), so messages name the file plainly.
fn tidy(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        let poppable = matches!(out.components().next_back(), Some(Component::Normal(_)))
            && std::fs::symlink_metadata(&out).is_ok_and(|m| m.is_dir());
        match c {
            Component::ParentDir if poppable => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Only the `[daemon]` table of a config file (its address and API token), for clients of a
/// running fleetd: read even when other entries of the file have errors (those are set aside
/// as [`load`] does to list them all). `None` when the file or its TOML cannot be read.
pub fn load_daemon_table(path: &Path) -> Option<(DaemonConfig, PathBuf)> {
    let text = std::fs::read_to_string(path).ok()?;
    let raw = super::parse::parse_all(path, &text, key_at).raw?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    Some((raw.daemon, base))
}

/// Loads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError::whole_file(
            path,
            format!("cannot read config: {e}"),
        )])
    })?;
    load_str(path, &source)
}

/// Loads a config as fleetd runs one: every problem of the file and of its templates, and
/// every fixed secret source that cannot be read here ([`Config::preflight`]), all together.
pub fn load_for_run(path: &Path) -> Result<Config, ConfigErrors> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError::whole_file(
            path,
            format!("cannot read config: {e}"),
        )])
    })?;
    match validate(path, &source) {
        Ok(cfg) => cfg.preflight().map(|()| cfg),
        Err((mut errs, secrets, base_dir)) => {
            errs.0
                .extend(super::preflight::unreadable(&secrets, &base_dir));
            Err(errs)
        }
    }
}

/// Loads and validates config text; `path` names it in errors and anchors relative paths.
/// Every problem is reported: schema errors (unknown keys, bad values) and the checks below.
pub fn load_str(path: &Path, source: &str) -> Result<Config, ConfigErrors> {
    validate(path, source).map_err(|(errs, _, _)| errs)
}

type Invalid = (ConfigErrors, Vec<SecretRef>, PathBuf);

fn validate(path: &Path, source: &str) -> Result<Config, Invalid> {
    let parsed = super::parse::parse_all(path, source, key_at);
    let Some(raw) = parsed.raw else {
        return Err((ConfigErrors(parsed.errors), Vec::new(), PathBuf::new()));
    };
    let base_dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        })
        .unwrap_or_else(|| PathBuf::from("."));
    let mut hasher = Sha256::new();
    hasher.update(source.as_bytes());
    let mut v = Validator {
        path,
        source: &parsed.text,
        base_dir: &base_dir,
        errors: parsed.errors,
        warnings: Vec::new(),
        templates: Templates::new(),
        secrets: Vec::new(),
        hasher,
    };
    let listen = v.check_daemon(&raw.daemon);
    let key_filters = v.check_dss(&raw.dss);
    v.check_github(&raw.github);
    let install_id = v.install_id(&raw);
    let actions = v.check_actions(&raw.actions);
    v.templates.add_global("actions", &actions);
    v.check_contents(Scope::Project, "repo", &raw.repo, &raw.github);
    if let Some(c) = &raw.plugin_repo {
        v.check_contents(Scope::Plugin, "plugin_repo", c, &raw.github);
    }
    v.check_org_scoped(&raw);
    v.check_pacing(&raw.pacing);
    v.check_samples(&raw);
    let Validator {
        errors,
        warnings,
        templates,
        secrets,
        hasher,
        ..
    } = v;
    if !errors.is_empty() {
        let mut errors = errors;
        // In reading order: the config's own errors by line and column, then the templates'.
        errors.sort_by(|a, b| {
            (a.file != path, &a.file, a.line, a.col).cmp(&(b.file != path, &b.file, b.line, b.col))
        });
        return Err((ConfigErrors(errors), secrets, base_dir));
    }
    let plugin_contents = match &raw.plugin_repo {
        Some(c) => c.clone(),
        None => plugin_defaults(&raw.repo),
    };
    Ok(Config {
        path: path.to_path_buf(),
        base_dir,
        templates,
        listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9464))),
        key_filters,
        warnings,
        hash: hex::encode(hasher.finalize()),
        secrets,
        install_id,
        actions,
        plugin_contents,
        raw,
    })
}

struct Validator<'a> {
    path: &'a Path,
    source: &'a str,
    base_dir: &'a Path,
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
    templates: Templates,
    secrets: Vec<SecretRef>,
    hasher: Sha256,
}

impl Validator<'_> {
    fn err(&mut self, span: Range<usize>, key: &str, msg: impl Into<String>) {
        let e = if span == (0..0) {
            // A default value: no place in the file to point at.
            ConfigError {
                file: self.path.to_path_buf(),
                line: None,
                col: None,
                key: Some(key.to_string()),
                message: msg.into(),
            }
        } else {
            ConfigError::at_offset(
                self.path,
                self.source,
                span.start,
                Some(key.to_string()),
                msg,
            )
        };
        self.errors.push(e);
    }

    /// Errors about a key that has no `Spanned` value: point at the key in its table.
    fn err_key(&mut self, table: &str, key: &str, msg: impl Into<String>) {
        let mut e = self.place_of_key(table, key);
        e.message = msg.into();
        self.errors.push(e);
    }

    /// Where `key` of `[table]` is written (line 1 when it cannot be found), no message yet.
    fn place_of_key(&self, table: &str, key: &str) -> ConfigError {
        // `auth = { pat = … }`: a key of an inline table is found through its parent's key.
        let mut span = find_key(self.source, table, key);
        let mut t = table;
        while span.is_none() {
            let Some((parent, last)) = t.rsplit_once('.') else {
                break;
            };
            span = find_key(self.source, parent, last);
            t = parent;
        }
        let span = span.unwrap_or(0..0);
        let dotted = if table.is_empty() {
            key.to_string()
        } else {
            format!("{table}.{key}")
        };
        if span == (0..0) {
            ConfigError {
                file: self.path.to_path_buf(),
                line: Some(1),
                col: Some(1),
                key: Some(dotted),
                message: String::new(),
            }
        } else {
            ConfigError::at_offset(self.path, self.source, span.start, Some(dotted), "")
        }
    }

    fn template(&mut self, name: &str, text: &Spanned<String>, key: &str) {
        if let Err((msg, _line)) = self.templates.add(name, text.get_ref().clone()) {
            self.err(text.span(), key, format!("invalid template: {msg}"));
        }
    }

    fn check_daemon(&mut self, d: &DaemonConfig) -> Option<SocketAddr> {
        let listen = match d.listen.get_ref().parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.err(
                    d.listen.span(),
                    "daemon.listen",
                    format!(
                        "{:?} is not an address:port (e.g. \"127.0.0.1:9464\")",
                        d.listen.get_ref()
                    ),
                );
                None
            }
        };
        if let Err(e) = tokio_cron_scheduler::Job::new(d.schedule.get_ref().as_str(), |_, _| {}) {
            self.err(
                d.schedule.span(),
                "daemon.schedule",
                format!(
                    "invalid cron schedule {:?} ({e:?}); write `sec min hour day month weekday`, e.g. \"0 */10 * * * *\"",
                    d.schedule.get_ref()
                ),
            );
        }
        if tracing_subscriber::EnvFilter::try_new(&d.log_level).is_err() {
            self.err_key(
                "daemon",
                "log_level",
                format!("invalid log level {:?}", d.log_level),
            );
        }
        if let Some(src) = &d.api_token {
            self.check_secret_source(src, "daemon", "api_token");
        }
        listen
    }

    fn check_secret_source(&mut self, src: &SecretSource, table: &str, key: &str) {
        if src.template_text().trim().is_empty() {
            self.err_key(table, key, "the secret source names no variable or file");
        }
        let place = self.place_of_key(table, key);
        self.secrets.push(SecretRef {
            source: src.clone(),
            place,
        });
        if let Some(w) = src.permission_warning(self.base_dir) {
            self.warnings.push(w);
        }
    }

    fn check_dss(&mut self, nodes: &[DssNodeConfig]) -> Vec<KeyFilter> {
        if nodes.is_empty() {
            self.err_key("", "dss", "at least one [[dss]] node is required");
        }
        let mut filters = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for n in nodes {
            if !seen.insert(n.name.clone()) {
                self.err_key(
                    "dss",
                    "name",
                    format!("two DSS nodes are named {:?}", n.name),
                );
            }
            self.check_url(&n.url, "dss.url");
            if n.api_prefix != "/public/api" && n.api_prefix != "/dip/publicapi" {
                self.err_key(
                    "dss",
                    "api_prefix",
                    format!(
                        "{:?} is not a DSS API prefix: use \"/public/api\" or \"/dip/publicapi\"",
                        n.api_prefix
                    ),
                );
            }
            self.check_secret_source(&n.api_key, "dss", "api_key");
            for (file, key) in [
                (&n.client_certificate, "client_certificate"),
                (&n.ca_certificate, "ca_certificate"),
            ] {
                if let Some(f) = file {
                    let full = if f.is_absolute() {
                        f.clone()
                    } else {
                        self.base_dir.join(f)
                    };
                    if !full.is_file() {
                        self.err_key(
                            "dss",
                            key,
                            format!("{} does not exist or is not a file", full.display()),
                        );
                    }
                }
            }
            let include = self.globs(&n.include, "dss.include");
            let exclude = self.globs(&n.exclude, "dss.exclude");
            filters.push(KeyFilter { include, exclude });
        }
        filters
    }

    fn globs(&mut self, patterns: &[Spanned<String>], key: &str) -> GlobSet {
        let mut b = GlobSetBuilder::new();
        for p in patterns {
            match Glob::new(p.get_ref()) {
                Ok(g) => {
                    b.add(g);
                }
                Err(e) => self.err(p.span(), key, format!("invalid pattern: {e}")),
            }
        }
        b.build().unwrap_or_else(|_| GlobSet::empty())
    }

    fn check_url(&mut self, url: &Spanned<String>, key: &str) {
        match url::Url::parse(url.get_ref()) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {
                if !u.username().is_empty() || u.password().is_some() {
                    self.err(
                        url.span(),
                        key,
                        "put credentials in a secret source, not in the URL",
                    );
                }
            }
            Ok(u) => self.err(
                url.span(),
                key,
                format!("scheme {:?} is not http or https", u.scheme()),
            ),
            Err(e) => self.err(
                url.span(),
                key,
                format!("{:?} is not a URL: {e}", url.get_ref()),
            ),
        }
    }

    fn check_github(&mut self, g: &GithubConfig) {
        self.check_url(&g.api_url, "github.api_url");
        if g.owner.trim().is_empty() {
            self.err_key("github", "owner", "the organisation name is empty");
        }
        match &g.auth {
            GithubAuth::Pat(src) => self.check_secret_source(src, "github.auth", "pat"),
            GithubAuth::App(app) => {
                self.check_secret_source(&app.private_key, "github.auth.app", "private_key")
            }
        }
        self.template(
            names::PROJECT_REPO_NAME,
            &g.project_repo_name,
            "github.project_repo_name",
        );
        self.template(
            names::PLUGIN_REPO_NAME,
            &g.plugin_repo_name,
            "github.plugin_repo_name",
        );
        self.template(names::DESCRIPTION, &g.description, "github.description");
        let mp = &g.marker_property;
        if mp.is_empty()
            || mp.len() > 75
            || !mp
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            self.err_key(
                "github",
                "marker_property",
                format!("{mp:?} is not a custom property name: use 1 to 75 letters, digits, '_' and '-'"),
            );
        }
        if !valid_branch(&g.default_branch) {
            self.err_key(
                "github",
                "default_branch",
                format!("{:?} is not a valid branch name", g.default_branch),
            );
        }
    }

    /// `github.install_id`, checked, or the default: the first 12 hex digits of a SHA-256
    /// over the organisation and the DSS nodes' URLs (lower case, no trailing `/`, sorted).
    fn install_id(&mut self, raw: &RawConfig) -> String {
        if let Some(id) = &raw.github.install_id {
            if let Err(why) = valid_install_id(id) {
                self.err_key("github", "install_id", why);
            }
            return id.clone();
        }
        derived_install_id(
            &raw.github.owner,
            raw.dss.iter().map(|n| n.url.get_ref().as_str()),
        )
    }

    /// `[actions]`: each name usable as `{{ actions.NAME }}`, each value a `uses:` reference;
    /// the defaults fill in the names the table does not set.
    fn check_actions(
        &mut self,
        table: &BTreeMap<String, Spanned<String>>,
    ) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, String> = DEFAULT_ACTIONS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (name, value) in table {
            let key = format!("actions.{name}");
            if !valid_action_name(name) {
                self.err(
                    value.span(),
                    &key,
                    "an action's name is lower-case letters, digits and `_`, starting with a letter (templates read it as {{ actions.NAME }})",
                );
            }
            if let Err(why) = valid_uses(value.get_ref()) {
                self.err(value.span(), &key, why);
            }
            out.insert(name.clone(), value.get_ref().clone());
        }
        out
    }

    fn check_contents(&mut self, scope: Scope, table: &str, c: &RepoContents, gh: &GithubConfig) {
        for (path, f) in &c.files {
            if path.is_empty() || path.starts_with('/') || path.split('/').any(|s| s == "..") {
                self.err_key(
                    &format!("{table}.files"),
                    path,
                    "a repo path must be relative and stay inside the repo",
                );
            }
            let tpath = f.template.get_ref();
            let full = if tpath.is_absolute() {
                tpath.clone()
            } else {
                self.base_dir.join(tpath)
            };
            match std::fs::read_to_string(&full) {
                Ok(text) => {
                    self.hasher.update(full.display().to_string().as_bytes());
                    self.hasher.update([0]);
                    self.hasher.update(text.as_bytes());
                    self.hasher.update([0]);
                    if let Err((msg, line)) = self.templates.add(&names::file(scope, path), text) {
                        self.errors.push(ConfigError {
                            file: full.clone(),
                            line,
                            col: None,
                            key: Some(format!("{table}.files.\"{path}\"")),
                            message: format!("invalid template: {msg}"),
                        });
                    }
                }
                Err(e) => self.err(
                    f.template.span(),
                    &format!("{table}.files.\"{path}\".template"),
                    format!("cannot read template {}: {e}", full.display()),
                ),
            }
        }
        for (name, value) in &c.variables {
            let key = format!("{table}.variables.{name}");
            if let Err(why) = valid_actions_name(name) {
                self.err(value.span(), &key, why);
            }
            let v = value.get_ref();
            if v.scope == ValueScope::Org {
                if is_templated(&v.value) {
                    self.err(value.span(), &key, ORG_NOT_TEMPLATED);
                }
                continue;
            }
            let text = Spanned::new(value.span(), v.value.clone());
            self.template(&names::variable(scope, name), &text, &key);
        }
        for (name, sc) in &c.secrets {
            let key = format!("{table}.secrets");
            let src = &sc.source;
            if let Err(why) = valid_actions_name(name) {
                self.err_key(&key, name, why);
            }
            self.check_secret_source(src, &key, name);
            if sc.scope == ValueScope::Org {
                if is_templated(&src.template_text()) {
                    self.err_key(&key, name, ORG_NOT_TEMPLATED);
                }
                continue;
            }
            if let Err((msg, _)) = self
                .templates
                .add(&names::secret(scope, name), src.template_text())
            {
                self.err_key(&key, name, format!("invalid template: {msg}"));
            }
        }
        for b in &c.branches {
            if !valid_branch(b) {
                self.err_key(
                    table,
                    "branches",
                    format!("{b:?} is not a valid branch name"),
                );
            }
        }
        for (branch, p) in &c.protection {
            let key = format!("{table}.protection.{branch}");
            if branch != &gh.default_branch && !c.branches.contains(branch) {
                self.err_key(
                    &format!("{table}.protection"),
                    branch,
                    format!(
                        "branch {branch:?} is neither the default branch nor listed in `{table}.branches`, so it would not exist"
                    ),
                );
            }
            if let Some(n) = p.required_approving_review_count {
                if n > 6 {
                    self.err_key(
                        &key,
                        "required_approving_review_count",
                        format!("{n} is above GitHub's maximum of 6"),
                    );
                }
            }
        }
    }

    /// An org-scoped secret or variable is one for the whole fleet: `[repo]` and
    /// `[plugin_repo]` must agree on it (GitHub lets a repo's own value hide the org's).
    fn check_org_scoped(&mut self, raw: &RawConfig) {
        let Some(plugin) = &raw.plugin_repo else {
            return;
        };
        let pairs = [
            (&raw.repo, plugin, "repo"),
            (plugin, &raw.repo, "plugin_repo"),
        ];
        for (a, b, table) in pairs {
            for (name, v) in &a.variables {
                let (v, other) = (v.get_ref(), b.variables.get(name).map(|o| o.get_ref()));
                let clash = match other {
                    Some(o) => (v.scope == ValueScope::Org || o.scope == ValueScope::Org) && o != v,
                    None => false,
                };
                if clash {
                    self.err_key(&format!("{table}.variables"), name, ORG_DISAGREE);
                }
            }
            for (name, s) in &a.secrets {
                let clash = match b.secrets.get(name) {
                    Some(o) => (s.scope == ValueScope::Org || o.scope == ValueScope::Org) && o != s,
                    None => false,
                };
                if clash {
                    self.err_key(&format!("{table}.secrets"), name, ORG_DISAGREE);
                }
            }
        }
    }

    fn check_pacing(&mut self, p: &PacingConfig) {
        for (key, v) in [
            ("concurrency", p.concurrency),
            ("max_in_flight", p.max_in_flight),
            ("writes_per_minute", p.writes_per_minute),
            ("writes_per_hour", p.writes_per_hour),
            ("points_per_minute", p.points_per_minute),
            ("time_scale", p.time_scale),
            ("max_attempts", p.max_attempts),
        ] {
            if v == 0 {
                self.err_key("pacing", key, "must be at least 1");
            }
        }
        if p.max_in_flight >= 100 {
            self.err_key(
                "pacing",
                "max_in_flight",
                "GitHub allows 100 concurrent requests per identity; stay below it",
            );
        }
        if p.points_per_minute < 5 {
            self.err_key(
                "pacing",
                "points_per_minute",
                "a write costs 5 points; the budget must allow at least one",
            );
        }
    }

    /// Renders the name templates with sample inventory, so a typo such as
    /// `{{ project.kee }}` is caught now rather than at the first reconcile.
    fn check_samples(&mut self, raw: &RawConfig) {
        let checks = [
            (
                names::PROJECT_REPO_NAME,
                &raw.github.project_repo_name,
                "github.project_repo_name",
                TemplateContext::sample_project(),
            ),
            (
                names::PLUGIN_REPO_NAME,
                &raw.github.plugin_repo_name,
                "github.plugin_repo_name",
                TemplateContext::sample_plugin(),
            ),
            (
                names::DESCRIPTION,
                &raw.github.description,
                "github.description",
                TemplateContext::sample_project(),
            ),
        ];
        for (name, spanned, key, ctx) in checks {
            if !self.templates.has(name) {
                continue;
            }
            match self.templates.render(name, &ctx) {
                Ok(out) if name != names::DESCRIPTION && out.trim().is_empty() => {
                    self.err(spanned.span(), key, "renders to an empty repo name")
                }
                Ok(_) => {}
                Err(e) => self.err(spanned.span(), key, e.message),
            }
        }
        self.render_contents(Scope::Project, "repo", &raw.repo);
        if let Some(c) = &raw.plugin_repo {
            self.render_contents(Scope::Plugin, "plugin_repo", c);
        }
    }

    /// Renders a contents table's file, variable and secret-source templates with a sample
    /// project (or plugin), as the first reconcile would.
    fn render_contents(&mut self, scope: Scope, table: &str, c: &RepoContents) {
        let ctx = match scope {
            Scope::Project => TemplateContext::sample_project(),
            Scope::Plugin => TemplateContext::sample_plugin(),
        };
        for (path, f) in &c.files {
            let t = names::file(scope, path);
            if self.templates.has(&t) {
                match self.templates.render(&t, &ctx) {
                    Ok(text) => self.check_workflow(scope, table, path, f, &text),
                    Err(e) => {
                        let key = format!("{table}.files.\"{path}\".template");
                        self.err(f.template.span(), &key, e.message);
                    }
                }
            }
        }
        for (name, value) in &c.variables {
            let t = names::variable(scope, name);
            if self.templates.has(&t) {
                if let Err(e) = self.templates.render(&t, &ctx) {
                    self.err(
                        value.span(),
                        &format!("{table}.variables.{name}"),
                        e.message,
                    );
                }
            }
        }
        for name in c.secrets.keys() {
            let t = names::secret(scope, name);
            if self.templates.has(&t) {
                match self.templates.render(&t, &ctx) {
                    Ok(out) if out.trim().is_empty() => self.err_key(
                        &format!("{table}.secrets"),
                        name,
                        "the secret source's name renders empty",
                    ),
                    Ok(_) => {}
                    Err(e) => self.err_key(&format!("{table}.secrets"), name, e.message),
                }
            }
        }
    }
}

impl Validator<'_> {
    /// A workflow file (`.github/workflows/*.yml`), rendered for the sample project or plugin,
    /// must be a workflow GitHub accepts: the error names the template file.
    fn check_workflow(
        &mut self,
        scope: Scope,
        table: &str,
        path: &str,
        f: &FileConfig,
        text: &str,
    ) {
        if !super::workflows::is_workflow_path(path) {
            return;
        }
        if let Err(why) = super::workflows::check_workflow(text) {
            let tpath = f.template.get_ref();
            let file = if tpath.is_absolute() {
                tpath.clone()
            } else {
                self.base_dir.join(tpath)
            };
            let sample = match scope {
                Scope::Project => "a sample project",
                Scope::Plugin => "a sample plugin",
            };
            self.errors.push(ConfigError {
                file,
                line: None,
                col: None,
                key: Some(format!("{table}.files.\"{path}\"")),
                message: format!("invalid workflow (rendered for {sample}): {why}"),
            });
        }
    }
}

const ORG_NOT_TEMPLATED: &str = "an org-scoped value is one for the whole fleet: it may not use template syntax ({{ }} or {% %}); keep per-project values at scope \"repo\"";
const ORG_DISAGREE: &str = "is declared differently in [repo] and [plugin_repo] while one of them is org-scoped; an org secret or variable has one value and scope for the fleet";

fn is_templated(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

fn valid_action_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A workflow step's `uses:`: `owner/repo[/path]@ref`, `docker://image` or `./local/path`.
fn valid_uses(uses: &str) -> Result<(), String> {
    if uses.chars().any(char::is_whitespace) {
        return Err(format!(
            "{uses:?} holds white space; a `uses:` reference is owner/repo@ref"
        ));
    }
    if uses.starts_with("docker://") || uses.starts_with("./") {
        return Ok(());
    }
    let Some((path, reference)) = uses.split_once('@') else {
        return Err(format!(
            "{uses:?} has no @ref; write owner/repo@ref, best pinned to a full commit SHA"
        ));
    };
    let mut parts = path.split('/');
    let owner_repo_ok = matches!((parts.next(), parts.next()), (Some(o), Some(r)) if !o.is_empty() && !r.is_empty());
    if !owner_repo_ok || reference.is_empty() || reference.contains('@') {
        return Err(format!(
            "{uses:?} is not owner/repo[/path]@ref (e.g. actions/checkout@<40-hex commit SHA>)"
        ));
    }
    Ok(())
}

/// An install id: 1 to 40 lower-case letters, digits and `-` (it must fit in a topic,
/// `fleetsync-<id>`, when the organisation has no custom property for the marker).
pub fn valid_install_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 40
        && !id.starts_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{id:?} is not an install id: use 1 to 40 lower-case letters, digits and '-'"
        ))
    }
}

/// The default install id of an organisation and its DSS nodes.
pub fn derived_install_id<'a>(owner: &str, node_urls: impl Iterator<Item = &'a str>) -> String {
    use sha2::{Digest, Sha256};
    let mut urls: Vec<String> = node_urls
        .map(|u| u.trim().trim_end_matches('/').to_ascii_lowercase())
        .collect();
    urls.sort();
    urls.dedup();
    let mut h = Sha256::new();
    h.update(owner.trim().to_ascii_lowercase().as_bytes());
    for u in &urls {
        h.update(b"\n");
        h.update(u.as_bytes());
    }
    hex::encode(&h.finalize()[..6])
}

/// GitHub's rules for Actions secret and variable names.
pub fn valid_actions_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "{name:?} may only hold letters, digits and underscores"
        ));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("{name:?} must not start with a digit"));
    }
    if name.to_ascii_uppercase().starts_with("GITHUB_") {
        return Err(format!("{name:?} must not start with GITHUB_"));
    }
    Ok(())
}

fn valid_branch(b: &str) -> bool {
    !b.is_empty()
        && !b.starts_with('/')
        && !b.ends_with('/')
        && !b.ends_with(".lock")
        && !b.contains("..")
        && !b
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c))
}

/// The dotted key at a byte offset: the innermost `[table]` header above it, plus the key
/// written on that line.
fn key_at(source: &str, offset: usize) -> Option<String> {
    let (line_no, _) = line_col(source, offset);
    let lines: Vec<&str> = source.lines().collect();
    let line = lines.get(line_no.checked_sub(1)?)?.trim();
    let own = if line.starts_with('[') {
        return Some(
            line.trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string(),
        );
    } else {
        line.split('=').next().map(|k| k.trim().to_string())
    };
    let table = lines[..line_no - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    match (table, own) {
        (Some(t), Some(k)) if !k.is_empty() => Some(format!("{t}.{k}")),
        (None, Some(k)) if !k.is_empty() => Some(k),
        (t, _) => t,
    }
}

/// The byte span of `key = …` inside `[table]` (or at top level when `table` is empty).
fn find_key(source: &str, table: &str, key: &str) -> Option<Range<usize>> {
    let mut offset = 0;
    let mut current = String::new();
    for line in source.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with('[') {
            current = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            if !table.is_empty() && current == format!("{table}.{key}") {
                let start = offset + (line.len() - line.trim_start().len());
                return Some(start..start + t.len());
            }
        } else if current == table || (table.is_empty() && current.is_empty()) {
            let k = t.split('=').next().unwrap_or("").trim().trim_matches('"');
            if k == key && t.contains('=') {
                let start = offset + (line.len() - line.trim_start().len());
                return Some(start..start + key.len());
            }
        }
        offset += line.len();
    }
    None
}
