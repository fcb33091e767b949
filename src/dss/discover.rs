//! Discovery of one DSS node: its managed projects (key patterns and tag filter applied) and
//! its dev plugins. A failed request or a listing of zero projects is `Unknown`: it must never
//! read as "every project was deleted".

use super::client::DssClient;
use super::types::{DssPlugin, DssProject};
use crate::config::{DssNodeConfig, KeyFilter, TagFilter};
use serde::Serialize;

/// What discovery learnt about one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeInventory {
    /// The node's name.
    pub node: String,
    /// The inventory, or why there is none.
    pub outcome: Discovery,
}

/// The outcome of discovering one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Discovery {
    /// The node answered with a plausible inventory.
    Known {
        /// Managed projects (after the key patterns and the tag filter), sorted by key.
        projects: Vec<DssProject>,
        /// Dev plugins, sorted by id; empty when the node's `plugins` is false.
        plugins: Vec<DssPlugin>,
        /// Projects listed before filtering.
        listed: usize,
    },
    /// The inventory is not known this time; nothing may be deleted because of it.
    Unknown {
        /// Why (safe to log: names the node and the request, never a secret).
        reason: String,
        /// What kind of unknown it is.
        cause: UnknownCause,
    },
}

/// Why a node's inventory is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownCause {
    /// A request failed (network, HTTP status, undecodable answer).
    Error,
    /// The node answered, but with nothing plausible (no project at all).
    Empty,
}

impl UnknownCause {
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownCause::Error => "error",
            UnknownCause::Empty => "empty",
        }
    }
}

impl Discovery {
    /// Whether the inventory is known.
    pub fn is_known(&self) -> bool {
        matches!(self, Discovery::Known { .. })
    }
}

/// Whether a project with `tags` is managed: it carries one of the `include` tags (or
/// `include` is empty) and none of the `exclude` tags.
pub fn tags_managed(filter: &TagFilter, tags: &[String]) -> bool {
    let included = filter.include.is_empty() || tags.iter().any(|t| filter.include.contains(t));
    let excluded = tags.iter().any(|t| filter.exclude.contains(t));
    included && !excluded
}

/// Lists the node's projects and (when `node.plugins`) dev plugins, and filters them.
pub async fn discover(
    node: &DssNodeConfig,
    filter: &KeyFilter,
    client: &DssClient,
) -> NodeInventory {
    let outcome = match discover_inner(node, filter, client).await {
        Ok(known) => known,
        Err((reason, cause)) => {
            tracing::warn!(node = %node.name, %reason, "DSS discovery is unknown this run");
            Discovery::Unknown { reason, cause }
        }
    };
    NodeInventory {
        node: node.name.clone(),
        outcome,
    }
}

async fn discover_inner(
    node: &DssNodeConfig,
    filter: &KeyFilter,
    client: &DssClient,
) -> Result<Discovery, (String, UnknownCause)> {
    let failed = |e: super::DssError| (e.to_string(), UnknownCause::Error);
    let all = client.list_projects().await.map_err(failed)?;
    if all.is_empty() {
        return Err((
            format!(
                "DSS node {}: GET /projects/ listed no project at all; treated as unknown, not as every project deleted",
                node.name
            ),
            UnknownCause::Empty,
        ));
    }
    let listed = all.len();
    let mut projects: Vec<DssProject> = all
        .into_iter()
        .filter(|p| filter.matches(&p.key) && tags_managed(&node.tags, &p.tags))
        .collect();
    projects.sort_by(|a, b| a.key.cmp(&b.key));
    projects.dedup_by(|a, b| a.key == b.key);
    let plugins = if node.plugins {
        let mut dev: Vec<DssPlugin> = client
            .list_plugins()
            .await
            .map_err(failed)?
            .into_iter()
            .filter(|p| p.is_dev)
            .collect();
        dev.sort_by(|a, b| a.id.cmp(&b.id));
        dev
    } else {
        Vec::new()
    };
    tracing::info!(
        node = %node.name,
        listed,
        managed = projects.len(),
        plugins = plugins.len(),
        "DSS discovery"
    );
    Ok(Discovery::Known {
        projects,
        plugins,
        listed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(include: &[&str], exclude: &[&str]) -> TagFilter {
        TagFilter {
            include: include.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn tag_filter_rules() {
        let tags = vec!["ml".to_string(), "prod".to_string()];
        assert!(tags_managed(&f(&[], &[]), &tags));
        assert!(tags_managed(&f(&["prod"], &[]), &tags));
        assert!(!tags_managed(&f(&["finance"], &[]), &tags));
        assert!(!tags_managed(&f(&[], &["ml"]), &tags));
        assert!(!tags_managed(&f(&["prod"], &["ml"]), &tags));
        assert!(tags_managed(&f(&[], &["no-gitops"]), &[]));
        assert!(!tags_managed(&f(&["prod"], &[]), &[]));
    }
}
