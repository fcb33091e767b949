//! The fleet-level phase, beside the per-repo converge: the org-scoped secrets and variables
//! (`scope = "org"`). Each is one organisation secret or variable with `visibility =
//! "selected"`, and the repositories selected to read it are the fleet's: the repos of this
//! run that want it (their ids as the converge pass read or created them), plus the managed
//! repos the run did not reach (a failed observe never takes access away), minus nothing
//! else. A hand-added repository is drift. One write per item and run at most: value and
//! selection together, or the selection alone; rotating a fleet-wide secret is one request.
//!
//! Records: one resource row per item (`org-secret:acme/NAME`, its `repo` column the org)
//! with the value's fingerprint, GitHub's `updated_at` after fleetsync's write (secrets), and
//! in `observed_fp` the fingerprint of the selection GitHub held after the run.

use super::converge::PassContext;
use super::engine::Engine;
use super::naming::RunState;
use crate::apply::{apply_repo, Outcome, RepoResult};
use crate::desired::{build_org, OrgSpec, RepoSpec};
use crate::observe::{observe_org, ObservedOrg};
use crate::plan::{
    desired_org_resources, plan_org, selection_fp, Kind, LastApplied, OrgDiffInput, RepoError,
    RepoPlan, Selection, Stage,
};
use crate::store::{now_text, NewDriftEvent, ResourceRecord};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// One repo's part in the fleet-level phase: the org-scoped names it reads.
#[derive(Debug, Clone)]
pub struct OrgMember {
    /// `owner/name`.
    pub full: String,
    pub secrets: BTreeSet<String>,
    pub variables: BTreeSet<String>,
}

/// The members the converge pass met, collected as repos finish.
#[derive(Default)]
pub struct OrgMembers(Mutex<Vec<OrgMember>>);

impl OrgMembers {
    /// Notes a repo that reads org-scoped values.
    pub fn add(&self, spec: &RepoSpec) {
        if spec.org_secrets.is_empty() && spec.org_variables.is_empty() {
            return;
        }
        if let Ok(mut m) = self.0.lock() {
            m.push(OrgMember {
                full: spec.full_name(),
                secrets: spec.org_secrets.clone(),
                variables: spec.org_variables.clone(),
            });
        }
    }

    fn take(&self) -> Vec<OrgMember> {
        self.0
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }
}

/// What the phase produced.
#[derive(Default)]
pub struct OrgOutcome {
    pub plan: Option<RepoPlan>,
    pub result: Option<RepoResult>,
    pub errors: Vec<RepoError>,
}

/// What decides the selections besides the members.
pub struct SelectionRules<'a> {
    pub state: &'a RunState,
    /// Repos the guard allowed to be archived or deleted this run (lower-cased).
    pub removed: BTreeSet<String>,
    /// A run limited to some projects never takes access away.
    pub partial: bool,
}

fn org_error(org: &str, stage: Stage, cause: &str, reason: String) -> RepoError {
    RepoError {
        repo: org.to_string(),
        stage,
        cause: cause.to_string(),
        reason,
    }
}

impl Engine {
    /// The fleet-level phase: build → observe → plan → apply → record for the org.
    pub(super) async fn converge_org(
        &self,
        ctx: &PassContext<'_>,
        rules: &SelectionRules<'_>,
    ) -> OrgOutcome {
        let members = ctx.org_members.take();
        let mut out = OrgOutcome::default();
        let spec = self.org_spec(ctx, &mut out);
        if spec.is_empty() {
            return out;
        }
        let org = spec.org.clone();
        let obs = match observe_org(&self.gh, &spec).await {
            Ok(o) => o,
            Err(e) => {
                out.errors.push(org_error(
                    &org,
                    Stage::Observe,
                    e.cause(),
                    format!("could not observe the org's secrets and variables: {e}"),
                ));
                return out;
            }
        };
        let last = match self.org_last_applied(&org) {
            Ok(l) => l,
            Err(e) => {
                out.errors
                    .push(org_error(&org, Stage::State, "store", e.to_string()));
                ctx.fault(e);
                return out;
            }
        };
        let (secret_repos, variable_repos) =
            self.selections(&spec, &obs, &members, rules, ctx.dry_run);
        let input = OrgDiffInput {
            spec: &spec,
            obs: &obs,
            last: &last,
            secret_repos: &secret_repos,
            variable_repos: &variable_repos,
        };
        let plan = plan_org(&input, ctx.mode);
        if !(ctx.dry_run || ctx.faulted()) {
            self.apply_org(ctx, &input, &plan, &mut out).await;
        }
        out.plan = Some(plan);
        out
    }

    /// The org-level spec; a secret whose source cannot be read is an error and left as
    /// GitHub has it (value and selection).
    fn org_spec(&self, ctx: &PassContext<'_>, out: &mut OrgOutcome) -> OrgSpec {
        let (mut spec, bad) = build_org(&self.config, ctx.fp_key);
        for e in bad {
            out.errors.push(org_error(
                &spec.org,
                Stage::Desire,
                "secret_source",
                format!("org secret {}: {}", e.name, e.reason),
            ));
            spec.secrets.remove(&e.name);
        }
        spec
    }

    /// Applies the org's plan and records what it did; a record that cannot be written is
    /// an error and a fault (no later GitHub write in this run).
    async fn apply_org(
        &self,
        ctx: &PassContext<'_>,
        input: &OrgDiffInput<'_>,
        plan: &RepoPlan,
        out: &mut OrgOutcome,
    ) {
        let org = &input.spec.org;
        let result = if plan.steps.is_empty() {
            None
        } else {
            Some(apply_repo(&ctx.apply, plan).await)
        };
        let updated = self.org_secrets_updated(input.spec, result.as_ref()).await;
        let facts = OrgRecordFacts {
            spec: input.spec,
            obs: input.obs,
            last: input.last,
            plan,
            result: result.as_ref(),
            secret_repos: input.secret_repos,
            variable_repos: input.variable_repos,
            secrets_updated: &updated,
        };
        if let Err(e) = self.record_org(ctx.apply.run_id, &facts) {
            out.errors
                .push(org_error(org, Stage::Record, "store", e.to_string()));
            ctx.fault(super::status::RunError::store(
                format!("recording {org}"),
                e,
            ));
        }
        out.result = result;
    }

    /// What fleetsync last wrote to the org's secrets and variables.
    fn org_last_applied(&self, org: &str) -> Result<LastApplied, super::status::RunError> {
        let rs = self.store.list_resources(Some(org)).map_err(|e| {
            super::status::RunError::store(format!("reading what was applied to {org}"), e)
        })?;
        let mut l = LastApplied::default();
        for r in rs {
            if let Some(sel) = &r.observed_fp {
                l.selections.insert(r.address.clone(), sel.clone());
            }
            l.by_address
                .insert(r.address, (r.applied_fp, r.remote_updated_at));
        }
        Ok(l)
    }

    /// The repositories that should read each org secret and variable.
    fn selections(
        &self,
        spec: &OrgSpec,
        obs: &ObservedOrg,
        members: &[OrgMember],
        rules: &SelectionRules<'_>,
        dry_run: bool,
    ) -> (BTreeMap<String, Selection>, BTreeMap<String, Selection>) {
        let managed: BTreeSet<String> = rules
            .state
            .managed
            .iter()
            .filter(|r| r.is_live())
            .map(|r| r.name.to_ascii_lowercase())
            .collect();
        let met: BTreeSet<String> = members
            .iter()
            .map(|m| m.full.to_ascii_lowercase())
            .collect();
        let one = |wants: &dyn Fn(&OrgMember) -> bool, current: Option<&Selection>| {
            let mut sel = Selection::new();
            for m in members.iter().filter(|m| wants(m)) {
                // A new repo that was not created (a failed step) has no id: not selected.
                match (self.gh.repo_id(&m.full), dry_run) {
                    (Some(id), _) => {
                        sel.insert(m.full.to_ascii_lowercase(), id);
                    }
                    // A dry run shows the repos a real run would add.
                    (None, true) => {
                        sel.insert(m.full.to_ascii_lowercase(), 0);
                    }
                    (None, false) => {}
                }
            }
            for (full, id) in current.into_iter().flatten() {
                let keep = rules.partial
                    || (managed.contains(full)
                        && !met.contains(full)
                        && !rules.removed.contains(full));
                if keep {
                    sel.insert(full.clone(), *id);
                }
            }
            sel
        };
        let secrets = spec
            .secrets
            .keys()
            .map(|n| {
                let cur = obs.secrets.get(n).map(|o| &o.repos);
                (n.clone(), one(&|m: &OrgMember| m.secrets.contains(n), cur))
            })
            .collect();
        let variables = spec
            .variables
            .keys()
            .map(|n| {
                let cur = obs.variables.get(n).map(|o| &o.repos);
                (
                    n.clone(),
                    one(&|m: &OrgMember| m.variables.contains(n), cur),
                )
            })
            .collect();
        (secrets, variables)
    }

    /// GitHub's `updated_at` of the org secrets, read back after writing one (the baseline
    /// that tells a later hand edit from fleetsync's own write).
    async fn org_secrets_updated(
        &self,
        spec: &OrgSpec,
        result: Option<&RepoResult>,
    ) -> BTreeMap<String, String> {
        // A selection write may move `updated_at` too (GitHub does not say): read it back
        // after either, so the next run does not take fleetsync's own write for drift.
        let wrote = result.is_some_and(|r| {
            r.results.iter().any(|s| {
                s.outcome == Outcome::Ok
                    && matches!(
                        s.step.op,
                        crate::plan::Op::PutOrgSecret { .. }
                            | crate::plan::Op::SetOrgSelection {
                                of: crate::plan::OrgItemKind::Secret,
                                ..
                            }
                    )
            })
        });
        if !wrote {
            return BTreeMap::new();
        }
        match self.gh.list_org_secrets(&spec.org).await {
            Ok(list) => list
                .into_iter()
                .map(|s| {
                    (
                        s.name.to_ascii_uppercase(),
                        s.updated_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    )
                })
                .collect(),
            Err(e) => {
                tracing::warn!(org = %spec.org, error = %e, "could not read back the org secrets' updated_at");
                BTreeMap::new()
            }
        }
    }
}

/// What recording the org reads.
struct OrgRecordFacts<'a> {
    spec: &'a OrgSpec,
    obs: &'a ObservedOrg,
    last: &'a LastApplied,
    plan: &'a RepoPlan,
    result: Option<&'a RepoResult>,
    secret_repos: &'a BTreeMap<String, Selection>,
    variable_repos: &'a BTreeMap<String, Selection>,
    secrets_updated: &'a BTreeMap<String, String>,
}

impl Engine {
    /// Records the org's resources and drift. A resource whose step failed keeps what was
    /// recorded before; one in line (or written) records the desired value and selection.
    fn record_org(
        &self,
        run_id: Option<i64>,
        f: &OrgRecordFacts<'_>,
    ) -> Result<(), crate::store::StoreError> {
        let org = &f.spec.org;
        let now = now_text();
        let recs: Vec<ResourceRecord> = desired_org_resources(f.spec)
            .into_iter()
            .map(|res| org_resource_record(f, res, &now))
            .collect();
        self.store.upsert_resources(&recs)?;
        let events: Vec<NewDriftEvent> = f
            .plan
            .drift
            .iter()
            .map(|d| NewDriftEvent {
                run_id,
                repo: org.clone(),
                address: d.address.to_string(),
                kind: d.kind.to_string(),
                what: d.what.clone(),
                repaired: d.repair && matches!(f.outcome(d.address.as_str()), Some(Outcome::Ok)),
            })
            .collect();
        if !events.is_empty() {
            self.store.record_drift(&events)?;
        }
        Ok(())
    }
}

impl OrgRecordFacts<'_> {
    /// The outcome of the step at `addr`, when this run applied one.
    fn outcome(&self, addr: &str) -> Option<&Outcome> {
        self.result
            .and_then(|r| r.results.iter().find(|s| s.step.address == *addr))
            .map(|s| &s.outcome)
    }
}

/// The record of one org-level resource after this run: what was applied (its fingerprint
/// and selection), its status and error, and when GitHub last updated a secret.
fn org_resource_record(
    f: &OrgRecordFacts<'_>,
    res: crate::plan::DesiredResource,
    now: &str,
) -> ResourceRecord {
    let addr = res.address.to_string();
    let name = res.address.item_name().unwrap_or_default().to_string();
    let (want, observed) = match res.kind() {
        Kind::OrgSecret => (f.secret_repos.get(&name), f.obs.secrets.get(&name)),
        _ => (f.variable_repos.get(&name), f.obs.variables.get(&name)),
    };
    let (prev_fp, prev_remote) = f
        .last
        .by_address
        .get(&addr)
        .cloned()
        .unwrap_or((None, None));
    let unrepaired = f.plan.drift.iter().any(|d| d.address == addr && !d.repair);
    let planned = f.plan.steps.iter().any(|s| s.address == addr);
    let held = observed.map(|o| selection_fp(&o.repos));
    let wanted = want.map(selection_fp);
    let (applied_fp, sel_fp, status, error) = match (unrepaired, planned, f.outcome(&addr)) {
        (true, _, _) => (prev_fp, held, "drifted", None),
        (false, false, _) => (Some(res.fingerprint.clone()), wanted, "in_sync", None),
        (false, true, Some(Outcome::Ok)) => {
            (Some(res.fingerprint.clone()), wanted, "in_sync", None)
        }
        (false, true, Some(Outcome::Failed(m))) => (prev_fp, held, "error", Some(m.clone())),
        (false, true, Some(Outcome::Skipped(m))) => (prev_fp, held, "pending", Some(m.clone())),
        (false, true, None) => (prev_fp, held, "pending", None),
    };
    let remote_updated_at = if res.kind() == Kind::OrgSecret {
        f.secrets_updated
            .get(&name)
            .cloned()
            .or(prev_remote)
            .or_else(|| {
                observed.map(|o| {
                    o.updated_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                })
            })
    } else {
        None
    };
    ResourceRecord {
        address: addr,
        repo: f.spec.org.clone(),
        kind: res.kind().to_string(),
        desired_fp: Some(res.fingerprint),
        applied_fp,
        observed_fp: sel_fp,
        applied_at: (status == "in_sync" && planned).then(|| now.to_string()),
        remote_updated_at,
        status: status.to_string(),
        last_error: error,
        updated_at: now.to_string(),
    }
}
