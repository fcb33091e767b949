//! plan: a pure function from (desired, observed, last applied) to the steps that bring a repo
//! in line, each with an action, a typed resource address and a reason; and its rendering
//! (Pulumi style text, or JSON). No I/O here. Secret values never reach a rendered plan.
//!
//! One file per resource kind under `kinds/`; `builder` holds the rules every kind shares;
//! `address` the kinds and addresses; `step` the vocabulary; `render` the output.

mod address;
mod builder;
pub(crate) mod change;
mod kinds;
mod render;
mod saved;
mod step;

pub use address::{Address, AddressError, Kind};
pub use builder::LastApplied;
pub use change::{Change, FieldChange, FileDiff, SecretChange, SecretChangeKind};
pub use kinds::branch_files::{settled_branches, unplanned_status};
pub use kinds::{
    desired_org_resources, desired_resources, plan_org, plan_repo, selection_fp, DesiredResource,
    OrgDiffInput, Selection,
};
pub use render::{
    render_json, render_text, render_text_with, summary_line, TextOptions, DIFF_LINES,
};
pub use saved::{SavedPlan, SavedStep, SAVED_PLAN_FORMAT};
pub use step::{
    Action, Blocked, Conflict, Content, DriftFinding, Op, OrgItemKind, Plan, Reason, RepoError,
    RepoPatch, RepoPlan, Stage, Step, UnknownNode,
};
