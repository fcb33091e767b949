//! `fleetctl config check`: validate a config and report every error with its place.

use super::args::Output;
use super::EXIT_USAGE;
use std::path::Path;
use std::process::ExitCode;

/// Loads the config; prints the result.
pub fn run(path: &Path, output: Output) -> ExitCode {
    match crate::config::load(path) {
        Ok(cfg) => {
            match output {
                Output::Json => println!(
                    "{}",
                    serde_json::json!({
                        "ok": true,
                        "file": path.display().to_string(),
                        "dss_nodes": cfg.raw.dss.len(),
                        "warnings": cfg.warnings,
                    })
                ),
                Output::Text => {
                    for w in &cfg.warnings {
                        eprintln!("warning: {w}");
                    }
                    println!(
                        "{}: ok ({} DSS node(s), GitHub owner {:?}, {} file(s), {} variable(s), {} secret(s))",
                        path.display(),
                        cfg.raw.dss.len(),
                        cfg.raw.github.owner,
                        cfg.raw.repo.files.len(),
                        cfg.raw.repo.variables.len(),
                        cfg.raw.repo.secrets.len(),
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(errs) => {
            match output {
                Output::Json => {
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
                    println!("{}", serde_json::json!({"ok": false, "errors": list}));
                }
                Output::Text => eprintln!("{errs}"),
            }
            ExitCode::from(EXIT_USAGE)
        }
    }
}
