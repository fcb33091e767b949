//! Templates (minijinja): repo names, descriptions, file contents, variable values and
//! per-project secret source names. All are parsed when the config is loaded, and rendered
//! later with a [`TemplateContext`] built from the DSS inventory.

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use std::collections::BTreeMap;

/// What a template can read.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateContext {
    /// `project` or `plugin`.
    pub kind: &'static str,
    /// The project key or plugin id.
    pub key: String,
    /// The DSS node the object lives on.
    pub node: NodeCtx,
    /// The project (none for a plugin repo).
    pub project: Option<ProjectCtx>,
    /// The plugin (none for a project repo).
    pub plugin: Option<PluginCtx>,
    /// The repo being rendered (empty name while the repo name itself is rendered).
    pub repo: RepoCtx,
}

/// `node.*` in templates.
#[derive(Debug, Clone, Serialize)]
pub struct NodeCtx {
    /// The node's name in the config.
    pub name: String,
    /// Its base URL.
    pub url: String,
    /// Its repo-name prefix.
    pub repo_prefix: String,
}

/// `project.*` in templates.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectCtx {
    /// Project key, e.g. `CHURN_MODEL`.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Owner login.
    pub owner: String,
    /// Short description.
    pub short_desc: String,
    /// Custom metadata fields (`customFields` and `custom.kv`).
    pub custom: BTreeMap<String, serde_json::Value>,
}

/// `plugin.*` in templates.
#[derive(Debug, Clone, Serialize)]
pub struct PluginCtx {
    /// Plugin id.
    pub id: String,
    /// Plugin version.
    pub version: String,
    /// Display label.
    pub label: String,
}

/// `repo.*` in templates.
#[derive(Debug, Clone, Serialize)]
pub struct RepoCtx {
    /// Organisation.
    pub owner: String,
    /// Repo name.
    pub name: String,
}

impl TemplateContext {
    /// A context for checking templates at load time.
    pub fn sample_project() -> Self {
        TemplateContext {
            kind: "project",
            key: "SAMPLE_PROJECT".into(),
            node: NodeCtx {
                name: "design".into(),
                url: "https://dss.example.com".into(),
                repo_prefix: String::new(),
            },
            project: Some(ProjectCtx {
                key: "SAMPLE_PROJECT".into(),
                name: "Sample project".into(),
                tags: vec!["sample".into()],
                owner: "admin".into(),
                short_desc: String::new(),
                custom: BTreeMap::new(),
            }),
            plugin: None,
            repo: RepoCtx {
                owner: "acme".into(),
                name: "dss-sample_project".into(),
            },
        }
    }

    /// A plugin context for checking templates at load time.
    pub fn sample_plugin() -> Self {
        let mut ctx = Self::sample_project();
        ctx.kind = "plugin";
        ctx.key = "sample-plugin".into();
        ctx.project = None;
        ctx.plugin = Some(PluginCtx {
            id: "sample-plugin".into(),
            version: "1.0.0".into(),
            label: "Sample plugin".into(),
        });
        ctx
    }
}

/// A template failed to render (e.g. it reads a field that is not there).
#[derive(Debug, Clone, thiserror::Error)]
#[error("template {name}: {message}")]
pub struct RenderError {
    /// Which template (`file:.github/workflows/pr.yml`, `variable:DATAIKU_PROJECT_KEY`, …).
    pub name: String,
    /// minijinja's explanation, with the template line.
    pub message: String,
}

/// Every template of a config, parsed.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.env.templates().map(|(n, _)| n.to_string()).collect();
        f.debug_struct("Templates").field("names", &names).finish()
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// An empty set, strict about undefined values.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        Templates { env }
    }

    /// Parses and adds a template. The error is minijinja's text and the template line.
    pub fn add(&mut self, name: &str, source: String) -> Result<(), (String, Option<usize>)> {
        self.env
            .add_template_owned(name.to_string(), source)
            .map_err(|e| {
                let line = e.line();
                (describe(e), line)
            })
    }

    /// Makes a value readable by every template under `name` (e.g. `actions`); a template
    /// context's own field of the same name would hide it.
    pub fn add_global<V: Serialize>(&mut self, name: &'static str, value: &V) {
        self.env
            .add_global(name, minijinja::Value::from_serialize(value));
    }

    /// Whether a template of that name exists.
    pub fn has(&self, name: &str) -> bool {
        self.env.get_template(name).is_ok()
    }

    /// Renders the named template.
    pub fn render(&self, name: &str, ctx: &TemplateContext) -> Result<String, RenderError> {
        let tmpl = self.env.get_template(name).map_err(|e| RenderError {
            name: name.to_string(),
            message: describe(e),
        })?;
        tmpl.render(ctx).map_err(|e| RenderError {
            name: name.to_string(),
            message: describe(e),
        })
    }
}

fn describe(e: minijinja::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
