//! The simulator's JSON on the wire, written from the reference (not from the client's types):
//! project items, metadata, plugin items, git status and the DSS error body.

use super::state::{SimPlugin, SimProject};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// An item of `GET /projects/` (also the summary of `GET /projects/{key}`).
pub(crate) fn project_item(p: &SimProject) -> Value {
    json!({
        "projectKey": p.key,
        "name": p.name,
        "shortDesc": p.short_desc,
        "description": p.description,
        "tags": p.tags,
        "ownerLogin": p.owner_login,
        "ownerDisplayName": p.owner_display,
        "projectStatus": p.status,
        "tutorialProject": p.tutorial,
        "versionTag": {
            "versionNumber": p.version,
            "lastModifiedBy": {"login": p.modified_by},
            "lastModifiedOn": p.modified_on,
        },
        "creationTag": {
            "versionNumber": 0,
            "lastModifiedBy": {"login": p.created_by},
            "lastModifiedOn": p.created_on,
        },
    })
}

/// `GET /projects/{key}/metadata`.
pub(crate) fn project_metadata(p: &SimProject) -> Value {
    json!({
        "label": p.name,
        "shortDesc": p.short_desc,
        "description": p.description,
        "tags": p.tags,
        "custom": {"kv": {}},
        "customFields": p.custom_fields,
        "checklists": {"checklists": []},
    })
}

/// `GET /projects/{key}/git/status`.
pub(crate) fn git_status(p: &mut SimProject) -> Value {
    let remotes: Vec<Value> = p
        .remotes
        .iter()
        .map(|(name, url)| json!({"name": name, "url": url}))
        .collect();
    let empty: [&str; 0] = [];
    let (ahead, behind) = p.git().tracking_count("origin");
    json!({
        "currentBranch": p.git().current,
        "remotes": remotes,
        "trackingCount": {"ahead": ahead, "behind": behind},
        "clean": true,
        "hasUncommittedChanges": false,
        "added": empty, "changed": empty, "removed": empty, "missing": empty,
        "modified": empty, "conflicting": empty, "untracked": empty, "untrackedFolders": empty,
        "originProjectKey": null,
        "trackingCountWithOriginProject": {"ahead": 0, "behind": 0},
    })
}

/// An item of `GET /plugins/`.
pub(crate) fn plugin_item(p: &SimPlugin) -> Value {
    json!({
        "id": p.id,
        "version": p.version,
        "isDev": p.is_dev,
        "meta": {
            "label": p.label,
            "description": p.description,
            "author": p.author,
            "icon": "icon-puzzle-piece",
            "licenseInfo": "Apache Software License",
            "url": "",
            "tags": p.tags,
            "category": p.category,
        },
    })
}

/// `plugin.json` inside a plugin archive.
pub(crate) fn plugin_json(p: &SimPlugin) -> Value {
    json!({
        "id": p.id,
        "version": p.version,
        "meta": {
            "label": p.label,
            "description": p.description,
            "author": p.author,
            "icon": "icon-puzzle-piece",
            "tags": p.tags,
            "category": p.category,
        },
    })
}

/// A DSS serialized exception, answered with `status`.
pub(crate) fn error(status: StatusCode, error_type: &str, code: &str, message: &str) -> Response {
    let body = json!({
        "errorType": error_type,
        "message": message,
        "detailedMessage": message,
        "code": code,
    });
    (status, Json(body)).into_response()
}

/// 404 for an unknown project.
pub(crate) fn unknown_project(key: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "com.dataiku.dip.exceptions.UnknownObjectException",
        "ERR_PROJECT_NOT_FOUND",
        &format!("Project does not exist: {key}"),
    )
}

/// 404 for an unknown (or non-dev, where a dev plugin is needed) plugin.
pub(crate) fn unknown_plugin(id: &str, why: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "com.dataiku.dip.exceptions.UnknownObjectException",
        "ERR_PLUGIN_NOT_FOUND",
        &format!("Plugin {why}: {id}"),
    )
}

/// 400 for a malformed request.
pub(crate) fn bad_request(message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "java.lang.IllegalArgumentException",
        "ERR_BAD_REQUEST",
        message,
    )
}

/// Parses a query-string boolean the way DSS's Java side does: case-insensitive.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}
