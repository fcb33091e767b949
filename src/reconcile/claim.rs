//! Ownership, per repo, between its GET and its plan: a repo that exists is planned only
//! when it carries this install's marker, or when the run adopts it (the marker is then
//! the plan's first write). Anything else is a conflict: reported (plan, status, metrics),
//! recorded with status `conflict`, and nothing is written to it. A repo GitHub redirects
//! to under a new name (renamed by hand) is followed: its records move to the new name and
//! the plan says so; one transferred to another owner is a conflict, never re-created.

use super::converge::{Failure, PassContext};
use super::engine::Engine;
use super::status::RunError;
use crate::desired::RepoSpec;
use crate::github::wire;
use crate::observe::{observe_from, ObservedRepo};
use crate::ownership::{self, Decision, MarkerMode, RepoFacts};
use crate::plan::{Address, Conflict, DriftFinding, Kind, Stage};
use crate::store::{now_text, RepoRecord};

/// What the ownership check made of an existing repo.
pub enum Claimed {
    /// Ours (or adopted by this run): observed in full.
    Ours(Box<ObservedRepo>),
    /// Not ours: nothing more is read or written.
    NotOurs(Conflict),
}

impl Engine {
    /// Judges the repo GitHub answered for `spec`, follows a rename, and observes the rest
    /// when it is (or becomes) this install's. An unowned repo costs only its GET, unless
    /// `adopt = "empty"` needs the rest to see whether it is empty.
    pub(super) async fn claim(
        &self,
        ctx: &PassContext<'_>,
        spec: &mut RepoSpec,
        repo: wire::Repo,
        settled: &std::collections::BTreeSet<String>,
        notes: &mut Vec<DriftFinding>,
    ) -> Result<Claimed, Failure> {
        let asked = spec.full_name();
        let actual = repo.full_name.clone().unwrap_or_else(|| asked.clone());
        let (actual_owner, actual_name) = actual
            .split_once('/')
            .map(|(o, n)| (o.to_string(), n.to_string()))
            .unwrap_or((spec.owner.clone(), repo.name.clone()));
        if !actual_owner.eq_ignore_ascii_case(&spec.owner) {
            let reason = format!(
                "transferred on GitHub to {actual}; not managed in {} any more, and no repo is created in its place",
                spec.owner
            );
            let conflict = self.conflicted(ctx, spec, &asked, "transferred", reason);
            return Ok(Claimed::NotOurs(conflict));
        }
        let (if_empty, otherwise) = self.decisions(ctx, spec, &repo, &actual).await?;
        if matches!(
            (&if_empty, &otherwise),
            (Decision::Conflict { .. }, Decision::Conflict { .. })
        ) {
            return Ok(self.not_ours(ctx, spec, &actual, otherwise));
        }
        let obs = observe_from(&self.gh, spec, repo, settled)
            .await
            .map_err(|e| {
                Failure::new(Stage::Observe, e.cause(), format!("could not observe: {e}"))
            })?;
        let decision = if obs.is_empty_repo() {
            if_empty
        } else {
            otherwise
        };
        if let Decision::Conflict { .. } = decision {
            return Ok(self.not_ours(ctx, spec, &actual, decision));
        }
        if !actual.eq_ignore_ascii_case(&asked) {
            self.follow_rename(ctx, &asked, &actual)?;
            notes.push(DriftFinding {
                kind: Kind::Repo,
                address: Address::of_repo(Kind::Repo, &actual),
                what: format!("renamed on GitHub from {asked}; followed, managed as {actual}"),
                repair: false,
            });
            spec.name = actual_name;
        }
        spec.marker = Some(self.marker_for(ctx, spec, &actual, &obs, decision).await?);
        Ok(Claimed::Ours(Box::new(obs)))
    }

    /// The ownership decisions for `actual` were it empty, and otherwise (whether it is
    /// empty is only known after observing it). A repo this install created whose marker
    /// topic a crash kept from being written is taken as its own.
    async fn decisions(
        &self,
        ctx: &PassContext<'_>,
        spec: &RepoSpec,
        repo: &wire::Repo,
        actual: &str,
    ) -> Result<(Decision, Decision), Failure> {
        let source = source_label(spec);
        let seen = ownership::read(
            &repo.custom_properties.clone().unwrap_or_default(),
            repo.topics.as_deref().unwrap_or(&[]),
            &ctx.ownership.property,
        );
        let decide = |empty: bool| {
            ctx.ownership.decide(
                &RepoFacts {
                    full_name: actual,
                    seen: &seen,
                    empty,
                },
                &source,
            )
        };
        let otherwise = decide(false);
        if matches!(
            otherwise,
            Decision::Conflict {
                cause: "unmarked",
                ..
            }
        ) && self.own_creation_unmarked(ctx, actual).await?
        {
            let why = "created by this install (its journal), its marker topic not written yet";
            return Ok((Decision::Adopt(why.into()), Decision::Adopt(why.into())));
        }
        Ok((decide(true), otherwise))
    }

    /// The marker the plan keeps (or, when adopting, writes first) on a repo that is ours.
    async fn marker_for(
        &self,
        ctx: &PassContext<'_>,
        spec: &RepoSpec,
        actual: &str,
        obs: &ObservedRepo,
        decision: Decision,
    ) -> Result<ownership::MarkerSpec, Failure> {
        let own = ctx.ownership;
        let source = source_label(spec);
        match decision {
            Decision::Adopt(why) => {
                tracing::info!(repo = %actual, %why, "adopting the repo");
                let mode = self.marker_mode(own).await.map_err(|e| {
                    Failure::new(
                        Stage::Observe,
                        e.cause(),
                        format!("could not learn where to write the ownership marker: {e}"),
                    )
                })?;
                let mut m = own.marker(&source, mode);
                m.adopting = Some(why);
                Ok(m)
            }
            _ => {
                let on_property = ownership::read(&obs.custom_properties, &[], &own.property);
                Ok(own.marker(&source, own.mode_of(&on_property)))
            }
        }
    }

    /// A repo this state file's journal created, in topic mode (the marker topic is written
    /// after the creation: a crash between the two leaves the repo unmarked). In property
    /// mode the marker is part of the creation, so an unmarked repo was released by hand.
    async fn own_creation_unmarked(
        &self,
        ctx: &PassContext<'_>,
        repo: &str,
    ) -> Result<bool, Failure> {
        let address = Address::of_repo(Kind::Repo, repo);
        let created = self.store.journal_created(&address).map_err(|e| {
            let fault = RunError::store(format!("reading the journal of {repo}"), e);
            Failure {
                stage: Stage::State,
                cause: "store",
                reason: fault.to_string(),
                fault: Some(Box::new(fault)),
            }
        })?;
        if !created {
            return Ok(false);
        }
        let mode = self.marker_mode(ctx.ownership).await.map_err(|e| {
            Failure::new(
                Stage::Observe,
                e.cause(),
                format!("could not learn where to write the ownership marker: {e}"),
            )
        })?;
        Ok(mode == MarkerMode::Topic)
    }

    fn not_ours(
        &self,
        ctx: &PassContext<'_>,
        spec: &RepoSpec,
        repo: &str,
        decision: Decision,
    ) -> Claimed {
        let (cause, reason) = match decision {
            Decision::Conflict { cause, reason } => (cause, reason),
            _ => ("unmarked", String::new()),
        };
        Claimed::NotOurs(self.conflicted(ctx, spec, repo, cause, reason))
    }

    /// Reports a conflict (WARN, metric) and records the repo with status `conflict`:
    /// never live for the guard, so it is never removed either.
    fn conflicted(
        &self,
        ctx: &PassContext<'_>,
        spec: &RepoSpec,
        repo: &str,
        cause: &'static str,
        reason: String,
    ) -> Conflict {
        let source = source_label(spec);
        // A plan lists its conflicts itself.
        if !ctx.dry_run {
            tracing::warn!(%repo, %source, cause, %reason, "ownership conflict: nothing written");
        }
        self.observer.conflict(cause);
        if !ctx.dry_run {
            if let Err(e) = self.record_conflict(ctx, spec, repo, &reason) {
                ctx.fault(RunError::store(
                    format!("recording the conflict of {repo}"),
                    e,
                ));
            }
        }
        Conflict {
            repo: repo.to_string(),
            source,
            cause: cause.to_string(),
            reason,
        }
    }

    fn record_conflict(
        &self,
        ctx: &PassContext<'_>,
        spec: &RepoSpec,
        repo: &str,
        reason: &str,
    ) -> Result<(), crate::store::StoreError> {
        let now = now_text();
        self.store.upsert_repo(&RepoRecord {
            name: repo.to_string(),
            owner: spec.owner.clone(),
            source_kind: spec.source.kind.as_str().to_string(),
            node: spec.source.node.clone(),
            source_key: spec.source.key.clone(),
            status: "conflict".into(),
            drifted: false,
            last_error: Some(format!("ownership: {reason}")),
            last_run_id: ctx.apply.run_id,
            created_at: now.clone(),
            updated_at: now,
        })
    }

    /// Moves the store's records of a renamed repo to its new name.
    fn follow_rename(&self, ctx: &PassContext<'_>, old: &str, new: &str) -> Result<(), Failure> {
        tracing::warn!(repo = %old, renamed_to = %new, "repo renamed on GitHub; following it");
        if ctx.dry_run {
            return Ok(());
        }
        self.store.rename_repo(old, new).map_err(|e| {
            let fault = RunError::store(format!("following the rename of {old} to {new}"), e);
            Failure {
                stage: Stage::State,
                cause: "store",
                reason: fault.to_string(),
                fault: Some(Box::new(fault)),
            }
        })
    }

    /// The marker topic in the desired topics: when the marker is written as a topic (a new
    /// or adopted repo in topic mode), and whenever the repo carries it already.
    pub(super) fn mark_topics(
        &self,
        ctx: &PassContext<'_>,
        spec: &mut RepoSpec,
        obs: &ObservedRepo,
    ) {
        let topic = ownership::topic(&ctx.ownership.install);
        let keep = obs.topics.contains(&topic);
        let write = spec
            .marker
            .as_ref()
            .is_some_and(|m| m.mode == MarkerMode::Topic && (!obs.exists || m.adopting.is_some()));
        if keep || write {
            spec.topics.push(topic);
            spec.topics.sort();
            spec.topics.dedup();
        }
    }
}

/// `project:NODE/KEY` or `plugin:NODE/ID`, as markers and plans name a source.
pub fn source_label(spec: &RepoSpec) -> String {
    format!(
        "{}:{}/{}",
        spec.source.kind.as_str(),
        spec.source.node,
        spec.source.key
    )
}
