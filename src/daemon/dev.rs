//! `fleetd --dev`: the built-in development setup. Writes the bundled dev config, templates and
//! obviously fake secrets under `./.fleetsync-dev/config/` (kept if already there, so edits
//! survive), and the simulator is started from it on fixed loopback ports. The simulator keeps
//! its state in memory only, so every `--dev` start also starts from an empty state file
//! (`.fleetsync-dev/state.db`): a restart never compares a fresh simulated GitHub with the
//! records of the previous one.

use std::path::{Path, PathBuf};

/// The dev folder, relative to where fleetd is started.
pub const DEV_DIR: &str = ".fleetsync-dev";

/// The state path older bundled dev configs had (it resolved to
/// `.fleetsync-dev/.fleetsync-dev/state.db`), and what it is now.
const OLD_STATE_LINE: &str = "state_path = \"../.fleetsync-dev/state.db\"";
const STATE_LINE: &str = "state_path = \"../state.db\"";

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
        "templates/plugin-check.yml",
        include_str!("../../config/templates/plugin-check.yml"),
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
            if *rel == "dev.toml" {
                fix_old_state_path(&path)?;
            }
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

/// Rewrites the doubled state path of a dev config written by an older fleetd.
fn fix_old_state_path(path: &Path) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    if text.contains(OLD_STATE_LINE) {
        std::fs::write(path, text.replace(OLD_STATE_LINE, STATE_LINE))?;
        eprintln!(
            "fleetd --dev: {}: state_path is now \"../state.db\" (it was doubled)",
            path.display()
        );
    }
    Ok(())
}

/// Deletes the state file (and its WAL files) so a dev start is clean. The caller holds the
/// state lock, so no other process is using it.
pub fn reset_state(state: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = state.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(PathBuf::from(p)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_state_lands_beside_the_dev_config_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(DEV_DIR);
        let cfg = crate::config::load(&materialize(&root).unwrap()).unwrap();
        let state = cfg.state_path();
        let want = root.join("state.db");
        assert_eq!(
            std::fs::canonicalize(state.parent().unwrap()).unwrap(),
            std::fs::canonicalize(want.parent().unwrap()).unwrap(),
            "{}",
            state.display()
        );
        assert_eq!(state.file_name(), want.file_name());
        assert!(
            !state
                .components()
                .any(|c| c == std::path::Component::ParentDir),
            "{}",
            state.display()
        );
    }

    #[test]
    fn an_old_doubled_state_path_is_fixed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(DEV_DIR);
        let cfg_path = materialize(&root).unwrap();
        let text = std::fs::read_to_string(&cfg_path).unwrap();
        std::fs::write(&cfg_path, text.replace(STATE_LINE, OLD_STATE_LINE)).unwrap();
        materialize(&root).unwrap();
        let text = std::fs::read_to_string(&cfg_path).unwrap();
        assert!(text.contains(STATE_LINE) && !text.contains(OLD_STATE_LINE));
    }

    #[test]
    fn reset_removes_the_state_and_its_wal() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        drop(crate::store::Store::open(&state).unwrap());
        std::fs::write(dir.path().join("state.db-wal"), "x").unwrap();
        reset_state(&state).unwrap();
        assert!(!state.exists() && !dir.path().join("state.db-wal").exists());
        reset_state(&state).unwrap();
    }
}
