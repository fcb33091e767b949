//! `fleetsync-harness`: see the `fleetsync_harness` library.

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let report = fleetsync_harness::run(fleetsync_harness::Cli::parse()).await;
    eprint!("{}", report.stderr);
    print!("{}", report.stdout);
    if std::io::stdout().flush().is_err() {
        return ExitCode::from(1);
    }
    ExitCode::from(report.code)
}
