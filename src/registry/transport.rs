//! Sending one registry request: concurrency limit, auth, retries with backoff, 429, 401 handling.
//! Owns the retry policy; must never retry a non-idempotent request after it may have reached the server,
//! and never re-authenticate on a 401 that carries a refusal code (protected/immutable tags).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use tokio::sync::Semaphore;

use super::error::{parse_error_body, RegistryError, REFUSAL_CODES};
use super::observe::RequestObserver;
use super::retry::{backoff, retry_after};
use super::session::Session;
use super::settings::RegistrySettings;
use super::wire::{Call, Reply, Wire};

/// Requests to one registry: the wire, its auth session and the limit on requests in flight.
pub(crate) struct Transport {
    pub wire: Wire,
    pub session: Session,
    limit: Semaphore,
}

enum Next {
    Done(Reply),
    Retry(Duration),
    Reauth(Vec<String>),
}

impl Transport {
    pub fn new(
        settings: RegistrySettings,
        observer: Arc<dyn RequestObserver>,
    ) -> Result<Transport, RegistryError> {
        let limit = Semaphore::new(settings.max_concurrency);
        Ok(Transport {
            wire: Wire::new(settings, observer)?,
            session: Session::default(),
            limit,
        })
    }

    /// Sends `call` under the registry's concurrency limit, retrying as the policy allows.
    pub async fn send(&self, call: Call) -> Result<Reply, RegistryError> {
        let _permit = self.limit.acquire().await.expect("semaphore never closed");
        let retries = self.wire.settings.retries;
        let mut scopes = call.scopes.clone();
        let (mut attempt, mut reauthed) = (0u32, false);
        // Bounded: each pass either returns or uses up a retry or the single re-authentication.
        loop {
            let auth = self.session.authorization(&self.wire, &scopes).await?;
            let next = match self.wire.exchange(&call, auth).await {
                Err(source) if call.idempotent && attempt < retries => {
                    tracing::debug!(error = %source.without_url(), attempt, "registry request failed, retrying");
                    self.wire.retried("connect");
                    Next::Retry(backoff(attempt))
                }
                Err(source) => {
                    return Err(RegistryError::Transport {
                        method: call.method.to_string(),
                        path: call.url.path().to_owned(),
                        source: source.without_url(),
                    })
                }
                Ok(reply) => self.judge(reply, &call, attempt, reauthed)?,
            };
            match next {
                Next::Done(reply) => return Ok(reply),
                Next::Retry(wait) => {
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                }
                Next::Reauth(extra) => {
                    reauthed = true;
                    self.session.forget(&scopes).await;
                    scopes.extend(extra);
                    self.session.forget(&scopes).await;
                }
            }
        }
    }

    /// Decides what a reply means for the retry loop.
    fn judge(
        &self,
        reply: Reply,
        call: &Call,
        attempt: u32,
        reauthed: bool,
    ) -> Result<Next, RegistryError> {
        let retries = self.wire.settings.retries;
        let status = reply.status;
        if status == StatusCode::UNAUTHORIZED {
            return self.judge_unauthorized(reply, call, reauthed);
        }
        if status == StatusCode::TOO_MANY_REQUESTS && attempt < retries {
            let wait =
                retry_after(reply.header(RETRY_AFTER.as_str())).unwrap_or_else(|| backoff(attempt));
            tracing::warn!(
                wait_ms = wait.as_millis() as u64,
                "registry rate limit (429), waiting"
            );
            self.wire.retried("429");
            return Ok(Next::Retry(wait));
        }
        if status.is_server_error() && call.idempotent && attempt < retries {
            tracing::debug!(%status, path = %reply.path, attempt, "registry 5xx, retrying");
            self.wire.retried("5xx");
            return Ok(Next::Retry(backoff(attempt)));
        }
        Ok(Next::Done(reply))
    }

    fn judge_unauthorized(
        &self,
        reply: Reply,
        call: &Call,
        reauthed: bool,
    ) -> Result<Next, RegistryError> {
        let (code, message) = parse_error_body(&reply.body);
        if let Some(code) = code.filter(|c| REFUSAL_CODES.contains(&c.as_str())) {
            return Err(RegistryError::Protected {
                path: reply.path,
                code,
                message,
            });
        }
        let header = reply.header(WWW_AUTHENTICATE.as_str()).map(str::to_owned);
        if !reauthed {
            return Ok(Next::Reauth(self.session.learn(header.as_deref())));
        }
        let insufficient = header
            .as_deref()
            .is_some_and(|h| h.contains("insufficient_scope"));
        if call.method == Method::DELETE && insufficient {
            let repo = repo_of_path(&reply.path);
            return Err(RegistryError::MissingDeleteRight { repo });
        }
        let detail = if message.is_empty() {
            "credentials refused".to_owned()
        } else {
            message
        };
        Err(RegistryError::Unauthorized {
            method: call.method.to_string(),
            path: reply.path,
            detail,
        })
    }
}

/// `/v2/<repo>/manifests/...` → `<repo>`.
fn repo_of_path(path: &str) -> String {
    let rest = path.strip_prefix("/v2/").unwrap_or(path);
    ["/manifests/", "/blobs/", "/tags/"]
        .iter()
        .find_map(|m| rest.find(m).map(|i| rest[..i].to_owned()))
        .unwrap_or_else(|| rest.to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn repository_of_a_path() {
        assert_eq!(super::repo_of_path("/v2/a/b/manifests/sha256:x"), "a/b");
    }
}
