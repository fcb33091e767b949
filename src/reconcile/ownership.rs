//! The ownership phases, before anything is planned: where this run writes ownership
//! markers (the organisation's custom property when it defines one, else a topic), and, on
//! a state file that has never run, the managed repos rebuilt from the markers on GitHub —
//! so a lost state file loses no safety: the repos are recognised, grace periods start
//! again from now (a new tombstone, never an older one), and secrets set before the loss are
//! not rewritten (`fleetctl secrets rotate` asks for that).

use super::engine::Engine;
use super::status::RunError;
use crate::github::GhError;
use crate::ownership::{self, MarkerMode, Ownership, Seen};
use crate::store::{now_text, RepoRecord};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// The meta key set once a state file has run (its absence means a new or lost file).
const INITIALISED: &str = "state.initialised_at";
/// The meta key of the moment the state was rebuilt from GitHub.
pub const REBUILT_AT: &str = "state.rebuilt_at";

/// Why `fleetctl adopt` could not write the marker.
#[derive(Debug, thiserror::Error)]
pub enum MarkerError {
    #[error("{0:?} is not owner/name")]
    NotOwnerName(String),
    #[error("reading the marker property's definition: {0}")]
    Definition(GhError),
    #[error("{0} does not exist")]
    Missing(String),
    #[error("GitHub did not return the topics of {0}; the marker topic was not written")]
    NoTopics(String),
    #[error(transparent)]
    Github(#[from] GhError),
}

/// What the rebuild found.
#[derive(Default)]
pub struct Rebuilt {
    /// Repos recognised by their markers (persisted unless a dry run).
    pub records: Vec<RepoRecord>,
    /// Secrets older than this are taken as fleetsync's (from the store, or this run's).
    pub trust_secrets_before: Option<DateTime<Utc>>,
    /// What to tell the user.
    pub notice: Option<String>,
}

impl Engine {
    /// This run's ownership settings.
    pub(super) fn ownership(&self, adopt: &[String]) -> Ownership {
        let gh = &self.config.raw.github;
        Ownership {
            install: self.config.install_id.clone(),
            mode: self.marker_mode.clone(),
            property: gh.marker_property.clone(),
            adopt: gh.adopt,
            adopt_repos: adopt.iter().map(|r| r.to_ascii_lowercase()).collect(),
        }
    }

    /// Where this run writes new markers: the organisation's custom property when it
    /// defines it as a string property, else a topic. Read the first time a marker is to be
    /// written, then kept for the engine's life. A failed read is not kept: the repo that
    /// needed it fails, and the next one asks again.
    pub(super) async fn marker_mode(&self, own: &Ownership) -> Result<MarkerMode, GhError> {
        own.mode
            .get_or_try_init(|| self.read_marker_mode(&own.property))
            .await
            .cloned()
    }

    async fn read_marker_mode(&self, property: &str) -> Result<MarkerMode, GhError> {
        let owner = &self.config.raw.github.owner;
        let property = property.to_string();
        Ok(
            match self.gh.get_property_definition(owner, &property).await {
                Ok(Some(def)) => {
                    if def.value_type.as_deref().is_some_and(|t| t != "string") {
                        tracing::warn!(%property, "the marker property is not a string property; markers are written as topics");
                        MarkerMode::Topic
                    } else {
                        if def.values_editable_by.as_deref() == Some("org_and_repo_actors") {
                            tracing::warn!(%property, "the marker property may be edited by repository admins; set values_editable_by = org_actors so only organisation admins can change it");
                        }
                        MarkerMode::Property(def.property_name)
                    }
                }
                Ok(None) => MarkerMode::Topic,
                // The token may not read the organisation's properties: a topic is a marker
                // too (both forms are always read).
                Err(e) if e.status() == Some(403) => {
                    tracing::warn!(error = %e, "cannot read the organisation's custom property {property}; markers are written as topics");
                    MarkerMode::Topic
                }
                Err(e) => return Err(e),
            },
        )
    }

    /// Writes this install's marker on `repo` for `source` (`fleetctl adopt`, after its
    /// plan): the property where the organisation defines it, else the marker topic beside
    /// the repo's topics. The next run manages the repo. Returns where it was written.
    pub async fn write_marker(&self, repo: &str, source: &str) -> Result<String, MarkerError> {
        let own = self.ownership(&[]);
        let (owner, name) = repo
            .split_once('/')
            .ok_or_else(|| MarkerError::NotOwnerName(repo.to_string()))?;
        let mode = self
            .marker_mode(&own)
            .await
            .map_err(MarkerError::Definition)?;
        match mode {
            MarkerMode::Property(p) => {
                let value = ownership::property_value(&own.install, source);
                self.gh.set_property_value(owner, name, &p, &value).await?;
                Ok(format!("custom property {p} = {value}"))
            }
            MarkerMode::Topic => {
                let found = self
                    .gh
                    .get_repo(owner, name)
                    .await?
                    .ok_or_else(|| MarkerError::Missing(repo.to_string()))?;
                // The topics are replaced as a whole: without the current list, writing
                // only the marker would drop the team's topics.
                let mut topics = found
                    .topics
                    .ok_or_else(|| MarkerError::NoTopics(repo.to_string()))?;
                let topic = ownership::topic(&own.install);
                if !topics.contains(&topic) {
                    topics.push(topic.clone());
                }
                self.gh.replace_topics(owner, name, &topics).await?;
                Ok(format!("topic {topic}"))
            }
        }
    }

    /// On a new state file: lists the organisation's repos once and records those that
    /// carry this install's marker. Otherwise reads when the state was last rebuilt.
    pub(super) async fn rebuild_if_new(
        &self,
        own: &Ownership,
        dry_run: bool,
    ) -> Result<Rebuilt, RunError> {
        let store_err = |what: &str, e| RunError::store(what.to_string(), e);
        if self
            .store
            .meta_get(INITIALISED)
            .map_err(|e| store_err("reading state.initialised_at", e))?
            .is_some()
        {
            let trust = self
                .store
                .meta_get(REBUILT_AT)
                .map_err(|e| store_err("reading state.rebuilt_at", e))?
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc));
            return Ok(Rebuilt {
                trust_secrets_before: trust,
                ..Default::default()
            });
        }
        let owner = &self.config.raw.github.owner;
        let repos = self
            .gh
            .list_org_repos(owner)
            .await
            .map_err(|e| RunError::GitHub {
                what: format!("listing the repos of {owner} to rebuild the state file"),
                source: e,
            })?;
        let now = Utc::now();
        let records: Vec<RepoRecord> = repos
            .iter()
            .filter_map(|r| {
                let seen = ownership::read(
                    &r.custom_properties.clone().unwrap_or_default(),
                    r.topics.as_deref().unwrap_or(&[]),
                    &own.property,
                );
                let full = r
                    .full_name
                    .clone()
                    .unwrap_or_else(|| format!("{owner}/{}", r.name));
                rebuilt_record(&full, owner, r.archived, &seen, &own.install)
            })
            .collect();
        let mut out = Rebuilt::default();
        if !records.is_empty() {
            let n = records.len();
            // A plan writes nothing: it says what a run will do, and logs nothing.
            let text = if dry_run {
                format!(
                    "the state file {} is new: a run will rebuild it from GitHub, where {n} repo(s) of {owner} carry this install's ownership marker ({}); they will be managed again, grace periods of projects that are gone will start then, and secrets GitHub updated before then will not be rewritten (`fleetctl secrets rotate` writes them all)",
                    self.store.path().display(),
                    own.install
                )
            } else {
                let text = format!(
                    "STATE REBUILT FROM GITHUB: the state file {} is new, and {n} repo(s) of {owner} carry this install's ownership marker ({}); they are managed again, grace periods of projects that are gone start now, and secrets GitHub updated before now are not rewritten (`fleetctl secrets rotate` writes them all)",
                    self.store.path().display(),
                    own.install
                );
                tracing::error!("{text}");
                text
            };
            out.notice = Some(text);
            out.trust_secrets_before = Some(now);
        }
        if !dry_run {
            self.persist_rebuild(&records, out.trust_secrets_before)?;
        }
        out.records = records;
        Ok(out)
    }

    fn persist_rebuild(
        &self,
        records: &[RepoRecord],
        trust: Option<DateTime<Utc>>,
    ) -> Result<(), RunError> {
        for r in records {
            self.store
                .upsert_repo(r)
                .map_err(|e| RunError::store(format!("recording the rebuilt {}", r.name), e))?;
        }
        if let Some(t) = trust {
            let text = t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            self.store
                .meta_set(REBUILT_AT, &text)
                .map_err(|e| RunError::store("writing state.rebuilt_at", e))?;
        }
        self.store
            .meta_set(INITIALISED, &now_text())
            .map_err(|e| RunError::store("writing state.initialised_at", e))
    }
}

/// The record of a repo found with this install's marker: its source from the marker (a
/// topic marker names none: such a repo is removed only through a later run that names it).
/// An archived one is recorded as found archived: not live, and not archived by fleetsync
/// as far as anyone knows.
fn rebuilt_record(
    full: &str,
    owner: &str,
    archived: bool,
    seen: &[Seen],
    install: &str,
) -> Option<RepoRecord> {
    let mut source = None;
    let mut ours = false;
    for s in seen {
        match s {
            Seen::Marker {
                install: i,
                source: src,
            } if i == install => {
                ours = true;
                source = source.or(src.clone());
            }
            // Another owner's sign: not ours to rebuild.
            _ => return None,
        }
    }
    if !ours {
        return None;
    }
    let (kind, node, key) = source.as_deref().and_then(parse_source).unwrap_or((
        "unknown".into(),
        String::new(),
        String::new(),
    ));
    let now = now_text();
    Some(RepoRecord {
        name: full.to_string(),
        owner: owner.to_string(),
        source_kind: kind,
        node,
        source_key: key,
        status: if archived {
            "found_archived"
        } else {
            "rebuilt"
        }
        .into(),
        drifted: false,
        last_error: None,
        last_run_id: None,
        created_at: now.clone(),
        updated_at: now,
    })
}

/// `project:NODE/KEY` → (kind, node, key).
fn parse_source(s: &str) -> Option<(String, String, String)> {
    let (kind, rest) = s.split_once(':')?;
    let (node, key) = rest.split_once('/')?;
    let known: BTreeSet<&str> = ["project", "plugin"].into();
    (known.contains(kind) && !node.is_empty() && !key.is_empty())
        .then(|| (kind.to_string(), node.to_string(), key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilt_records_take_their_source_from_the_marker() {
        let seen = vec![Seen::Marker {
            install: "abc".into(),
            source: Some("project:design/CHURN".into()),
        }];
        let r = rebuilt_record("acme/dss-churn", "acme", false, &seen, "abc").unwrap();
        assert_eq!(
            (
                r.source_kind.as_str(),
                r.node.as_str(),
                r.source_key.as_str()
            ),
            ("project", "design", "CHURN")
        );
        assert!(r.is_live());
        let archived = rebuilt_record("acme/x", "acme", true, &seen, "abc").unwrap();
        assert!(!archived.is_live());
        assert!(rebuilt_record("acme/x", "acme", false, &seen, "other").is_none());
        assert!(rebuilt_record("acme/x", "acme", false, &[], "abc").is_none());
    }
}
