//! The seam between the GitHub client and wherever conditional GETs keep their last `ETag`
//! and body. The client only knows this trait; the state file implements it (`store`), on
//! a connection of its own, and the client calls it on tokio's blocking pool, so a slow
//! disk never parks an async worker and observation does not queue behind the engine's
//! writes. A cache that fails is a miss (logged), never a wrong answer: the request is
//! then sent without `If-None-Match`.

use crate::store::CachedResponse;
use std::sync::Arc;

/// Why the cache could not answer.
pub type CacheError = Box<dyn std::error::Error + Send + Sync>;

/// A cache of conditional GET answers, by request path.
pub trait EtagCache: Send + Sync + 'static {
    /// The cached answer for `url`, if any.
    fn get(&self, url: &str) -> Result<Option<CachedResponse>, CacheError>;
    /// Keeps `body` as the answer for `url` with its `etag`.
    fn put(&self, url: &str, etag: &str, body: &[u8]) -> Result<(), CacheError>;
}

/// Reads the cache off the async workers; a failure is logged and counts as a miss.
pub(super) async fn lookup(cache: &Arc<dyn EtagCache>, url: &str) -> Option<CachedResponse> {
    let (cache, key) = (cache.clone(), url.to_string());
    match tokio::task::spawn_blocking(move || cache.get(&key)).await {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => {
            tracing::warn!(url, error = %e, "could not read the ETag cache; asking without it");
            None
        }
        Err(e) => {
            tracing::warn!(url, error = %e, "the ETag cache read did not finish");
            None
        }
    }
}

/// Stores an answer off the async workers; a failure is logged (the next GET is then
/// unconditional, which costs points but is never wrong).
pub(super) async fn keep(cache: &Arc<dyn EtagCache>, url: &str, etag: &str, body: &[u8]) {
    let (cache, key, tag, bytes) = (
        cache.clone(),
        url.to_string(),
        etag.to_string(),
        body.to_vec(),
    );
    match tokio::task::spawn_blocking(move || cache.put(&key, &tag, &bytes)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(url, error = %e, "could not store an ETag"),
        Err(e) => tracing::warn!(url, error = %e, "storing an ETag did not finish"),
    }
}
