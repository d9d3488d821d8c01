//! When the one DELETE of a batch's dummy fails, every tag left pointing at the dummy is reported.
//! A fake digest-only front (2.8-like probe answer, failing digest DELETE) makes the failure happen;
//! it also checks that `digest=` is appended to a relative upload `Location` that carries a query.

use super::fake::{head_answer, list_answer, serve, tags_on, Tags};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, head, post, put};
use registry_gc::gc::{remove_tags, RemovalOutcome};
use registry_gc::registry::{DeleteCapability, Digest};
use std::sync::{Arc, Mutex};

struct Fake {
    tags: Tags,
    upload_queries: Mutex<Vec<String>>,
}

async fn manifest_head(State(f): State<Arc<Fake>>, Path(r): Path<String>) -> Response {
    head_answer(&f.tags, &r)
}

async fn manifest_put(
    State(f): State<Arc<Fake>>,
    Path(r): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let d = Digest::of(&body);
    f.tags.lock().unwrap().insert(r, d.clone());
    (
        StatusCode::CREATED,
        [("docker-content-digest", d.to_string())],
    )
        .into_response()
}

async fn manifest_delete(Path(r): Path<String>) -> Response {
    if r.starts_with("sha256:") {
        return (StatusCode::INTERNAL_SERVER_ERROR, "storage on fire").into_response();
    }
    (
        StatusCode::BAD_REQUEST,
        r#"{"errors":[{"code":"DIGEST_INVALID"}]}"#,
    )
        .into_response()
}

async fn upload_start() -> Response {
    (
        StatusCode::ACCEPTED,
        [("location", "/v2/f/blobs/uploads/u1?_state=abc")],
    )
        .into_response()
}

async fn upload_put(State(f): State<Arc<Fake>>, RawQuery(q): RawQuery, _h: HeaderMap) -> Response {
    f.upload_queries.lock().unwrap().push(q.unwrap_or_default());
    StatusCode::CREATED.into_response()
}

async fn list(State(f): State<Arc<Fake>>) -> Response {
    list_answer(&f.tags, "f")
}

#[tokio::test]
async fn failed_dummy_delete_reports_tags_left_on_dummy() {
    let x = Digest::of(b"image");
    let fake = Arc::new(Fake {
        tags: tags_on(&x, &["old", "keep"]),
        upload_queries: Mutex::default(),
    });
    let manifests = head(manifest_head)
        .put(manifest_put)
        .delete(manifest_delete);
    let app = axum::Router::new()
        .route("/v2/f/tags/list", get(list))
        .route("/v2/f/manifests/{r}", manifests)
        .route("/v2/f/blobs/uploads/", post(upload_start))
        .route("/v2/f/blobs/uploads/u1", put(upload_put))
        .with_state(fake.clone());
    let server = serve(app).await;
    let client = server.client(0);

    let report = remove_tags(&client, "f", &[("old".to_string(), x.clone())], &[])
        .await
        .unwrap();
    drop(server);

    assert_eq!(report.capability, Some(DeleteCapability::DigestOnly));
    let RemovalOutcome::LeftOnDummy { dummy } = report.tags[0].outcome.clone() else {
        panic!("{:?}", report.tags)
    };
    let said = report.errors.join("\n");
    assert!(
        said.contains(dummy.as_str()) && said.contains("500") && said.contains("old"),
        "{said}"
    );
    assert_eq!(fake.tags.lock().unwrap().get("old"), Some(&dummy));
    assert_eq!(fake.tags.lock().unwrap().get("keep"), Some(&x));
    let queries = fake.upload_queries.lock().unwrap().clone();
    assert_eq!(queries.len(), 1);
    assert!(
        queries[0].starts_with("_state=abc&digest=sha256%3A"),
        "{}",
        queries[0]
    );
}
