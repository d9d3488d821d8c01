//! The auth state of one registry: the scheme `/v2/` demands (learned once, updated on 401s) and
//! Bearer tokens cached per scope. Owns every credential it sends; must never log or return a
//! token, password or Authorization header.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::header::{HeaderValue, WWW_AUTHENTICATE};
use url::Url;

use super::auth::TokenResponse;
use super::auth::{challenge_from_header, jwt_claims, scope_key, CachedToken, Challenge};
use super::error::RegistryError;
use super::realm::realm_allowed;
use super::retry::{backoff, is_transient};
use super::wire::Wire;

/// Challenge and token cache of one registry.
#[derive(Default)]
pub(crate) struct Session {
    challenge: Mutex<Option<Challenge>>,
    tokens: tokio::sync::Mutex<HashMap<String, CachedToken>>,
}

/// `repository:<repo>:<actions>` scope string.
pub(crate) fn repo_scope(repo: &str, actions: &str) -> Vec<String> {
    vec![format!("repository:{repo}:{actions}")]
}

impl Session {
    /// The auth scheme `/v2/` demands, learned once with an anonymous request.
    pub async fn challenge(&self, wire: &Wire) -> Result<Challenge, RegistryError> {
        if let Some(c) = self.challenge.lock().expect("challenge lock").clone() {
            return Ok(c);
        }
        let retries = wire.settings.retries;
        let mut attempt = 0;
        // Bounded by `retries`: connection errors and 5xx are retried, anything else decides.
        let challenge = loop {
            match challenge_once(wire).await {
                Ok(c) => break c,
                Err(e) if attempt < retries && is_transient(&e) => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        tracing::debug!(?challenge, "registry auth scheme");
        *self.challenge.lock().expect("challenge lock") = Some(challenge.clone());
        Ok(challenge)
    }

    /// Records a challenge seen on a 401 (the registry may switch realms); returns the scopes it
    /// asked for.
    pub fn learn(&self, header: Option<&str>) -> Vec<String> {
        match challenge_from_header(header) {
            Some((c, scopes)) => {
                *self.challenge.lock().expect("challenge lock") = Some(c);
                scopes
            }
            None => Vec::new(),
        }
    }

    /// The Authorization value for a request needing `scopes` (none when anonymous).
    pub async fn authorization(
        &self,
        wire: &Wire,
        scopes: &[String],
    ) -> Result<Option<HeaderValue>, RegistryError> {
        let value = match self.challenge(wire).await? {
            Challenge::Anonymous => return Ok(None),
            Challenge::Basic => match basic_credentials(wire) {
                Some(b) => format!("Basic {b}"),
                None => return Ok(None),
            },
            Challenge::Bearer { realm, service } => {
                let token = self.token(wire, &realm, service.as_deref(), scopes).await?;
                format!("Bearer {}", token.value)
            }
        };
        sensitive(&value).map(Some)
    }

    /// Forgets the cached token for `scopes` (after a 401).
    pub async fn forget(&self, scopes: &[String]) {
        self.tokens.lock().await.remove(&scope_key(scopes));
    }

    /// Fails with `MissingDeleteRight` when the registry uses tokens and the token for `repo` states
    /// access without `delete`. Costs at most one token request; `Ok` when it cannot tell.
    pub async fn check_delete_right(&self, wire: &Wire, repo: &str) -> Result<(), RegistryError> {
        if let Challenge::Bearer { realm, service } = self.challenge(wire).await? {
            let scopes = repo_scope(repo, "delete");
            let token = self
                .token(wire, &realm, service.as_deref(), &scopes)
                .await?;
            if jwt_claims(&token.value).and_then(|c| c.grants(repo, "delete")) == Some(false) {
                return Err(RegistryError::MissingDeleteRight {
                    repo: repo.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// A cached or fresh token for `scopes`; the lock is held while fetching so concurrent callers
    /// share one fetch.
    async fn token(
        &self,
        wire: &Wire,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<CachedToken, RegistryError> {
        let key = scope_key(scopes);
        let mut cache = self.tokens.lock().await;
        if let Some(t) = cache.get(&key).filter(|t| t.refresh_at > Instant::now()) {
            return Ok(t.clone());
        }
        let fetched = fetch_token(wire, realm, service, scopes).await;
        wire.token_fetched(fetched.is_ok());
        let token = fetched?;
        // One scope per repository: without dropping expired tokens the cache would grow with
        // every repository a run ever touched, for the life of the daemon.
        let now = Instant::now();
        cache.retain(|_, t| t.refresh_at > now);
        cache.insert(key, token.clone());
        Ok(token)
    }
}

/// One anonymous `GET /v2/`: 200 means anonymous, 401 names the scheme.
async fn challenge_once(wire: &Wire) -> Result<Challenge, RegistryError> {
    let resp =
        wire.get(wire.url("/v2/")?, None)
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
        status => Err(RegistryError::Status {
            status,
            method: "GET".into(),
            path: "/v2/".into(),
            code: None,
            message: "the registry API root answered neither 200 nor 401".into(),
        }),
    }
}

async fn fetch_token(
    wire: &Wire,
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
    let auth = match basic_credentials(wire) {
        Some(b) => {
            let s = &wire.settings;
            realm_allowed(&s.url, &url, s.token_realm.as_ref()).map_err(err)?;
            Some(sensitive(&format!("Basic {b}")).map_err(|_| err("bad credential bytes".into()))?)
        }
        None => None,
    };
    let resp = wire
        .get(url, auth)
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
    let parsed: TokenResponse =
        serde_json::from_slice(&body).map_err(|e| err(format!("answer is not token JSON: {e}")))?;
    let lifetime = Duration::from_secs(wire.settings.token_lifetime_secs);
    tracing::debug!(scopes = %scope_key(scopes), "fetched registry token");
    parsed.into_cached(lifetime, realm)
}

fn basic_credentials(wire: &Wire) -> Option<String> {
    let s = &wire.settings;
    let (user, pass) = (s.username.as_ref()?, s.password.as_ref()?);
    Some(base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", pass.expose())))
}

/// A header value marked sensitive (kept out of debug output).
fn sensitive(value: &str) -> Result<HeaderValue, RegistryError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        RegistryError::InvalidInput("credentials contain invalid header bytes".into())
    })?;
    header.set_sensitive(true);
    Ok(header)
}
