//! What the source reads: tags from spec strings, digests from every runtime's `imageID` format,
//! rollback history, suspended CronJobs, init/ephemeral containers and image volumes, aliases,
//! live watch events and a relist after `410 Gone`, extra kinds; and the metrics and CLI output.

use registry_gc::cluster::ProtectionSource;
use registry_gc::cluster::{render_text, ClusterMetrics, ExtraKind, HostAlias};
use serde_json::json;

use super::{digest, eventually, settings, start, HOST};
use crate::support::kube_api::FakeKube;
use crate::support::kube_objects::{
    container, container_status, cron_job, deployment, pod, pod_spec, replica_set, stateful_set,
};

const APP_CI: &str = "registry.example.com/g/app-ci:abc";

#[tokio::test]
async fn a_pod_referencing_its_tag_protects_the_tag_and_the_digest_of_every_runtime_format() {
    let fake = FakeKube::start().await;
    let image_ids = [
        format!(
            "docker-pullable://registry.example.com/g/app-ci@{}",
            digest(1)
        ),
        format!("registry.example.com/g/app-ci@{}", digest(2)),
        digest(3),
        // CRI-O: the repository part is whichever alias it found first.
        format!("mirror.example.com:5000/cache/app-ci@{}", digest(4)),
        "sha256:not-a-digest".to_owned(),
    ];
    for (i, image_id) in image_ids.iter().enumerate() {
        let name = format!("web-{}", i + 1);
        let status = container_status("web", APP_CI, image_id);
        fake.put(
            "pods",
            pod(
                "shop",
                &name,
                pod_spec(vec![container("web", APP_CI)]),
                vec![status],
            ),
        );
    }
    let source = start(&settings(), &[("prod", &fake)]);

    let p = source.protections_for(HOST).await;
    assert_eq!(p.unavailable_reason(), None);
    assert!(p.protects_tag("g/app-ci", "abc"));
    let mut digests: Vec<&String> = p.digests.iter().collect();
    digests.sort();
    assert_eq!(
        digests,
        [&digest(1), &digest(2), &digest(3), &digest(4)],
        "the unparsable imageID matches nothing"
    );
    assert_eq!(
        p.digest_users(&digest(1)).to_string(),
        "running digest in pod shop/web-1"
    );
    let users = p.tag_users("g/app-ci", "abc");
    assert_eq!(
        (users.total, users.shown[0].to_string().as_str()),
        (5, "in use by Pod shop/web-1 (container web)")
    );
    assert!(fake.lists("pods") >= 3, "5 pods in pages of 2");

    let snapshot = source.snapshot_now();
    assert_eq!(snapshot.index[0].unparsable_by_kind.get("pods"), Some(&1));
}

#[tokio::test]
async fn metrics_say_up_images_in_use_and_unparsable_references_per_cluster_and_kind() {
    let fake = FakeKube::start().await;
    let spec = pod_spec(vec![
        container("web", APP_CI),
        container("side", "Bad/Name:1"),
    ]);
    let status = container_status("web", APP_CI, &digest(1));
    fake.put("pods", pod("shop", "web-1", spec, vec![status]));
    let source = start(&settings(), &[("prod", &fake)]);
    source.images().await;

    let registry = prometheus::Registry::new_custom(Some("registry_gc".into()), None).unwrap();
    ClusterMetrics::new(&source).register(&registry).unwrap();
    let mut text = Vec::new();
    let encoder = prometheus::TextEncoder::new();
    prometheus::Encoder::encode(&encoder, &registry.gather(), &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    for line in [
        "registry_gc_protection_up{cluster=\"prod\"} 1",
        "registry_gc_protection_images_in_use{cluster=\"prod\"} 2",
        "registry_gc_protection_unparsable_references{cluster=\"prod\",kind=\"pods\"} 1",
        "registry_gc_protection_kind_up{cluster=\"prod\",kind=\"cronjobs.batch\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing in\n{text}");
    }
    assert!(text.contains("registry_gc_protection_last_sync_timestamp_seconds{cluster=\"prod\"} 1"));
}

#[tokio::test]
async fn an_old_replica_set_at_zero_replicas_is_a_rollback_target() {
    let fake = FakeKube::start().await;
    let prod = |sha: &str| pod_spec(vec![container("web", &format!("{HOST}/g/app:prod-{sha}"))]);
    fake.put("deployments", deployment("shop", "web", prod("c3")));
    fake.put(
        "replicasets",
        replica_set("shop", "web-7d9c", "web", 0, 12, prod("a1")),
    );
    fake.put(
        "replicasets",
        replica_set("shop", "web-8f00", "web", 2, 13, prod("c3")),
    );
    let source = start(&settings(), &[("prod", &fake)]);

    let p = source.protections_for(HOST).await;
    assert_eq!(
        p.tag_users("g/app", "prod-a1").to_string(),
        "rollback target: ReplicaSet shop/web-7d9c (revision 12)"
    );
    assert_eq!(
        p.tag_users("g/app", "prod-c3").to_string(),
        "in use by Deployment shop/web (container web) and 1 more"
    );
    let text = render_text(&source.images().await);
    assert!(
        text.starts_with("cluster protection: available\n"),
        "{text}"
    );
    assert!(text.contains("  registry.example.com/g/app:prod-a1\n    rollback target: ReplicaSet shop/web-7d9c (revision 12)\n"), "{text}");
}

#[tokio::test]
async fn suspended_cron_jobs_init_and_ephemeral_containers_and_image_volumes_are_protected() {
    let fake = FakeKube::start().await;
    fake.put(
        "cronjobs",
        cron_job(
            "shop",
            "report",
            true,
            pod_spec(vec![container(
                "report",
                &format!("{HOST}/g/report:weekly"),
            )]),
        ),
    );
    let mut spec = pod_spec(vec![container("db", &format!("{HOST}/g/db:16"))]);
    spec["initContainers"] = json!([container("migrate", &format!("{HOST}/g/db:migrate-7"))]);
    spec["ephemeralContainers"] =
        json!([{"name": "debugger", "image": "busybox:1.36", "targetContainerName": "db"}]);
    spec["volumes"] = json!([{"name": "models", "image": {"reference": format!("{HOST}/g/models:v2"), "pullPolicy": "IfNotPresent"}}]);
    fake.put("pods", pod("shop", "db-0", spec, vec![]));
    let source = start(&settings(), &[("prod", &fake)]);

    let p = source.protections_for(HOST).await;
    let said = |repo: &str, tag: &str| p.tag_users(repo, tag).to_string();
    assert_eq!(
        said("g/report", "weekly"),
        "in use by CronJob shop/report (container report)"
    );
    assert_eq!(
        said("g/db", "migrate-7"),
        "in use by Pod shop/db-0 (init container migrate)"
    );
    assert_eq!(
        said("g/models", "v2"),
        "in use by Pod shop/db-0 (image volume models)"
    );
    assert!(
        !p.protects_tag("library/busybox", "1.36"),
        "Docker Hub is another registry"
    );
    let hub = source.protections_for("docker.io").await;
    assert_eq!(
        hub.tag_users("library/busybox", "1.36").to_string(),
        "in use by Pod shop/db-0 (ephemeral container debugger)"
    );
}

#[tokio::test]
async fn a_registry_reached_through_two_host_aliases_is_protected_under_its_canonical_name() {
    let fake = FakeKube::start().await;
    let one = |image: &str| pod_spec(vec![container("app", image)]);
    fake.put(
        "deployments",
        deployment(
            "shop",
            "web",
            one("registry-alt.example.com:8443/g/app:prod-1"),
        ),
    );
    fake.put(
        "statefulsets",
        stateful_set(
            "shop",
            "cache",
            one("harbor.example.com/gitlab-proxy/g/app:prod-2"),
        ),
    );
    fake.put(
        "deployments",
        deployment(
            "shop",
            "other",
            one("harbor.example.com/library-proxy/g/app:prod-3"),
        ),
    );
    let mut s = settings();
    s.aliases = vec![
        HostAlias {
            alias: "registry-alt.example.com:8443".into(),
            canonical: HOST.into(),
        },
        HostAlias {
            alias: "harbor.example.com/gitlab-proxy".into(),
            canonical: HOST.into(),
        },
    ];
    let source = start(&s, &[("prod", &fake)]);

    let p = source.protections_for(HOST).await;
    assert!(p.protects_tag("g/app", "prod-1"));
    assert_eq!(
        p.tag_users("g/app", "prod-2").to_string(),
        "in use by StatefulSet shop/cache (container app)"
    );
    assert!(
        !p.protects_tag("g/app", "prod-3"),
        "no alias covers that prefix"
    );
    let harbor = source.protections_for("harbor.example.com").await;
    assert!(harbor.protects_tag("library-proxy/g/app", "prod-3"));
    assert!(
        !harbor.protects_tag("gitlab-proxy/g/app", "prod-2"),
        "matched under its canonical name only"
    );
}

#[tokio::test]
async fn watch_events_and_a_relist_after_410_gone_keep_the_images_current() {
    let fake = FakeKube::start().await;
    let source = start(&settings(), &[("prod", &fake)]);
    let image = |tag: &str| pod_spec(vec![container("app", &format!("{HOST}/g/app:{tag}"))]);
    assert!(!source
        .protections_for(HOST)
        .await
        .protects_tag("g/app", "new"));

    fake.put("deployments", deployment("shop", "web", image("new")));
    let protects = |tag: &str| {
        source
            .snapshot_now()
            .protections_for(HOST)
            .protects_tag("g/app", tag)
    };
    eventually("ADDED reaches the store", || protects("new")).await;
    fake.delete("deployments", "shop", "web");
    eventually("DELETED reaches the store", || !protects("new")).await;

    // History compacted, and a change the watch never delivers: only a fresh list sees it.
    fake.expire_watches();
    fake.put_unseen("deployments", deployment("shop", "api", image("unseen")));
    eventually("the relist after 410 finds it", || protects("unseen")).await;
    assert!(fake.lists("deployments") >= 2);
    let everywhere = ProtectionSource::protections(&source).await;
    assert!(everywhere.protects_tag("g/app", "unseen"));
}

#[tokio::test]
async fn an_extra_kind_is_read_and_one_whose_crd_is_missing_is_skipped() {
    let fake = FakeKube::start().await;
    fake.add_kind("argoproj.io/v1alpha1", "rollouts", "Rollout");
    let rollout = json!({"metadata": crate::support::kube_objects::meta("shop", "canary"),
        "spec": {"replicas": 3, "strategy": {"canary": {"steps": [{"setWeight": 20}]}},
            "template": {"metadata": {"labels": {"app": "canary"}},
                "spec": {"containers": [container("app", &format!("{HOST}/g/app:canary-9"))]}}}});
    fake.put("rollouts", rollout);
    let mut s = settings();
    let kind = |group: &str, version: &str, kind: &str| ExtraKind {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        paths: vec!["spec.template.spec".into()],
    };
    s.extra_kinds = vec![
        kind("argoproj.io", "v1alpha1", "Rollout"),
        kind("serving.knative.dev", "v1", "Service"),
    ];
    let source = start(&s, &[("prod", &fake)]);

    let p = source.protections_for(HOST).await;
    assert_eq!(
        p.unavailable_reason(),
        None,
        "a kind the cluster does not serve is skipped"
    );
    assert_eq!(
        p.tag_users("g/app", "canary-9").to_string(),
        "in use by Rollout shop/canary (container app)"
    );
    let snapshot = source.snapshot_now();
    let knative = snapshot.clusters[0]
        .kinds
        .iter()
        .find(|k| k.kind == "service.serving.knative.dev")
        .unwrap();
    assert!(knative.skipped.is_some());
}
