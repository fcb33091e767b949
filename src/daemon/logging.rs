//! Structured logs (tracing): text or JSON on stderr, level from `RUST_LOG` or the config.
//! Colours only when stderr is a terminal (journald and files get plain text), and the
//! scheduler crate's chatter kept at WARN unless a filter asks for it by name.

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The filter: `RUST_LOG` when set and valid, else `level`, else `info`; in each case the
/// cron scheduler's own logs (`Uninited`, `Job creator created`, …) are limited to WARN
/// unless the filter names `tokio_cron_scheduler` itself.
pub fn filter(env: Option<&str>, level: &str) -> EnvFilter {
    let chosen = env
        .filter(|e| EnvFilter::try_new(e).is_ok())
        .unwrap_or(level);
    let text = if chosen.contains("tokio_cron_scheduler") {
        chosen.to_string()
    } else {
        format!("{chosen},tokio_cron_scheduler=warn")
    };
    EnvFilter::try_new(&text).unwrap_or_else(|_| EnvFilter::new("info,tokio_cron_scheduler=warn"))
}

/// Installs the global subscriber (once; later calls are ignored). Logs go to stderr.
pub fn init(format: LogFormat, level: &str) {
    let env = std::env::var(EnvFilter::DEFAULT_ENV).ok();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(env.as_deref(), level))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    // A subscriber already installed (a second call in one process) is kept.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheduler_is_held_at_warn_unless_named() {
        assert_eq!(
            filter(None, "info").to_string(),
            "tokio_cron_scheduler=warn,info"
        );
        assert!(filter(Some("debug"), "info")
            .to_string()
            .contains("tokio_cron_scheduler=warn"));
        assert_eq!(
            filter(Some("tokio_cron_scheduler=debug"), "info").to_string(),
            "tokio_cron_scheduler=debug"
        );
        // An invalid RUST_LOG falls back to the config's level.
        assert!(filter(Some("=!!"), "debug").to_string().contains("debug"));
    }
}
