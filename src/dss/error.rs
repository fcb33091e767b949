//! Errors of the DSS client. Each names the node, the request (method and path) and, for an
//! HTTP failure, the status and DSS's error text. None ever holds the API key.

/// A failed DSS request.
#[derive(Debug, thiserror::Error)]
pub enum DssError {
    /// The client could not be built (certificate files, TLS settings, URL).
    #[error("DSS node {node}: cannot set up the client: {reason}")]
    Setup {
        /// The node's name.
        node: String,
        /// What went wrong.
        reason: String,
    },
    /// DSS answered with an error status; `message` is `"<errorType>: <detailedMessage>"`.
    #[error("DSS node {node}: {method} {path} answered HTTP {status}: {message}")]
    Http {
        /// The node's name.
        node: String,
        /// HTTP method.
        method: String,
        /// API path (without the prefix).
        path: String,
        /// HTTP status code.
        status: u16,
        /// DSS's error text, or the body's text when it is not a DSS error.
        message: String,
    },
    /// The request did not get an answer (connection, TLS, timeout).
    #[error("DSS node {node}: {method} {path} failed: {reason}")]
    Transport {
        /// The node's name.
        node: String,
        /// HTTP method.
        method: String,
        /// API path (without the prefix).
        path: String,
        /// The cause, with its sources.
        reason: String,
    },
    /// The answer was not the JSON expected.
    #[error("DSS node {node}: {method} {path} answered unexpected content: {reason}")]
    Decode {
        /// The node's name.
        node: String,
        /// HTTP method.
        method: String,
        /// API path (without the prefix).
        path: String,
        /// What did not parse.
        reason: String,
    },
}

impl DssError {
    /// The HTTP status, when DSS answered one.
    pub fn status(&self) -> Option<u16> {
        match self {
            DssError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Turns an error body into DSS's error text, as the Python client does:
/// `"<errorType>: <detailedMessage or message>"`, non-JSON bodies falling back to their text.
pub(crate) fn error_text(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(rename = "errorType")]
        error_type: Option<String>,
        message: Option<String>,
        #[serde(rename = "detailedMessage")]
        detailed_message: Option<String>,
    }
    match serde_json::from_str::<Body>(body) {
        Ok(b) => {
            let kind = b.error_type.unwrap_or_else(|| "Unknown error".to_string());
            let msg = b
                .detailed_message
                .filter(|m| !m.is_empty())
                .or(b.message)
                .unwrap_or_else(|| "No message".to_string());
            format!("{kind}: {msg}")
        }
        Err(_) => {
            let text: String = body.trim().chars().take(500).collect();
            if text.is_empty() {
                "Unknown error: No message".to_string()
            } else {
                format!("Unknown error: {text}")
            }
        }
    }
}

/// The error and its sources, joined (reqwest's own text alone is often just "error sending
/// request").
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_like_the_python_client() {
        assert_eq!(
            error_text(r#"{"errorType":"X","message":"m","detailedMessage":"d"}"#),
            "X: d"
        );
        assert_eq!(error_text(r#"{"message":"m"}"#), "Unknown error: m");
        assert_eq!(
            error_text("<html>bad gateway</html>"),
            "Unknown error: <html>bad gateway</html>"
        );
    }
}
