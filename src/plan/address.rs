//! Resource kinds and addresses: `Kind` names what a resource is, `Address` says which one
//! (`variable:acme/dss-churn/DATAIKU_PROJECT_KEY`, `dss-push:design/CHURN`). Addresses are
//! built and parsed here only; their text is what the store, the plan output and the API show.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// What a resource is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The ownership marker (a custom property) of a repo being adopted.
    Marker,
    /// The repository itself (description, visibility, archived).
    Repo,
    Topics,
    /// A branch besides the default one.
    Branch,
    /// A managed file.
    File,
    /// An Actions variable.
    Variable,
    /// An Actions secret.
    Secret,
    /// Branch protection of one branch.
    Protection,
    /// The managed files on an unprotected branch besides the default one, committed there.
    BranchFiles,
    /// The managed files proposed to a protected branch by a pull request.
    PullRequest,
    /// A dev plugin's files, mirrored as one commit.
    Mirror,
    /// The DSS project's git remote.
    DssRemote,
    /// The first push of the DSS project to its remote.
    DssPush,
    /// The DSS project pulling fleetsync's commits back (rebasing its own on top).
    DssPull,
    /// An organisation Actions secret (`org-secret:acme/NAME`), with its repository selection.
    OrgSecret,
    /// An organisation Actions variable, with its repository selection.
    OrgVariable,
}

impl Kind {
    /// Every kind, in the order a repo's steps are applied.
    /// The marker comes first: a repo being adopted is marked before anything else is
    /// written to it.
    pub const ALL: [Kind; 14] = [
        Kind::Marker,
        Kind::Repo,
        Kind::Topics,
        Kind::File,
        Kind::Branch,
        Kind::Variable,
        Kind::Secret,
        Kind::Protection,
        Kind::BranchFiles,
        Kind::PullRequest,
        Kind::Mirror,
        Kind::DssRemote,
        Kind::DssPush,
        Kind::DssPull,
    ];

    /// The order of a repo made from the DSS project's history: the remote and the
    /// project's push first (they fill the empty repo), fleetsync's files on top, the
    /// branches cut from that, and the project pulls the files back last.
    pub const HISTORY_FIRST: [Kind; 14] = [
        Kind::Marker,
        Kind::Repo,
        Kind::Topics,
        Kind::DssRemote,
        Kind::DssPush,
        Kind::File,
        Kind::Branch,
        Kind::Variable,
        Kind::Secret,
        Kind::Protection,
        Kind::BranchFiles,
        Kind::PullRequest,
        Kind::Mirror,
        Kind::DssPull,
    ];

    /// The fleet-level kinds: one resource for the organisation, planned by the fleet-level
    /// phase, never in a repo's plan.
    pub const ORG: [Kind; 2] = [Kind::OrgVariable, Kind::OrgSecret];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OrgSecret => "org-secret",
            Kind::OrgVariable => "org-variable",
            Kind::Marker => "marker",
            Kind::Repo => "repo",
            Kind::Topics => "topics",
            Kind::Branch => "branch",
            Kind::File => "file",
            Kind::Variable => "variable",
            Kind::Secret => "secret",
            Kind::Protection => "protection",
            Kind::BranchFiles => "branch-files",
            Kind::PullRequest => "pull-request",
            Kind::Mirror => "mirror",
            Kind::DssRemote => "dss-remote",
            Kind::DssPush => "dss-push",
            Kind::DssPull => "dss-pull",
        }
    }

    /// Whether a failure of this kind's step leaves nothing for the repo's later steps to
    /// build on: no repo, no branch to write to, or (a repo made from the project's history)
    /// no project history under fleetsync's files.
    pub fn later_steps_depend_on_it(self) -> bool {
        matches!(
            self,
            Kind::Repo | Kind::Branch | Kind::DssRemote | Kind::DssPush
        )
    }

    /// Whether the address's scope is an organisation (`org-secret:acme/NAME`) rather than
    /// a repo.
    pub fn is_org_level(self) -> bool {
        matches!(self, Kind::OrgSecret | Kind::OrgVariable)
    }

    /// Whether the address names a DSS object (`node/key`) rather than a GitHub repo.
    pub fn is_dss_side(self) -> bool {
        matches!(self, Kind::DssRemote | Kind::DssPush | Kind::DssPull)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .chain(Kind::ORG)
            .find(|k| k.as_str() == s)
            .ok_or_else(|| AddressError(format!("unknown resource kind {s:?}")))
    }
}

// Kinds sort by name, as they read in a report.
impl PartialOrd for Kind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialEq<&str> for Kind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A text that is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AddressError(String);

/// Which resource: its kind, its scope (`owner/name` of the repo, or `node/key` of the DSS
/// project) and, for kinds with several per repo, the item (file path, variable name, …).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    /// The rendered text (kept so the address can be read as a `&str`).
    text: String,
    kind: Kind,
    scope_len: usize,
}

impl Address {
    /// `kind:scope` or `kind:scope/item`.
    pub fn new(kind: Kind, scope: &str, item: Option<&str>) -> Address {
        let text = match item {
            Some(i) => format!("{kind}:{scope}/{i}"),
            None => format!("{kind}:{scope}"),
        };
        Address {
            text,
            kind,
            scope_len: scope.len(),
        }
    }

    /// A resource with one per repo (`repo`, `topics`, `mirror`).
    pub fn of_repo(kind: Kind, repo: &str) -> Address {
        Address::new(kind, repo, None)
    }

    /// An item of a repo (`file:acme/x/.github/workflows/pr.yml`).
    pub fn item(kind: Kind, repo: &str, item: &str) -> Address {
        Address::new(kind, repo, Some(item))
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// `owner/name` (or `node/key` for the DSS side).
    pub fn scope(&self) -> &str {
        let start = self.kind.as_str().len() + 1;
        &self.text[start..start + self.scope_len]
    }

    /// The item after the scope, if any.
    pub fn item_name(&self) -> Option<&str> {
        let end = self.kind.as_str().len() + 1 + self.scope_len;
        self.text.get(end + 1..).filter(|s| !s.is_empty())
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::ops::Deref for Address {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl FromStr for Address {
    type Err = AddressError;
    /// The scope is the first two `/`-separated segments after the kind (the first one for
    /// an org-level kind); the rest is the item.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| AddressError(format!("{s:?} is not an address (no kind)")))?;
        let kind: Kind = kind.parse()?;
        if kind.is_org_level() {
            return match rest.split_once('/') {
                Some((org, item)) if !org.is_empty() && !item.is_empty() => {
                    Ok(Address::new(kind, org, Some(item)))
                }
                _ => Err(AddressError(format!(
                    "{s:?}: an org-level address is kind:org/name"
                ))),
            };
        }
        let mut parts = rest.splitn(3, '/');
        let (a, b) = match (parts.next(), parts.next()) {
            (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => (a, b),
            _ => return Err(AddressError(format!("{s:?}: the scope must be owner/name"))),
        };
        let item = parts.next().filter(|i| !i.is_empty());
        Ok(Address::new(kind, &format!("{a}/{b}"), item))
    }
}

impl PartialEq<str> for Address {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for Address {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl PartialEq<String> for Address {
    fn eq(&self, other: &String) -> bool {
        &self.text == other
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_through_their_text() {
        for (kind, scope, item, text) in [
            (Kind::Repo, "acme/dss-x", None, "repo:acme/dss-x"),
            (
                Kind::File,
                "acme/dss-x",
                Some(".github/workflows/pr.yml"),
                "file:acme/dss-x/.github/workflows/pr.yml",
            ),
            (
                Kind::DssRemote,
                "design/CHURN",
                Some("origin"),
                "dss-remote:design/CHURN/origin",
            ),
            (Kind::DssPush, "design/CHURN", None, "dss-push:design/CHURN"),
            (
                Kind::OrgSecret,
                "acme",
                Some("DATAIKU_TOKEN"),
                "org-secret:acme/DATAIKU_TOKEN",
            ),
        ] {
            let a = Address::new(kind, scope, item);
            assert_eq!(a.as_str(), text);
            let back: Address = text.parse().unwrap();
            assert_eq!(back, a);
            assert_eq!(back.kind(), kind);
            assert_eq!(back.scope(), scope);
            assert_eq!(back.item_name(), item);
        }
    }

    #[test]
    fn bad_addresses_are_refused() {
        for bad in [
            "repo",
            "nope:acme/x",
            "repo:acme",
            "repo:/x",
            "file:acme/",
            "org-secret:acme",
            "org-variable:/X",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
    }

    #[test]
    fn kinds_round_trip_and_sort_by_name() {
        for k in Kind::ALL.into_iter().chain(Kind::ORG) {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
        }
        let mut ks = vec![Kind::Variable, Kind::File, Kind::Secret];
        ks.sort();
        assert_eq!(ks, vec!["file", "secret", "variable"]);
    }
}
