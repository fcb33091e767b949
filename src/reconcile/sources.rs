//! Discovery across every configured DSS node, and the inventory turned into the sources the
//! desire stage reads.

use crate::config::Config;
use crate::desired::{SourceKind, SourceObject};
use crate::dss::{discover, Discovery, DssClient, NodeInventory};

/// The DSS clients of a config, in node order.
pub fn clients(config: &Config) -> Result<Vec<DssClient>, String> {
    let mut out = Vec::new();
    for node in &config.raw.dss {
        let key = node
            .api_key
            .read(&config.base_dir)
            .map_err(|e| format!("DSS node {}: api_key: {e}", node.name))?;
        out.push(DssClient::new(node, key, &config.base_dir).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// Discovers every node concurrently.
pub async fn discover_all(config: &Config, clients: &[DssClient]) -> Vec<NodeInventory> {
    let futs = config
        .raw
        .dss
        .iter()
        .zip(config.key_filters.iter())
        .zip(clients.iter())
        .map(|((node, filter), client)| discover(node, filter, client));
    futures::future::join_all(futs).await
}

/// The sources of the nodes whose discovery is known.
pub fn sources(config: &Config, inventories: &[NodeInventory]) -> Vec<SourceObject> {
    let mut out = Vec::new();
    for inv in inventories {
        let Some(node) = config.raw.dss.iter().find(|n| n.name == inv.node) else {
            continue;
        };
        if let Discovery::Known {
            projects, plugins, ..
        } = &inv.outcome
        {
            for p in projects {
                out.push(SourceObject {
                    kind: SourceKind::Project,
                    node: node.name.clone(),
                    node_url: node.url.get_ref().clone(),
                    repo_prefix: node.repo_prefix.clone(),
                    key: p.key.clone(),
                    name: p.name.clone(),
                    tags: p.tags.clone(),
                    owner: p.owner.clone(),
                    short_desc: p.short_desc.clone(),
                    version: p.version.map(|v| v.to_string()).unwrap_or_default(),
                });
            }
            for p in plugins {
                out.push(SourceObject {
                    kind: SourceKind::Plugin,
                    node: node.name.clone(),
                    node_url: node.url.get_ref().clone(),
                    repo_prefix: node.repo_prefix.clone(),
                    key: p.id.clone(),
                    name: p.label.clone(),
                    tags: Vec::new(),
                    owner: String::new(),
                    short_desc: p.description.clone(),
                    version: p.version.clone(),
                });
            }
        }
    }
    out
}
