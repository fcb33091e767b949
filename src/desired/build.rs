//! Building [`RepoSpec`]s: render names, descriptions, files and variables for each source;
//! read each secret's source and fingerprint its value with the store's key.

use super::protection::ProtectionSpec;
use super::spec::{FileSpec, RepoSpec, SecretSpec, SourceKind, SourceObject};
use crate::config::{
    names, Config, DssNodeConfig, NodeCtx, PluginCtx, ProjectCtx, RepoContents, RepoCtx, Scope,
    TemplateContext, ValueScope,
};
use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet};

/// A source whose repo could not be described (a template or a secret source failed).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DesireError {
    pub kind: SourceKind,
    pub node: String,
    pub key: String,
    pub message: String,
    /// A short cause label for metrics (`repo_name`, `name_collision`, `template`, …).
    pub cause: &'static str,
}

/// git's blob SHA of some bytes.
pub fn blob_sha(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex::encode(h.finalize())
}

/// Keyed fingerprint of a secret value (HMAC-SHA256 with the store's key, first 16 bytes).
pub fn secret_fingerprint(key: &[u8], value: &str) -> String {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(value.as_bytes());
            hex::encode(&mac.finalize().into_bytes()[..16])
        }
        Err(_) => String::new(),
    }
}

fn context(config: &Config, src: &SourceObject) -> TemplateContext {
    let node = NodeCtx {
        name: src.node.clone(),
        url: src.node_url.clone(),
        repo_prefix: src.repo_prefix.clone(),
    };
    let (kind, project, plugin) = match src.kind {
        SourceKind::Project => (
            "project",
            Some(ProjectCtx {
                key: src.key.clone(),
                name: src.name.clone(),
                tags: src.tags.clone(),
                owner: src.owner.clone(),
                short_desc: src.short_desc.clone(),
                custom: src.custom.clone(),
            }),
            None,
        ),
        SourceKind::Plugin => (
            "plugin",
            None,
            Some(PluginCtx {
                id: src.key.clone(),
                version: src.version.clone(),
                label: src.name.clone(),
            }),
        ),
    };
    TemplateContext {
        kind,
        key: src.key.clone(),
        node,
        project,
        plugin,
        repo: RepoCtx {
            owner: config.raw.github.owner.clone(),
            name: String::new(),
        },
    }
}

/// Why a source's spec could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// A template did not render.
    #[error("{0}")]
    Template(String),
    /// The rendered repo name is not a valid GitHub name.
    #[error("repo name {0:?} rendered from the name template is not a valid GitHub repo name")]
    RepoName(String),
    /// A secret's source could not be read.
    #[error("secret {name}: {reason}")]
    SecretSource { name: String, reason: String },
    /// A project metadata override holds something unusable.
    #[error("{0}")]
    Override(String),
    /// The deployer's infrastructures could not be read or lack a stage.
    #[error("deployer infrastructures: {0}")]
    Infra(String),
    /// The plugin's files could not be read.
    #[error("plugin files: {0}")]
    PluginFiles(String),
}

impl SpecError {
    /// A short cause label for metrics.
    pub fn cause(&self) -> &'static str {
        match self {
            SpecError::Template(_) => "template",
            SpecError::RepoName(_) => "repo_name",
            SpecError::SecretSource { .. } => "secret_source",
            SpecError::Override(_) => "metadata_override",
            SpecError::Infra(_) => "deployer_infra",
            SpecError::PluginFiles(_) => "plugin_files",
        }
    }
}

fn template(e: impl std::fmt::Display) -> SpecError {
    SpecError::Template(e.to_string())
}

/// Renders a source's repo name (and checks it is a valid GitHub name).
pub fn repo_name(config: &Config, src: &SourceObject) -> Result<String, SpecError> {
    let ctx = context(config, src);
    let name_tmpl = match src.kind {
        SourceKind::Project => names::PROJECT_REPO_NAME,
        SourceKind::Plugin => names::PLUGIN_REPO_NAME,
    };
    let name = config
        .templates
        .render(name_tmpl, &ctx)
        .map_err(template)?
        .trim()
        .to_string();
    if name.is_empty()
        || name.len() > 100
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(SpecError::RepoName(name));
    }
    Ok(name)
}

/// Builds the spec of one source: its name and description, then each part of the repo in
/// turn (files, variables, secrets, protection, the node's overrides, infra ids, a plugin's
/// mirrored files, the DSS remote).
pub fn build_one(
    config: &Config,
    src: &SourceObject,
    fp_key: &[u8],
) -> Result<RepoSpec, SpecError> {
    let r = Renderer::new(config, src)?;
    let description = r.description()?;
    let contents = config.contents(r.scope);
    let gh = &config.raw.github;
    let node_cfg = config.raw.dss.iter().find(|n| n.name == src.node);
    let files = r.files(contents)?;
    let (mut variables, org_variables) = r.variables(contents)?;
    let (secrets, org_secrets) = r.secrets(contents, fp_key)?;
    let mut protection: BTreeMap<String, ProtectionSpec> = contents
        .protection
        .iter()
        .map(|(branch, p)| (branch.clone(), ProtectionSpec::from_config(p)))
        .collect();
    let mut visibility = gh.visibility.as_str().to_string();
    if let Some(node) = node_cfg {
        apply_overrides(node, src, &mut visibility, &mut protection)?;
    }
    add_infra_ids(src, &mut variables)?;
    let mirror = mirrored_files(src, &files)?;
    let dss_link = node_cfg.and_then(|node| dss_link(config, src, node, &r.name));
    let mut topics: Vec<String> = contents.topics.clone();
    topics.sort();
    topics.dedup();
    // A repo made from the project's history has the project's branch as its default.
    let default_branch = match &dss_link {
        Some(l) if l.history_first() => l.branch.clone(),
        _ => gh.default_branch.clone(),
    };
    let branches: Vec<String> = contents
        .branches
        .iter()
        .filter(|b| **b != default_branch)
        .cloned()
        .collect();
    Ok(RepoSpec {
        owner: gh.owner.clone(),
        name: r.name.clone(),
        source: src.clone(),
        description,
        visibility,
        default_branch,
        topics,
        branches,
        files,
        variables,
        secrets,
        org_variables,
        org_secrets,
        retired_secrets: Default::default(),
        retired_variables: Default::default(),
        removed: Default::default(),
        protection,
        mirror,
        dss_link,
        marker: None,
    })
}

/// Renders one source's templates: the config's templates with the source's context.
struct Renderer<'a> {
    config: &'a Config,
    scope: Scope,
    ctx: TemplateContext,
    /// The repo's name (already in `ctx`).
    name: String,
}

/// Variables by name, and the names that are org-scoped (not per repo).
type Variables = (BTreeMap<String, String>, BTreeSet<String>);

/// Secrets by name, and the names that are org-scoped.
type Secrets = (BTreeMap<String, SecretSpec>, BTreeSet<String>);

impl<'a> Renderer<'a> {
    fn new(config: &'a Config, src: &SourceObject) -> Result<Self, SpecError> {
        let scope = match src.kind {
            SourceKind::Project => Scope::Project,
            SourceKind::Plugin => Scope::Plugin,
        };
        let mut ctx = context(config, src);
        let name = repo_name(config, src)?;
        ctx.repo.name = name.clone();
        Ok(Renderer {
            config,
            scope,
            ctx,
            name,
        })
    }

    fn render(&self, template_name: &str) -> Result<String, SpecError> {
        self.config
            .templates
            .render(template_name, &self.ctx)
            .map_err(template)
    }

    fn description(&self) -> Result<String, SpecError> {
        Ok(self.render(names::DESCRIPTION)?.trim().to_string())
    }

    /// The managed files, rendered, with their blob SHAs.
    fn files(&self, contents: &RepoContents) -> Result<BTreeMap<String, FileSpec>, SpecError> {
        let mut files = BTreeMap::new();
        for (path, f) in &contents.files {
            let content = self.render(&names::file(self.scope, path))?.into_bytes();
            files.insert(
                path.clone(),
                FileSpec {
                    blob_sha: blob_sha(&content),
                    content,
                    mode: f.mode,
                },
            );
        }
        Ok(files)
    }

    /// The per-repo variables, rendered (names upper-cased, as GitHub keeps them).
    fn variables(&self, contents: &RepoContents) -> Result<Variables, SpecError> {
        let mut variables = BTreeMap::new();
        let mut org = BTreeSet::new();
        for (name, cfg) in &contents.variables {
            if cfg.get_ref().scope == ValueScope::Org {
                org.insert(name.to_ascii_uppercase());
                continue;
            }
            let value = self.render(&names::variable(self.scope, name))?;
            variables.insert(name.to_ascii_uppercase(), value);
        }
        Ok((variables, org))
    }

    /// The per-repo secrets: each source rendered and read, its value fingerprinted with the
    /// store's key.
    fn secrets(&self, contents: &RepoContents, fp_key: &[u8]) -> Result<Secrets, SpecError> {
        let mut secrets = BTreeMap::new();
        let mut org = BTreeSet::new();
        for (sname, cfg) in &contents.secrets {
            if cfg.scope == ValueScope::Org {
                org.insert(sname.to_ascii_uppercase());
                continue;
            }
            let rendered = self.render(&names::secret(self.scope, sname))?;
            let source = cfg.source.with_rendered(rendered.trim().to_string());
            let value =
                source
                    .read(&self.config.base_dir)
                    .map_err(|e| SpecError::SecretSource {
                        name: sname.clone(),
                        reason: e.to_string(),
                    })?;
            secrets.insert(
                sname.to_ascii_uppercase(),
                SecretSpec {
                    source: source.describe(),
                    fingerprint: secret_fingerprint(fp_key, value.expose()),
                    value,
                },
            );
        }
        Ok((secrets, org))
    }
}

/// The node's `[dss.overrides]`: a project's custom fields may set the repo's visibility and
/// the number of reviews every protected branch requires.
fn apply_overrides(
    node: &DssNodeConfig,
    src: &SourceObject,
    visibility: &mut String,
    protection: &mut BTreeMap<String, ProtectionSpec>,
) -> Result<(), SpecError> {
    let ov = &node.overrides;
    if let Some(v) = custom_field(src, &ov.visibility_field) {
        match v.as_str() {
            Some(x @ ("private" | "internal" | "public")) => *visibility = x.to_string(),
            _ => {
                return Err(SpecError::Override(format!(
                    "custom field {} = {v} is not private, internal or public",
                    ov.visibility_field
                )))
            }
        }
    }
    if let Some(v) = custom_field(src, &ov.required_reviews_field) {
        let n = v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|n| *n <= 6)
            .ok_or_else(|| {
                SpecError::Override(format!(
                    "custom field {} = {v} is not a number of reviews from 0 to 6",
                    ov.required_reviews_field
                ))
            })?;
        for p in protection.values_mut() {
            p.required_approving_review_count = Some(n as u8);
        }
    }
    Ok(())
}

/// A custom field's value, when the override names a field (`""`: none) and the project has it.
fn custom_field<'s>(src: &'s SourceObject, field: &str) -> Option<&'s serde_json::Value> {
    if field.is_empty() {
        return None;
    }
    src.custom.get(field)
}

/// The project's deployment infrastructure ids, as the two `DATAIKU_INFRA_ID_*` variables.
fn add_infra_ids(
    src: &SourceObject,
    variables: &mut BTreeMap<String, String>,
) -> Result<(), SpecError> {
    match &src.infra {
        Some(Ok((staging, prod))) => {
            variables.insert("DATAIKU_INFRA_ID_STAGING".into(), staging.clone());
            variables.insert("DATAIKU_INFRA_ID_PROD".into(), prod.clone());
            Ok(())
        }
        Some(Err(e)) => Err(SpecError::Infra(e.clone())),
        None => Ok(()),
    }
}

/// A dev plugin's own files to mirror; a managed file of the same path wins.
fn mirrored_files(
    src: &SourceObject,
    managed: &BTreeMap<String, FileSpec>,
) -> Result<BTreeMap<String, FileSpec>, SpecError> {
    let mut mirror = BTreeMap::new();
    match &src.mirror {
        Some(Ok(m)) => {
            for (path, content) in m {
                if managed.contains_key(path) {
                    continue;
                }
                mirror.insert(
                    path.clone(),
                    FileSpec {
                        blob_sha: blob_sha(content),
                        content: content.clone(),
                        mode: crate::config::FileMode::Managed,
                    },
                );
            }
            Ok(mirror)
        }
        Some(Err(e)) => Err(SpecError::PluginFiles(e.clone())),
        None => Ok(mirror),
    }
}

/// The DSS project's git remote, when the node links projects (`[dss.git] link_remote`).
fn dss_link(
    config: &Config,
    src: &SourceObject,
    node: &DssNodeConfig,
    name: &str,
) -> Option<super::spec::DssLink> {
    if src.kind != SourceKind::Project || !node.git.link_remote {
        return None;
    }
    let gh = &config.raw.github;
    let host = if node.git.host.is_empty() {
        git_host(gh.api_url.get_ref())
    } else {
        node.git.host.clone()
    };
    let url = match node.git.url_scheme {
        crate::config::RemoteScheme::Ssh => format!("git@{host}:{}/{name}.git", gh.owner),
        crate::config::RemoteScheme::Https => format!("https://{host}/{}/{name}.git", gh.owner),
    };
    Some(super::spec::DssLink {
        node: node.name.clone(),
        key: src.key.clone(),
        remote_name: node.git.remote_name.clone(),
        url,
        overwrite: node.git.overwrite_remote,
        push: node.git.push,
        branch: node.git.branch.clone(),
    })
}

/// The git host for remote URLs: `github.com` for the public API, else the API's host.
fn git_host(api_url: &str) -> String {
    match url::Url::parse(api_url) {
        Ok(u) => match u.host_str() {
            Some("api.github.com") | None => "github.com".into(),
            Some(h) => match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            },
        },
        Err(_) => "github.com".into(),
    }
}

/// Renders every source's repo name and sets aside the ones that cannot be named or that
/// collide (case-insensitively, as GitHub compares names): collisions are reported before
/// anything is built or created, and none of the colliding sources is managed.
pub fn names(
    config: &Config,
    sources: Vec<SourceObject>,
) -> (Vec<(SourceObject, String)>, Vec<DesireError>) {
    let mut named = Vec::new();
    let mut errors = Vec::new();
    for src in sources {
        match repo_name(config, &src) {
            Ok(n) => named.push((src, n)),
            Err(e) => errors.push(DesireError {
                kind: src.kind,
                node: src.node.clone(),
                key: src.key.clone(),
                message: e.to_string(),
                cause: e.cause(),
            }),
        }
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (_, n) in &named {
        *seen.entry(n.to_ascii_lowercase()).or_default() += 1;
    }
    let (ok, clashing): (Vec<_>, Vec<_>) = named
        .into_iter()
        .partition(|(_, n)| seen.get(&n.to_ascii_lowercase()).copied() == Some(1));
    for (src, n) in clashing {
        errors.push(DesireError {
            kind: src.kind,
            node: src.node.clone(),
            key: src.key.clone(),
            message: format!(
                "repo name {n} is rendered for more than one project or plugin; none of them is managed until the names differ"
            ),
            cause: "name_collision",
        });
    }
    (ok, errors)
}
