//! Config reload (SIGHUP, `systemctl reload fleetd`): the file is loaded and checked exactly
//! as at start; a bad config is refused — the running one is kept and the reason logged at
//! ERROR — and a good one replaces the running config whole (engine, credentials, token,
//! schedule). A run in progress finishes on the config it started with; the next run and
//! plan use the new one. The listen address and log settings change only with a restart;
//! another state file is refused (one config, one state).

use super::state::{AppState, Loaded, ReloadRecord};
use crate::config::{load_for_run, Config};
use std::sync::Arc;

impl AppState {
    /// Reloads the config from its file. `Ok` holds notes on what needs a restart.
    pub async fn reload(&self) -> Result<Vec<String>, String> {
        let old = self.loaded();
        let path = old.config.path.clone();
        let outcome = self.try_reload(&old.config).await;
        let applied = outcome.is_ok();
        self.metrics().config_reloaded(applied);
        match &outcome {
            Ok((new_hash, notes)) => {
                tracing::info!(
                    config = %path.display(),
                    from = %short(&old.config.hash),
                    to = %short(new_hash),
                    "config reloaded; the next run uses it"
                );
                for n in notes {
                    tracing::warn!(config = %path.display(), "{n}");
                }
            }
            Err(why) => tracing::error!(
                config = %path.display(),
                keeping = %short(&old.config.hash),
                "config reload refused, the running config is kept: {why}"
            ),
        }
        self.record_reload(ReloadRecord {
            at: chrono::Utc::now(),
            applied,
            message: match &outcome {
                Ok((_, notes)) if notes.is_empty() => None,
                Ok((_, notes)) => Some(notes.join("; ")),
                Err(why) => Some(why.clone()),
            },
        });
        outcome.map(|(_, notes)| notes)
    }

    async fn try_reload(&self, old: &Config) -> Result<(String, Vec<String>), String> {
        let cfg = load_for_run(&old.path).map_err(|errs| {
            errs.0
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        if cfg.state_path() != old.state_path() {
            return Err(format!(
                "daemon.state_path changed from {} to {}: restart fleetd to use another state file",
                old.state_path().display(),
                cfg.state_path().display()
            ));
        }
        let notes = restart_notes(old, &cfg);
        for w in &cfg.warnings {
            tracing::warn!("{w}");
        }
        let new = Loaded::build(Arc::new(cfg), self.store(), self.metrics(), self.health())
            .map_err(|e| e.to_string())?;
        let schedule = new.config.raw.daemon.schedule.get_ref().clone();
        self.schedule()
            .set(&schedule, self.control(), self.store())
            .await?;
        let nodes: Vec<String> = new.config.raw.dss.iter().map(|n| n.name.clone()).collect();
        self.health().retain(&nodes);
        self.metrics()
            .config_loaded(&new.config.hash, new.loaded_at);
        let hash = new.config.hash.clone();
        let previous = self.swap(new);
        // The replaced client's last requests still count.
        self.metrics()
            .observe_github(previous.engine.github().stats());
        Ok((hash, notes))
    }
}

/// Settings a reload cannot change in a running process.
fn restart_notes(old: &Config, new: &Config) -> Vec<String> {
    let mut notes = Vec::new();
    if old.listen != new.listen {
        notes.push(format!(
            "daemon.listen changed to {}: still listening on {} until fleetd restarts",
            new.listen, old.listen
        ));
    }
    let (o, n) = (&old.raw.daemon, &new.raw.daemon);
    if o.log_level != n.log_level || o.log_format != n.log_format {
        notes.push("daemon.log_level / log_format changed: they apply when fleetd restarts".into());
    }
    notes
}

/// The first 12 hex digits of a config hash, for logs.
pub fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
