//! `fleetctl`: the command-line front end. Each subcommand lives in its own file; the binary
//! in `src/bin/fleetctl.rs` only parses arguments and calls [`run`].

mod args;
mod config_check;

pub use args::{Cli, Command, ConfigCommand};

use std::process::ExitCode;

/// Exit code for "the input is wrong" (bad config, bad flags).
pub const EXIT_USAGE: u8 = 2;

/// Runs one `fleetctl` invocation.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Config {
            command: ConfigCommand::Check { config },
        } => config_check::run(&config, cli.output),
    }
}
