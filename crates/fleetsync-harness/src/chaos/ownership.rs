//! Ownership: what fleetsync writes to and removes when it is not alone in the organisation.
//! One simulated GitHub whose organisation defines the marker property, and on it:
//!
//! - install A (its own DSS node) with a tenth of its repo names already taken by
//!   hand-made repos (their own workflow file and secret);
//! - install B (a second DSS node with the same projects plus a few of its own, no
//!   `repo_prefix`), so every name of A's is also one of B's;
//! - both run in turn several times; then projects go from both nodes (delete policy, a
//!   short grace period), A's state file is deleted in the middle of the grace period, and
//!   the runs go on until a full grace period after A's restart.
//!
//! Every write of a run is attributed to the install that ran it. Figures: writes to repos the
//! writer does not own (the hand-made ones, the other install's), removals of repos the
//! remover does not own or whose project still exists, the hand-made repos left as their
//! teams made them, the conflicts each install reports, the rebuild after the state loss
//! (secrets rewritten, the removal timed from the restart).

use super::{roomy_github, start_fleet, Figures};
use crate::args::ChaosArgs;
use crate::fleet::Fleet;
use fleetsync_sim::github::{GithubSimSettings, RequestRecord, SimCustomProperty};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The grace period of both installs.
const GRACE: Duration = Duration::from_secs(4);

/// What the scenario counted.
#[derive(Default)]
struct Tally {
    unowned_writes: Vec<String>,
    wrong_removals: Vec<String>,
    duplicate_creations: u64,
}

/// One install on the shared GitHub.
struct Install {
    name: &'static str,
    fleet: Fleet,
    install_id: String,
}

impl Install {
    /// Writes the config pointing at the shared GitHub (`gh_url`).
    fn write_config(&self, gh_url: &str) -> Result<(), String> {
        let text = self.fleet.config_text().replace(&self.fleet.gh.url, gh_url);
        std::fs::write(&self.fleet.config_path, text).map_err(|e| e.to_string())
    }

    /// The source keys its node lists now.
    fn keys(&self) -> BTreeSet<String> {
        self.fleet.dss.handle.project_keys().into_iter().collect()
    }
}

fn github() -> GithubSimSettings {
    GithubSimSettings {
        custom_properties: vec![SimCustomProperty::org_string("fleetsync")],
        ..roomy_github()
    }
}

/// `owner/name` of a request's repo, when it is a repo route.
fn repo_of(r: &RequestRecord) -> Option<String> {
    let rest = r.path.strip_prefix("/repos/")?;
    let mut parts = rest.splitn(3, '/');
    Some(format!("{}/{}", parts.next()?, parts.next()?).to_ascii_lowercase())
}

/// Whose marker a repo carries now (`None`: none).
fn marker_install(shared: &Fleet, repo: &str) -> Option<String> {
    let v = shared.gh.handle.repo(repo)?;
    let value = v.custom_properties.get("fleetsync")?.as_str()?.to_string();
    let rest = value.strip_prefix("fleetsync:")?;
    rest.split(' ').next().map(str::to_string)
}

/// Runs one install and attributes the run's writes: a write to a repo that does not carry
/// the runner's marker after the run (it did not create it) is a write to an unowned repo;
/// a DELETE or an archive of a repo that is not the runner's, or whose project its node still
/// lists, is a wrong removal.
async fn run_one(shared: &Fleet, who: &Install, tally: &mut Tally) -> Result<(), String> {
    who.write_config(&shared.gh.url)?;
    shared.gh.handle.reset_counters();
    let before: BTreeMap<String, Option<String>> = shared
        .gh
        .handle
        .repo_names()
        .into_iter()
        .map(|n| {
            let m = marker_install(shared, &n);
            (n.to_ascii_lowercase(), m)
        })
        .collect();
    let _ = who.fleet.run().await?;
    let keys = who.keys();
    for r in shared.gh.handle.requests() {
        if r.method == "GET" || r.method == "HEAD" {
            continue;
        }
        if r.method == "POST" && r.route == "/orgs/{org}/repos" {
            tally.duplicate_creations += u64::from(r.status == 422);
            continue;
        }
        let Some(repo) = repo_of(&r) else { continue };
        // Owned: it carried the runner's marker before the run, or the run created it.
        let owned = match before.get(&repo) {
            Some(m) => m.as_deref() == Some(who.install_id.as_str()),
            None => marker_install(shared, &repo).as_deref() == Some(who.install_id.as_str()),
        };
        let line = format!("{}: {} {} {}", who.name, r.method, r.path, r.status);
        if !owned {
            tally.unowned_writes.push(line.clone());
        }
        let removal = r.method == "DELETE" && r.route == "/repos/{owner}/{repo}"
            || (r.method == "PATCH"
                && r.route == "/repos/{owner}/{repo}"
                && shared.gh.handle.repo(&repo).is_some_and(|v| v.archived));
        if removal {
            let listed = keys
                .iter()
                .any(|k| repo.ends_with(&format!("/dss-{}", k.to_ascii_lowercase())));
            if !owned || listed {
                tally.wrong_removals.push(line);
            }
        }
    }
    Ok(())
}

/// A repo made by hand at `full`: its own workflow file and secret.
fn hand_make(shared: &Fleet, full: &str) -> bool {
    let Some((org, name)) = full.split_once('/') else {
        return false;
    };
    shared.gh.handle.create_repo_directly(org, name)
        && shared
            .gh
            .handle
            .edit_file(full, None, ".github/workflows/pr.yml", b"team: own\n")
        && shared
            .gh
            .handle
            .overwrite_secret(full, "DATAIKU_INSTANCE_DEV_CI_API_TOKEN", "team")
}

fn intact(shared: &Fleet, full: &str) -> bool {
    shared.gh.handle.repo(full).is_some_and(|v| {
        v.files.get(".github/workflows/pr.yml").map(Vec::as_slice) == Some(b"team: own\n")
            && v.secrets
                .get("DATAIKU_INSTANCE_DEV_CI_API_TOKEN")
                .is_some_and(|s| s.value == "team")
            && !v.archived
            && v.custom_properties.is_empty()
    })
}

async fn install(
    name: &'static str,
    projects: usize,
    seed: u64,
    shared_url: Option<&str>,
) -> Result<Install, String> {
    let mut fleet = start_fleet(projects, 0, github(), seed).await?;
    fleet.github_extra = format!(
        "grace_period = \"{}s\"\ndeletion_policy = \"delete\"\nmax_deletions_per_run = 1000\n",
        GRACE.as_secs()
    );
    fleet.write_config()?;
    let install_id = fleet.config()?.install_id.clone();
    let i = Install {
        name,
        fleet,
        install_id,
    };
    if let Some(url) = shared_url {
        i.write_config(url)?;
    }
    Ok(i)
}

/// Runs the scenario, adding its figures to `figs`; an error means it could not run.
pub async fn run(args: &ChaosArgs, figs: &mut Figures) -> Result<(), String> {
    let n = args.ownership_projects.max(10);
    let a = install("A", n, args.seed, None).await?;
    let b = install("B", n, args.seed, Some(&a.fleet.gh.url)).await?;
    for i in 0..3 {
        b.fleet
            .dss
            .handle
            .add_project(&format!("B_ONLY_{i}"), "B's own", &[]);
    }
    let shared = &a.fleet;
    let wanted = a.fleet.wanted_project_repos();
    let hand: Vec<String> = wanted.iter().step_by(10).cloned().collect();
    for h in &hand {
        if !hand_make(shared, h) {
            return Err(format!("could not make {h} by hand"));
        }
    }
    let mut tally = Tally::default();
    let mut conflicts = (0, 0);
    for _ in 0..3 {
        run_one(shared, &a, &mut tally).await?;
        run_one(shared, &b, &mut tally).await?;
    }
    conflicts.0 = a.fleet.plan().await?.plan.conflicts.len();
    b.write_config(&shared.gh.url)?;
    conflicts.1 = b.fleet.plan().await?.plan.conflicts.len();
    // Projects go: one from both nodes (its repo is A's), one from A only whose name is
    // hand-made, one from A only that B still lists (B takes the name over once A has
    // removed its repo), and one of B's own.
    let a_key = |repo: &str| {
        a.keys()
            .into_iter()
            .find(|k| repo.ends_with(&format!("/dss-{}", k.to_ascii_lowercase())))
    };
    let owned_by_a: Vec<&String> = wanted.iter().filter(|w| !hand.contains(w)).collect();
    let gone_own = owned_by_a
        .first()
        .and_then(|r| a_key(r))
        .ok_or("no repo of A's")?;
    let gone_hand = a_key(&hand[0]).ok_or("no hand-made name")?;
    let handed_over = owned_by_a
        .get(1)
        .and_then(|r| a_key(r))
        .ok_or("no second repo of A's")?;
    for k in [&gone_own, &gone_hand, &handed_over] {
        a.fleet.dss.handle.remove_project(k);
    }
    b.fleet.dss.handle.remove_project(&gone_own);
    b.fleet.dss.handle.remove_project("B_ONLY_0");
    run_one(shared, &a, &mut tally).await?;
    run_one(shared, &b, &mut tally).await?;
    // A's state file is lost in the middle of the grace period.
    tokio::time::sleep(GRACE / 2).await;
    for suffix in ["", "-wal", "-shm"] {
        let p = a.fleet.dir.join(format!("state.db{suffix}"));
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| e.to_string())?;
        }
    }
    let restarted = Instant::now();
    shared.gh.handle.reset_counters();
    a.write_config(&shared.gh.url)?;
    let rebuilt = a.fleet.run().await?;
    let secrets_rewritten = shared
        .gh
        .handle
        .counters()
        .count("PUT /repos/{owner}/{repo}/actions/secrets");
    let noticed = rebuilt
        .plan
        .notices
        .iter()
        .any(|n| n.contains("STATE REBUILT FROM GITHUB"));
    let own_repo = owned_by_a[0].clone();
    // The old grace period ends: A's repo must still be there.
    tokio::time::sleep(GRACE / 2 + Duration::from_millis(500)).await;
    run_one(shared, &a, &mut tally).await?;
    run_one(shared, &b, &mut tally).await?;
    let early = shared.gh.handle.repo(&own_repo).is_none();
    // A full grace period after the restart: removed.
    let due = restarted + GRACE + Duration::from_millis(500);
    tokio::time::sleep(due.saturating_duration_since(Instant::now())).await;
    for _ in 0..2 {
        run_one(shared, &a, &mut tally).await?;
        run_one(shared, &b, &mut tally).await?;
    }
    let removed_after_grace = shared.gh.handle.repo(&own_repo).is_none();
    let b_own_gone = !shared
        .gh
        .handle
        .repo_names()
        .iter()
        .any(|n| n.ends_with("/dss-b_only_0"));
    let handed_repo = owned_by_a[1].clone();
    let handed = marker_install(shared, &handed_repo).as_deref() == Some(b.install_id.as_str());
    let intact_count = hand.iter().filter(|h| intact(shared, h)).count();
    figs.add(
        "installs, repos on GitHub, hand-made names",
        format!("2, {}, {}", shared.gh.handle.repo_names().len(), hand.len()),
        "-",
        true,
    );
    figs.zero(
        "writes to repos the writer does not own",
        tally.unowned_writes.len() as u64,
    );
    figs.zero(
        "wrong removals (not owned, or project still listed)",
        tally.wrong_removals.len() as u64,
    );
    figs.zero(
        "repo creations refused (422: a duplicate)",
        tally.duplicate_creations,
    );
    figs.add(
        "hand-made repos left as made",
        format!("{intact_count} of {}", hand.len()),
        "all",
        intact_count == hand.len(),
    );
    figs.add(
        "conflicts reported (A: hand-made, B: A's repos)",
        format!("{}, {}", conflicts.0, conflicts.1),
        "A = hand-made names, B >= A's repos",
        conflicts.0 == hand.len() && conflicts.1 >= wanted.len() - hand.len(),
    );
    figs.add(
        "state rebuilt from markers, said so",
        noticed,
        "true",
        noticed,
    );
    figs.zero("secrets rewritten after the state loss", secrets_rewritten);
    figs.add(
        "A's repo removed before a full grace period from the restart",
        early,
        "false",
        !early,
    );
    figs.add(
        "A's repo removed after a full grace period from the restart",
        removed_after_grace,
        "true",
        removed_after_grace,
    );
    figs.add("B's own repo removed", b_own_gone, "true", b_own_gone);
    figs.add(
        "a name A let go, taken by B (B still lists its project)",
        handed,
        "true",
        handed,
    );
    for line in tally
        .unowned_writes
        .iter()
        .chain(&tally.wrong_removals)
        .take(10)
    {
        eprintln!("ownership: {line}");
    }
    Ok(())
}
