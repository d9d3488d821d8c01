//! Sending one registry request: concurrency limit, auth, retries with backoff, 429, 401 handling.
//! Owns the retry policy; must never retry a non-idempotent request after it may have reached the server,
//! and never re-authenticate on a 401 that carries a refusal code (protected/immutable tags).

use super::client::RegistryClient;
use super::error::{parse_error_body, RegistryError, REFUSAL_CODES};
use bytes::Bytes;
use reqwest::header::{
    HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode};
use std::time::Duration;
use url::Url;

/// One request to make.
pub(crate) struct Call {
    pub method: Method,
    pub url: Url,
    pub accept: Option<&'static str>,
    pub content_type: Option<&'static str>,
    pub body: Option<Bytes>,
    pub scopes: Vec<String>,
    pub idempotent: bool,
}

impl Call {
    pub fn new(method: Method, url: Url, scopes: Vec<String>) -> Call {
        let idempotent = method != Method::POST;
        Call {
            method,
            url,
            accept: None,
            content_type: None,
            body: None,
            scopes,
            idempotent,
        }
    }
    pub fn get(url: Url, scopes: Vec<String>) -> Call {
        Call::new(Method::GET, url, scopes)
    }
    pub fn accept(mut self, accept: &'static str) -> Call {
        self.accept = Some(accept);
        self
    }
    pub fn body(mut self, content_type: &'static str, body: Bytes) -> Call {
        self.content_type = Some(content_type);
        self.body = Some(body);
        self
    }
}

/// A fully read answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub method: Method,
    pub path: String,
}

impl Reply {
    /// The answer as an error (code and message parsed from the body).
    pub fn error(&self) -> RegistryError {
        let (code, message) = parse_error_body(&self.body);
        RegistryError::Status {
            status: self.status.as_u16(),
            method: self.method.to_string(),
            path: self.path.clone(),
            code,
            message,
        }
    }

    /// Self when 2xx, else the error.
    pub fn expect_success(self) -> Result<Reply, RegistryError> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(self.error())
        }
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Exponential backoff with jitter: 100 ms · 2^attempt (max 5 s) plus up to half of that again.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 100u64.saturating_mul(1 << attempt.min(6)).min(5_000);
    Duration::from_millis(base + rand::random_range(0..=base / 2))
}

/// `Retry-After` as seconds or an HTTP-date, capped at 60 s.
pub(crate) fn retry_after(value: Option<&str>) -> Option<Duration> {
    let v = value?.trim();
    let wait = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = httpdate::parse_http_date(v).ok()?;
            at.duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
        }
    };
    Some(wait.min(Duration::from_secs(60)))
}

enum Next {
    Done(Reply),
    Retry(Duration),
    Reauth(Vec<String>),
}

impl RegistryClient {
    /// Sends `call` under the registry's concurrency limit, retrying as the policy allows.
    pub(crate) async fn send(&self, call: Call) -> Result<Reply, RegistryError> {
        let _permit = self
            .inner
            .limit
            .acquire()
            .await
            .expect("semaphore never closed");
        let retries = self.inner.settings.retries;
        let mut scopes = call.scopes.clone();
        let (mut attempt, mut reauthed) = (0u32, false);
        // Bounded: each pass either returns or uses up a retry or the single re-authentication.
        loop {
            let outcome = self.send_once(&call, &scopes).await?;
            let next = match outcome {
                Err(source) if call.idempotent && attempt < retries => {
                    tracing::debug!(error = %source.without_url(), attempt, "registry request failed, retrying");
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
                    self.forget_token(&scopes).await;
                    scopes.extend(extra);
                    self.forget_token(&scopes).await;
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
        let retries = self.inner.settings.retries;
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
            return Ok(Next::Retry(wait));
        }
        if status.is_server_error() && call.idempotent && attempt < retries {
            tracing::debug!(%status, path = %reply.path, attempt, "registry 5xx, retrying");
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
            return Ok(Next::Reauth(self.learn_challenge(header.as_deref())));
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

    async fn send_once(
        &self,
        call: &Call,
        scopes: &[String],
    ) -> Result<Result<Reply, reqwest::Error>, RegistryError> {
        let auth = self.authorization(scopes).await?;
        let mut req = self
            .inner
            .http
            .request(call.method.clone(), call.url.clone());
        if let Some(a) = auth {
            req = req.header(AUTHORIZATION, a);
        }
        if let Some(a) = call.accept {
            req = req.header(ACCEPT, a);
        }
        if let Some(ct) = call.content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        req = req.body(call.body.clone().unwrap_or_default());
        self.count_request();
        if call.method == Method::DELETE {
            self.inner
                .deletes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let (status, headers) = (resp.status(), resp.headers().clone());
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        let path = call.url.path().to_owned();
        Ok(Ok(Reply {
            status,
            headers,
            body,
            method: call.method.clone(),
            path,
        }))
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
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after(Some("3")), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(Some("9999")), Some(Duration::from_secs(60)));
        let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(10));
        let d = retry_after(Some(&soon)).unwrap();
        assert!(
            d <= Duration::from_secs(10) && d >= Duration::from_secs(8),
            "{d:?}"
        );
        assert_eq!(retry_after(Some("soon")), None);
        assert!(backoff(10) <= Duration::from_millis(7_500));
        assert_eq!(repo_of_path("/v2/a/b/manifests/sha256:x"), "a/b");
    }
}
