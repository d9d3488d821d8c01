//! Reading: pagination, Accept headers for OCI and index manifests, sizes.

use super::{tag_existing, tags};
use crate::support::registry::{TestImage, TestRegistry};
use axum::extract::{Path, Query};
use axum::http::header::LINK;
use registry_gc::gc::{remove_tags, RemovalOutcome};
use registry_gc::registry::Format;
use std::collections::HashMap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_more_than_250_tags() {
    let reg = TestRegistry::start().await;
    let client = reg.client();
    let x = reg
        .push_image("many", "t000", &TestImage::random(Format::Docker, 0, 0))
        .await;
    for i in 1..300 {
        tag_existing(&reg, "many", &format!("t{i:03}"), &x).await;
    }
    let listed = tags(&client, "many").await;
    assert_eq!(listed.len(), 300);
    assert!(listed.contains("t299") && listed.contains("t000"));
    assert!(client.list_tags("never-pushed").await.unwrap().is_empty());
}

/// A registry front that pages tags like distribution 3 (relative `Link`, `n`/`last`).
async fn paging_registry(total: usize) -> super::fake::Served {
    async fn list(
        Path(repo): Path<String>,
        Query(q): Query<HashMap<String, String>>,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        let all: Vec<String> = (0..TOTAL.load(std::sync::atomic::Ordering::Relaxed))
            .map(|i| format!("t{i:04}"))
            .collect();
        let n: usize = q.get("n").and_then(|n| n.parse().ok()).unwrap_or(all.len());
        let start = q.get("last").map_or(0, |l| all.partition_point(|t| t <= l));
        let page: Vec<_> = all.iter().skip(start).take(n).cloned().collect();
        let body = axum::Json(serde_json::json!({ "name": repo, "tags": page }));
        match page.last().filter(|_| start + n < all.len()) {
            Some(last) => (
                [(
                    LINK,
                    format!("</v2/{repo}/tags/list?last={last}&n={n}>; rel=\"next\""),
                )],
                body,
            )
                .into_response(),
            None => body.into_response(),
        }
    }
    static TOTAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    TOTAL.store(total, std::sync::atomic::Ordering::Relaxed);
    let app = axum::Router::new().route("/v2/{repo}/tags/list", axum::routing::get(list));
    super::fake::serve(app).await
}

#[tokio::test]
async fn follows_relative_link_pages() {
    let server = paging_registry(257).await;
    let client = server.client(0);
    let listed = client.list_tags("paged").await.unwrap();
    drop(server);
    assert_eq!(listed.len(), 257);
    assert_eq!(listed.first().map(String::as_str), Some("t0000"));
    assert_eq!(listed.last().map(String::as_str), Some("t0256"));
    // `/v2/` once, then three pages of at most 100.
    assert_eq!(client.requests_made(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_manifests_and_indexes_resolve_to_their_own_digest() {
    let reg = TestRegistry::start().await;
    let client = reg.client();
    let oci = reg
        .push_image("multi", "oci", &TestImage::random(Format::Oci, 2, 1000))
        .await;
    assert_eq!(client.resolve("multi", "oci").await.unwrap(), Some(oci));

    let children = [
        TestImage::random(Format::Oci, 1, 3000),
        TestImage::random(Format::Oci, 1, 5000),
    ];
    let (index, child_digests) = reg.push_index("multi", "idx", Format::Oci, &children).await;
    let resolved = client.resolve("multi", "idx").await.unwrap().unwrap();
    assert_eq!(resolved, index);
    assert!(!child_digests.contains(&resolved));
    let summary = client
        .summarize("multi", "idx", true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        summary.bytes,
        children.iter().map(TestImage::size).sum::<u64>()
    );
    assert_eq!(
        summary.created.map(|c| c.to_rfc3339()).as_deref(),
        Some("2024-05-01T12:00:00+00:00")
    );

    let docker_children = [
        TestImage::random(Format::Docker, 1, 100),
        TestImage::random(Format::Docker, 1, 100),
    ];
    let (list, _) = reg
        .push_index("multi", "list", Format::Docker, &docker_children)
        .await;
    assert_eq!(client.resolve("multi", "list").await.unwrap(), Some(list));

    // Removing one tag of an index keeps the index and its children for the other tag.
    tag_existing(&reg, "multi", "idx-keep", &index).await;
    let report = remove_tags(&client, "multi", &[("idx".into(), index.clone())], &[])
        .await
        .unwrap();
    assert_eq!(report.tags[0].outcome, RemovalOutcome::Removed);
    assert_eq!(
        client.resolve("multi", "idx-keep").await.unwrap(),
        Some(index)
    );
    for child in &child_digests {
        assert!(client
            .fetch_manifest("multi", child.as_str())
            .await
            .unwrap()
            .is_some());
    }
    assert_eq!(
        tags(&client, "multi").await,
        ["idx-keep", "list", "oci"].map(String::from).into()
    );
}
