//! Credentials go only where they belong: a token realm on another host gets no password unless it
//! is the configured `token_realm`, and a redirect to another origin is not followed (its answer
//! would be trusted as the registry's). Fronts on loopback addresses 127.0.0.1 and 127.0.0.2.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use registry_gc::registry::{RegistryClient, RegistrySettings};
use registry_gc::secret::Secret;

/// Authorization headers a server saw.
type Seen = Arc<Mutex<Vec<String>>>;

/// Serves `app` on `ip` (port 0); the task lives as long as the runtime.
async fn serve_on(ip: &str, app: Router) -> String {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Another host's server: records what it is sent and answers a token and a planted tag list.
async fn elsewhere() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = |State(seen): State<Seen>, headers: HeaderMap| async move {
        let auth = headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or("?").to_owned());
        seen.lock().unwrap().push(auth.unwrap_or_default());
    };
    let app = Router::new()
        .route(
            "/token",
            get(move |s: State<Seen>, h: HeaderMap| async move {
                record(s, h).await;
                axum::Json(serde_json::json!({ "token": "issued-elsewhere" }))
            }),
        )
        .route(
            "/v2/grp/app/tags/list",
            get(move |s: State<Seen>, h: HeaderMap| async move {
                record(s, h).await;
                axum::Json(serde_json::json!({ "name": "grp/app", "tags": ["planted"] }))
            }),
        )
        .with_state(seen.clone());
    (serve_on("127.0.0.2", app).await, seen)
}

/// A registry on 127.0.0.1 whose challenge names `realm`; tags answer any Bearer token.
async fn registry_with_realm(realm: String) -> String {
    let challenge = format!("Bearer realm=\"{realm}\",service=\"test\"");
    let app = Router::new()
        .route(
            "/v2/",
            get(move || async move {
                (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, challenge.clone())],
                    "",
                )
                    .into_response()
            }),
        )
        .route(
            "/v2/grp/app/tags/list",
            get(|headers: HeaderMap| async move {
                match headers.get(header::AUTHORIZATION) {
                    Some(_) => axum::Json(serde_json::json!({ "name": "grp/app", "tags": ["v1"] }))
                        .into_response(),
                    None => StatusCode::UNAUTHORIZED.into_response(),
                }
            }),
        );
    serve_on("127.0.0.1", app).await
}

fn settings(url: &str) -> RegistrySettings {
    RegistrySettings::new(url.parse().unwrap()).with_credentials("bot", Secret::new("s3cret-pass"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_go_to_a_realm_on_another_host() {
    let (other, seen) = elsewhere().await;
    let realm = format!("{other}/token");
    let registry = registry_with_realm(realm.clone()).await;
    let client = RegistryClient::new(settings(&registry)).unwrap();
    let err = client.list_tags("grp/app").await.unwrap_err();
    assert!(err.to_string().contains("token_realm"), "{err}");
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|auth| !auth.starts_with("Basic")),
        "the password went to another host: {:?}",
        seen.lock().unwrap()
    );

    let mut configured = settings(&registry);
    configured.token_realm = Some(realm.parse().unwrap());
    let client = RegistryClient::new(configured).unwrap();
    assert_eq!(client.list_tags("grp/app").await.unwrap(), ["v1"]);
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|auth| auth.starts_with("Basic")),
        "configured realm"
    );
}

async fn redirect_to(target: String) -> Response {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, target)],
        "",
    )
        .into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_to_another_origin_are_not_followed() {
    let (other, seen) = elsewhere().await;
    let away = format!("{other}/v2/grp/app/tags/list");
    let app = Router::new()
        .route("/v2/", get(|| async { "{}" }))
        .route(
            "/v2/grp/app/tags/list",
            get(move || redirect_to(away.clone())),
        )
        .route(
            "/v2/grp/moved/tags/list",
            get(|| redirect_to("/v2/grp/kept/tags/list".into())),
        )
        .route(
            "/v2/grp/kept/tags/list",
            get(|| async {
                axum::Json(serde_json::json!({ "name": "grp/kept", "tags": ["here"] }))
            }),
        );
    let registry = serve_on("127.0.0.1", app).await;
    let client = RegistryClient::new(settings(&registry)).unwrap();
    let answer = client.list_tags("grp/app").await;
    assert!(
        answer.is_err(),
        "a redirect to another origin was trusted: {answer:?}"
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "the client went to the other origin"
    );
    assert_eq!(
        client.list_tags("grp/moved").await.unwrap(),
        ["here"],
        "same-origin redirects work"
    );
}
