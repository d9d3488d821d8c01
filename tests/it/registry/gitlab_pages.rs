//! Reading a GitLab registry in pages (`/gitlab/v1/…/tags/list/`), against a front that serves
//! GitLab's API from a real docker-registry: the snapshot equals the one made with a HEAD per tag,
//! costs a request per thousand tags, follows only same-origin links, and never weakens removal:
//! a tag moved after the snapshot is still skipped. Debian's registry keeps the `/v2/` path.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::stream::{self, StreamExt};
use registry_gc::gc::{read_registry, remove_tags, RemovalOutcome};
use registry_gc::policy::RegistrySnapshot;
use registry_gc::registry::{manifest, Digest, Format, RegistryClient, RegistryError};

use crate::support::gitlab_registry::{GitLabRegistry, Links};
use crate::support::registry::{Grant, RegistryOptions, TestImage, TestRegistry, TokenIssuer};

const BIG: &str = "group/big";
const SMALL: &str = "group/small";
/// Never pushed: the registry does not know it.
const MISSING: &str = "group/missing";
/// Tags in `BIG`: three pages of at most 1,000.
const BIG_TAGS: usize = 2_100;

fn repositories() -> Vec<String> {
    [BIG, SMALL, MISSING].map(str::to_owned).to_vec()
}

/// `BIG` with [`BIG_TAGS`] tags over two images, and [`seed_small`].
async fn seed(registry: &TestRegistry) {
    let client = registry.client();
    let a = registry
        .push_image(BIG, "a-0", &TestImage::random(Format::Docker, 1, 64))
        .await;
    let b = registry
        .push_image(BIG, "b-0", &TestImage::random(Format::Oci, 1, 64))
        .await;
    let bytes_of = |digest: &Digest| {
        let client = client.clone();
        let digest = digest.clone();
        async move {
            let m = client.fetch_manifest(BIG, digest.as_str()).await.unwrap();
            m.expect("manifest").bytes
        }
    };
    let (a_bytes, b_bytes) = (bytes_of(&a).await, bytes_of(&b).await);
    let tags: Vec<(String, &'static str, Bytes)> = (1..BIG_TAGS - 1)
        .map(|i| match i % 3 {
            0 => (format!("b-{i}"), manifest::OCI_MANIFEST, b_bytes.clone()),
            _ => (format!("a-{i}"), manifest::DOCKER_MANIFEST, a_bytes.clone()),
        })
        .collect();
    stream::iter(tags)
        .for_each_concurrent(8, |(tag, media, body)| {
            let client = client.clone();
            async move {
                client.put_manifest(BIG, &tag, media, body).await.unwrap();
            }
        })
        .await;
    seed_small(registry).await;
}

/// `SMALL` with three tags over two images.
async fn seed_small(registry: &TestRegistry) {
    let image = TestImage::random(Format::Docker, 1, 64);
    registry.push_image(SMALL, "main", &image).await;
    registry.push_image(SMALL, "v1", &image).await;
    let other = TestImage::random(Format::Docker, 1, 64);
    registry.push_image(SMALL, "old", &other).await;
}

/// Repository → tag → digest.
fn digests(snapshot: &RegistrySnapshot) -> BTreeMap<String, BTreeMap<String, String>> {
    let tags = |r: &registry_gc::policy::RepositorySnapshot| {
        r.tags
            .iter()
            .map(|(t, i)| (t.clone(), i.digest.to_string()))
            .collect()
    };
    snapshot
        .repositories
        .iter()
        .map(|(repo, r)| (repo.clone(), tags(r)))
        .collect()
}

/// The snapshot `client` reads, and the requests it cost.
async fn snapshot(client: &RegistryClient) -> (RegistrySnapshot, u64) {
    let before = client.requests_made();
    let snapshot = read_registry(client, &repositories(), 8).await;
    (snapshot, client.requests_made() - before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gitlab_snapshot_equals_the_v2_snapshot_at_a_request_per_page() {
    let registry = TestRegistry::start().await;
    seed(&registry).await;
    let direct = registry.client();
    let (by_head, v2_requests) = snapshot(&direct).await;
    assert!(
        !direct.gitlab_api().await,
        "docker-registry has no /gitlab/v1/"
    );
    assert_eq!(by_head.repositories[BIG].tags.len(), BIG_TAGS);
    assert!(by_head.unlisted.is_empty(), "{:?}", by_head.unlisted);

    let front = GitLabRegistry::start(&registry).await;
    let client = RegistryClient::new(registry.settings_at(&front.url)).unwrap();
    let (paged, requests) = snapshot(&client).await;
    eprintln!("snapshot of {} tags: {v2_requests} requests over /v2/, {requests} in pages; front saw {:?}",
        BIG_TAGS + 3, front.requests());
    assert_eq!(digests(&paged), digests(&by_head));
    assert!(paged.unlisted.is_empty(), "{:?}", paged.unlisted);
    let undated = |s: &RegistrySnapshot| {
        s.repositories
            .values()
            .flat_map(|r| r.tags.values())
            .filter(|i| i.created.is_none())
            .count()
    };
    assert_eq!(undated(&paged), 0, "GitLab's list dates every tag");
    assert_eq!(
        undated(&by_head),
        BIG_TAGS + 3,
        "the /v2/ path dates no tag"
    );
    // One check, then pages: 3 for BIG, 1 for SMALL, 1 (404) for MISSING; the `/v2/` challenge.
    assert_eq!(front.count("GET gitlab-check"), 1);
    assert_eq!(front.count("GET gitlab-tags"), 5);
    assert_eq!(front.count("HEAD v2"), 0, "no tag was HEADed by the client");
    assert!(requests <= 7, "{requests} requests");
    assert!(v2_requests > BIG_TAGS as u64, "{v2_requests} requests");

    // Relative links, and links without the trailing slash (a 301 each), read the same.
    for links in [Links::Relative, Links::Unslashed] {
        front.set_links(links);
        let (again, _) = snapshot(&client).await;
        assert_eq!(digests(&again), digests(&by_head), "{links:?}");
    }
    assert_eq!(front.count("GET gitlab-301"), 2, "{:?}", front.requests());
    assert_eq!(
        front.count("GET gitlab-check"),
        1,
        "the check is made once per client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_to_another_origin_is_not_followed() {
    let registry = TestRegistry::start().await;
    seed(&registry).await;
    let front = GitLabRegistry::start(&registry).await;
    front.set_links(Links::Foreign);
    let client = RegistryClient::new(registry.settings_at(&front.url)).unwrap();
    let (paged, _) = snapshot(&client).await;
    let why = paged.unlisted.get(BIG).expect("BIG is unlisted");
    assert!(why.contains("another host"), "{why}");
    assert_eq!(paged.repositories[SMALL].tags.len(), 3, "one page, no link");
    assert_eq!(
        front.count("GET gitlab-tags"),
        3,
        "the foreign page was never asked for"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_moved_after_the_paged_snapshot_is_skipped_at_removal() {
    let registry = TestRegistry::start().await;
    let image = TestImage::random(Format::Docker, 1, 64);
    let planned = registry.push_image(SMALL, "feature-x", &image).await;
    registry.push_image(SMALL, "main", &image).await;
    let front = GitLabRegistry::start(&registry).await;
    let client = RegistryClient::new(registry.settings_at(&front.url)).unwrap();
    let (paged, _) = snapshot(&client).await;
    assert_eq!(
        paged.repositories[SMALL].tags["feature-x"].digest,
        planned.to_string()
    );

    // CI pushes a new image to the tag after the snapshot, before the removal.
    let moved = registry
        .push_image(
            SMALL,
            "feature-x",
            &TestImage::random(Format::Docker, 1, 64),
        )
        .await;
    let heads = front.count("HEAD v2");
    let report = remove_tags(
        &client,
        SMALL,
        &[("feature-x".into(), planned.clone())],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        report.tags[0].outcome,
        RemovalOutcome::SkippedMoved {
            observed: moved.clone()
        }
    );
    assert!(
        front.count("HEAD v2") > heads,
        "the removal re-checked the tag by HEAD"
    );
    assert_eq!(direct_digest(&registry, "feature-x").await, Some(moved));
    assert_eq!(direct_digest(&registry, "main").await, Some(planned));
}

async fn direct_digest(registry: &TestRegistry, tag: &str) -> Option<Digest> {
    registry.client().resolve(SMALL, tag).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gitlab_api_answers_behind_the_same_bearer_challenge() {
    let issuer = TokenIssuer::start(&[
        ("reader", Grant::new("reader-pass", &["pull", "push"])),
        ("nobody", Grant::new("nobody-pass", &[])),
    ])
    .await;
    let options = RegistryOptions {
        token: Some(issuer.token_auth()),
        login: Some(("reader".into(), "reader-pass".into())),
        ..Default::default()
    };
    let registry = TestRegistry::start_with(options).await;
    seed_small(&registry).await;
    let front = GitLabRegistry::start(&registry).await;

    let client = RegistryClient::new(registry.settings_at(&front.url)).unwrap();
    let issued = issuer.issued();
    assert!(client.gitlab_api().await);
    let tags = client.list_tag_details(SMALL).await.unwrap();
    let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["main", "old", "v1"], "sorted by name");
    assert!(
        client.list_tag_details(MISSING).await.unwrap().is_empty(),
        "unknown repository"
    );
    assert!(
        issuer.issued() > issued,
        "tokens came from the realm the challenge named"
    );

    // Without pull on the repository: the challenge's scope is asked for once, then refused.
    let mut nobody = registry.settings_at(&front.url);
    nobody.password = Some(registry_gc::secret::Secret::new("nobody-pass"));
    nobody.username = Some("nobody".into());
    let nobody = RegistryClient::new(nobody).unwrap();
    assert!(
        nobody.gitlab_api().await,
        "the check needs no repository scope"
    );
    let before = front.count("GET gitlab-tags");
    let err = nobody.list_tag_details(SMALL).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    assert_eq!(
        front.count("GET gitlab-tags") - before,
        2,
        "one re-authentication"
    );
}
