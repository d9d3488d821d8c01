//! A token issuer for the registry's `auth.token`: a tiny axum server on loopback that checks basic
//! credentials and signs real ES256 JWTs (self-signed rcgen cert, sent in the `x5c` header).
//! Grants follow the Docker intersection rule: requested actions the user lacks are silently dropped.

use super::TokenAuth;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What one user may do: password and the actions granted on any repository.
#[derive(Clone, Debug)]
pub struct Grant {
    pub password: String,
    pub actions: Vec<String>,
}

impl Grant {
    pub fn new(password: &str, actions: &[&str]) -> Grant {
        Grant {
            password: password.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }
}

struct IssuerState {
    users: HashMap<String, Grant>,
    key: jsonwebtoken::EncodingKey,
    cert_der_b64: String,
    issued: AtomicUsize,
}

/// The running issuer; its task is aborted on Drop.
pub struct TokenIssuer {
    port: u16,
    dir: tempfile::TempDir,
    state: Arc<IssuerState>,
    task: tokio::task::JoinHandle<()>,
}

pub const SERVICE: &str = "registry-gc-test-registry";
pub const ISSUER: &str = "registry-gc-test-issuer";

impl TokenIssuer {
    /// Starts on a free loopback port with these users.
    pub async fn start(users: &[(&str, Grant)]) -> TokenIssuer {
        let ck = rcgen::generate_simple_self_signed(vec!["registry-gc-test-issuer".to_string()])
            .expect("self-signed cert");
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("root.pem"), ck.cert.pem()).expect("write cert");
        let key = jsonwebtoken::EncodingKey::from_ec_pem(ck.key_pair.serialize_pem().as_bytes())
            .expect("ec key");
        let state = Arc::new(IssuerState {
            users: users
                .iter()
                .map(|(u, g)| (u.to_string(), g.clone()))
                .collect(),
            key,
            cert_der_b64: base64::engine::general_purpose::STANDARD.encode(ck.cert.der()),
            issued: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind issuer");
        let port = listener.local_addr().expect("addr").port();
        let app = axum::Router::new()
            .route("/token", axum::routing::get(issue))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("issuer serve");
        });
        TokenIssuer {
            port,
            dir,
            state,
            task,
        }
    }

    /// The registry's `auth.token` section pointing here.
    pub fn token_auth(&self) -> TokenAuth {
        TokenAuth {
            realm: format!("http://127.0.0.1:{}/token", self.port),
            service: SERVICE.into(),
            issuer: ISSUER.into(),
            rootcertbundle: self.dir.path().join("root.pem"),
        }
    }

    /// Tokens issued so far.
    pub fn issued(&self) -> usize {
        self.state.issued.load(Ordering::Relaxed)
    }
}

impl Drop for TokenIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn basic_user(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    let (u, p) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(u, p)| (u.to_owned(), p.to_owned()))?;
    Some((u, p))
}

async fn issue(
    State(state): State<Arc<IssuerState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((user, pass)) = basic_user(&headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"credentials required"}]}"#,
        )
            .into_response();
    };
    let Some(grant) = state.users.get(&user).filter(|g| g.password == pass) else {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#,
        )
            .into_response();
    };
    let query = query.unwrap_or_default();
    let mut access = Vec::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k != "scope" {
            continue;
        }
        for scope in v.split(' ') {
            let (Some(first), Some(last)) = (scope.find(':'), scope.rfind(':')) else {
                continue;
            };
            if first == last {
                continue;
            }
            let (kind, name, wanted) =
                (&scope[..first], &scope[first + 1..last], &scope[last + 1..]);
            let actions: Vec<&str> = wanted
                .split(',')
                .filter(|a| grant.actions.iter().any(|g| g == a || g == "*"))
                .collect();
            access.push(serde_json::json!({ "type": kind, "name": name, "actions": actions }));
        }
    }
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": user, "aud": SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
        "jti": uuid::Uuid::new_v4().to_string(), "access": access,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.x5c = Some(vec![state.cert_der_b64.clone()]);
    let token = jsonwebtoken::encode(&header, &claims, &state.key).expect("sign token");
    state.issued.fetch_add(1, Ordering::Relaxed);
    axum::Json(serde_json::json!({ "token": token })).into_response()
}
