//! The fleet-level desired state: the org-scoped secrets and variables of `[repo]` and
//! `[plugin_repo]` (`scope = "org"`), each one value for the whole organisation. Which repos
//! may read each one is decided by the fleet-level phase from the repos of the run.

use super::build::secret_fingerprint;
use super::spec::SecretSpec;
use crate::config::{Config, ValueScope};
use std::collections::BTreeMap;

/// The org-scoped secrets and variables fleetsync manages.
#[derive(Debug, Clone, Default)]
pub struct OrgSpec {
    /// The organisation (`github.owner`).
    pub org: String,
    /// Name (upper case) → value and keyed fingerprint.
    pub secrets: BTreeMap<String, SecretSpec>,
    /// Name (upper case) → value.
    pub variables: BTreeMap<String, String>,
}

impl OrgSpec {
    /// Whether the config has anything org-scoped.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty() && self.variables.is_empty()
    }
}

/// One org-scoped secret whose source could not be read.
#[derive(Debug, Clone)]
pub struct OrgSpecError {
    pub name: String,
    pub reason: String,
}

/// Reads the org-scoped values (secret sources are read here, once for the fleet). The
/// config check guarantees `[repo]` and `[plugin_repo]` agree on them.
pub fn build_org(config: &Config, fp_key: &[u8]) -> (OrgSpec, Vec<OrgSpecError>) {
    let raw = &config.raw;
    let mut spec = OrgSpec {
        org: raw.github.owner.clone(),
        ..Default::default()
    };
    let mut errors = Vec::new();
    for contents in std::iter::once(&raw.repo).chain(raw.plugin_repo.iter()) {
        for (name, v) in &contents.variables {
            let v = v.get_ref();
            if v.scope == ValueScope::Org {
                spec.variables
                    .insert(name.to_ascii_uppercase(), v.value.clone());
            }
        }
        for (name, s) in &contents.secrets {
            let upper = name.to_ascii_uppercase();
            if s.scope != ValueScope::Org || spec.secrets.contains_key(&upper) {
                continue;
            }
            match s.source.read(&config.base_dir) {
                Ok(value) => {
                    spec.secrets.insert(
                        upper,
                        SecretSpec {
                            source: s.source.describe(),
                            fingerprint: secret_fingerprint(fp_key, value.expose()),
                            value,
                        },
                    );
                }
                Err(e) => errors.push(OrgSpecError {
                    name: upper,
                    reason: e.to_string(),
                }),
            }
        }
    }
    (spec, errors)
}
