//! Registry authentication, the parsing half: `WWW-Authenticate` challenges, token answers and the
//! JWT claims read from them. Pure; the session that sends credentials is `session.rs`.

use super::error::RegistryError;
use base64::Engine;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What `/v2/` asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// No authentication needed.
    Anonymous,
    /// HTTP basic (htpasswd).
    Basic,
    /// Token flow: fetch a token from `realm` for `service`.
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` value (RFC 7235 / RFC 6750 auth-params: quoted values may contain commas).
/// Returns the scheme (lower-cased) and its parameters (keys lower-cased).
pub fn parse_challenge(header: &str) -> Option<(String, HashMap<String, String>)> {
    let header = header.trim();
    let (scheme, mut rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = HashMap::new();
    // Every loop consumes at least one character, so it ends.
    while !rest.is_empty() {
        rest = rest.trim_start_matches([' ', ',']);
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_ascii_lowercase();
        rest = &rest[eq + 1..];
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let (v, used) = read_quoted(quoted);
            value = v;
            rest = &quoted[used..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_owned();
            rest = &rest[end..];
        }
        params.insert(key, value);
    }
    Some((scheme.to_ascii_lowercase(), params))
}

/// Reads a quoted-string body (after the opening quote); returns the value and bytes consumed.
fn read_quoted(s: &str) -> (String, usize) {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            }
            '"' => return (out, i + 1),
            _ => out.push(c),
        }
    }
    (out, s.len())
}

/// The challenge the registry sent, or `None` when the header is missing or unknown.
pub(crate) fn challenge_from_header(value: Option<&str>) -> Option<(Challenge, Vec<String>)> {
    let (scheme, params) = parse_challenge(value?)?;
    match scheme.as_str() {
        "basic" => Some((Challenge::Basic, Vec::new())),
        "bearer" => {
            let realm = params.get("realm")?.clone();
            let scopes = params
                .get("scope")
                .map(|s| {
                    s.split(' ')
                        .filter(|x| !x.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let service = params.get("service").cloned();
            Some((Challenge::Bearer { realm, service }, scopes))
        }
        _ => None,
    }
}

/// Token endpoint answer: `token` or its OAuth alias `access_token`.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// A token and when to stop using it.
#[derive(Clone)]
pub(crate) struct CachedToken {
    pub value: String,
    pub refresh_at: Instant,
}

impl TokenResponse {
    /// The token, with its refresh time: `expires_in`, else the JWT `exp`, else the default lifetime;
    /// refreshed when 80 % of the lifetime has passed (at least 5 s early).
    pub(crate) fn into_cached(
        self,
        default: Duration,
        realm: &str,
    ) -> Result<CachedToken, RegistryError> {
        let value = self
            .token
            .or(self.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RegistryError::Token {
                realm: realm.to_owned(),
                detail: "answer has neither token nor access_token".into(),
            })?;
        let lifetime = self
            .expires_in
            .map(Duration::from_secs)
            .or_else(|| jwt_claims(&value).and_then(|c| c.remaining()))
            .unwrap_or(default);
        let early = (lifetime / 5).max(Duration::from_secs(5));
        let refresh_at = Instant::now() + lifetime.saturating_sub(early);
        Ok(CachedToken { value, refresh_at })
    }
}

/// The claims of a JWT we read without verifying (the registry verifies; we only plan with them).
#[derive(Deserialize, Default)]
pub(crate) struct JwtClaims {
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    access: Option<Vec<Access>>,
}

#[derive(Deserialize)]
struct Access {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    actions: Vec<String>,
}

impl JwtClaims {
    fn remaining(&self) -> Option<Duration> {
        let left = self.exp? - chrono::Utc::now().timestamp();
        Some(Duration::from_secs(left.max(0) as u64))
    }

    /// `Some(false)` when the token states its access and it lacks `action` on `repository:<repo>`.
    pub(crate) fn grants(&self, repo: &str, action: &str) -> Option<bool> {
        let access = self.access.as_ref()?;
        Some(access.iter().any(|a| {
            a.kind == "repository"
                && a.name == repo
                && a.actions.iter().any(|x| x == action || x == "*")
        }))
    }
}

/// Decodes a JWT's payload without checking its signature; `None` if it is not a JWT.
pub(crate) fn jwt_claims(token: &str) -> Option<JwtClaims> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Cache key for a set of scopes: sorted and joined, so the same set always hits.
pub(crate) fn scope_key(scopes: &[String]) -> String {
    let mut s: Vec<&str> = scopes.iter().map(String::as_str).collect();
    s.sort_unstable();
    s.dedup();
    s.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_params_keep_commas() {
        let h = r#"Bearer realm="https://gitlab.example/jwt/auth",service="container_registry",scope="repository:a/b:pull,push repository:c:delete",error="insufficient_scope""#;
        let (challenge, scopes) = challenge_from_header(Some(h)).unwrap();
        assert_eq!(
            challenge,
            Challenge::Bearer {
                realm: "https://gitlab.example/jwt/auth".into(),
                service: Some("container_registry".into())
            }
        );
        assert_eq!(
            scopes,
            vec!["repository:a/b:pull,push", "repository:c:delete"]
        );
        let (scheme, p) = parse_challenge(r#"Basic realm="x \"y\", z""#).unwrap();
        assert_eq!(
            (scheme.as_str(), p["realm"].as_str()),
            ("basic", r#"x "y", z"#)
        );
        assert!(challenge_from_header(Some("Negotiate abc")).is_none());
    }

    #[test]
    fn token_lifetime_from_jwt_exp_and_access() {
        let exp = chrono::Utc::now().timestamp() + 300;
        let payload = serde_json::json!({"exp": exp, "access": [{"type":"repository","name":"a/b","actions":["pull","push"]}]});
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwt = format!("e30.{}.sig", b64.encode(payload.to_string()));
        let claims = jwt_claims(&jwt).unwrap();
        assert_eq!(claims.grants("a/b", "delete"), Some(false));
        assert_eq!(claims.grants("a/b", "pull"), Some(true));
        let resp = TokenResponse {
            token: None,
            access_token: Some(jwt),
            expires_in: None,
        };
        let t = resp.into_cached(Duration::from_secs(60), "r").unwrap();
        let left = t.refresh_at - Instant::now();
        assert!(
            left > Duration::from_secs(200) && left <= Duration::from_secs(240),
            "{left:?}"
        );
        assert_eq!(scope_key(&["b".into(), "a".into(), "b".into()]), "a b");
    }
}
