//! The converge phase: each named source through build → observe → plan → apply → record,
//! streamed with bounded concurrency so only the repos in flight are held in memory. The
//! same pass serves the first round and the retry round. A state-file failure (reading what
//! fleetsync last applied, or recording a repo) stops every later write of the run.

use super::claim::Claimed;
use super::engine::Engine;
use super::record;
use super::status::RunError;
use crate::apply::{apply_repo, ApplyContext, RepoResult};
use crate::config::DriftMode;
use crate::desired::{self, SourceObject};
use crate::observe::ObservedRepo;
use crate::ownership::Ownership;
use crate::plan::{self, Conflict, Kind, LastApplied, RepoError, RepoPlan, Stage};
use futures::StreamExt;
use std::sync::Mutex;
use tokio::sync::watch;

/// What every repo of a pass shares.
pub struct PassContext<'a> {
    pub apply: ApplyContext<'a>,
    pub fp_key: &'a [u8],
    /// Where markers are written, and what may be adopted.
    pub ownership: &'a Ownership,
    /// Set when the state was rebuilt from GitHub (see [`LastApplied`]).
    pub trust_secrets_before: Option<chrono::DateTime<chrono::Utc>>,
    pub mode: DriftMode,
    pub dry_run: bool,
    pub cancel: Option<watch::Receiver<bool>>,
    /// The first state-file failure of the run; once set, nothing more is written.
    pub store_fault: Mutex<Option<RunError>>,
    /// The repos that read org-scoped secrets or variables, for the fleet-level phase.
    pub org_members: super::org::OrgMembers,
    /// Repos `fleetctl suspend --repo` took out of the runs (a real run leaves them alone).
    pub suspension: &'a crate::store::Suspension,
}

impl PassContext<'_> {
    fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| *c.borrow())
    }

    pub(super) fn faulted(&self) -> bool {
        self.store_fault.lock().map(|f| f.is_some()).unwrap_or(true)
    }

    pub(super) fn fault(&self, e: RunError) {
        if let Ok(mut f) = self.store_fault.lock() {
            if f.is_none() {
                *f = Some(e);
            }
        }
    }

    /// The run's state-file failure, if any (taken once, at the end).
    pub fn take_fault(&self) -> Option<RunError> {
        match self.store_fault.lock() {
            Ok(mut f) => f.take(),
            Err(_) => Some(RunError::Store {
                what: "the run's fault latch was poisoned".into(),
                source: crate::store::StoreError::Corrupt {
                    path: Default::default(),
                    what: "run".into(),
                    reason: "poisoned lock".into(),
                },
            }),
        }
    }
}

/// What became of one repo in a pass.
pub struct RepoOutcome {
    /// The source again when a step failed, for the retry round.
    pub retry: Option<(SourceObject, String)>,
    pub plan: Option<RepoPlan>,
    pub result: Option<RepoResult>,
    pub error: Option<RepoError>,
    /// The repo exists and is not this install's: nothing was written to it.
    pub conflict: Option<Conflict>,
    pub interrupted: bool,
}

impl RepoOutcome {
    fn failed(error: RepoError) -> Self {
        RepoOutcome {
            retry: None,
            plan: None,
            result: None,
            error: Some(error),
            conflict: None,
            interrupted: false,
        }
    }

    fn planned(plan: RepoPlan) -> Self {
        RepoOutcome {
            retry: None,
            plan: Some(plan),
            result: None,
            error: None,
            conflict: None,
            interrupted: false,
        }
    }

    /// A suspended repo: not observed, planned or written.
    fn suspended() -> Self {
        RepoOutcome {
            retry: None,
            plan: None,
            result: None,
            error: None,
            conflict: None,
            interrupted: false,
        }
    }

    fn conflict(c: Conflict) -> Self {
        RepoOutcome {
            retry: None,
            plan: None,
            result: None,
            error: None,
            conflict: Some(c),
            interrupted: false,
        }
    }
}

/// A repo that failed before its apply.
pub(super) struct Failure {
    pub(super) stage: Stage,
    pub(super) cause: &'static str,
    pub(super) reason: String,
    /// Set when the failure is the state file's: the run stops writing.
    pub(super) fault: Option<Box<RunError>>,
}

impl Failure {
    pub(super) fn new(stage: Stage, cause: &'static str, reason: String) -> Self {
        Failure {
            stage,
            cause,
            reason,
            fault: None,
        }
    }
}

/// What a pass produced, in arrival order.
#[derive(Default)]
pub struct PassOutcome {
    pub plans: Vec<RepoPlan>,
    pub results: Vec<RepoResult>,
    pub errors: Vec<RepoError>,
    pub conflicts: Vec<Conflict>,
    pub retry: Vec<(SourceObject, String)>,
    /// Repos whose GitHub reads succeeded, and those whose reads failed on GitHub's side
    /// (unreachable, 5xx, refused token): all failed and none succeeded means GitHub is down.
    pub observed: usize,
    pub unobservable: Vec<String>,
    pub interrupted: bool,
}

impl Engine {
    /// Runs one pass over `sources`; `on_done(done)` after each repo.
    pub(super) async fn converge(
        &self,
        ctx: &PassContext<'_>,
        sources: Vec<(SourceObject, String)>,
        on_done: &(dyn Fn(usize, Option<&RepoResult>) + Sync),
    ) -> PassOutcome {
        let concurrency = self.config.raw.pacing.concurrency.max(1) as usize;
        // Futures are made as the stream pulls them, so only `concurrency` repos (and their
        // futures) exist at a time.
        let mut stream = futures::stream::iter(sources)
            .map(|(src, name)| self.converge_one(ctx, src, name))
            .buffer_unordered(concurrency);
        let mut out = PassOutcome::default();
        let mut done = 0;
        while let Some(o) = stream.next().await {
            done += 1;
            match &o.error {
                Some(e) if e.stage == Stage::Observe && e.cause != "not_found" => {
                    out.unobservable.push(e.reason.clone())
                }
                Some(_) => {}
                None => out.observed += 1,
            }
            out.errors.extend(o.error);
            out.conflicts.extend(o.conflict);
            out.interrupted |= o.interrupted;
            if let Some(p) = o.plan {
                if !ctx.dry_run {
                    self.observer.drift(&p);
                }
                out.plans.push(p);
            }
            on_done(done, o.result.as_ref());
            if let Some(r) = o.result {
                self.observer.steps(&r);
                out.results.push(r);
            }
            out.retry.extend(o.retry);
        }
        out
    }

    /// What fleetsync last wrote to `repo`. A read failure is a store fault: without it
    /// every resource would look never written and secrets would be rewritten.
    async fn last_applied(
        &self,
        repo: &str,
        trust_secrets_before: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<LastApplied, RunError> {
        let what = |e| RunError::store(format!("reading what was applied to {repo}"), e);
        let key = repo.to_string();
        let (rs, record) = self
            .store
            .blocking(move |s| Ok((s.list_resources(Some(&key))?, s.get_repo(&key)?)))
            .await
            .map_err(what)?;
        let archived_by_fleetsync = record.is_some_and(|r| r.status == "archived");
        let mut l = LastApplied {
            archived_by_fleetsync,
            trust_secrets_before,
            ..Default::default()
        };
        for r in rs {
            let branch_files =
                r.kind == Kind::PullRequest.as_str() || r.kind == Kind::BranchFiles.as_str();
            if branch_files && r.status != "in_sync" {
                l.unconfirmed.insert(r.address.clone());
            }
            l.by_address
                .insert(r.address, (r.applied_fp, r.remote_updated_at));
        }
        Ok(l)
    }

    /// One repo through build → observe → plan → apply → record. A failure at any stage is
    /// logged with the repo named, counted, and recorded on the repo.
    async fn converge_one(
        &self,
        ctx: &PassContext<'_>,
        src: SourceObject,
        name: String,
    ) -> RepoOutcome {
        let full = format!("{}/{name}", self.config.raw.github.owner);
        match self.converge_repo(ctx, &src).await {
            Ok(mut o) => {
                if o.result.as_ref().is_some_and(|r| r.failed()) {
                    o.retry = Some((src, name));
                }
                o
            }
            Err(f) => RepoOutcome::failed(self.repo_failed(ctx, &src, &full, f)),
        }
    }

    /// Reports a repo's failure: WARN log, metric, the repo's record (unless the state file
    /// is what failed), and the run's fault latch for a state-file failure.
    fn repo_failed(
        &self,
        ctx: &PassContext<'_>,
        src: &SourceObject,
        full: &str,
        f: Failure,
    ) -> RepoError {
        tracing::warn!(repo = %full, stage = f.stage.as_str(), cause = f.cause, error = %f.reason, "repo failed");
        self.observer.repo_failed(f.stage, f.cause);
        let error = RepoError {
            repo: full.to_string(),
            stage: f.stage,
            cause: f.cause.to_string(),
            reason: f.reason,
        };
        match f.fault {
            Some(fault) => ctx.fault(*fault),
            None if !ctx.dry_run => {
                if let Err(e) =
                    record::record_failure(&self.store, ctx.apply.run_id, src, full, &error)
                {
                    ctx.fault(RunError::store(
                        format!("recording the failure of {full}"),
                        e,
                    ));
                }
                let why = format!("{}: {}", error.stage.as_str(), error.reason);
                if let Err(e) = self
                    .store
                    .record_event(ctx.apply.run_id, "error", Some(full), &why)
                {
                    tracing::warn!(repo = %full, error = %e, "cannot record the error event");
                }
            }
            None => {}
        }
        error
    }

    async fn converge_repo(
        &self,
        ctx: &PassContext<'_>,
        src: &SourceObject,
    ) -> Result<RepoOutcome, Failure> {
        let mut spec = desired::build_one(&self.config, src, ctx.fp_key)
            .map_err(|e| Failure::new(Stage::Desire, e.cause(), e.to_string()))?;
        let asked = spec.full_name();
        if !ctx.dry_run && ctx.suspension.holds(&asked) {
            // Still a member of the org-scoped items it reads: the org phase keeps its access.
            ctx.org_members.add(&spec);
            tracing::info!(repo = %asked, "suspended: left alone (fleetctl resume --repo)");
            return Ok(RepoOutcome::suspended());
        }
        let last = self.last_or_fail(&asked, ctx).await?;
        spec.retire_copies(|kind, name| {
            last.by_address
                .contains_key(&format!("{kind}:{asked}/{name}"))
        });
        spec.note_removed(last.by_address.keys().map(String::as_str));
        let settled = plan::settled_branches(&spec, &last);
        let observe_failed = |e: crate::github::GhError| {
            Failure::new(Stage::Observe, e.cause(), format!("could not observe: {e}"))
        };
        let found = self
            .gh
            .get_repo(&spec.owner, &spec.name)
            .await
            .map_err(observe_failed)?;
        let mut notes = Vec::new();
        let mut obs = match found {
            None => {
                let mode = self
                    .marker_mode(ctx.ownership)
                    .await
                    .map_err(observe_failed)?;
                let source = super::claim::source_label(&spec);
                spec.marker = Some(ctx.ownership.marker(&source, mode));
                ObservedRepo::default()
            }
            Some(repo) => {
                let claimed = self
                    .claim(ctx, &mut spec, repo, &settled, &mut notes)
                    .await?;
                match claimed {
                    Claimed::Ours(obs) => *obs,
                    Claimed::NotOurs(c) => return Ok(RepoOutcome::conflict(c)),
                }
            }
        };
        self.mark_topics(ctx, &mut spec, &obs);
        // A followed rename moved the records: read them at the new name.
        let last = match spec.full_name() {
            full if full == asked => last,
            full => self.last_or_fail(&full, ctx).await?,
        };
        if let Some(link) = &spec.dss_link {
            if let Some(client) = self.dss.iter().find(|c| c.node() == link.node) {
                obs.dss_remote = Some(crate::observe::observe_dss(client, link).await);
            }
        }
        if ctx.dry_run && obs.exists {
            // A plan shows the files it would change as diffs: read their current content.
            crate::observe::read_before(&self.gh, &spec, &mut obs)
                .await
                .map_err(observe_failed)?;
        }
        let mut p = plan::plan_repo(&spec, &obs, &last, ctx.mode);
        p.drift.extend(notes);
        Ok(self.apply_planned(ctx, &spec, p, &obs, &last).await)
    }

    async fn last_or_fail(
        &self,
        repo: &str,
        ctx: &PassContext<'_>,
    ) -> Result<LastApplied, Failure> {
        self.last_applied(repo, ctx.trust_secrets_before)
            .await
            .map_err(|e| Failure {
                stage: Stage::State,
                cause: "store",
                reason: e.to_string(),
                fault: Some(Box::new(e)),
            })
    }

    /// Applies a repo's plan (unless the run is a dry run, cancelled, or its state file
    /// failed) and records the outcome.
    async fn apply_planned(
        &self,
        ctx: &PassContext<'_>,
        spec: &crate::desired::RepoSpec,
        p: RepoPlan,
        obs: &ObservedRepo,
        last: &LastApplied,
    ) -> RepoOutcome {
        let full = spec.full_name();
        if ctx.dry_run {
            ctx.org_members.add(spec);
            return RepoOutcome::planned(p);
        }
        if ctx.cancelled() {
            let mut o = RepoOutcome::planned(p);
            o.interrupted = true;
            return o;
        }
        if ctx.faulted() && !p.steps.is_empty() {
            let reason = "not applied: the state file failed earlier in this run".to_string();
            let mut o = RepoOutcome::planned(p);
            o.error = Some(RepoError {
                repo: full,
                stage: Stage::State,
                cause: "store".into(),
                reason,
            });
            return o;
        }
        let result = if p.steps.is_empty() {
            None
        } else {
            Some(apply_repo(&ctx.apply, &p).await)
        };
        if let Some(message) = result.as_ref().and_then(|r| r.journal_error.clone()) {
            ctx.fault(RunError::Journal {
                repo: full.clone(),
                message,
            });
        }
        self.record_outcome(ctx, spec, &p, result.as_ref(), obs, last)
            .await;
        self.forget_retired(ctx, spec, obs, result.as_ref());
        ctx.org_members.add(spec);
        RepoOutcome {
            retry: None,
            plan: Some(p),
            result,
            error: None,
            conflict: None,
            interrupted: false,
        }
    }

    /// Drops the records of repo-level copies that are gone (deleted now, or not on GitHub):
    /// the name is the org's now.
    fn forget_retired(
        &self,
        ctx: &PassContext<'_>,
        spec: &crate::desired::RepoSpec,
        obs: &crate::observe::ObservedRepo,
        result: Option<&RepoResult>,
    ) {
        let full = spec.full_name();
        let deleted = |addr: &str| {
            result.is_some_and(|r| {
                r.results
                    .iter()
                    .any(|s| s.step.address == *addr && s.outcome == crate::apply::Outcome::Ok)
            })
        };
        let mut gone = Vec::new();
        for (kind, names, present) in [
            ("secret", &spec.retired_secrets, &|n: &String| {
                obs.secrets.contains_key(n)
            }),
            ("variable", &spec.retired_variables, &|n: &String| {
                obs.variables.contains_key(n)
            }),
        ]
            as [(
                &str,
                &std::collections::BTreeSet<String>,
                &dyn Fn(&String) -> bool,
            ); 2]
        {
            for n in names {
                let addr = format!("{kind}:{full}/{n}");
                if !present(n) || deleted(&addr) {
                    gone.push(addr);
                }
            }
        }
        // What the config no longer asks for: fleetsync stops keeping it once it is gone from
        // GitHub (deleted now, or not there) or was left in place as edited by someone else;
        // a delete that failed keeps its record, and is planned again next run.
        let failed = |addr: &str| {
            result.is_some_and(|r| {
                r.results
                    .iter()
                    .any(|s| s.step.address == *addr && s.outcome != crate::apply::Outcome::Ok)
            })
        };
        let removed = &spec.removed;
        for (kind, names) in [
            ("file", &removed.files),
            ("variable", &removed.variables),
            ("secret", &removed.secrets),
        ] {
            for n in names {
                let addr = format!("{kind}:{full}/{n}");
                if !failed(&addr) {
                    gone.push(addr);
                }
            }
        }
        if gone.is_empty() {
            return;
        }
        if let Err(e) = self.store.delete_resources(&gone) {
            tracing::warn!(repo = %full, stage = "record", error = %e, "repo failed");
            ctx.fault(RunError::store(format!("recording {full}"), e));
        }
    }

    /// Records a repo after its apply (or a no-op that still needs its records written).
    async fn record_outcome(
        &self,
        ctx: &PassContext<'_>,
        spec: &crate::desired::RepoSpec,
        p: &RepoPlan,
        result: Option<&RepoResult>,
        obs: &crate::observe::ObservedRepo,
        last: &LastApplied,
    ) {
        let needed = result.is_some() || record::needs_record(&self.store, spec, p, last);
        if !needed {
            return;
        }
        let run = record::RepoRun {
            run_id: ctx.apply.run_id,
            spec,
            plan: p,
            result,
            obs,
            last,
        };
        if let Err(e) = record::record_repo(&self.store, &run).await {
            let full = spec.full_name();
            tracing::warn!(repo = %full, stage = "record", error = %e, "repo failed");
            self.observer.repo_failed(Stage::Record, "store");
            ctx.fault(RunError::store(format!("recording {full}"), e));
        }
    }
}
