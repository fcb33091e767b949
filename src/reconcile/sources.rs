//! Discovery across every configured DSS node, and the inventory turned into the sources the
//! desire stage reads.

use super::status::SetupError;
use crate::config::{Config, DssNodeConfig};
use crate::desired::{SourceKind, SourceObject};
use crate::dss::{discover, Discovery, DssClient, DssInfra, NodeInventory};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::io::Read;

/// The DSS clients of a config, in node order.
pub fn clients(config: &Config) -> Result<Vec<DssClient>, SetupError> {
    let mut out = Vec::new();
    for node in &config.raw.dss {
        let key = node
            .api_key
            .read(&config.base_dir)
            .map_err(|source| SetupError::Credential {
                key: format!("DSS node {}: api_key", node.name),
                source,
            })?;
        let client =
            DssClient::new(node, key, &config.base_dir).map_err(|source| SetupError::Dss {
                node: node.name.clone(),
                source: Box::new(source),
            })?;
        out.push(client);
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

/// When a run is limited to `requested` keys: an error naming each key that matches no
/// discovered (and not filtered-out) project or plugin, so a typo is not an empty success.
pub fn unknown_keys(
    requested: &[String],
    srcs: &[SourceObject],
    unknown_nodes: &[crate::plan::UnknownNode],
) -> Option<String> {
    let unknown: Vec<&str> = requested
        .iter()
        .filter(|k| !srcs.iter().any(|s| &s.key == *k))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return None;
    }
    let mut msg = format!(
        "no DSS project or dev plugin has the key {} (keys are case-sensitive; a key left out by the node's include/exclude patterns or tags does not count)",
        unknown.join(", ")
    );
    if !unknown_nodes.is_empty() {
        let nodes: std::collections::BTreeSet<&str> =
            unknown_nodes.iter().map(|b| b.node.as_str()).collect();
        let nodes: Vec<&str> = nodes.into_iter().collect();
        msg.push_str(&format!(
            "; DSS node(s) {} could not be listed, the key may be there",
            nodes.join(", ")
        ));
    }
    Some(msg)
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
                    custom: Default::default(),
                    infra: None,
                    mirror: None,
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
                    custom: Default::default(),
                    infra: None,
                    mirror: None,
                });
            }
        }
    }
    out
}

/// The per-source details the DSS side adds: deployer infrastructure ids, project metadata
/// custom fields, and dev plugin files. A failure is kept on the source (its repo is then
/// reported, not built, and never removed).
pub async fn enrich(config: &Config, clients: &[DssClient], sources: &mut [SourceObject]) {
    for (node, client) in config.raw.dss.iter().zip(clients.iter()) {
        if node.infra.fill_variables {
            fill_infra(node, client, sources).await;
        }
        let ov = &node.overrides;
        if !ov.visibility_field.is_empty() || !ov.required_reviews_field.is_empty() {
            fill_custom_fields(node, client, sources).await;
        }
        if node.mirror_plugins {
            fill_mirrors(node, client, sources).await;
        }
    }
}

/// The sources of `node` of one kind.
fn of_node<'a>(
    sources: &'a mut [SourceObject],
    node: &'a DssNodeConfig,
    kind: SourceKind,
) -> impl Iterator<Item = &'a mut SourceObject> {
    sources
        .iter_mut()
        .filter(move |s| s.node == node.name && s.kind == kind)
}

/// The deployer infrastructures of the staging and prod stages, one listing per node, for
/// every project of the node (an error on each when they cannot be had).
async fn fill_infra(node: &DssNodeConfig, client: &DssClient, sources: &mut [SourceObject]) {
    if of_node(sources, node, SourceKind::Project).next().is_none() {
        return;
    }
    let ids = match client.list_infras().await {
        Ok(infras) => stage_infras(node, &infras),
        Err(e) => Err(e.to_string()),
    };
    for s in of_node(sources, node, SourceKind::Project) {
        s.infra = Some(ids.clone());
    }
}

/// The first infrastructure (by id) of the staging and of the prod stage.
fn stage_infras(node: &DssNodeConfig, infras: &[DssInfra]) -> Result<(String, String), String> {
    let pick = |stage: &str| {
        infras
            .iter()
            .filter(|i| {
                i.stage
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(stage))
            })
            .map(|i| i.id.as_str())
            .min()
            .map(str::to_string)
    };
    let staging = pick(&node.infra.staging_stage);
    let prod = pick(&node.infra.prod_stage);
    match (staging, prod) {
        (Some(a), Some(b)) => Ok((a, b)),
        (a, _) => Err(format!(
            "node {} has no deployer infrastructure in stage {:?}",
            node.name,
            if a.is_none() {
                &node.infra.staging_stage
            } else {
                &node.infra.prod_stage
            }
        )),
    }
}

/// Each project's custom fields (for the visibility / review overrides), 8 at a time; a
/// project whose metadata cannot be read gets an error instead.
async fn fill_custom_fields(
    node: &DssNodeConfig,
    client: &DssClient,
    sources: &mut [SourceObject],
) {
    let keys: Vec<String> = of_node(sources, node, SourceKind::Project)
        .map(|s| s.key.clone())
        .collect();
    let fetched: BTreeMap<String, Result<BTreeMap<String, serde_json::Value>, String>> =
        futures::stream::iter(keys.into_iter().map(|k| async move {
            let r = client
                .project_custom_fields(&k)
                .await
                .map_err(|e| e.to_string());
            (k, r)
        }))
        .buffer_unordered(8)
        .collect()
        .await;
    for s in of_node(sources, node, SourceKind::Project) {
        match fetched.get(&s.key) {
            Some(Ok(c)) => s.custom = c.clone(),
            Some(Err(e)) => s.infra = Some(Err(format!("project metadata: {e}"))),
            None => {}
        }
    }
}

/// Each dev plugin's files, from its archive.
async fn fill_mirrors(node: &DssNodeConfig, client: &DssClient, sources: &mut [SourceObject]) {
    for s in of_node(sources, node, SourceKind::Plugin) {
        s.mirror = Some(match client.download_plugin(&s.key).await {
            Ok(bytes) => unzip(&bytes),
            Err(e) => Err(e.to_string()),
        });
    }
}

/// Limits on a plugin archive.
const MAX_FILES: usize = 5_000;
const MAX_BYTES: u64 = 50 * 1024 * 1024;

/// A plugin zip → path → bytes. Paths must be relative and stay inside the repo.
pub fn unzip(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("not a zip archive: {e}"))?;
    if zip.len() > MAX_FILES {
        return Err(format!(
            "{} files in the archive, more than {MAX_FILES}",
            zip.len()
        ));
    }
    let mut out = BTreeMap::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut f = zip
            .by_index(i)
            .map_err(|e| format!("archive entry {i}: {e}"))?;
        if f.is_dir() {
            continue;
        }
        let name = f.name().to_string();
        // A dev plugin is a git repository: its own `.git/` is not mirrored.
        if name == ".git" || name.starts_with(".git/") {
            continue;
        }
        let ok = !name.is_empty()
            && !name.starts_with('/')
            && !name.contains('\\')
            && name
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != "..");
        if !ok {
            return Err(format!(
                "archive entry {name:?} is not a safe relative path"
            ));
        }
        total += f.size();
        if total > MAX_BYTES {
            return Err(format!("archive larger than {MAX_BYTES} bytes"));
        }
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(|e| format!("archive entry {name}: {e}"))?;
        out.insert(name, buf);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::unzip;
    use std::io::Write;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            for (name, data) in entries {
                z.start_file(*name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                z.write_all(data).unwrap();
            }
            z.finish().unwrap();
        }
        buf.into_inner()
    }

    #[test]
    fn a_dev_plugins_own_git_folder_is_skipped_and_unsafe_paths_are_refused() {
        let files = unzip(&zip_of(&[
            ("plugin.json", b"{}"),
            (".git/HEAD", b"ref: refs/heads/master"),
            (".git/objects/ab/cdef", b"x"),
            ("python-lib/a.py", b"a = 1"),
        ]))
        .unwrap();
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            vec!["plugin.json", "python-lib/a.py"]
        );
        for bad in ["../evil", "/abs", "a/../../b", "a\\b"] {
            assert!(unzip(&zip_of(&[(bad, b"x")])).is_err(), "{bad}");
        }
    }
}
