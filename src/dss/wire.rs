//! What the client reads from DSS's JSON: only the fields it needs, every one optional except
//! the identifiers, unknown fields ignored (DSS adds undocumented attributes).

use super::types::{DssInfra, DssPlugin, DssProject, InstanceInfo, PushOutcome};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProjectItem {
    project_key: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    short_desc: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    owner_login: Option<String>,
    #[serde(default)]
    version_tag: Option<VersionTag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionTag {
    #[serde(default)]
    version_number: Option<u64>,
    #[serde(default)]
    last_modified_on: Option<i64>,
}

impl From<ProjectItem> for DssProject {
    fn from(p: ProjectItem) -> Self {
        let (version, last_modified_ms) = match p.version_tag {
            Some(v) => (v.version_number, v.last_modified_on),
            None => (None, None),
        };
        DssProject {
            name: p.name.unwrap_or_else(|| p.project_key.clone()),
            key: p.project_key,
            short_desc: p.short_desc.unwrap_or_default(),
            tags: p.tags.unwrap_or_default(),
            owner: p.owner_login.unwrap_or_default(),
            version,
            last_modified_ms,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PluginItem {
    id: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    is_dev: Option<bool>,
    #[serde(default)]
    meta: Option<PluginMeta>,
}

#[derive(Deserialize, Default)]
struct PluginMeta {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

impl From<PluginItem> for DssPlugin {
    fn from(p: PluginItem) -> Self {
        let meta = p.meta.unwrap_or_default();
        DssPlugin {
            label: meta.label.unwrap_or_else(|| p.id.clone()),
            id: p.id,
            version: p.version.unwrap_or_default(),
            is_dev: p.is_dev.unwrap_or(false),
            description: meta.description.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct Remote {
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Push {
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    output: Option<String>,
}

impl From<Push> for PushOutcome {
    fn from(p: Push) -> Self {
        PushOutcome {
            success: p.success.unwrap_or(false),
            output: p.output.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InfraItem {
    infra_basic_info: InfraBasicInfo,
}

#[derive(Deserialize)]
struct InfraBasicInfo {
    id: String,
    #[serde(default)]
    stage: Option<String>,
}

impl From<InfraItem> for DssInfra {
    fn from(i: InfraItem) -> Self {
        DssInfra {
            id: i.infra_basic_info.id,
            stage: i.infra_basic_info.stage,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Instance {
    #[serde(default)]
    node_id: Option<String>,
    #[serde(default)]
    node_name: Option<String>,
    #[serde(default)]
    node_type: Option<String>,
}

impl From<Instance> for InstanceInfo {
    fn from(i: Instance) -> Self {
        InstanceInfo {
            node_id: i.node_id.unwrap_or_default(),
            node_name: i.node_name.unwrap_or_default(),
            node_type: i.node_type.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_item_tolerates_missing_and_unknown_fields() {
        let p: ProjectItem =
            serde_json::from_str(r#"{"projectKey":"A","somethingNew":{"x":1}}"#).unwrap();
        let p = DssProject::from(p);
        assert_eq!(p.key, "A");
        assert_eq!(p.name, "A");
        assert!(p.tags.is_empty());
        assert_eq!(p.version, None);
    }
}
