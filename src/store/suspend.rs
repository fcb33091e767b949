//! Suspension (`fleetctl suspend` / `resume`): the whole fleet, or single repos, that no
//! run writes to on GitHub until resumed. Kept in the `meta` table (one JSON value), so it
//! lasts across fleetd restarts and binds `fleetctl reconcile --local` on the same state too.

use super::{now_text, Result, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const KEY: &str = "suspension";

/// What is suspended, and since when (RFC 3339).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Suspension {
    /// The whole fleet: no run writes anything.
    pub fleet: Option<String>,
    /// These repos (full names): runs leave them alone.
    pub repos: BTreeMap<String, String>,
}

impl Suspension {
    /// Whether runs leave `repo` alone (the fleet or the repo is suspended; names in any
    /// case).
    pub fn holds(&self, repo: &str) -> bool {
        self.fleet.is_some() || self.repos.keys().any(|r| r.eq_ignore_ascii_case(repo))
    }

    /// Nothing is suspended.
    pub fn is_empty(&self) -> bool {
        self.fleet.is_none() && self.repos.is_empty()
    }
}

impl Store {
    /// What is suspended now. A damaged value is an error, never "nothing suspended".
    pub fn suspension(&self) -> Result<Suspension> {
        match self.meta_get(KEY)? {
            None => Ok(Suspension::default()),
            Some(text) => serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                what: format!("meta.{KEY}"),
                reason: e.to_string(),
            }),
        }
    }

    fn set_suspension(&self, s: &Suspension) -> Result<()> {
        let text = serde_json::to_string(s).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            what: format!("meta.{KEY}"),
            reason: e.to_string(),
        })?;
        self.meta_set(KEY, &text)
    }

    /// Suspends the fleet (`None`) or one repo; keeps an earlier `since`. Returns the
    /// suspension now.
    pub fn suspend(&self, repo: Option<&str>) -> Result<Suspension> {
        let mut s = self.suspension()?;
        match repo {
            None => {
                s.fleet.get_or_insert_with(now_text);
            }
            Some(r) => {
                s.repos.entry(r.to_string()).or_insert_with(now_text);
            }
        }
        self.set_suspension(&s)?;
        Ok(s)
    }

    /// Resumes the fleet (`None`: the fleet-wide suspension only) or one repo. Returns
    /// whether something was suspended, and the suspension now.
    pub fn resume(&self, repo: Option<&str>) -> Result<(bool, Suspension)> {
        let mut s = self.suspension()?;
        let was = match repo {
            None => s.fleet.take().is_some(),
            Some(r) => {
                let before = s.repos.len();
                s.repos.retain(|k, _| !k.eq_ignore_ascii_case(r));
                before != s.repos.len()
            }
        };
        self.set_suspension(&s)?;
        Ok((was, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspension_is_kept_in_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let store = Store::open(&path).unwrap();
        assert!(store.suspension().unwrap().is_empty());
        store.suspend(Some("acme/dss-a")).unwrap();
        store.suspend(None).unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        let s = store.suspension().unwrap();
        assert!(s.fleet.is_some());
        assert!(s.holds("ACME/dss-b"));
        let (was, s) = store.resume(None).unwrap();
        assert!(was);
        assert!(s.holds("acme/DSS-A") && !s.holds("acme/dss-b"));
        let (was, s) = store.resume(Some("acme/dss-a")).unwrap();
        assert!(was && s.is_empty());
        assert!(!store.resume(Some("acme/dss-a")).unwrap().0);
    }

    #[test]
    fn a_damaged_value_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.db")).unwrap();
        store.meta_set(KEY, "{not json").unwrap();
        assert!(matches!(
            store.suspension(),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
