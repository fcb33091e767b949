//! What fleetd checks before it starts or takes a reloaded config, beyond the file itself
//! (and what `fleetctl config check` reports too): every secret source that names one fixed
//! variable or file can be read here — the variable is set, the file exists and is readable,
//! and the value is not blank. A source whose name is a template is per project: its template
//! was rendered with a sample project at load, and its value is read when the repo is built.

use super::error::{ConfigError, ConfigErrors};
use super::load::Config;
use super::secrets::SecretSource;
use std::path::Path;

/// A secret source of the config and where it is written.
#[derive(Debug, Clone)]
pub(crate) struct SecretRef {
    /// The source as written.
    pub source: SecretSource,
    /// Its place in the file (file, line, column, dotted key); the message is empty.
    pub place: ConfigError,
}

impl SecretRef {
    fn is_templated(&self) -> bool {
        let t = self.source.template_text();
        t.contains("{{") || t.contains("{%")
    }
}

/// An error at each fixed source of `refs` that cannot be read (relative to `base`).
pub(crate) fn unreadable(refs: &[SecretRef], base: &Path) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for r in refs.iter().filter(|r| !r.is_templated()) {
        if let Err(e) = r.source.read(base) {
            let mut err = r.place.clone();
            err.message = format!("cannot read this secret here: {e}");
            errors.push(err);
        }
    }
    errors.sort_by_key(|e| (e.line, e.col));
    errors
}

impl Config {
    /// Reads every fixed secret source once (values are dropped at once) and reports each
    /// one that cannot be read, at its place in the file.
    pub fn preflight(&self) -> Result<(), ConfigErrors> {
        let errors = unreadable(&self.secrets, &self.base_dir);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Things worth saying about a config that fleetd nonetheless runs.
    pub fn preflight_warnings(&self) -> Vec<String> {
        let mut w = self.warnings.clone();
        if self.raw.daemon.api_token.is_none() {
            w.push(format!(
                "{}: `daemon.api_token` is not set: fleetd refuses POST /api/v1/reconcile and /api/v1/plan (fleetctl reconcile --now, plan --remote)",
                self.path.display()
            ));
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;

    const BASE: &str = r#"
[daemon]
api_token = { file = "api-token" }
[[dss]]
name = "design"
url = "http://127.0.0.1:1"
api_key = { env = "FLEETSYNC_PREFLIGHT_SURELY_UNSET" }
[github]
api_url = "http://127.0.0.1:2"
owner = "acme"
auth = { pat = { file = "gh-token" } }
[repo.secrets]
PER_PROJECT = { env = "TOKEN_{{ key }}" }
BLANK = { file = "blank" }
"#;

    #[test]
    fn every_unreadable_fixed_source_is_reported_at_its_place() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("api-token"), "t0ken\n").unwrap();
        std::fs::write(dir.path().join("blank"), "  \n").unwrap();
        let cfg = load_str(&dir.path().join("fleet.toml"), BASE).unwrap();
        let errs = cfg.preflight().unwrap_err().0;
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(errs.len(), 3, "{text:#?}");
        assert!(
            text[0].contains(":7:1: `dss.api_key`")
                && text[0].contains("FLEETSYNC_PREFLIGHT_SURELY_UNSET"),
            "{text:#?}"
        );
        assert!(
            text[1].contains(":11:1: `github.auth.pat`") && text[1].contains("gh-token"),
            "{text:#?}"
        );
        assert!(
            text[2].contains(":14:1: `repo.secrets.BLANK`") && text[2].contains("only whitespace"),
            "{text:#?}"
        );
    }
}
