//! Writing: cross-repository mount and blob existence checks against the real registry.

use crate::support::registry::{random_blob, TestImage, TestRegistry};
use registry_gc::registry::{Digest, Format};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mounts_a_blob_from_another_repository() {
    let reg = TestRegistry::start().await;
    let client = reg.client();
    let layer = random_blob(2048);
    let image = TestImage::on_base(Format::Oci, std::slice::from_ref(&layer), 0, 0);
    reg.push_image("src/app", "v1", &image).await;
    let digest = Digest::of(&layer);
    assert!(!client.blob_exists("dst/app", &digest).await.unwrap());

    assert!(client
        .mount_blob("dst/app", &digest, "src/app")
        .await
        .unwrap());
    assert!(client.blob_exists("dst/app", &digest).await.unwrap());
    // Pushing the image to the mounted repository uploads only its config: HEAD config (absent),
    // POST + PUT config, HEAD layer (present, skipped), PUT manifest.
    let before = client.requests_made();
    let (pushed, _) = client
        .push_image(
            "dst/app",
            Some("v1"),
            image.format,
            image.config.clone(),
            &image.layers,
        )
        .await
        .unwrap();
    assert_eq!(client.requests_made() - before, 5);
    assert_eq!(client.fetch_blob("dst/app", &digest).await.unwrap(), layer);
    assert_eq!(client.resolve("dst/app", "v1").await.unwrap(), Some(pushed));
}
