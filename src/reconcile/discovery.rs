//! The discover phase: every node's listing, judged (known, suspiciously dropped, unknown),
//! reported to the observer, and turned into the sources the rest of the run reads.

use super::engine::Engine;
use super::naming::RunState;
use super::sources;
use super::status::RunError;
use crate::api::NodeCounts;
use crate::desired::SourceKind;
use crate::desired::SourceObject;
use crate::dss::{Discovery, NodeInventory};
use crate::plan::UnknownNode;
use std::collections::BTreeSet;

/// What discovery learnt, for the later phases.
pub struct Discovered {
    /// Nodes whose project listing is trusted for removals.
    pub known_nodes: BTreeSet<String>,
    /// Nodes whose dev-plugin listing is trusted for removals.
    pub known_plugin_nodes: BTreeSet<String>,
    /// Listings not trusted for removals, with why (a node may have two: projects, plugins).
    pub unknown: Vec<UnknownNode>,
    /// Projects and plugins of the listings that answered (a suspicious drop still creates
    /// and updates).
    pub sources: Vec<SourceObject>,
}

/// Which listing a rule judges.
#[derive(Clone, Copy)]
enum Listing {
    Projects,
    Plugins,
}

impl Listing {
    fn meta_key(self, node: &str) -> String {
        match self {
            Listing::Projects => format!("dss.listed.{node}"),
            Listing::Plugins => format!("dss.listed_plugins.{node}"),
        }
    }

    fn request(self) -> &'static str {
        match self {
            Listing::Projects => "GET /projects/ listed",
            Listing::Plugins => "GET /plugins/ listed",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Listing::Projects => "projects",
            Listing::Plugins => "dev plugins",
        }
    }
}

/// The verdict on one node's listings: `None` trusted, `Some(reason)` not.
struct Verdict {
    projects: Option<String>,
    plugins: Option<String>,
}

impl Discovered {
    /// Files one node's verdict.
    fn add(&mut self, node: &str, answered: bool, v: Verdict) {
        match v.projects {
            None => {
                self.known_nodes.insert(node.to_string());
            }
            Some(reason) => {
                self.unknown.push(UnknownNode {
                    node: node.to_string(),
                    listing: SourceKind::Project,
                    reason,
                });
            }
        }
        match v.plugins {
            None => {
                self.known_plugin_nodes.insert(node.to_string());
            }
            // The whole discovery failed: the project entry says so.
            Some(_) if !answered => {}
            Some(reason) => self.unknown.push(UnknownNode {
                node: node.to_string(),
                listing: SourceKind::Plugin,
                reason,
            }),
        }
    }
}

impl Engine {
    /// Lists every node, judges each listing and builds the sources (limited to `only` when
    /// the run is for some projects). `state` says which plugin repos an empty plugin
    /// listing would lose.
    pub(super) async fn discover(
        &self,
        dry_run: bool,
        only: &[String],
        state: &RunState,
    ) -> Result<Discovered, RunError> {
        let inventories = sources::discover_all(&self.config, &self.dss).await;
        let mut found = Discovered {
            known_nodes: BTreeSet::new(),
            known_plugin_nodes: BTreeSet::new(),
            unknown: Vec::new(),
            sources: Vec::new(),
        };
        for inv in &inventories {
            let v = self.judge(inv, state)?;
            if let Discovery::Known {
                listed, plugins, ..
            } = &inv.outcome
            {
                // Only a trusted listing becomes the baseline of the next run's rule, so a
                // drop stays a drop until it is accepted (`max_listing_drop = 1.0`).
                if !dry_run && v.projects.is_none() {
                    self.remember_listing(Listing::Projects, &inv.node, *listed)?;
                }
                if !dry_run && v.plugins.is_none() {
                    self.remember_listing(Listing::Plugins, &inv.node, plugins.len())?;
                }
            }
            found.add(&inv.node, inv.outcome.is_known(), v);
        }
        let mut srcs = sources::sources(&self.config, &inventories);
        drop(inventories);
        if !only.is_empty() {
            if let Some(e) = sources::unknown_keys(only, &srcs, &found.unknown) {
                return Err(RunError::UnknownProjects(e));
            }
            srcs.retain(|s| only.iter().any(|p| p == &s.key));
        }
        sources::enrich(&self.config, &self.dss, &mut srcs).await;
        found.sources = srcs;
        Ok(found)
    }

    /// Before a run limited to `keys` is queued: the error the run would fail with when a key
    /// is no discovered project or plugin, from a fresh listing of every node (nothing
    /// judged, recorded or reported). A run that joins another still gets its keys checked.
    pub async fn check_keys(&self, keys: &[String]) -> Option<String> {
        if keys.is_empty() {
            return None;
        }
        let inventories = sources::discover_all(&self.config, &self.dss).await;
        let not_listed: Vec<UnknownNode> = inventories
            .iter()
            .filter_map(|inv| match &inv.outcome {
                Discovery::Unknown { reason, .. } => Some(UnknownNode {
                    node: inv.node.clone(),
                    listing: SourceKind::Project,
                    reason: reason.clone(),
                }),
                Discovery::Known { .. } => None,
            })
            .collect();
        let srcs = sources::sources(&self.config, &inventories);
        sources::unknown_keys(keys, &srcs, &not_listed)
    }

    /// Judges a node's two listings and reports to the observer.
    fn judge(&self, inv: &NodeInventory, state: &RunState) -> Result<Verdict, RunError> {
        match &inv.outcome {
            Discovery::Known {
                projects,
                plugins,
                listed,
            } => {
                let v = Verdict {
                    projects: self.suspicious_drop(Listing::Projects, &inv.node, *listed)?,
                    plugins: self.plugin_verdict(&inv.node, plugins.len(), state)?,
                };
                for reason in v.projects.iter().chain(v.plugins.iter()) {
                    // Creates and updates go on; removals are blocked.
                    tracing::warn!(node = %inv.node, %reason, "DSS listing not trusted for removals");
                }
                match &v.projects {
                    Some(reason) => {
                        self.observer
                            .node_dropped(&inv.node, reason, projects.len(), plugins.len())
                    }
                    None => self.observer.node_known(
                        &inv.node,
                        NodeCounts {
                            listed: *listed,
                            projects: projects.len(),
                            plugins: plugins.len(),
                        },
                    ),
                }
                if let Some(reason) = &v.plugins {
                    self.observer.plugins_unknown(&inv.node, reason);
                }
                Ok(v)
            }
            Discovery::Unknown { reason, cause } => {
                self.observer.node_unknown(&inv.node, reason, *cause);
                Ok(Verdict {
                    projects: Some(reason.clone()),
                    plugins: Some(reason.clone()),
                })
            }
        }
    }

    /// The plugin listing's verdict: the rules of the project listing. An empty dev-plugin
    /// listing is unknown when the node has plugin repos it would lose (a node without
    /// dev plugins is not reported every run), and a listing that lost more than
    /// `max_listing_drop` of the last accepted one is a suspicious drop.
    fn plugin_verdict(
        &self,
        node: &str,
        dev_plugins: usize,
        state: &RunState,
    ) -> Result<Option<String>, RunError> {
        let has_repos = state
            .managed
            .iter()
            .any(|r| r.node == node && r.source_kind == "plugin" && r.is_live());
        if dev_plugins == 0 && has_repos {
            return Ok(Some(format!(
                "DSS node {node}: GET /plugins/ listed no dev plugin at all; the plugin listing is treated as unknown for removals, not as every plugin deleted"
            )));
        }
        self.suspicious_drop(Listing::Plugins, node, dev_plugins)
    }

    /// The suspicious-drop rule: `Some(reason)` when the node's listing of `listed` objects
    /// lost more than `max_listing_drop` of the last accepted listing (kept in the store's
    /// meta). The last listing is a safety input: failing to read it fails the run.
    fn suspicious_drop(
        &self,
        what: Listing,
        node: &str,
        listed: usize,
    ) -> Result<Option<String>, RunError> {
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
        let key = what.meta_key(node);
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
                "DSS node {node}: {} {listed} {}, down from {prev} (more than dss.max_listing_drop = {max_drop} lost at once); treated as unknown for removals",
                what.request(),
                what.noun()
            )
        }))
    }

    /// Keeps the size of an accepted listing for the next run's suspicious-drop rule.
    fn remember_listing(&self, what: Listing, node: &str, listed: usize) -> Result<(), RunError> {
        let key = what.meta_key(node);
        self.store
            .meta_set(&key, &listed.to_string())
            .map_err(|e| RunError::store(format!("writing {key}"), e))
    }
}
