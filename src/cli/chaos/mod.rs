//! `fleetctl chaos`: reliability and security, measured. Each scenario builds a throw-away
//! fleet on the simulator ([`fleet`]), injects faults, and reports figures, each with its
//! target and whether it was met:
//!
//! - [`faults`]: 5xx, connection resets, random secondary-limit 403s and a GitHub outage in
//!   the middle of a cold start; converge within 3 runs, no duplicate or orphan repo, no
//!   panic, every failure recorded with its cause;
//! - [`crashes`]: fleetd SIGKILLed at random points of a cold start and restarted; converge,
//!   `integrity_check` ok, no non-idempotent write repeated;
//! - [`discovery`]: DSS 500, timeout, empty, partial and malformed listings; no removal,
//!   `/readyz` and the metrics show it;
//! - [`security`]: canary secrets absent from logs, SQLite, metrics, API bodies and plans;
//!   POSTs need the token; loopback bind by default; world-readable secret warned; the
//!   status API under load (generated in process) during a reconcile.
//!
//! The exit code is 0 when every target is met, 1 otherwise.

pub mod crashes;
pub mod discovery;
pub mod faults;
pub mod fleet;
pub mod load;
pub mod security;

use super::args::{ChaosArgs, ChaosScenario, Output};
use serde::Serialize;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub scenario: &'static str,
    pub name: String,
    pub value: String,
    pub target: String,
    pub pass: bool,
}

/// The figures of a scenario, in order.
#[derive(Debug, Default)]
pub struct Figures {
    pub scenario: &'static str,
    pub items: Vec<Figure>,
}

impl Figures {
    pub fn new(scenario: &'static str) -> Self {
        Figures {
            scenario,
            items: Vec::new(),
        }
    }
    /// Adds a figure.
    pub fn add(&mut self, name: &str, value: impl ToString, target: &str, pass: bool) {
        self.items.push(Figure {
            scenario: self.scenario,
            name: name.to_string(),
            value: value.to_string(),
            target: target.to_string(),
            pass,
        });
    }
    /// Adds a count whose target is zero.
    pub fn zero(&mut self, name: &str, n: u64) {
        self.add(name, n, "0", n == 0);
    }
    /// A scenario that could not run at all.
    pub fn setup_failed(&mut self, e: String) {
        self.add("scenario ran", format!("no: {e}"), "yes", false);
    }
}

static PANICS: AtomicU64 = AtomicU64::new(0);
static HOOK: Once = Once::new();

/// Panics seen in this process since the chaos hook was installed.
pub fn panics() -> u64 {
    PANICS.load(Ordering::Relaxed)
}

/// Installs a panic hook that counts panics (then runs the previous hook).
pub fn count_panics() {
    HOOK.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::Relaxed);
            prev(info);
        }));
    });
}

/// Runs the scenarios of `args` and returns every figure.
pub async fn run_scenarios(args: &ChaosArgs) -> Vec<Figure> {
    count_panics();
    let all = [
        ChaosScenario::Faults,
        ChaosScenario::Crashes,
        ChaosScenario::Discovery,
        ChaosScenario::Security,
    ];
    let chosen: Vec<ChaosScenario> = if args.scenarios.is_empty() {
        all.to_vec()
    } else {
        all.into_iter()
            .filter(|s| args.scenarios.contains(s))
            .collect()
    };
    let mut out = Vec::new();
    for s in chosen {
        eprintln!("chaos: running {s:?}");
        let figs = match s {
            ChaosScenario::Faults => faults::run(args).await,
            ChaosScenario::Crashes => crashes::run(args).await,
            ChaosScenario::Discovery => discovery::run(args).await,
            ChaosScenario::Security => security::run(args).await,
        };
        out.extend(figs.items);
    }
    out
}

/// Renders the figures as a Markdown table.
pub fn render_table(figs: &[Figure]) -> String {
    let mut s =
        String::from("| scenario | figure | measured | target | met |\n|---|---|---|---|---|\n");
    for f in figs {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            f.scenario,
            f.name,
            f.value.replace('|', "\\|"),
            f.target,
            if f.pass { "yes" } else { "**no**" }
        ));
    }
    s
}

/// `fleetctl chaos`.
pub async fn run(args: &ChaosArgs, output: Output) -> ExitCode {
    crate::daemon::logging::init(crate::config::LogFormat::Text, "error");
    let figs = run_scenarios(args).await;
    let ok = figs.iter().all(|f| f.pass);
    if args.json || output == Output::Json {
        let v = serde_json::json!({"passed": ok, "figures": figs});
        println!(
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_else(|_| v.to_string())
        );
    } else {
        print!("{}", render_table(&figs));
        println!(
            "{}",
            if ok {
                "every target met"
            } else {
                "some targets missed"
            }
        );
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
