//! The discover phase: every node's listing, judged (known, suspiciously dropped, unknown),
//! reported to the observer, and turned into the sources the rest of the run reads.

use super::engine::Engine;
use super::sources;
use super::status::RunError;
use crate::desired::SourceObject;
use crate::dss::{Discovery, NodeInventory};
use crate::plan::UnknownNode;
use std::collections::BTreeSet;

/// What discovery learnt, for the later phases.
pub struct Discovered {
    /// Nodes whose listing is trusted for removals.
    pub known_nodes: BTreeSet<String>,
    /// Nodes whose listing is not trusted for removals, with why.
    pub unknown: Vec<UnknownNode>,
    /// Projects and plugins of the listings that answered (a suspicious drop still creates
    /// and updates).
    pub sources: Vec<SourceObject>,
}

impl Engine {
    /// Lists every node, judges each listing and builds the sources (limited to `only` when
    /// the run is for some projects).
    pub(super) async fn discover(
        &self,
        dry_run: bool,
        only: &[String],
    ) -> Result<Discovered, RunError> {
        let inventories = sources::discover_all(&self.config, &self.dss).await;
        let mut known_nodes = BTreeSet::new();
        let mut unknown = Vec::new();
        for inv in &inventories {
            match self.judge(inv)? {
                None => {
                    known_nodes.insert(inv.node.clone());
                    if let Discovery::Known { listed, .. } = &inv.outcome {
                        if !dry_run {
                            self.remember_listing(&inv.node, *listed)?;
                        }
                    }
                }
                Some(reason) => unknown.push(UnknownNode {
                    node: inv.node.clone(),
                    reason,
                }),
            }
        }
        let mut srcs = sources::sources(&self.config, &inventories);
        drop(inventories);
        if !only.is_empty() {
            srcs.retain(|s| only.iter().any(|p| p == &s.key));
        }
        sources::enrich(&self.config, &self.dss, &mut srcs).await;
        Ok(Discovered {
            known_nodes,
            unknown,
            sources: srcs,
        })
    }

    /// `None` when the node's listing is trusted, else why not. Reports to the observer.
    fn judge(&self, inv: &NodeInventory) -> Result<Option<String>, RunError> {
        match &inv.outcome {
            Discovery::Known {
                projects,
                plugins,
                listed,
            } => match self.suspicious_drop(&inv.node, *listed)? {
                Some(reason) => {
                    // Creates and updates go on; removals are blocked.
                    tracing::warn!(node = %inv.node, %reason, "DSS listing dropped suspiciously");
                    self.observer
                        .node_dropped(&inv.node, &reason, projects.len(), plugins.len());
                    Ok(Some(reason))
                }
                None => {
                    self.observer
                        .node_known(&inv.node, projects.len(), plugins.len());
                    Ok(None)
                }
            },
            Discovery::Unknown { reason, cause } => {
                self.observer.node_unknown(&inv.node, reason, *cause);
                Ok(Some(reason.clone()))
            }
        }
    }

    /// The suspicious-drop rule: `Some(reason)` when the node's listing of `listed` projects
    /// lost more than `max_listing_drop` of the last accepted listing (kept in the store's
    /// meta). The last listing is a safety input: failing to read it fails the run.
    fn suspicious_drop(&self, node: &str, listed: usize) -> Result<Option<String>, RunError> {
        let Some(max_drop) = self
            .config
            .raw
            .dss
            .iter()
            .find(|n| n.name == node)
            .map(|n| n.max_listing_drop)
        else {
            return Ok(None);
        };
        if max_drop >= 1.0 {
            return Ok(None);
        }
        let key = listed_key(node);
        let stored = self
            .store
            .meta_get(&key)
            .map_err(|e| RunError::store(format!("reading {key}"), e))?;
        let Some(prev) = stored else {
            return Ok(None);
        };
        let prev: usize = prev.parse().map_err(|e: std::num::ParseIntError| {
            RunError::store(
                format!("reading {key}"),
                crate::store::StoreError::Corrupt {
                    path: self.store.path().to_path_buf(),
                    what: format!("meta.{key}"),
                    reason: e.to_string(),
                },
            )
        })?;
        let floor = (prev as f64 * (1.0 - max_drop.max(0.0))).ceil() as usize;
        Ok((listed < floor).then(|| {
            format!(
                "DSS node {node}: GET /projects/ listed {listed} projects, down from {prev} (more than dss.max_listing_drop = {max_drop} lost at once); treated as unknown for removals"
            )
        }))
    }

    /// Keeps the size of an accepted listing for the next run's suspicious-drop rule.
    fn remember_listing(&self, node: &str, listed: usize) -> Result<(), RunError> {
        let key = listed_key(node);
        self.store
            .meta_set(&key, &listed.to_string())
            .map_err(|e| RunError::store(format!("writing {key}"), e))
    }
}

/// The store's meta key of a node's last accepted listing size.
fn listed_key(node: &str) -> String {
    format!("dss.listed.{node}")
}
