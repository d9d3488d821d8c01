//! Several clusters: a second one reached through a kubeconfig file (as mounted from a Secret),
//! whose token is sent to its API server and shown nowhere; and one whose kubeconfig cannot be
//! read, which makes protection unavailable naming it.

use std::path::Path;

use registry_gc::cluster::{render_json, render_text, ClusterEntry};

use super::{settings, start, HOST};
use crate::support::kube_api::FakeKube;
use crate::support::kube_objects::{container, deployment, pod_spec};

const TOKEN: &str = "s3cr3t-kubeconfig-token-7f1e";

fn write_kubeconfig(dir: &Path, server: &str) -> std::path::PathBuf {
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: edge\n  cluster:\n    server: {server}\n\
         contexts:\n- name: edge-reader\n  context:\n    cluster: edge\n    user: reader\n\
         current-context: edge-reader\nusers:\n- name: reader\n  user:\n    token: {TOKEN}\n"
    );
    let path = dir.join("edge.kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn a_second_cluster_from_a_kubeconfig_is_read_and_its_token_is_never_shown() {
    let (prod, edge) = (FakeKube::start().await, FakeKube::start().await);
    let app = |tag: &str| pod_spec(vec![container("app", &format!("{HOST}/g/app:{tag}"))]);
    prod.put("deployments", deployment("shop", "web", app("prod-1")));
    edge.put("deployments", deployment("kiosk", "web", app("edge-7")));
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings();
    s.clusters.push(ClusterEntry {
        name: "edge".into(),
        kubeconfig: Some(write_kubeconfig(dir.path(), &edge.url)),
        context: Some("edge-reader".into()),
        namespaces: Some(vec!["kiosk".into()]),
    });
    let source = start(&s, &[("prod", &prod)]);

    let p = source.protections_for(HOST).await;
    assert_eq!(p.unavailable_reason(), None);
    assert!(p.protects_tag("g/app", "prod-1"));
    let edge_users = p.tag_users("g/app", "edge-7");
    assert_eq!(edge_users.shown[0].cluster, "edge");
    assert_eq!(
        edge_users.to_string(),
        "in use by Deployment kiosk/web (container app)"
    );
    assert!(edge
        .authorizations()
        .iter()
        .all(|a| a == &format!("Bearer {TOKEN}")));
    assert!(!edge.authorizations().is_empty());

    let images = source.images().await;
    let (text, json) = (render_text(&images), render_json(&images));
    assert!(
        text.contains("cluster prod: up") && text.contains("cluster edge: up"),
        "{text}"
    );
    assert!(json.contains("\"namespace\": \"kiosk\""), "{json}");
    for shown in [&text, &json] {
        assert!(!shown.contains(TOKEN));
    }
    assert!(
        !format!("{s:?}").contains(TOKEN),
        "settings hold the path, not the token"
    );
}

#[tokio::test]
async fn a_cluster_whose_kubeconfig_cannot_be_read_makes_protection_unavailable() {
    let prod = FakeKube::start().await;
    let mut s = settings();
    s.sync_timeout_ms = 300;
    s.clusters.push(ClusterEntry {
        name: "edge".into(),
        kubeconfig: Some("/nonexistent/edge.kubeconfig".into()),
        context: None,
        namespaces: None,
    });
    let source = start(&s, &[("prod", &prod)]);

    let reason = source
        .protections_for(HOST)
        .await
        .unavailable_reason()
        .map(str::to_owned);
    let reason = reason.expect("unavailable");
    assert!(
        reason.starts_with("cluster edge: kubeconfig: failed to read kubeconfig"),
        "{reason}"
    );
}
