//! `fleetctl`: the command-line front end. Each subcommand lives in its own file; the binary
//! in `src/bin/fleetctl.rs` only parses arguments and calls [`run`].

/// `print!` for fleetctl's stdout, through [`output::emit`]: a reader that went away
/// (`fleetctl plan | head`) ends fleetctl quietly instead of with a panic.
macro_rules! out {
    ($($t:tt)*) => {
        $crate::cli::output::emit(&format!($($t)*))
    };
}

/// `println!` through [`output::emit`].
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::cli::output::emit(&format!("{}\n", format_args!($($t)*)))
    };
}

mod apply;
mod args;
mod config_check;
mod daemon_client;
mod local;
mod output;
mod ownership;
mod remote;
mod views;

pub use args::{
    ApplyArgs, Cli, Command, ConfigCommand, DaemonArgs, Output, PlanArgs, ReconcileArgs,
    SecretsCommand,
};

pub use output::{document, Table};
use remote::View;
use std::process::ExitCode;

/// `fleetctl completion SHELL`: the script on stdout.
fn completion(shell: clap_complete::Shell) -> ExitCode {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "fleetctl", &mut script);
    output::emit(&String::from_utf8_lossy(&script));
    ExitCode::SUCCESS
}

/// Exit code for "the input is wrong" (bad config, bad flags).
pub const EXIT_USAGE: u8 = 2;

/// Runs one `fleetctl` invocation.
pub async fn run(mut cli: Cli) -> ExitCode {
    let out = cli.output;
    if let Some(daemon) = cli.command.daemon_args_mut() {
        for warning in daemon.fill_deprecated_env(|name| std::env::var(name).ok()) {
            eprintln!("{warning}");
        }
    }
    match cli.command {
        Command::Completion { shell } => completion(shell),
        Command::Config {
            command:
                ConfigCommand::Check {
                    config,
                    skip_secrets,
                },
        } => config_check::run(&config, skip_secrets, out),
        Command::Status { daemon } => remote::show(View::Status, &daemon, out).await,
        Command::Repos { name, daemon } => remote::show(View::Repos(name), &daemon, out).await,
        Command::Drift {
            repo,
            limit,
            daemon,
        } => remote::show(View::Drift { repo, limit }, &daemon, out).await,
        Command::Events {
            repo,
            limit,
            daemon,
        } => remote::show(View::Events { repo, limit }, &daemon, out).await,
        Command::Runs { id, limit, daemon } => {
            remote::show(View::Runs { id, limit }, &daemon, out).await
        }
        Command::Suspend { repo, daemon } => remote::suspend(true, repo, &daemon, out).await,
        Command::Resume { repo, daemon } => remote::suspend(false, repo, &daemon, out).await,
        Command::Reconcile(args) if args.local => local::reconcile(&args, out).await,
        Command::Reconcile(args) => remote::reconcile_now(&args, out).await,
        Command::Plan(args) if args.remote => remote::plan(&args, out).await,
        Command::Plan(args) => local::plan(&args, out).await,
        Command::Apply(args) => apply::run(&args, out).await,
        Command::Sim { config } => local::sim(&config).await,
        Command::Adopt { repos, yes, config } => ownership::adopt(&config, &repos, yes, out).await,
        Command::Secrets {
            command: SecretsCommand::Rotate { config },
        } => ownership::rotate(&config, out),
    }
}
