//! Retries against a fake front: 429 with `Retry-After` and 5xx are retried for idempotent requests,
//! a POST that got a 5xx is not (it may have reached the registry).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use registry_gc::registry::RegistryError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Default)]
struct Calls {
    list: AtomicUsize,
    head: AtomicUsize,
    post: AtomicUsize,
}

async fn list(State(c): State<Arc<Calls>>) -> Response {
    if c.list.fetch_add(1, Ordering::SeqCst) == 0 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "0")],
            "slow down",
        )
            .into_response();
    }
    axum::Json(serde_json::json!({ "name": "r", "tags": null })).into_response()
}

async fn head(State(c): State<Arc<Calls>>) -> Response {
    if c.head.fetch_add(1, Ordering::SeqCst) < 2 {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let digest = registry_gc::registry::Digest::of(b"x").to_string();
    ([("docker-content-digest", digest)], "").into_response()
}

async fn post(State(c): State<Arc<Calls>>) -> Response {
    c.post.fetch_add(1, Ordering::SeqCst);
    (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>").into_response()
}

#[tokio::test]
async fn retries_429_and_5xx_but_not_post() {
    let calls = Arc::new(Calls::default());
    let app = axum::Router::new()
        .route("/v2/r/tags/list", axum::routing::get(list))
        .route("/v2/r/manifests/{reference}", axum::routing::head(head))
        .route("/v2/r/blobs/uploads/", axum::routing::post(post))
        .with_state(calls.clone());
    let server = super::fake::serve(app).await;
    let client = server.client(3);

    assert!(
        client.list_tags("r").await.unwrap().is_empty(),
        "429 then `tags: null`"
    );
    assert!(
        client.resolve("r", "t").await.unwrap().is_some(),
        "two 503s then 200"
    );
    let err = client
        .upload_blob_unchecked("r", bytes::Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    drop(server);

    assert_eq!(calls.list.load(Ordering::SeqCst), 2);
    assert_eq!(calls.head.load(Ordering::SeqCst), 3);
    assert_eq!(calls.post.load(Ordering::SeqCst), 1, "POST is not retried");
    assert!(
        matches!(err, RegistryError::Status { status: 502, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("bad gateway"), "{err}");
}
