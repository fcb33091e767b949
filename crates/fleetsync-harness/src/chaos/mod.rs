//! `fleetsync-harness chaos`: reliability and security, measured. Each scenario builds a
//! throw-away fleet on the simulator ([`start_fleet`]), injects faults, and reports figures, each with its
//! target and whether it was met:
//!
//! - [`faults`]: 5xx, connection resets, random secondary-limit 403s and a GitHub outage in
//!   the middle of a cold start; converge within 3 runs, no duplicate or orphan repo, no
//!   panic, every failure recorded with its cause;
//! - [`crashes`]: fleetd SIGKILLed at random points of a cold start and restarted; converge,
//!   `integrity_check` ok, no non-idempotent write repeated;
//! - [`discovery`]: DSS 500, timeout, empty, partial and malformed listings; no removal,
//!   `/readyz` and the metrics show it;
//! - [`ownership`]: hand-made repos, a second install in the organisation and a state file
//!   lost mid-grace; no write to a repo the writer does not own, no wrong removal;
//! - [`security`]: canary secrets absent from logs, SQLite, metrics, API bodies and plans;
//!   POSTs need the token; loopback bind by default; world-readable secret warned; the
//!   status API under load (generated in process) during a reconcile.
//!
//! The exit code is 0 when every target is met, 1 otherwise.

pub mod crashes;
pub mod discovery;
pub mod faults;
pub mod ownership;
pub mod security;

use crate::args::{ChaosArgs, ChaosScenario};
use crate::fleet::{free_port, Fleet, FleetSpec, Pacing, Secrets};
use crate::fleetd::Fleetd;
use crate::Report;
use fleetsync_sim::github::GithubSimSettings;
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::Duration;

/// Every secret value of a chaos fleet contains this marker; finding it anywhere it should
/// not be is a leak.
pub const CANARY: &str = "CANARY";

/// The chaos fleets' credentials and secret values (each carrying [`CANARY`]).
pub const SECRETS: Secrets = Secrets {
    dss_key: "CANARY-dss-api-key-93ab",
    gh_token: "ghp_CANARY-github-token-41f2",
    api_token: "CANARY-api-token-7c1e",
    dev_token: "CANARY-dev-ci-token-0d9e",
    staging_token: "CANARY-staging-ci-token-5a77",
    prod_token: "CANARY-prod-ci-token-e210",
    client_cert:
        "-----BEGIN CERTIFICATE-----\nCANARY-client-certificate-b3c4\n-----END CERTIFICATE-----\n",
};

/// GitHub limits high enough that a fleet converges without waiting out the documented
/// limits (the chaos knobs add their own secondary-limit answers). The primary limit is raised
/// too: a 500-repo cold start needs more than a PAT's 5,000 requests an hour, so against real
/// GitHub it is paced by the primary limit over more than an hour, which is not what the
/// fault scenario measures.
pub fn roomy_github() -> GithubSimSettings {
    GithubSimSettings {
        primary_limit: 1_000_000,
        content_writes_per_minute: 100_000,
        content_writes_per_hour: 1_000_000,
        points_per_minute: 1_000_000,
        ..Default::default()
    }
}

/// A chaos fleet: the simulated DSS node (`projects` projects, `plugins` dev plugins, the
/// inventory and fault injection seeded with `seed`) and GitHub, and a config for fleetd on
/// a free port (runs only when triggered, JSON logs at `info`, a 2 s DSS timeout).
pub async fn start_fleet(
    projects: usize,
    plugins: usize,
    github: GithubSimSettings,
    seed: u64,
) -> Result<Fleet, String> {
    let mut spec = FleetSpec::new(projects, plugins, github, SECRETS);
    spec.dss.seed = seed;
    let mut fleet = Fleet::start(spec).await?;
    fleet.listen_port = free_port()?;
    fleet.schedule = "0 0 0 1 1 *".into();
    fleet.log_format = Some("json".into());
    fleet.log_level = Some("info".into());
    fleet.dss_timeout = Some("2s".into());
    fleet.pacing = Pacing {
        concurrency: 8,
        max_in_flight: 16,
        writes_per_minute: 1_000_000,
        writes_per_hour: 10_000_000,
        points_per_minute: 1_000_000,
        time_scale: 1,
        request_timeout: Some("10s".into()),
    };
    fleet.write_config()?;
    Ok(fleet)
}

/// Starts fleetd on a chaos fleet (output appended to `log`) and waits until it answers.
pub async fn start_fleetd(bin: &Path, fleet: &Fleet, log: &Path) -> Result<Fleetd, String> {
    Fleetd::start(bin, fleet, log, Duration::from_secs(30)).await
}

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
        ChaosScenario::Ownership,
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
        let mut figs = Figures::new(match s {
            ChaosScenario::Faults => "faults",
            ChaosScenario::Crashes => "crashes",
            ChaosScenario::Discovery => "discovery",
            ChaosScenario::Security => "security",
            ChaosScenario::Ownership => "ownership",
        });
        let ran = match s {
            ChaosScenario::Faults => faults::run(args, &mut figs).await,
            ChaosScenario::Crashes => crashes::run(args, &mut figs).await,
            ChaosScenario::Discovery => discovery::run(args, &mut figs).await,
            ChaosScenario::Security => security::run(args, &mut figs).await,
            ChaosScenario::Ownership => ownership::run(args, &mut figs).await,
        };
        if let Err(e) = ran {
            figs.setup_failed(e);
        }
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

/// The outcome of a chaos run: `{"passed", "figures"}` and the exit code (0 when every
/// target is met, 1 otherwise).
pub fn outcome(figs: &[Figure]) -> (serde_json::Value, u8) {
    let ok = figs.iter().all(|f| f.pass);
    (
        serde_json::json!({"passed": ok, "figures": figs}),
        if ok { 0 } else { 1 },
    )
}

/// `fleetsync-harness chaos`.
pub async fn run(args: &ChaosArgs) -> Report {
    let figs = run_scenarios(args).await;
    let (v, code) = outcome(&figs);
    let stdout = if args.json {
        let text = serde_json::to_string_pretty(&v).unwrap_or_else(|_| v.to_string());
        format!("{text}\n")
    } else {
        let verdict = if code == 0 {
            "every target met"
        } else {
            "some targets missed"
        };
        format!("{}{verdict}\n", render_table(&figs))
    };
    Report {
        stdout,
        stderr: String::new(),
        code,
    }
}
