//! `registry-gc registry rm`, the real binary against a real registry behind a counting proxy: the
//! named tags go, a sibling on the same image and an unnamed tag stay, a missing tag is reported,
//! and the request count it prints is what reached the registry.

use std::time::Duration;

use registry_gc::registry::Format;

use super::{tag_existing, tags};
use crate::support::binary::Process;
use crate::support::fault_proxy::{FaultMix, FaultProxy};
use crate::support::registry::{TestImage, TestRegistry};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rm_removes_named_tags_and_counts_every_request() {
    let reg = TestRegistry::start().await;
    let client = reg.client();
    let shared = reg
        .push_image("app", "keep", &TestImage::random(Format::Docker, 1, 256))
        .await;
    tag_existing(&reg, "app", "a", &shared).await;
    let alone = reg
        .push_image("app", "b", &TestImage::random(Format::Oci, 1, 256))
        .await;
    tag_existing(&reg, "app", "c", &alone).await;
    let proxy = FaultProxy::start(&reg.url(), 1, FaultMix::default()).await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("registry-gc.toml"), "").unwrap();
    let url = proxy.url();
    let args = [
        "registry",
        "--url",
        &url,
        "rm",
        "app:a",
        "app:b",
        "app:missing",
    ];
    let mut rm = Process::start(dir.path(), "rm", &args);
    let status = rm.wait(Duration::from_secs(30)).await;
    let out = rm.output();
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{out}\n{}",
        rm.log()
    );

    assert_eq!(
        tags(&client, "app").await,
        ["c", "keep"].map(String::from).into()
    );
    assert_eq!(client.resolve("app", "keep").await.unwrap(), Some(shared));
    assert_eq!(client.resolve("app", "c").await.unwrap(), Some(alone));
    assert!(out.contains("kept    app:missing\tno such tag"), "{out}");
    assert!(
        out.contains("removed app:a") && out.contains("removed app:b"),
        "{out}"
    );

    let summary = out
        .lines()
        .find(|l| l.starts_with("app: "))
        .expect("summary line");
    let (before, _) = summary.split_once(" requests (").expect("request count");
    let printed: u64 = before
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .expect("a number");
    let at_registry: u64 = proxy.methods_forwarded().values().sum();
    assert_eq!(printed, at_registry, "{summary}");
}
