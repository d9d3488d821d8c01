//! Sending one GitLab GET: concurrency limit, request budget, retries with backoff on connection
//! errors, timeouts and 5xx, and 429 honoured with or without `Retry-After` / `RateLimit-Reset`.
//! Only GETs are sent, so every request may be retried. Never logs the token or a full URL.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use tokio::sync::Semaphore;
use url::Url;

use super::error::{body_message, GitLabError};
use super::settings::GitLabSettings;

/// The requests one run may make (all projects of a reconcile run share one). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Budget {
    limit: u32,
    used: Arc<AtomicU32>,
}

impl Budget {
    /// A budget of `limit` requests.
    pub fn new(limit: u32) -> Budget {
        Budget {
            limit,
            used: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Requests made so far against this budget.
    pub fn used(&self) -> u32 {
        self.used.load(Ordering::Relaxed)
    }

    fn take(&self) -> Result<(), GitLabError> {
        let taken = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                (u < self.limit).then_some(u + 1)
            });
        taken
            .map(|_| ())
            .map_err(|_| GitLabError::BudgetExhausted { budget: self.limit })
    }
}

/// A fully read 2xx-or-4xx answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub path: String,
}

impl Reply {
    /// Self when 2xx, else the error.
    pub fn expect_success(self) -> Result<Reply, GitLabError> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(self.into_error())
        }
    }

    pub fn into_error(self) -> GitLabError {
        GitLabError::Status {
            status: self.status.as_u16(),
            path: self.path,
            message: body_message(&self.body),
        }
    }

    /// The body as `T`; the error names the JSON path of the first bad field.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, GitLabError> {
        let de = &mut serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(de).map_err(|e| GitLabError::Parse {
            path: self.path.clone(),
            detail: format!("{} at {}", e.inner(), e.path()),
        })
    }
}

/// Backoff before retry `attempt` (0-based): initial · 2^attempt, capped, plus up to half again.
pub(crate) fn backoff(settings: &GitLabSettings, attempt: u32) -> Duration {
    let base = settings
        .backoff_initial_ms
        .saturating_mul(1u64 << attempt.min(20))
        .min(settings.backoff_max_ms);
    Duration::from_millis(base + rand::random_range(0..=base / 2))
}

/// How long a 429 asks us to wait: `Retry-After` (seconds or HTTP date), else `RateLimit-Reset`
/// (Unix time), else `RateLimit-ResetTime` (HTTP date); `None` when it says nothing usable.
pub(crate) fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let until = |at: SystemTime| at.duration_since(now).unwrap_or_default();
    if let Some(v) = text("retry-after") {
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = httpdate::parse_http_date(v) {
            return Some(until(at));
        }
    }
    if let Some(secs) = text("ratelimit-reset").and_then(|v| v.parse::<u64>().ok()) {
        return Some(until(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)));
    }
    text("ratelimit-resettime")
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .map(until)
}

/// A transport failure in words, with its causes, without the URL.
fn describe(e: reqwest::Error, settings: &GitLabSettings) -> String {
    if e.is_timeout() {
        return format!("no answer within {} ms", settings.request_timeout_ms);
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// What to do after one attempt.
enum Next {
    Done(Reply),
    Retry(Duration, &'static str),
    Fail(GitLabError),
}

/// The HTTP side of the client: the pooled rustls client carrying the token, the concurrency
/// limit and the request counter.
pub(crate) struct Transport {
    settings: GitLabSettings,
    http: reqwest::Client,
    limit: Semaphore,
    requests: AtomicU64,
}

impl Transport {
    /// Builds the HTTP client for validated settings. The token is a sensitive default header
    /// (never in `Debug`); redirects are not followed, so it never goes to another host.
    pub fn new(settings: GitLabSettings) -> Result<Transport, GitLabError> {
        let mut token = HeaderValue::from_str(settings.token.expose()).map_err(|_| {
            GitLabError::Settings("gitlab.token: not a valid HTTP header value".into())
        })?;
        token.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("private-token", token);
        headers.insert("accept", HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.connect_timeout())
            .timeout(settings.request_timeout())
            .pool_max_idle_per_host(settings.concurrency)
            .user_agent(concat!("registry-gc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GitLabError::Settings(format!("cannot build HTTP client: {e}")))?;
        let limit = Semaphore::new(settings.concurrency);
        Ok(Transport {
            settings,
            http,
            limit,
            requests: AtomicU64::new(0),
        })
    }

    pub fn settings(&self) -> &GitLabSettings {
        &self.settings
    }

    /// HTTP requests sent so far (retries included).
    pub fn requests_made(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// GETs `url` under the concurrency limit, retrying as the settings allow. Answers 2xx and 4xx
    /// other than 429 are returned for the caller to judge; 5xx, 429 and transport errors that
    /// outlast the retries are errors. Every attempt counts against `budget`.
    pub(crate) async fn get(&self, url: &Url, budget: &Budget) -> Result<Reply, GitLabError> {
        let _permit = self.limit.acquire().await.expect("semaphore never closed");
        let settings = &self.settings;
        let path = url.path().to_owned();
        // Bounded: every pass returns or uses up one of `retries` attempts.
        for attempt in 0..=settings.retries {
            budget.take()?;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let last = attempt == settings.retries;
            match self.judge(self.send_once(url).await, &path, attempt, last) {
                Next::Done(reply) => return Ok(reply),
                Next::Fail(e) => return Err(e),
                Next::Retry(wait, why) => {
                    tracing::warn!(path = %path, attempt, wait_ms = wait.as_millis() as u64, why, "GitLab request retried");
                    tokio::time::sleep(wait).await;
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    fn judge(
        &self,
        outcome: Result<Reply, reqwest::Error>,
        path: &str,
        attempt: u32,
        last: bool,
    ) -> Next {
        let settings = &self.settings;
        let reply = match outcome {
            Err(e) if last => {
                let detail = describe(e, settings);
                return Next::Fail(GitLabError::Transport {
                    path: path.to_owned(),
                    detail,
                });
            }
            Err(_) => return Next::Retry(backoff(settings, attempt), "no answer"),
            Ok(reply) => reply,
        };
        let status = reply.status;
        if status == StatusCode::TOO_MANY_REQUESTS && !last {
            let cap = Duration::from_secs(settings.max_retry_wait_secs);
            let wait = rate_limit_wait(&reply.headers, SystemTime::now())
                .unwrap_or_else(|| backoff(settings, attempt))
                .min(cap);
            return Next::Retry(wait, "rate limited (429)");
        }
        if status.is_server_error() && !last {
            return Next::Retry(backoff(settings, attempt), "server error (5xx)");
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Next::Fail(reply.into_error());
        }
        Next::Done(reply)
    }

    async fn send_once(&self, url: &Url) -> Result<Reply, reqwest::Error> {
        let response = self.http.get(url.clone()).send().await?;
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.bytes().await?;
        Ok(Reply {
            status,
            headers,
            body,
            path: url.path().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn rate_limit_headers() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let wait = |pairs: &[(&'static str, &str)]| rate_limit_wait(&headers(pairs), now);
        assert_eq!(wait(&[("retry-after", "7")]), Some(Duration::from_secs(7)));
        assert_eq!(
            wait(&[("ratelimit-reset", "1000030")]),
            Some(Duration::from_secs(30))
        );
        assert_eq!(wait(&[("ratelimit-reset", "999000")]), Some(Duration::ZERO));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(12));
        assert_eq!(
            wait(&[("ratelimit-resettime", &date)]),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            wait(&[("retry-after", &date)]),
            Some(Duration::from_secs(12))
        );
        assert_eq!(wait(&[("retry-after", "soon")]), None);
        assert_eq!(wait(&[]), None);
    }

    #[test]
    fn budget_is_shared_and_bounded() {
        let b = Budget::new(2);
        let clone = b.clone();
        assert!(b.take().is_ok() && clone.take().is_ok());
        assert!(matches!(
            b.take(),
            Err(GitLabError::BudgetExhausted { budget: 2 })
        ));
        assert_eq!(clone.used(), 2);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut s = GitLabSettings::new(
            "https://g.example".parse().unwrap(),
            crate::secret::Secret::new("t"),
        );
        s.backoff_initial_ms = 10;
        s.backoff_max_ms = 40;
        assert!(backoff(&s, 0) <= Duration::from_millis(15));
        assert!(backoff(&s, 30) <= Duration::from_millis(60));
        assert!(backoff(&s, 30) >= Duration::from_millis(40));
    }
}
