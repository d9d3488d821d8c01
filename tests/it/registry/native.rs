//! Strategy 1 (native tag delete) and GitLab's 401 refusals, against a small fake registry front:
//! distribution 2.8 has neither, so these behaviours cannot be shown with the real process.

use super::fake::{head_answer, list_answer, serve, tags_on, Tags};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use registry_gc::gc::{remove_tags, RemovalOutcome};
use registry_gc::registry::{DeleteCapability, Digest};
use std::sync::{Arc, Mutex};

struct Fake {
    tags: Tags,
    deletes: Mutex<Vec<String>>,
}

async fn head(State(f): State<Arc<Fake>>, Path(reference): Path<String>) -> Response {
    head_answer(&f.tags, &reference)
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
    list_answer(&f.tags, "fake")
}

#[tokio::test]
async fn native_tag_delete_and_protected_tag_is_reported_not_retried() {
    let x = Digest::of(b"image x");
    let fake = Arc::new(Fake {
        tags: tags_on(&x, &["a", "b", "protected", "keep"]),
        deletes: Mutex::default(),
    });
    let app = axum::Router::new()
        .route("/v2/fake/tags/list", axum::routing::get(list))
        .route(
            "/v2/fake/manifests/{reference}",
            axum::routing::head(head).delete(delete),
        )
        .with_state(fake.clone());
    let server = serve(app).await;
    let client = server.client(3);

    let plan = [
        ("a".to_string(), x.clone()),
        ("protected".to_string(), x.clone()),
    ];
    let report = remove_tags(&client, "fake", &plan, &[]).await.unwrap();
    drop(server);

    assert_eq!(report.capability, Some(DeleteCapability::TagDelete));
    assert_eq!(report.tags[0].outcome, RemovalOutcome::Removed);
    let RemovalOutcome::Failed { reason } = &report.tags[1].outcome else {
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
