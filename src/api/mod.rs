//! The HTTP API (axum): health, readiness, metrics, and a read-only status API served from
//! the store, plus `POST /api/v1/reconcile` behind a bearer token. Errors are JSON;
//! requests have a timeout and a body limit.

mod errors;
mod repos;
mod routes;
mod suspend;

pub use errors::ApiError;
pub use routes::{router, Health, NodeCounts};
