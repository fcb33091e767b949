//! What this binary was built from, for `--version`, fleetd's start-up log line, the status
//! API and the `fleet_build_info` metric. Set by `build.rs`.

/// The package version, e.g. `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit built (12 hex digits), or `unknown` outside a checkout.
pub const COMMIT: &str = env!("FLEETSYNC_GIT_COMMIT");

/// The build date, UTC, `YYYY-MM-DD`.
pub const BUILD_DATE: &str = env!("FLEETSYNC_BUILD_DATE");

/// `0.1.0 (commit 1a2b3c4d5e6f, built 2026-12-02)`: what `--version` prints after the name.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("FLEETSYNC_GIT_COMMIT"),
    ", built ",
    env!("FLEETSYNC_BUILD_DATE"),
    ")"
);

/// The three as a JSON object, for the status API.
pub fn json() -> serde_json::Value {
    serde_json::json!({"version": VERSION, "commit": COMMIT, "built": BUILD_DATE})
}
