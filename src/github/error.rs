//! Errors of the GitHub client. Each names the request and, for an HTTP error, the status
//! and GitHub's own message. None ever holds a token or a secret value.

/// A GitHub request that did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GhError {
    /// GitHub answered with an error status.
    #[error("GitHub {method} {path}: HTTP {status}: {message}")]
    Http {
        /// Method.
        method: String,
        /// Path and query.
        path: String,
        /// Status code.
        status: u16,
        /// GitHub's `message` (and validation errors, if any).
        message: String,
    },
    /// A file create was refused because the file exists (GitHub's 422 `"sha" wasn't
    /// supplied`): the write must name the current blob.
    #[error("GitHub PUT {path}: HTTP 422: {message}")]
    ShaRequired {
        /// Path.
        path: String,
        /// GitHub's message.
        message: String,
    },
    /// Still rate limited after every attempt.
    #[error(
        "GitHub {method} {path}: rate limited ({detail}); gave up after {attempts} attempt(s)"
    )]
    RateLimited {
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// Which limit and for how long.
        detail: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The request failed before a response (connection, timeout) and was not retried or
    /// ran out of attempts.
    #[error("GitHub {method} {path}: {reason}")]
    Transport {
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A non-idempotent write failed in a way that does not say whether GitHub applied it
    /// (timeout, reset, 5xx). It is not retried blindly: the engine observes first.
    #[error("GitHub {method} {path}: outcome unknown ({reason}); will verify before retrying")]
    Ambiguous {
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The response could not be decoded.
    #[error("GitHub {method} {path}: unexpected response: {reason}")]
    Decode {
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// The decoder's complaint.
        reason: String,
    },
    /// The client could not be set up (bad URL, bad key).
    #[error("GitHub client: {0}")]
    Setup(String),
    /// A repo fleetsync was about to create exists and does not carry this install's
    /// ownership marker: nothing is written to it.
    #[error("{repo} exists without this install's ownership marker ({reason}); not adopted")]
    NotOwned {
        /// `owner/name`.
        repo: String,
        /// What its markers say.
        reason: String,
    },
    /// A secret could not be sealed.
    #[error("sealing secret {name} for {repo}: {reason}")]
    Seal {
        /// Repo.
        repo: String,
        /// Secret name.
        name: String,
        /// Why.
        reason: String,
    },
}

impl GhError {
    /// The HTTP status, when GitHub answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            GhError::Http { status, .. } => Some(*status),
            GhError::ShaRequired { .. } => Some(422),
            _ => None,
        }
    }

    /// Whether GitHub answered 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether a later run may succeed without a config change (transient failure).
    pub fn is_transient(&self) -> bool {
        match self {
            GhError::Http { status, .. } => *status >= 500 || *status == 429,
            GhError::RateLimited { .. } | GhError::Transport { .. } | GhError::Ambiguous { .. } => {
                true
            }
            _ => false,
        }
    }

    /// A short cause label for metrics and records.
    pub fn cause(&self) -> &'static str {
        match self {
            GhError::Http { status, .. } if *status >= 500 => "server_error",
            GhError::Http { status: 404, .. } => "not_found",
            GhError::Http { status: 401, .. } => "unauthorized",
            GhError::Http { status: 403, .. } => "forbidden",
            GhError::Http { status: 409, .. } => "conflict",
            GhError::Http { status: 422, .. } => "invalid",
            GhError::Http { .. } => "http_error",
            GhError::ShaRequired { .. } => "invalid",
            GhError::RateLimited { .. } => "rate_limited",
            GhError::Transport { .. } => "transport",
            GhError::Ambiguous { .. } => "ambiguous",
            GhError::Decode { .. } => "decode",
            GhError::Setup(_) => "setup",
            GhError::Seal { .. } => "seal",
            GhError::NotOwned { .. } => "not_owned",
        }
    }
}
