//! Building [`RepoSpec`]s: render names, descriptions, files and variables for each source;
//! read each secret's source and fingerprint its value with the store's key.

use super::protection::ProtectionSpec;
use super::spec::{fingerprint, FileSpec, RepoSpec, SecretSpec, SourceKind, SourceObject};
use crate::config::{
    names, Config, NodeCtx, PluginCtx, ProjectCtx, RepoCtx, Scope, TemplateContext,
};
use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use std::collections::BTreeMap;

/// A source whose repo could not be described (a template or a secret source failed).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DesireError {
    pub kind: SourceKind,
    pub node: String,
    pub key: String,
    pub message: String,
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
                custom: BTreeMap::new(),
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

fn one(config: &Config, src: &SourceObject, fp_key: &[u8]) -> Result<RepoSpec, String> {
    let scope = match src.kind {
        SourceKind::Project => Scope::Project,
        SourceKind::Plugin => Scope::Plugin,
    };
    let t = &config.templates;
    let mut ctx = context(config, src);
    let name_tmpl = match src.kind {
        SourceKind::Project => names::PROJECT_REPO_NAME,
        SourceKind::Plugin => names::PLUGIN_REPO_NAME,
    };
    let name = t
        .render(name_tmpl, &ctx)
        .map_err(|e| e.to_string())?
        .trim()
        .to_string();
    if name.is_empty()
        || name.len() > 100
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(format!(
            "repo name {name:?} rendered from the name template is not a valid GitHub repo name"
        ));
    }
    ctx.repo.name = name.clone();
    let description = t
        .render(names::DESCRIPTION, &ctx)
        .map_err(|e| e.to_string())?
        .trim()
        .to_string();
    let contents = config.contents(scope);
    let mut files = BTreeMap::new();
    for (path, f) in &contents.files {
        let text = t
            .render(&names::file(scope, path), &ctx)
            .map_err(|e| e.to_string())?;
        let content = text.into_bytes();
        files.insert(
            path.clone(),
            FileSpec {
                blob_sha: blob_sha(&content),
                content,
                mode: f.mode,
            },
        );
    }
    let mut variables = BTreeMap::new();
    for name in contents.variables.keys() {
        let v = t
            .render(&names::variable(scope, name), &ctx)
            .map_err(|e| e.to_string())?;
        variables.insert(name.to_ascii_uppercase(), v);
    }
    let mut secrets = BTreeMap::new();
    for (sname, source) in &contents.secrets {
        let rendered = t
            .render(&names::secret(scope, sname), &ctx)
            .map_err(|e| e.to_string())?;
        let source = source.with_rendered(rendered.trim().to_string());
        let value = source
            .read(&config.base_dir)
            .map_err(|e| format!("secret {sname}: {e}"))?;
        secrets.insert(
            sname.to_ascii_uppercase(),
            SecretSpec {
                source: source.describe(),
                fingerprint: secret_fingerprint(fp_key, value.expose()),
                value,
            },
        );
    }
    let mut protection = BTreeMap::new();
    for (branch, p) in &contents.protection {
        protection.insert(branch.clone(), ProtectionSpec::from_config(p));
    }
    let gh = &config.raw.github;
    let mut topics: Vec<String> = contents.topics.clone();
    topics.sort();
    topics.dedup();
    let branches: Vec<String> = contents
        .branches
        .iter()
        .filter(|b| **b != gh.default_branch)
        .cloned()
        .collect();
    Ok(RepoSpec {
        owner: gh.owner.clone(),
        name,
        source: src.clone(),
        description,
        visibility: gh.visibility.as_str().to_string(),
        default_branch: gh.default_branch.clone(),
        topics,
        branches,
        files,
        variables,
        secrets,
        protection,
    })
}

/// Builds one spec per source. A source that cannot be described is reported, not fatal.
/// Two sources rendering the same repo name are both reported (never merged).
pub fn build(
    config: &Config,
    sources: &[SourceObject],
    fp_key: &[u8],
) -> (Vec<RepoSpec>, Vec<DesireError>) {
    let mut specs: Vec<RepoSpec> = Vec::new();
    let mut errors = Vec::new();
    for src in sources {
        match one(config, src, fp_key) {
            Ok(s) => specs.push(s),
            Err(message) => errors.push(DesireError {
                kind: src.kind,
                node: src.node.clone(),
                key: src.key.clone(),
                message,
            }),
        }
    }
    // Name collisions (case-insensitive, as GitHub compares names).
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for s in &specs {
        *seen.entry(s.name.to_ascii_lowercase()).or_default() += 1;
    }
    let (ok, clashing): (Vec<RepoSpec>, Vec<RepoSpec>) = specs
        .into_iter()
        .partition(|s| seen.get(&s.name.to_ascii_lowercase()).copied() == Some(1));
    for s in clashing {
        errors.push(DesireError {
            kind: s.source.kind,
            node: s.source.node.clone(),
            key: s.source.key.clone(),
            message: format!(
                "repo name {} is rendered for more than one project or plugin; none of them is managed until the names differ",
                s.name
            ),
        });
    }
    let mut ok = ok;
    ok.sort_by(|a, b| a.name.cmp(&b.name));
    let _ = fingerprint::<str>;
    (ok, errors)
}
