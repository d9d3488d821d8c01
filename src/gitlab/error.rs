//! What can go wrong talking to GitLab. Messages name the API path (never the token, never a full
//! URL with a query that could carry one) so an operator can see which answer was refused.

/// A failed GitLab request or an answer registry-gc will not trust.
#[derive(Debug, thiserror::Error)]
pub enum GitLabError {
    /// A final answer outside 2xx (after retries for 5xx and 429).
    #[error("GitLab {path}: HTTP {status}{}", message_suffix(.message))]
    Status {
        status: u16,
        path: String,
        message: String,
    },
    /// No answer: connection refused or reset, TLS, timeout (after retries).
    #[error("GitLab {path}: {detail}")]
    Transport { path: String, detail: String },
    /// An answer that is not what the API documents.
    #[error("GitLab {path}: answer does not parse: {detail}")]
    Parse { path: String, detail: String },
    /// The run's request budget is used up.
    #[error("GitLab request budget of {budget} requests for this run is used up")]
    BudgetExhausted { budget: u32 },
    /// A list longer than the configured page limit where the whole list is needed.
    #[error("GitLab {path}: more than {max_pages} pages; the list cannot be read completely")]
    TooManyPages { path: String, max_pages: u32 },
    /// Pagination headers that contradict the pages (GitLab's empty-pages bug, a moving list).
    #[error("GitLab {path}: inconsistent pagination: {detail}")]
    Pagination { path: String, detail: String },
    /// Settings the client cannot work with.
    #[error("GitLab settings: {0}")]
    Settings(String),
}

fn message_suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(" ({message})")
    }
}

impl GitLabError {
    /// The HTTP status of a `Status` error.
    pub fn status(&self) -> Option<u16> {
        match self {
            GitLabError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The `message` (or `error`) of a GitLab error body, shortened; empty if there is none.
pub(crate) fn body_message(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => match v.get("message").or_else(|| v.get("error")) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        },
        Err(_) => String::from_utf8_lossy(body).trim().to_owned(),
    };
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert_eq!(
            body_message(br#"{"message":"404 Branch Not Found"}"#),
            "404 Branch Not Found"
        );
        assert_eq!(
            body_message(b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
        let e = GitLabError::Status {
            status: 502,
            path: "/api/v4/projects/1/pipelines".into(),
            message: "bad gateway".into(),
        };
        assert_eq!(
            e.to_string(),
            "GitLab /api/v4/projects/1/pipelines: HTTP 502 (bad gateway)"
        );
    }
}
