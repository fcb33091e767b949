//! ownership: the marker that says which fleetsync install made (or adopted) a repo, and for
//! which DSS source; how it is written, read and judged. No I/O here.
//!
//! The marker is a repository custom property (`github.marker_property`, value
//! `fleetsync:<install id> <kind>:<node>/<key>`) where the organisation defines that
//! property: GitHub returns it in the repo object observe already reads, and only
//! organisation actors can change it when the property is `values_editable_by =
//! "org_actors"`. Otherwise it is the topic `fleetsync-<install id>` (it names the install,
//! not the source). Either form is read, whichever the organisation offers now.
//!
//! A repo is fleetsync's to write to only when it carries this install's marker (for the
//! same source, when the marker names one). Without one it is a conflict unless adoption
//! applies (`github.adopt`, `fleetctl adopt`); with another install's marker (or a value of
//! the property that is not a fleetsync marker) it is never touched.

use crate::config::AdoptPolicy;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Where this run writes the marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerMode {
    /// The organisation defines the custom property of this name.
    Property(String),
    /// It does not: a topic.
    Topic,
}

/// A marker as found on a repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A fleetsync marker: the install, and the source when the marker names one.
    Marker {
        install: String,
        source: Option<String>,
    },
    /// The marker property holds something that is not a fleetsync marker.
    Foreign(String),
}

const PREFIX: &str = "fleetsync:";
const TOPIC_PREFIX: &str = "fleetsync-";

/// The property value of a marker.
pub fn property_value(install: &str, source: &str) -> String {
    format!("{PREFIX}{install} {source}")
}

/// The topic of a marker.
pub fn topic(install: &str) -> String {
    format!("{TOPIC_PREFIX}{install}")
}

fn parse_property(v: &str) -> Seen {
    let Some(rest) = v.trim().strip_prefix(PREFIX) else {
        return Seen::Foreign(v.to_string());
    };
    let mut parts = rest.splitn(2, ' ');
    let install = parts.next().unwrap_or("").to_string();
    let source = parts
        .next()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if install.is_empty() {
        return Seen::Foreign(v.to_string());
    }
    Seen::Marker { install, source }
}

/// Every marker a repo carries: the property (when set) and any `fleetsync-` topic.
pub fn read(
    custom_properties: &BTreeMap<String, Value>,
    topics: &[String],
    property: &str,
) -> Vec<Seen> {
    let mut out = Vec::new();
    let value = custom_properties
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(property))
        .map(|(_, v)| v);
    match value {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => out.push(parse_property(s)),
        Some(other) => out.push(Seen::Foreign(other.to_string())),
    }
    for t in topics {
        if let Some(install) = t.strip_prefix(TOPIC_PREFIX) {
            if !install.is_empty() {
                out.push(Seen::Marker {
                    install: install.to_string(),
                    source: None,
                });
            }
        }
    }
    out
}

/// What a repo's markers say about it, for one install and source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This install's, for this source (or a marker that names no source).
    Ours,
    /// No marker at all.
    Unmarked,
    /// This install's, but made for another source.
    OtherSource(String),
    /// Another install's, or a property value that is not a fleetsync marker.
    Other(String),
}

/// Judges a repo's markers. Any sign of another owner wins: a repo carrying another
/// install's marker is never touched, even if it also carries this one's.
pub fn claim(seen: &[Seen], install: &str, source: &str) -> Claim {
    for s in seen {
        match s {
            Seen::Foreign(v) => {
                return Claim::Other(format!(
                    "the marker property holds {v:?}, not a fleetsync marker"
                ))
            }
            Seen::Marker { install: i, .. } if i != install => {
                return Claim::Other(format!("marked by another fleetsync install ({i})"))
            }
            _ => {}
        }
    }
    let mut ours = false;
    for s in seen {
        if let Seen::Marker {
            source: Some(src), ..
        } = s
        {
            if !src.eq_ignore_ascii_case(source) {
                return Claim::OtherSource(src.clone());
            }
        }
        ours = true;
    }
    if ours {
        Claim::Ours
    } else {
        Claim::Unmarked
    }
}

/// The marker a spec carries in this run: what to write, and whether the run adopts.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkerSpec {
    pub install: String,
    /// `project:NODE/KEY` or `plugin:NODE/ID`.
    pub source: String,
    pub mode: MarkerMode,
    /// Set when this run adopts the repo (why); the plan then writes the marker first.
    pub adopting: Option<String>,
}

impl MarkerSpec {
    /// The custom properties a new repo is created with.
    pub fn creation_properties(&self) -> BTreeMap<String, String> {
        match &self.mode {
            MarkerMode::Property(name) => {
                [(name.clone(), property_value(&self.install, &self.source))].into()
            }
            MarkerMode::Topic => BTreeMap::new(),
        }
    }
}

/// What a run does about one existing repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Ours: manage it.
    Manage,
    /// Not marked, and adoption applies: write the marker first, then manage it.
    Adopt(String),
    /// Not ours: nothing is written; `cause` labels the metric.
    Conflict { cause: &'static str, reason: String },
}

/// Where new markers go, once learnt; shared by the runs of one engine.
pub type ModeCell = std::sync::Arc<tokio::sync::OnceCell<MarkerMode>>;

/// The run's ownership settings.
#[derive(Debug)]
pub struct Ownership {
    pub install: String,
    /// Where new markers go; learnt from GitHub the first time a marker is written (a run
    /// that creates and adopts nothing never asks), then kept.
    pub mode: ModeCell,
    /// The property name markers are read from (written to in property mode).
    pub property: String,
    pub adopt: AdoptPolicy,
    /// Repos (`owner/name`, lower case) this run was asked to adopt (`fleetctl adopt`).
    pub adopt_repos: BTreeSet<String>,
}

/// What the decision reads of an observed repo.
pub struct RepoFacts<'a> {
    pub full_name: &'a str,
    pub seen: &'a [Seen],
    /// No commit, no secret, no variable.
    pub empty: bool,
}

impl Ownership {
    /// The marker of a source's repo, written in `mode`.
    pub fn marker(&self, source: &str, mode: MarkerMode) -> MarkerSpec {
        MarkerSpec {
            install: self.install.clone(),
            source: source.to_string(),
            mode,
            adopting: None,
        }
    }

    /// Where an existing repo of this install carries its marker: the property when it
    /// has it there, else a topic.
    pub fn mode_of(&self, seen_property: &[Seen]) -> MarkerMode {
        let has = seen_property
            .iter()
            .any(|s| matches!(s, Seen::Marker { install, .. } if *install == self.install));
        if has {
            MarkerMode::Property(self.property.clone())
        } else {
            MarkerMode::Topic
        }
    }

    /// Decides about an existing repo.
    pub fn decide(&self, repo: &RepoFacts<'_>, source: &str) -> Decision {
        match claim(repo.seen, &self.install, source) {
            Claim::Ours => Decision::Manage,
            Claim::Other(why) => Decision::Conflict {
                cause: "other_owner",
                reason: format!("{why}; never touched"),
            },
            Claim::OtherSource(src) => Decision::Conflict {
                cause: "other_source",
                reason: format!(
                    "carries this install's marker for {src}, not {source}; nothing is written to it"
                ),
            },
            Claim::Unmarked => self.unmarked(repo),
        }
    }

    fn unmarked(&self, repo: &RepoFacts<'_>) -> Decision {
        if self
            .adopt_repos
            .contains(&repo.full_name.to_ascii_lowercase())
        {
            return Decision::Adopt("adopted on request (fleetctl adopt)".into());
        }
        match self.adopt {
            AdoptPolicy::All => Decision::Adopt("github.adopt = \"all\"".into()),
            AdoptPolicy::Empty if repo.empty => {
                Decision::Adopt("the repo is empty and github.adopt = \"empty\"".into())
            }
            _ => Decision::Conflict {
                cause: "unmarked",
                reason: "exists without this install's ownership marker (made by hand, or by an earlier fleetsync); nothing is written to it until it is adopted (fleetctl adopt, or github.adopt)".into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: &str) -> BTreeMap<String, Value> {
        [("fleetsync".to_string(), Value::String(v.into()))].into()
    }

    #[test]
    fn markers_are_read_from_the_property_and_topics() {
        let seen = read(&props("fleetsync:abc project:dev/K"), &[], "fleetsync");
        assert_eq!(
            seen,
            vec![Seen::Marker {
                install: "abc".into(),
                source: Some("project:dev/K".into())
            }]
        );
        let seen = read(
            &BTreeMap::new(),
            &["dataiku".into(), "fleetsync-abc".into()],
            "fleetsync",
        );
        assert_eq!(
            seen,
            vec![Seen::Marker {
                install: "abc".into(),
                source: None
            }]
        );
        assert_eq!(
            read(&props("team-a"), &[], "fleetsync"),
            vec![Seen::Foreign("team-a".into())]
        );
        assert!(read(&BTreeMap::new(), &["dataiku".into()], "fleetsync").is_empty());
    }

    #[test]
    fn claims() {
        let src = "project:dev/K";
        let ours = read(&props(&property_value("abc", src)), &[], "fleetsync");
        assert_eq!(claim(&ours, "abc", src), Claim::Ours);
        assert!(matches!(claim(&ours, "xyz", src), Claim::Other(_)));
        assert!(matches!(
            claim(&ours, "abc", "project:dev/OTHER"),
            Claim::OtherSource(_)
        ));
        assert_eq!(claim(&[], "abc", src), Claim::Unmarked);
        let topic_only = read(&BTreeMap::new(), &[topic("abc")], "fleetsync");
        assert_eq!(claim(&topic_only, "abc", src), Claim::Ours);
        // Another install's topic beside our property: never touched.
        let both = read(
            &props(&property_value("abc", src)),
            &[topic("xyz")],
            "fleetsync",
        );
        assert!(matches!(claim(&both, "abc", src), Claim::Other(_)));
    }

    #[test]
    fn adoption_follows_the_policy() {
        let mut o = Ownership {
            install: "abc".into(),
            mode: Default::default(),
            property: "fleetsync".into(),
            adopt: AdoptPolicy::None,
            adopt_repos: BTreeSet::new(),
        };
        let facts = |empty| RepoFacts {
            full_name: "acme/x",
            seen: &[],
            empty,
        };
        assert!(matches!(
            o.decide(&facts(true), "project:dev/K"),
            Decision::Conflict {
                cause: "unmarked",
                ..
            }
        ));
        o.adopt = AdoptPolicy::Empty;
        assert!(matches!(o.decide(&facts(true), "p"), Decision::Adopt(_)));
        assert!(matches!(
            o.decide(&facts(false), "p"),
            Decision::Conflict { .. }
        ));
        o.adopt = AdoptPolicy::All;
        assert!(matches!(o.decide(&facts(false), "p"), Decision::Adopt(_)));
        o.adopt = AdoptPolicy::None;
        o.adopt_repos.insert("acme/x".into());
        assert!(matches!(o.decide(&facts(false), "p"), Decision::Adopt(_)));
        // Another install's repo is never adopted, whatever the policy.
        o.adopt = AdoptPolicy::All;
        let seen = vec![Seen::Marker {
            install: "xyz".into(),
            source: None,
        }];
        let other = RepoFacts {
            full_name: "acme/x",
            seen: &seen,
            empty: true,
        };
        assert!(matches!(
            o.decide(&other, "p"),
            Decision::Conflict {
                cause: "other_owner",
                ..
            }
        ));
    }
}
