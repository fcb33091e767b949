//! Configuration: the TOML schema, loading with positioned errors (`file:line:col`), secret
//! sources (`env`, `file`; values are never inline) and the templates parsed at load time.

mod duration;
mod error;
mod load;
mod parse;
mod preflight;
mod schema;
mod secrets;
mod templates;
mod workflows;

pub use duration::HumanDuration;
pub use error::{ConfigError, ConfigErrors};
pub use load::{
    derived_install_id, load, load_daemon_table, load_for_run, load_str, names, valid_actions_name,
    valid_install_id, Config, KeyFilter, Scope,
};
pub use schema::*;
pub use secrets::{SecretConfig, SecretError, SecretSource, SecretValue};
pub use templates::{
    NodeCtx, PluginCtx, ProjectCtx, RenderError, RepoCtx, TemplateContext, Templates,
};
pub use workflows::{check_workflow, is_workflow_path};
