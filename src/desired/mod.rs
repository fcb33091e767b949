//! desire: config + templates + inventory → one [`RepoSpec`] per managed project or plugin.
//! Pure apart from reading secret sources; deterministic, with a fingerprint per resource
//! (secrets fingerprinted with a keyed hash, never stored or shown).

mod build;
mod org;
mod protection;
mod spec;

pub use build::blob_sha;
pub use build::{build_one, names, repo_name, DesireError, SpecError};
pub use org::{build_org, OrgSpec, OrgSpecError};
pub use protection::ProtectionSpec;
pub use spec::{
    fingerprint, proposal_branch, DssLink, FileSpec, Removed, RepoSpec, SecretSpec, SourceKind,
    SourceObject,
};
