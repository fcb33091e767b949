//! Observing the fleet-level resources: the organisation's Actions secrets and variables that
//! fleetsync manages, with the repositories each is selected for. Conditional reads: a
//! no-op costs one list of each, and one list of repositories per selected item.

use crate::desired::OrgSpec;
use crate::github::{GhError, GithubClient, OrgCollection};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// One org secret or variable as GitHub has it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedOrgItem {
    /// The value (variables only: GitHub never returns a secret's).
    pub value: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// `all`, `private` or `selected`.
    pub visibility: String,
    /// The selected repositories (lower-cased `owner/name` → id); empty unless `selected`.
    pub repos: BTreeMap<String, u64>,
}

/// The organisation's managed secrets and variables (the ones the config names).
#[derive(Debug, Clone, Default)]
pub struct ObservedOrg {
    pub secrets: BTreeMap<String, ObservedOrgItem>,
    pub variables: BTreeMap<String, ObservedOrgItem>,
}

async fn selection(
    gh: &GithubClient,
    what: OrgCollection,
    org: &str,
    name: &str,
) -> Result<BTreeMap<String, u64>, GhError> {
    Ok(gh
        .list_selected_repos(what, org, name)
        .await?
        .into_iter()
        .map(|r| (r.full_name.to_ascii_lowercase(), r.id))
        .collect())
}

/// Reads the org secrets and variables `spec` names.
pub async fn observe_org(gh: &GithubClient, spec: &OrgSpec) -> Result<ObservedOrg, GhError> {
    let org = spec.org.as_str();
    let mut obs = ObservedOrg::default();
    if !spec.secrets.is_empty() {
        for s in gh.list_org_secrets(org).await? {
            let name = s.name.to_ascii_uppercase();
            if !spec.secrets.contains_key(&name) {
                continue;
            }
            let repos = match s.visibility.as_str() {
                "selected" => selection(gh, OrgCollection::Secrets, org, &name).await?,
                _ => BTreeMap::new(),
            };
            obs.secrets.insert(
                name,
                ObservedOrgItem {
                    value: None,
                    updated_at: s.updated_at,
                    visibility: s.visibility,
                    repos,
                },
            );
        }
    }
    if !spec.variables.is_empty() {
        for v in gh.list_org_variables(org).await? {
            let name = v.name.to_ascii_uppercase();
            if !spec.variables.contains_key(&name) {
                continue;
            }
            let repos = match v.visibility.as_str() {
                "selected" => selection(gh, OrgCollection::Variables, org, &name).await?,
                _ => BTreeMap::new(),
            };
            obs.variables.insert(
                name,
                ObservedOrgItem {
                    value: Some(v.value),
                    updated_at: v.updated_at,
                    visibility: v.visibility,
                    repos,
                },
            );
        }
    }
    Ok(obs)
}
