//! Tag removal against a real registry: siblings survive, moved tags are kept, one DELETE per batch,
//! deletion disabled fails cleanly, and offline GC reclaims the space.

use super::{tag_existing, tags};
use crate::support::registry::{random_blob, RegistryOptions, TestImage, TestRegistry};
use registry_gc::gc::{remove_tags, RemovalOutcome};
use registry_gc::registry::{
    DeleteCapability, Deleted, Format, ImageDeletion, RegistryError, Repoint,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sibling_tags_on_one_digest_survive() {
    let reg = TestRegistry::start().await;
    let client = reg.client();
    let x = reg
        .push_image("app", "main", &TestImage::random(Format::Docker, 1, 512))
        .await;
    tag_existing(&reg, "app", "feature-a", &x).await;
    tag_existing(&reg, "app", "feature-b", &x).await;
    let y = reg
        .push_image("app", "other", &TestImage::random(Format::Oci, 1, 512))
        .await;

    let siblings = [
        ("main".to_string(), x.clone()),
        ("feature-b".into(), x.clone()),
        ("other".into(), y.clone()),
    ];
    let report = remove_tags(
        &client,
        "app",
        &[("feature-a".into(), x.clone())],
        &siblings,
    )
    .await
    .unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);

    assert_eq!(report.capability, Some(DeleteCapability::DigestOnly));
    assert_eq!(report.tags[0].outcome, RemovalOutcome::Removed);
    assert_eq!(report.siblings_checked, 3);
    assert_eq!(
        tags(&client, "app").await,
        ["feature-b", "main", "other"].map(String::from).into()
    );
    assert_eq!(
        client.resolve("app", "main").await.unwrap(),
        Some(x.clone())
    );
    assert_eq!(
        client.resolve("app", "feature-b").await.unwrap(),
        Some(x.clone())
    );
    assert_eq!(client.resolve("app", "other").await.unwrap(), Some(y));
    assert!(client
        .fetch_manifest("app", x.as_str())
        .await
        .unwrap()
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_repushed_after_planning_is_skipped() {
    let reg = TestRegistry::start().await;
    let client = reg.client();
    let old = reg
        .push_image("svc", "dev", &TestImage::random(Format::Docker, 1, 256))
        .await;
    tag_existing(&reg, "svc", "stale", &old).await;
    // Plan made now; then CI pushes a new image to `dev` before the removal runs.
    let plan = vec![
        ("dev".to_string(), old.clone()),
        ("stale".to_string(), old.clone()),
    ];
    let new = reg
        .push_image("svc", "dev", &TestImage::random(Format::Docker, 1, 256))
        .await;

    let report = remove_tags(&client, "svc", &plan, &[]).await.unwrap();

    assert_eq!(
        report.tags[0].outcome,
        RemovalOutcome::SkippedMoved {
            observed: new.clone()
        }
    );
    assert_eq!(report.tags[1].outcome, RemovalOutcome::Removed);
    assert_eq!(tags(&client, "svc").await, ["dev".to_string()].into());
    assert_eq!(
        client.resolve("svc", "dev").await.unwrap(),
        Some(new.clone())
    );

    let changed = client
        .verify_digests("svc", &[("dev".into(), old.clone())])
        .await
        .unwrap();
    assert_eq!(changed, vec![("dev".to_string(), Some(new.clone()))]);

    // The journaled step API says the same.
    let dummy = client.prepare_dummy("svc").await.unwrap();
    let moved = client
        .point_tag_at_dummy("svc", "dev", &old, &dummy)
        .await
        .unwrap();
    assert_eq!(
        moved,
        Repoint::Moved {
            observed: new.clone()
        }
    );
    assert_eq!(
        client
            .point_tag_at_dummy("svc", "gone", &old, &dummy)
            .await
            .unwrap(),
        Repoint::Gone
    );
    assert_eq!(client.resolve("svc", "dev").await.unwrap(), Some(new));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_of_500_tags_uses_one_delete() {
    let reg = TestRegistry::start().await;
    let client = reg.client();
    let x = reg
        .push_image("big", "keep", &TestImage::random(Format::Docker, 1, 128))
        .await;
    let y = reg
        .push_image("big", "y", &TestImage::random(Format::Oci, 1, 128))
        .await;
    let mut plan = Vec::new();
    for i in 0..500 {
        let (tag, digest) = (format!("t{i:03}"), if i % 2 == 0 { &x } else { &y });
        plan.push((tag.clone(), digest.clone()));
    }
    let m = client
        .fetch_manifest("big", x.as_str())
        .await
        .unwrap()
        .unwrap();
    let n = client
        .fetch_manifest("big", y.as_str())
        .await
        .unwrap()
        .unwrap();
    for (tag, d) in &plan {
        let (mt, body) = if *d == x {
            (
                registry_gc::registry::manifest::DOCKER_MANIFEST,
                m.bytes.clone(),
            )
        } else {
            (
                registry_gc::registry::manifest::OCI_MANIFEST,
                n.bytes.clone(),
            )
        };
        client.put_manifest("big", tag, mt, body).await.unwrap();
    }
    assert_eq!(
        client.detect_capability("big").await.unwrap(),
        DeleteCapability::DigestOnly
    );
    let (deletes, requests) = (client.deletes_made(), client.requests_made());

    let report = remove_tags(&client, "big", &plan, &[]).await.unwrap();

    assert_eq!(
        client.deletes_made() - deletes,
        1,
        "one DELETE for the whole batch"
    );
    let made = client.requests_made() - requests;
    assert_eq!(report.requests, made);
    assert!(made <= 2 * 500 + 6, "{made} requests for 500 tags");
    assert_eq!(report.removed(), 500);
    assert_eq!(
        tags(&client, "big").await,
        ["keep", "y"].map(String::from).into()
    );
    assert_eq!(client.resolve("big", "keep").await.unwrap(), Some(x));
    assert_eq!(client.resolve("big", "y").await.unwrap(), Some(y));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_disabled_is_a_clear_error_and_changes_nothing() {
    let reg = TestRegistry::start_with(RegistryOptions {
        delete_enabled: false,
        ..Default::default()
    })
    .await;
    let client = reg.client();
    let x = reg
        .push_image("ro", "a", &TestImage::random(Format::Docker, 1, 64))
        .await;
    tag_existing(&reg, "ro", "b", &x).await;

    let err = remove_tags(&client, "ro", &[("a".into(), x.clone())], &[])
        .await
        .unwrap_err();

    assert!(
        matches!(err, RegistryError::DeletionDisabled { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("deletion is disabled"), "{err}");
    assert_eq!(
        tags(&client, "ro").await,
        ["a", "b"].map(String::from).into()
    );
    assert_eq!(client.resolve("ro", "a").await.unwrap(), Some(x));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_gc_reclaims_space_and_kept_images_still_pull() {
    let mut reg = TestRegistry::start().await;
    let client = reg.client();
    let base = vec![random_blob(40_000)];
    let kept = TestImage::on_base(Format::Docker, &base, 1, 30_000);
    let gone = TestImage::on_base(Format::Oci, &base, 2, 50_000);
    let kept_digest = reg.push_image("web", "main", &kept).await;
    let gone_digest = reg.push_image("web", "old", &gone).await;
    tag_existing(&reg, "web", "older", &gone_digest).await;
    let before = reg.bytes_on_disk();

    let plan = vec![
        ("old".to_string(), gone_digest.clone()),
        ("older".to_string(), gone_digest),
    ];
    assert_eq!(
        remove_tags(&client, "web", &plan, &[])
            .await
            .unwrap()
            .removed(),
        2
    );
    reg.garbage_collect(true);
    let after = reg.bytes_on_disk();
    reg.restart().await;

    assert!(
        before - after >= 100_000,
        "freed {} bytes of {before}",
        before - after
    );
    let client = reg.client();
    assert_eq!(tags(&client, "web").await, ["main".to_string()].into());
    let m = client.fetch_manifest("web", "main").await.unwrap().unwrap();
    assert_eq!(m.digest, kept_digest);
    let registry_gc::registry::manifest::Manifest::Image { config, layers, .. } = m.manifest else {
        panic!("image")
    };
    for d in std::iter::once(&config).chain(&layers) {
        client
            .fetch_blob("web", &d.digest)
            .await
            .expect("kept blob still pulls");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_delete_only_when_no_tag_moved() {
    let reg = TestRegistry::start().await;
    let client = reg.client();
    let x = reg
        .push_image("img", "a", &TestImage::random(Format::Docker, 1, 64))
        .await;
    tag_existing(&reg, "img", "b", &x).await;
    let y = reg
        .push_image("img", "keep", &TestImage::random(Format::Docker, 1, 64))
        .await;
    let both = ["a".to_string(), "b".to_string()];

    // `b` is moved to another image after planning: the digest delete is refused.
    tag_existing(&reg, "img", "b", &y).await;
    let refused = client.delete_image("img", &x, &both).await.unwrap();
    assert_eq!(
        refused,
        ImageDeletion::Refused {
            moved: vec![("b".into(), y.clone())]
        }
    );
    assert_eq!(
        tags(&client, "img").await,
        ["a", "b", "keep"].map(String::from).into()
    );

    let done = client
        .delete_image("img", &x, &["a".to_string()])
        .await
        .unwrap();
    assert_eq!(done, ImageDeletion::Deleted(Deleted::Removed));
    assert_eq!(
        tags(&client, "img").await,
        ["b", "keep"].map(String::from).into()
    );
    assert!(client
        .fetch_manifest("img", x.as_str())
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        client.delete_manifest("img", &x).await.unwrap(),
        Deleted::AlreadyGone
    );
    assert_eq!(client.resolve("img", "keep").await.unwrap(), Some(y));
}
