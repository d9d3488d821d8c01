//! Registry client tests against a real docker-registry process (distribution 2.8).

mod auth;
mod cli_rm;
mod dummy_failure;
mod fake;
mod gitlab_pages;
mod image_delete;
mod native;
mod read;
mod realm;
mod remove;
mod resilience;
mod upload;

use crate::support::registry::TestRegistry;
use registry_gc::registry::{Digest, RegistryClient};
use std::collections::BTreeSet;

/// Tags of `repo`, sorted.
async fn tags(client: &RegistryClient, repo: &str) -> BTreeSet<String> {
    client
        .list_tags(repo)
        .await
        .expect("list tags")
        .into_iter()
        .collect()
}

/// Points `tag` at the manifest `digest` already in `repo` (re-PUT of its exact bytes).
async fn tag_existing(reg: &TestRegistry, repo: &str, tag: &str, digest: &Digest) {
    let client = reg.client();
    let m = client
        .fetch_manifest(repo, digest.as_str())
        .await
        .unwrap()
        .expect("manifest exists");
    let media: &'static str = match m.manifest.media_type() {
        registry_gc::registry::manifest::OCI_MANIFEST => {
            registry_gc::registry::manifest::OCI_MANIFEST
        }
        registry_gc::registry::manifest::OCI_INDEX => registry_gc::registry::manifest::OCI_INDEX,
        registry_gc::registry::manifest::DOCKER_LIST => {
            registry_gc::registry::manifest::DOCKER_LIST
        }
        _ => registry_gc::registry::manifest::DOCKER_MANIFEST,
    };
    let got = client
        .put_manifest(repo, tag, media, m.bytes)
        .await
        .unwrap();
    assert_eq!(&got, digest);
}
