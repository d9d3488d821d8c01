//! One HTTP exchange with a registry, fully read, and the request counters. Below auth and retries:
//! `Wire` never decides what an answer means, never retries, and never logs a header value.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use url::Url;

use super::error::{parse_error_body, RegistryError};
use super::observe::RequestObserver;
use super::settings::RegistrySettings;

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

/// The pooled HTTP client of one registry and what it has sent.
pub(crate) struct Wire {
    pub settings: RegistrySettings,
    http: reqwest::Client,
    requests: AtomicU64,
    deletes: AtomicU64,
    /// The registry's host, the label of what is reported.
    host: String,
    pub observer: Arc<dyn RequestObserver>,
}

impl Wire {
    /// Builds the client (rustls, timeouts, pool).
    pub fn new(
        settings: RegistrySettings,
        observer: Arc<dyn RequestObserver>,
    ) -> Result<Wire, RegistryError> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(settings.connect_timeout())
            .timeout(settings.request_timeout())
            .pool_max_idle_per_host(settings.max_concurrency)
            .redirect(super::realm::redirect_policy())
            .user_agent(concat!("registry-gc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::InvalidInput(format!("cannot build HTTP client: {e}")))?;
        Ok(Wire {
            host: settings.host(),
            settings,
            http,
            requests: AtomicU64::new(0),
            deletes: AtomicU64::new(0),
            observer,
        })
    }

    /// `base + path`; `path` starts with `/v2/` (or is a link the registry sent).
    pub fn url(&self, path: &str) -> Result<Url, RegistryError> {
        self.settings
            .url
            .join(path)
            .map_err(|e| RegistryError::InvalidInput(format!("bad path {path}: {e}")))
    }

    /// HTTP requests made so far (registry and token endpoint).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// `DELETE` requests made so far.
    pub fn deletes(&self) -> u64 {
        self.deletes.load(Ordering::Relaxed)
    }

    /// Sends `call` once with `auth`; `Err` only when no answer could be read.
    pub async fn exchange(
        &self,
        call: &Call,
        auth: Option<HeaderValue>,
    ) -> Result<Reply, reqwest::Error> {
        let mut req = self.http.request(call.method.clone(), call.url.clone());
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
        self.requests.fetch_add(1, Ordering::Relaxed);
        if call.method == Method::DELETE {
            self.deletes.fetch_add(1, Ordering::Relaxed);
        }
        let started = std::time::Instant::now();
        let answered = async {
            let resp = req.send().await?;
            let (status, headers) = (resp.status(), resp.headers().clone());
            Ok::<_, reqwest::Error>((status, headers, resp.bytes().await?))
        }
        .await;
        let seconds = started.elapsed().as_secs_f64();
        let status = answered.as_ref().ok().map(|(s, _, _)| s.as_u16());
        self.observer
            .request(&self.host, call.method.as_str(), status, seconds);
        let (status, headers, body) = answered?;
        Ok(Reply {
            status,
            headers,
            body,
            method: call.method.clone(),
            path: call.url.path().to_owned(),
        })
    }

    /// Reports a retry of a request to this registry.
    pub fn retried(&self, reason: &'static str) {
        self.observer.retry(&self.host, reason);
    }

    /// Reports a token fetch.
    pub fn token_fetched(&self, ok: bool) {
        self.observer.token_fetch(&self.host, ok);
    }

    /// A plain GET to any URL (the token realm, the anonymous `/v2/` probe), counted.
    pub async fn get(
        &self,
        url: Url,
        auth: Option<HeaderValue>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut req = self.http.get(url);
        if let Some(a) = auth {
            req = req.header(AUTHORIZATION, a);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let answer = req.send().await;
        let status = answer.as_ref().ok().map(|r| r.status().as_u16());
        let seconds = started.elapsed().as_secs_f64();
        self.observer.request(&self.host, "GET", status, seconds);
        answer
    }
}
