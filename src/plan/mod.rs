//! plan: a pure function from (desired, observed, last applied) to the steps that bring a repo
//! in line, each with an action, a resource address and a reason; and its rendering (Pulumi
//! style text, or JSON). No I/O here. Secret values never reach a plan.

mod diff;
mod render;
mod step;

pub use diff::{desired_resources, plan_repo, LastApplied};
pub use render::{render_json, render_text, summary_line};
pub use step::{Action, Blocked, DriftFinding, Op, Plan, Reason, RepoPlan, Step};
