//! `fleetctl`: see `fleetsync::cli`.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = fleetsync::cli::Cli::parse();
    fleetsync::cli::run(cli).await
}
