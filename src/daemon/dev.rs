//! `fleetd --dev`: the built-in development setup. Writes the bundled dev config, templates and
//! obviously fake secrets under `./.fleetsync-dev/config/` (kept if already there, so edits
//! survive), and the simulator is started from it on fixed loopback ports.

use std::path::{Path, PathBuf};

const FILES: &[(&str, &str)] = &[
    ("dev.toml", include_str!("../../config/dev.toml")),
    (
        "templates/pr.yml",
        include_str!("../../config/templates/pr.yml"),
    ),
    (
        "templates/release.yml",
        include_str!("../../config/templates/release.yml"),
    ),
    (
        "templates/tests.py",
        include_str!("../../config/templates/tests.py"),
    ),
    (
        "dev-secrets/api-token",
        include_str!("../../config/dev-secrets/api-token"),
    ),
    (
        "dev-secrets/client-certificate",
        include_str!("../../config/dev-secrets/client-certificate"),
    ),
    (
        "dev-secrets/dev-ci-token",
        include_str!("../../config/dev-secrets/dev-ci-token"),
    ),
    (
        "dev-secrets/dss-api-key",
        include_str!("../../config/dev-secrets/dss-api-key"),
    ),
    (
        "dev-secrets/github-token",
        include_str!("../../config/dev-secrets/github-token"),
    ),
    (
        "dev-secrets/prod-ci-token",
        include_str!("../../config/dev-secrets/prod-ci-token"),
    ),
    (
        "dev-secrets/staging-ci-token",
        include_str!("../../config/dev-secrets/staging-ci-token"),
    ),
];

/// Writes the dev files under `root/config` (missing ones only); returns the config path.
pub fn materialize(root: &Path) -> std::io::Result<PathBuf> {
    let dir = root.join("config");
    for (rel, text) in FILES {
        let path = dir.join(rel);
        if path.exists() {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
        #[cfg(unix)]
        if rel.starts_with("dev-secrets/") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(dir.join("dev.toml"))
}
