//! The converge phase: each named source through build → observe → plan → apply → record,
//! streamed with bounded concurrency so only the repos in flight are held in memory. The
//! same pass serves the first round and the retry round. A state-file failure (reading what
//! fleetsync last applied, or recording a repo) stops every later write of the run.

use super::engine::Engine;
use super::record;
use super::status::RunError;
use crate::apply::{apply_repo, ApplyContext, RepoResult};
use crate::config::DriftMode;
use crate::desired::{self, SourceObject};
use crate::observe::observe;
use crate::plan::{self, Blocked, LastApplied, RepoPlan};
use futures::StreamExt;
use std::sync::Mutex;
use tokio::sync::watch;

/// What every repo of a pass shares.
pub struct PassContext<'a> {
    pub apply: ApplyContext<'a>,
    pub fp_key: &'a [u8],
    pub mode: DriftMode,
    pub dry_run: bool,
    pub cancel: Option<watch::Receiver<bool>>,
    /// The first state-file failure of the run; once set, nothing more is written.
    pub store_fault: Mutex<Option<RunError>>,
}

impl PassContext<'_> {
    fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| *c.borrow())
    }

    pub(super) fn faulted(&self) -> bool {
        self.store_fault.lock().map(|f| f.is_some()).unwrap_or(true)
    }

    fn fault(&self, e: RunError) {
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
    pub retry: Option<SourceObject>,
    pub plan: Option<RepoPlan>,
    pub result: Option<RepoResult>,
    pub error: Option<Blocked>,
    pub interrupted: bool,
}

impl RepoOutcome {
    fn failed(repo: String, reason: String) -> Self {
        RepoOutcome {
            retry: None,
            plan: None,
            result: None,
            error: Some(Blocked { repo, reason }),
            interrupted: false,
        }
    }

    fn planned(plan: RepoPlan) -> Self {
        RepoOutcome {
            retry: None,
            plan: Some(plan),
            result: None,
            error: None,
            interrupted: false,
        }
    }
}

/// What a pass produced, in arrival order.
#[derive(Default)]
pub struct PassOutcome {
    pub plans: Vec<RepoPlan>,
    pub results: Vec<RepoResult>,
    pub errors: Vec<Blocked>,
    pub retry: Vec<SourceObject>,
    pub interrupted: bool,
}

impl Engine {
    /// Runs one pass over `sources`; `on_done(done)` after each repo.
    pub(super) async fn converge(
        &self,
        ctx: &PassContext<'_>,
        sources: Vec<SourceObject>,
        on_done: &(dyn Fn(usize, Option<&RepoResult>) + Sync),
    ) -> PassOutcome {
        let concurrency = self.config.raw.pacing.concurrency.max(1) as usize;
        // Futures are made as the stream pulls them, so only `concurrency` repos (and their
        // futures) exist at a time.
        let mut stream = futures::stream::iter(sources)
            .map(|src| self.converge_one(ctx, src))
            .buffer_unordered(concurrency);
        let mut out = PassOutcome::default();
        let mut done = 0;
        while let Some(o) = stream.next().await {
            done += 1;
            out.errors.extend(o.error);
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
    fn last_applied(&self, repo: &str) -> Result<LastApplied, RunError> {
        let rs = self
            .store
            .list_resources(Some(repo))
            .map_err(|e| RunError::store(format!("reading what was applied to {repo}"), e))?;
        let mut l = LastApplied::default();
        for r in rs {
            l.by_address
                .insert(r.address, (r.applied_fp, r.remote_updated_at));
        }
        Ok(l)
    }

    /// One repo through build → observe → plan → apply → record.
    async fn converge_one(&self, ctx: &PassContext<'_>, src: SourceObject) -> RepoOutcome {
        let label = format!("{}:{}/{}", src.kind.as_str(), src.node, src.key);
        let spec = match desired::build_one(&self.config, &src, ctx.fp_key) {
            Ok(s) => s,
            Err(reason) => return RepoOutcome::failed(label, reason),
        };
        let full = spec.full_name();
        let last = match self.last_applied(&full) {
            Ok(l) => l,
            Err(e) => {
                let reason = e.to_string();
                ctx.fault(e);
                return RepoOutcome::failed(full, reason);
            }
        };
        let mut obs = match observe(&self.gh, &spec).await {
            Ok(o) => o,
            Err(e) => return RepoOutcome::failed(full, format!("could not observe: {e}")),
        };
        if let Some(link) = &spec.dss_link {
            if let Some(client) = self.dss.iter().find(|c| c.node() == link.node) {
                obs.dss_remote = Some(crate::observe::observe_dss(client, link).await);
            }
        }
        let p = plan::plan_repo(&spec, &obs, &last, ctx.mode);
        if ctx.dry_run {
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
            o.error = Some(Blocked { repo: full, reason });
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
        let needs_record = match &result {
            Some(_) => Ok(true),
            None => Ok(record::needs_record(&self.store, &spec, &p, &last)),
        };
        let recorded = needs_record.and_then(|needed| match needed {
            true => record::record_repo(
                &self.store,
                ctx.apply.run_id,
                &spec,
                &p,
                result.as_ref(),
                &obs,
                &last,
            ),
            false => Ok(()),
        });
        if let Err(e) = recorded {
            ctx.fault(RunError::store(format!("recording {full}"), e));
        }
        let retry = result.as_ref().filter(|r| r.failed()).map(|_| src);
        RepoOutcome {
            retry,
            plan: Some(p),
            result,
            error: None,
            interrupted: false,
        }
    }
}
