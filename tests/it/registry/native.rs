//! Strategy 1 (native tag delete) and GitLab's 401 refusals, against a small fake registry front:
//! distribution 2.8 has neither, so these behaviours cannot be shown with the real process.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use registry_gc::registry::{Digest, RegistryClient, RegistrySettings, Strategy, TagOutcome};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Fake {
    tags: Mutex<BTreeMap<String, Digest>>,
    deletes: Mutex<Vec<String>>,
}

async fn head(State(f): State<Arc<Fake>>, Path(reference): Path<String>) -> Response {
    match f.tags.lock().unwrap().get(&reference) {
        Some(d) => ([("docker-content-digest", d.to_string())], "").into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn delete(State(f): State<Arc<Fake>>, Path(reference): Path<String>) -> Response {
    f.deletes.lock().unwrap().push(reference.clone());
    if reference == "protected" {
        let body = r#"{"errors":[{"code":"PROTECTED_TAG","message":"tag is protected"}]}"#;
        return (StatusCode::UNAUTHORIZED, body).into_response();
    }
    match f.tags.lock().unwrap().remove(&reference) {
        Some(_) => StatusCode::ACCEPTED.into_response(),
        None => (
            StatusCode::NOT_FOUND,
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#,
        )
            .into_response(),
    }
}

async fn list(State(f): State<Arc<Fake>>) -> Response {
    let tags: Vec<String> = f.tags.lock().unwrap().keys().cloned().collect();
    axum::Json(serde_json::json!({ "name": "fake", "tags": tags })).into_response()
}

#[tokio::test]
async fn native_tag_delete_and_protected_tag_is_reported_not_retried() {
    let x = Digest::of(b"image x");
    let fake = Arc::new(Fake::default());
    for t in ["a", "b", "protected", "keep"] {
        fake.tags.lock().unwrap().insert(t.into(), x.clone());
    }
    let app = axum::Router::new()
        .route("/v2/", axum::routing::get(|| async { "{}" }))
        .route("/v2/fake/tags/list", axum::routing::get(list))
        .route(
            "/v2/fake/manifests/{reference}",
            axum::routing::head(head).delete(delete),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = RegistryClient::new(RegistrySettings::new(url.parse().unwrap())).unwrap();

    let plan = [
        ("a".to_string(), x.clone()),
        ("protected".to_string(), x.clone()),
    ];
    let report = client.remove_tags("fake", &plan).await.unwrap();
    server.abort();

    assert_eq!(report.strategy, Strategy::NativeTagDelete);
    assert_eq!(report.tags[0].outcome, TagOutcome::Removed);
    let TagOutcome::Failed { reason } = &report.tags[1].outcome else {
        panic!("{:?}", report.tags[1])
    };
    assert!(reason.contains("PROTECTED_TAG"), "{reason}");
    let remaining: Vec<String> = fake.tags.lock().unwrap().keys().cloned().collect();
    assert_eq!(remaining, ["b", "keep", "protected"]);
    // One probe, one delete per tag; the 401 refusal is not retried with a new token.
    let deletes = fake.deletes.lock().unwrap().clone();
    assert_eq!(deletes.len(), 3, "{deletes:?}");
    assert!(deletes[0].starts_with("registry-gc-probe-"));
}
