//! `fleetctl config check`: validate a config as fleetd does before it runs one (the file, its
//! templates rendered with a sample project, every fixed secret source readable) and report
//! every error with its place.

use super::args::Output;
use super::EXIT_USAGE;
use crate::config::{load, load_for_run, Config, ConfigErrors};
use std::path::Path;
use std::process::ExitCode;

/// Checks the config; prints the result. `skip_secrets` leaves out reading the secret
/// sources (for checking a config on another machine than the one that runs fleetd).
pub fn run(path: &Path, skip_secrets: bool, output: Output) -> ExitCode {
    let loaded = if skip_secrets {
        load(path)
    } else {
        load_for_run(path)
    };
    match loaded {
        Ok(cfg) => {
            print_ok(path, &cfg, skip_secrets, output);
            ExitCode::SUCCESS
        }
        Err(errs) => {
            print_errors(&errs, output);
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn print_ok(path: &Path, cfg: &Config, skip_secrets: bool, output: Output) {
    let warnings = cfg.preflight_warnings();
    match output {
        o if o.is_document() => out!(
            "{}",
            super::output::document(
                o,
                &serde_json::json!({
                    "ok": true,
                    "file": path.display().to_string(),
                    "hash": cfg.hash,
                    "dss_nodes": cfg.raw.dss.len(),
                    "secrets_checked": !skip_secrets,
                    "warnings": warnings,
                })
            )
        ),
        _ => {
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            outln!(
                "{}: ok ({} DSS node(s), GitHub owner {:?}, {} file(s), {} variable(s), {} secret(s){})",
                path.display(),
                cfg.raw.dss.len(),
                cfg.raw.github.owner,
                cfg.raw.repo.files.len(),
                cfg.raw.repo.variables.len(),
                cfg.raw.repo.secrets.len(),
                if skip_secrets {
                    "; secret sources not read"
                } else {
                    ""
                },
            );
        }
    }
}

fn print_errors(errs: &ConfigErrors, output: Output) {
    match output {
        o if o.is_document() => {
            let list: Vec<_> = errs
                .0
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "file": e.file.display().to_string(),
                        "line": e.line,
                        "col": e.col,
                        "key": e.key,
                        "message": e.message,
                    })
                })
                .collect();
            let v = serde_json::json!({"ok": false, "errors": list});
            out!("{}", super::output::document(o, &v));
        }
        _ => {
            eprintln!("{errs}");
            eprintln!("{} error(s)", errs.0.len());
        }
    }
}
