//! `RegistryClient`: one pooled HTTP client per registry, its auth state and request counter.
//! Owns how requests are authorized (anonymous, basic, Bearer tokens); must never log credentials or tokens.

use super::auth::{
    challenge_from_header, jwt_claims, scope_key, CachedToken, Challenge, TokenResponse,
};
use super::error::RegistryError;
use super::settings::RegistrySettings;
use base64::Engine;
use reqwest::header::{HeaderValue, WWW_AUTHENTICATE};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use url::Url;

/// Client for one registry. Cheap to clone; clones share the connection pool, tokens, limit and counter.
#[derive(Clone)]
pub struct RegistryClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub settings: RegistrySettings,
    pub http: reqwest::Client,
    pub limit: Semaphore,
    pub requests: AtomicU64,
    pub deletes: AtomicU64,
    pub capability: Mutex<Option<super::remove::DeleteCapability>>,
    challenge: Mutex<Option<Challenge>>,
    tokens: tokio::sync::Mutex<HashMap<String, CachedToken>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("url", &self.inner.settings.url.as_str())
            .finish()
    }
}

/// Connection errors and 5xx: worth another try.
fn is_transient(e: &RegistryError) -> bool {
    match e {
        RegistryError::Transport { .. } => true,
        RegistryError::Status { status, .. } => *status >= 500,
        _ => false,
    }
}

/// `repository:<repo>:<actions>` scope string.
pub(crate) fn repo_scope(repo: &str, actions: &str) -> Vec<String> {
    vec![format!("repository:{repo}:{actions}")]
}

impl RegistryClient {
    /// Builds the client (rustls, timeouts, pool); validates the settings.
    pub fn new(settings: RegistrySettings) -> Result<Self, RegistryError> {
        settings.validate().map_err(RegistryError::InvalidInput)?;
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(settings.connect_timeout())
            .timeout(settings.request_timeout())
            .pool_max_idle_per_host(settings.max_concurrency)
            .user_agent(concat!("registry-gc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::InvalidInput(format!("cannot build HTTP client: {e}")))?;
        let limit = Semaphore::new(settings.max_concurrency);
        let inner = Inner {
            settings,
            http,
            limit,
            requests: AtomicU64::new(0),
            deletes: AtomicU64::new(0),
            capability: Mutex::new(None),
            challenge: Mutex::new(None),
            tokens: tokio::sync::Mutex::new(HashMap::new()),
        };
        Ok(RegistryClient {
            inner: Arc::new(inner),
        })
    }

    /// The settings this client was built from.
    pub fn settings(&self) -> &RegistrySettings {
        &self.inner.settings
    }

    /// HTTP requests made so far (registry and token endpoint), for reports and benchmarks.
    pub fn requests_made(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// `DELETE` requests made so far (capability probes included).
    pub fn deletes_made(&self) -> u64 {
        self.inner.deletes.load(Ordering::Relaxed)
    }

    pub(crate) fn count_request(&self) {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// `base + path`; `path` starts with `/v2/`.
    pub(crate) fn url(&self, path: &str) -> Result<Url, RegistryError> {
        self.inner
            .settings
            .url
            .join(path)
            .map_err(|e| RegistryError::InvalidInput(format!("bad path {path}: {e}")))
    }

    /// Checks the registry answers `/v2/` and that the configured credentials are accepted.
    pub async fn ping(&self) -> Result<(), RegistryError> {
        self.ensure_challenge().await?;
        let reply = self
            .send(super::transport::Call::get(self.url("/v2/")?, Vec::new()))
            .await?;
        reply.expect_success()?;
        Ok(())
    }

    /// The auth scheme `/v2/` demands, learned once with an anonymous request.
    pub(crate) async fn ensure_challenge(&self) -> Result<Challenge, RegistryError> {
        if let Some(c) = self.inner.challenge.lock().expect("challenge lock").clone() {
            return Ok(c);
        }
        let retries = self.inner.settings.retries;
        let mut attempt = 0;
        // Bounded by `retries`: connection errors and 5xx are retried, anything else decides.
        let challenge = loop {
            match self.challenge_once().await {
                Ok(c) => break c,
                Err(e) if attempt < retries && is_transient(&e) => {
                    tokio::time::sleep(super::transport::backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        tracing::debug!(?challenge, "registry auth scheme");
        *self.inner.challenge.lock().expect("challenge lock") = Some(challenge.clone());
        Ok(challenge)
    }

    /// One anonymous `GET /v2/`: 200 means anonymous, 401 names the scheme.
    async fn challenge_once(&self) -> Result<Challenge, RegistryError> {
        let err = |status: u16| RegistryError::Status {
            status,
            method: "GET".into(),
            path: "/v2/".into(),
            code: None,
            message: "the registry API root answered neither 200 nor 401".into(),
        };
        self.count_request();
        let resp = self
            .inner
            .http
            .get(self.url("/v2/")?)
            .send()
            .await
            .map_err(|source| RegistryError::Transport {
                method: "GET".into(),
                path: "/v2/".into(),
                source: source.without_url(),
            })?;
        let header = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok());
        match resp.status().as_u16() {
            401 => Ok(challenge_from_header(header).map_or(Challenge::Anonymous, |c| c.0)),
            s if (200..300).contains(&s) => Ok(Challenge::Anonymous),
            s => Err(err(s)),
        }
    }

    /// Records a challenge seen on a 401 (the registry may switch realms).
    pub(crate) fn learn_challenge(&self, header: Option<&str>) -> Vec<String> {
        match challenge_from_header(header) {
            Some((c, scopes)) => {
                *self.inner.challenge.lock().expect("challenge lock") = Some(c);
                scopes
            }
            None => Vec::new(),
        }
    }

    /// The Authorization value for a request needing `scopes` (none when anonymous).
    pub(crate) async fn authorization(
        &self,
        scopes: &[String],
    ) -> Result<Option<HeaderValue>, RegistryError> {
        let value = match self.ensure_challenge().await? {
            Challenge::Anonymous => return Ok(None),
            Challenge::Basic => match self.basic_credentials() {
                Some(b) => format!("Basic {b}"),
                None => return Ok(None),
            },
            Challenge::Bearer { realm, service } => {
                let token = self.token(&realm, service.as_deref(), scopes).await?;
                format!("Bearer {}", token.value)
            }
        };
        let mut header = HeaderValue::from_str(&value).map_err(|_| {
            RegistryError::InvalidInput("credentials contain invalid header bytes".into())
        })?;
        header.set_sensitive(true);
        Ok(Some(header))
    }

    fn basic_credentials(&self) -> Option<String> {
        let s = &self.inner.settings;
        let (user, pass) = (s.username.as_ref()?, s.password.as_ref()?);
        Some(base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", pass.expose())))
    }

    /// Forgets the cached token for `scopes` (after a 401).
    pub(crate) async fn forget_token(&self, scopes: &[String]) {
        self.inner.tokens.lock().await.remove(&scope_key(scopes));
    }

    /// A cached or fresh token for `scopes`; the lock is held while fetching so concurrent callers share one fetch.
    async fn token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<CachedToken, RegistryError> {
        let key = scope_key(scopes);
        let mut cache = self.inner.tokens.lock().await;
        if let Some(t) = cache.get(&key).filter(|t| t.refresh_at > Instant::now()) {
            return Ok(t.clone());
        }
        let token = self.fetch_token(realm, service, scopes).await?;
        cache.insert(key, token.clone());
        Ok(token)
    }

    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<CachedToken, RegistryError> {
        let err = |detail: String| RegistryError::Token {
            realm: realm.to_owned(),
            detail,
        };
        let mut url = Url::parse(realm).map_err(|e| err(format!("bad realm URL: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in scopes {
                q.append_pair("scope", s);
            }
        }
        let mut req = self.inner.http.get(url);
        if let Some(b) = self.basic_credentials() {
            let mut v = HeaderValue::from_str(&format!("Basic {b}"))
                .map_err(|_| err("bad credential bytes".into()))?;
            v.set_sensitive(true);
            req = req.header(reqwest::header::AUTHORIZATION, v);
        }
        self.count_request();
        let resp = req
            .send()
            .await
            .map_err(|e| err(e.without_url().to_string()))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| err(e.without_url().to_string()))?;
        if !status.is_success() {
            let (code, message) = super::error::parse_error_body(&body);
            return Err(err(format!(
                "{status} {} {message}",
                code.unwrap_or_default()
            )));
        }
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| err(format!("answer is not token JSON: {e}")))?;
        let lifetime = Duration::from_secs(self.inner.settings.token_lifetime_secs);
        tracing::debug!(scopes = %scope_key(scopes), "fetched registry token");
        parsed.into_cached(lifetime, realm)
    }

    /// Fails with `MissingDeleteRight` when the registry uses tokens and the token for `repo` states
    /// access without `delete`. Costs at most one token request; `Ok` when it cannot tell.
    pub async fn check_delete_right(&self, repo: &str) -> Result<(), RegistryError> {
        if let Challenge::Bearer { realm, service } = self.ensure_challenge().await? {
            let token = self
                .token(&realm, service.as_deref(), &repo_scope(repo, "delete"))
                .await?;
            if jwt_claims(&token.value).and_then(|c| c.grants(repo, "delete")) == Some(false) {
                return Err(RegistryError::MissingDeleteRight {
                    repo: repo.to_owned(),
                });
            }
        }
        Ok(())
    }
}
