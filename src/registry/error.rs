//! Registry client errors: one typed enum with messages an operator can act on.
//! Owns the lenient parsing of `{"errors":[...]}` bodies; must never put credentials or tokens in a message.

use serde::Deserialize;

/// Everything that can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A URL, repository name, tag or digest that cannot be used.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Connection, TLS or timeout failure (after the retries allowed for the request).
    #[error("cannot reach the registry ({method} {path}): {source}")]
    Transport {
        method: String,
        path: String,
        #[source]
        source: reqwest::Error,
    },
    /// The registry answered with a status this operation does not accept.
    #[error("registry answered {status} to {method} {path}: {}", describe(.code, .message))]
    Status {
        status: u16,
        method: String,
        path: String,
        code: Option<String>,
        message: String,
    },
    /// Credentials missing or refused (after one token refresh).
    #[error("not authorized for {method} {path}: {detail}")]
    Unauthorized {
        method: String,
        path: String,
        detail: String,
    },
    /// The credentials work but the token does not grant `delete` on this repository.
    #[error("the token for repository {repo} lacks delete rights (scope granted without `delete`); use credentials allowed to delete images")]
    MissingDeleteRight { repo: String },
    /// `storage.delete.enabled` is off (or the registry never deletes): 405 UNSUPPORTED.
    #[error(
        "deletion is disabled on registry {registry} (405 UNSUPPORTED); nothing was removed there"
    )]
    DeletionDisabled { registry: String },
    /// GitLab tag protection / immutability refused the change (sent as 401, never retried).
    #[error("registry refused the change to {path}: {code}: {message}")]
    Protected {
        path: String,
        code: String,
        message: String,
    },
    /// Token endpoint failure.
    #[error("token request to {realm} failed: {detail}")]
    Token { realm: String, detail: String },
    /// The bytes received do not hash to the digest they were fetched or pushed as.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: String, actual: String },
    /// A manifest or tag list body that cannot be understood.
    #[error("invalid response from {path}: {detail}")]
    InvalidResponse { path: String, detail: String },
}

fn describe(code: &Option<String>, message: &str) -> String {
    match code {
        Some(c) if message.is_empty() => c.clone(),
        Some(c) => format!("{c}: {message}"),
        None if message.is_empty() => "(empty body)".to_owned(),
        None => message.to_owned(),
    }
}

impl RegistryError {
    /// The registry error code (`MANIFEST_UNKNOWN`, ...) if the registry sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            RegistryError::Status { code, .. } => code.as_deref(),
            RegistryError::Protected { code, .. } => Some(code),
            _ => None,
        }
    }

    /// HTTP status, when the error is a registry answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Codes GitLab answers with HTTP 401 that are refusals, not expired credentials.
pub(crate) const REFUSAL_CODES: &[&str] = &["PROTECTED_TAG", "IMMUTABLE_TAG", "PROTECTED_MANIFEST"];

/// First error of a registry error body, parsed leniently (bodies may be non-JSON).
pub(crate) fn parse_error_body(body: &[u8]) -> (Option<String>, String) {
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
    }
    if let Ok(b) = serde_json::from_slice::<Body>(body) {
        if let Some(first) = b.errors.into_iter().next() {
            return (first.code, first.message.unwrap_or_default());
        }
    }
    let text = String::from_utf8_lossy(body);
    let text: String = text.trim().chars().take(200).collect();
    (None, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_plain_bodies() {
        let (code, msg) = parse_error_body(
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#,
        );
        assert_eq!(code.as_deref(), Some("MANIFEST_UNKNOWN"));
        assert_eq!(msg, "manifest unknown");
        let (code, msg) = parse_error_body(b"<html>bad gateway</html>\n");
        assert_eq!(code, None);
        assert_eq!(msg, "<html>bad gateway</html>");
        let (code, msg) = parse_error_body(br#"{"errors":[]}"#);
        assert_eq!((code, msg.as_str()), (None, r#"{"errors":[]}"#));
    }
}
