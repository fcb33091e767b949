//! `fleetctl config check` runs what fleetd runs before it takes a config: besides the file and
//! its templates, every fixed secret source must be readable here. Each failure is an error at
//! `file:line:col` naming the key, every error of a file is listed at once, the exit code is
//! 2, and fleetd refuses to start on the same config with the same errors.

use std::path::{Path, PathBuf};
use std::process::Command;

const UNSET: &str = "FLEETSYNC_PREFLIGHT_TEST_SURELY_UNSET";

/// A config whose secrets are all files beside it (written by [`Dir::new`]) except as edited.
const BASE: &str = r#"[daemon]
listen = "127.0.0.1:0"
state_path = "state.db"
api_token = { file = "api-token" }

[[dss]]
name = "design"
url = "http://127.0.0.1:9"
api_key = { file = "dss-key" }

[github]
api_url = "http://127.0.0.1:9"
owner = "acme"
auth = { pat = { file = "gh-token" } }
deletion_policy = "archive"

[repo.variables]
DATAIKU_PROJECT_KEY = "{{ key }}"

[repo.secrets]
DEV_TOKEN = { file = "dev-token" }
PER_PROJECT = { env = "TOKEN_{{ key }}" }

[pacing]
concurrency = 4
"#;

struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        let dir = tempfile::tempdir().unwrap();
        for f in ["api-token", "dss-key", "gh-token", "dev-token"] {
            std::fs::write(dir.path().join(f), format!("{f}-value\n")).unwrap();
        }
        Dir { dir }
    }

    fn write(&self, text: &str) -> PathBuf {
        let p = self.dir.path().join("fleet.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn remove(&self, file: &str) {
        std::fs::remove_file(self.dir.path().join(file)).unwrap();
    }
}

fn fleetctl_check(path: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetctl"))
        .args(["config", "check", "--config"])
        .arg(path)
        .env_remove(UNSET)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fleetd(path: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetd"))
        .arg("--config")
        .arg(path)
        .env_remove(UNSET)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `file:line:col: `key``, as the errors print it.
fn place(path: &Path, line: usize, col: usize, key: &str) -> String {
    format!("{}:{line}:{col}: `{key}`", path.display())
}

#[test]
fn the_base_config_passes() {
    let d = Dir::new();
    let p = d.write(BASE);
    let (code, err) = fleetctl_check(&p);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_missing_token_file_is_an_error_at_its_key() {
    let d = Dir::new();
    let p = d.write(BASE);
    d.remove("gh-token");
    d.remove("api-token");
    let (code, err) = fleetctl_check(&p);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&place(&p, 4, 1, "daemon.api_token")), "{err}");
    assert!(err.contains(&place(&p, 14, 1, "github.auth.pat")), "{err}");
    assert!(
        err.contains("gh-token") && err.contains("api-token"),
        "{err}"
    );
    assert!(err.contains("2 error(s)"), "{err}");
    // fleetd refuses the same config, listing the same errors, and starts nothing.
    let (code, ferr) = fleetd(&p);
    assert_eq!(code, 2, "{ferr}");
    assert!(
        ferr.contains(&place(&p, 14, 1, "github.auth.pat")),
        "{ferr}"
    );
    assert!(
        ferr.contains(&place(&p, 4, 1, "daemon.api_token")),
        "{ferr}"
    );
    assert!(
        !d.dir.path().join("state.db").exists(),
        "nothing half-written"
    );
}

#[test]
fn a_missing_secret_file_is_an_error_at_its_key() {
    let d = Dir::new();
    let p = d.write(BASE);
    d.remove("dev-token");
    let (code, err) = fleetctl_check(&p);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&place(&p, 21, 1, "repo.secrets.DEV_TOKEN")),
        "{err}"
    );
    assert!(err.contains("dev-token"), "{err}");
    // The per-project source (a template) is not read here: one error only.
    assert!(
        err.contains("1 error(s)") && !err.contains("PER_PROJECT"),
        "{err}"
    );
}

#[test]
fn an_unset_or_blank_environment_secret_is_an_error() {
    let d = Dir::new();
    let p = d.write(&BASE.replace(
        "DEV_TOKEN = { file = \"dev-token\" }",
        &format!("DEV_TOKEN = {{ env = \"{UNSET}\" }}"),
    ));
    let (code, err) = fleetctl_check(&p);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&place(&p, 21, 1, "repo.secrets.DEV_TOKEN")),
        "{err}"
    );
    assert!(err.contains(UNSET) && err.contains("not set"), "{err}");
    // A file holding only blanks is no secret either.
    let p = d.write(BASE);
    std::fs::write(d.dir.path().join("dss-key"), "  \n").unwrap();
    let (code, err) = fleetctl_check(&p);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&place(&p, 9, 1, "dss.api_key")) && err.contains("only whitespace"),
        "{err}"
    );
}

#[test]
fn three_typos_in_one_file_are_all_listed() {
    let d = Dir::new();
    let text = BASE
        .replace("state_path = ", "state_pth = ")
        .replace("deletion_policy = ", "deletion_polcy = ")
        .replace("concurrency = 4", "concurency = 4");
    let p = d.write(&text);
    let (code, err) = fleetctl_check(&p);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&place(&p, 3, 1, "daemon.state_pth")), "{err}");
    assert!(
        err.contains(&place(&p, 15, 1, "github.deletion_polcy")),
        "{err}"
    );
    assert!(
        err.contains(&place(&p, 25, 1, "pacing.concurency")),
        "{err}"
    );
    assert_eq!(err.matches("unknown field").count(), 3, "{err}");
    assert!(err.contains("3 error(s)"), "{err}");
}

#[test]
fn typos_bad_values_and_unreadable_secrets_come_together() {
    let d = Dir::new();
    let text = BASE
        .replace(
            "deletion_policy = \"archive\"",
            "deletion_policy = \"destroy\"",
        )
        .replace("concurrency = 4", "concurency = 4")
        .replace("listen = \"127.0.0.1:0\"", "listen = \"nowhere\"")
        .replace(
            "{{ key }}\"\n\n[repo.secrets]",
            "{{ kee }}\"\n\n[repo.secrets]",
        );
    let p = d.write(&text);
    d.remove("dss-key");
    let (code, err) = fleetctl_check(&p);
    assert_eq!(code, 2, "{err}");
    for (line, col, key) in [
        (15, 19, "github.deletion_policy"),
        (25, 1, "pacing.concurency"),
        (2, 10, "daemon.listen"),
        (18, 23, "repo.variables.DATAIKU_PROJECT_KEY"),
        (9, 1, "dss.api_key"),
    ] {
        assert!(err.contains(&place(&p, line, col, key)), "{key}:\n{err}");
    }
    assert!(err.contains("5 error(s)"), "{err}");
}

#[test]
fn skip_secrets_checks_the_file_only() {
    let d = Dir::new();
    let p = d.write(BASE);
    d.remove("gh-token");
    let out = Command::new(env!("CARGO_BIN_EXE_fleetctl"))
        .args(["config", "check", "--skip-secrets", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("secret sources not read"));
}
