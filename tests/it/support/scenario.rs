//! The GC scenario's building blocks: the test project on a real registry, a GitLab history
//! replayed through the daemon's webhook endpoint with the images pushed alongside, and reading back
//! what the registry holds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use registry_gc::app::{App, Wiring};
use registry_gc::clock::ManualClock;
use registry_gc::cluster::ProtectionSource;
use registry_gc::config::Config;
use registry_gc::gc::{Gc, RunSummary};
use registry_gc::registry::{Digest, Format, RegistryClient};
use serde_json::Value;

use super::app::{project_toml, TestApp};
use super::gitlab::{self, zeros};
use super::registry::{TestImage, TestRegistry};

pub const CI: &str = "group/app/app-ci";
pub const PROD: &str = "group/app/app";

pub fn config(registry: &TestRegistry) -> String {
    config_with(registry, "")
}

/// The test project on `registry`, deleting for real; `project_extra` goes into its table.
pub fn config_with(registry: &TestRegistry, project_extra: &str) -> String {
    config_at(&registry.url(), project_extra)
}

/// The test project on the registry at `url` (`http://host:port`, a registry or a front before
/// one), deleting for real; `project_extra` goes into its table.
pub fn config_at(url: &str, project_extra: &str) -> String {
    let host = url.trim_start_matches("http://");
    let project = project_toml(host, project_extra);
    format!(
        "{project}\n[gc]\ndry_run = false\nschedule = \"\"\n\n[[registries]]\nurl = \"{url}\"\n"
    )
}

/// A commit SHA named after its branch and number (40 hex characters).
pub fn sha(branch: u8, n: u8) -> String {
    format!("{branch:02x}{n:02x}{}", "ab".repeat(18))
}

pub struct World<'a> {
    pub app: &'a TestApp,
    pub registry: &'a TestRegistry,
}

impl World<'_> {
    pub async fn hook(&self, event: &str, body: Value) {
        let (status, answer) = self.app.deliver(event, &body, None).await;
        assert_eq!(status, 200, "{event}: {answer}");
    }

    /// A pipeline that builds one image and pushes it under every tag CI would push.
    pub async fn pipeline(
        &self,
        id: i64,
        branch: &str,
        commit: &str,
        status: &str,
        mr: Option<i64>,
        tags: &[(&str, String)],
    ) {
        self.hook(
            "Pipeline Hook",
            gitlab::pipeline(id, branch, commit, "running", false, mr),
        )
        .await;
        let image = TestImage::random(Format::Docker, 1, 512);
        for (repo, tag) in tags {
            self.registry.push_image(repo, tag, &image).await;
        }
        if status != "running" {
            self.hook(
                "Pipeline Hook",
                gitlab::pipeline(id, branch, commit, status, false, mr),
            )
            .await;
        }
    }

    pub async fn replay(&self) {
        // main: five deploys; the branch tag and `prod` move with each.
        self.hook(
            "Push Hook",
            gitlab::push("main", &zeros(), &sha(0, 1), &[sha(0, 1)]),
        )
        .await;
        for n in 1..=5u8 {
            let commit = sha(0, n);
            let tags = [
                (CI, commit.clone()),
                (CI, "main".to_owned()),
                (PROD, format!("prod-{commit}")),
                (PROD, "prod".to_owned()),
            ];
            self.pipeline(600 + i64::from(n), "main", &commit, "success", None, &tags)
                .await;
        }
        // feature/a: two pipelines, merged in !1, branch deleted.
        self.hook(
            "Push Hook",
            gitlab::push("feature/a", &zeros(), &sha(1, 1), &[sha(1, 1)]),
        )
        .await;
        self.hook(
            "Merge Request Hook",
            gitlab::merge_request(1, "feature/a", "opened", "open", "2026-11-20T09:00:00Z"),
        )
        .await;
        for n in 1..=2u8 {
            let tags = [(CI, sha(1, n)), (CI, "feature-a".to_owned())];
            self.pipeline(
                500 + i64::from(n),
                "feature/a",
                &sha(1, n),
                "success",
                None,
                &tags,
            )
            .await;
        }
        self.hook(
            "Merge Request Hook",
            gitlab::merge_request(1, "feature/a", "merged", "merge", "2026-11-21T10:00:00Z"),
        )
        .await;
        self.hook(
            "Push Hook",
            gitlab::push("feature/a", &sha(1, 2), &zeros(), &[]),
        )
        .await;
        // feature/b: a failed pipeline, MR !2 closed, branch still there.
        self.hook(
            "Push Hook",
            gitlab::push("feature/b", &zeros(), &sha(2, 1), &[sha(2, 1)]),
        )
        .await;
        self.hook(
            "Merge Request Hook",
            gitlab::merge_request(2, "feature/b", "opened", "open", "2026-11-20T09:00:00Z"),
        )
        .await;
        self.pipeline(
            511,
            "feature/b",
            &sha(2, 1),
            "failed",
            None,
            &[(CI, sha(2, 1)), (CI, "feature-b".to_owned())],
        )
        .await;
        self.hook(
            "Merge Request Hook",
            gitlab::merge_request(2, "feature/b", "closed", "close", "2026-11-21T10:00:00Z"),
        )
        .await;
        // feature/c: MR !3 open, one finished pipeline and one still running.
        self.hook(
            "Push Hook",
            gitlab::push("feature/c", &zeros(), &sha(3, 0), &[sha(3, 0)]),
        )
        .await;
        self.hook(
            "Merge Request Hook",
            gitlab::merge_request(3, "feature/c", "opened", "open", "2026-11-20T09:00:00Z"),
        )
        .await;
        self.pipeline(
            520,
            "feature/c",
            &sha(3, 0),
            "success",
            Some(3),
            &[(CI, sha(3, 0)), (CI, "feature-c".to_owned())],
        )
        .await;
        self.pipeline(
            521,
            "feature/c",
            &sha(3, 1),
            "running",
            Some(3),
            &[(CI, sha(3, 1)), (CI, "feature-c".to_owned())],
        )
        .await;
        // A release tag on the last deploy; its image is the deployed one.
        self.hook("Tag Push Hook", gitlab::tag_push("v1.2.0", &sha(0, 5)))
            .await;
        self.hook(
            "Pipeline Hook",
            gitlab::pipeline(607, "v1.2.0", &sha(0, 5), "success", true, None),
        )
        .await;
        let client = self.registry.client();
        let prod = client.resolve(PROD, "prod").await.unwrap().unwrap();
        let manifest = client
            .fetch_manifest(PROD, prod.as_str())
            .await
            .unwrap()
            .unwrap();
        client
            .put_manifest(
                PROD,
                "v1.2.0",
                registry_gc::registry::manifest::DOCKER_MANIFEST,
                manifest.bytes,
            )
            .await
            .unwrap();
    }
}

pub async fn tags(client: &RegistryClient) -> BTreeMap<(String, String), Digest> {
    let mut out = BTreeMap::new();
    for repo in [CI, PROD] {
        for tag in client.list_tags(repo).await.unwrap() {
            let digest = client.resolve(repo, &tag).await.unwrap().unwrap();
            out.insert((repo.to_owned(), tag), digest);
        }
    }
    out
}

/// `after` holds exactly the tags [`World::replay`]'s history leaves after a run, each on its
/// digest from `before`: app-ci keeps the main and open MR branches and the running pipeline's
/// commit; app keeps prod, the release, the current deploy and the three before it.
pub fn assert_replay_survivors(
    before: &BTreeMap<(String, String), Digest>,
    after: &BTreeMap<(String, String), Digest>,
) {
    let ci: BTreeSet<String> = ["main".to_owned(), "feature-c".to_owned(), sha(3, 1)].into();
    let prod_commits = (2..=5).map(|n| format!("prod-{}", sha(0, n)));
    let prod: BTreeSet<String> = ["prod".to_owned(), "v1.2.0".to_owned()]
        .into_iter()
        .chain(prod_commits)
        .collect();
    assert_eq!(names(after, CI), ci);
    assert_eq!(names(after, PROD), prod);
    for (key, digest) in after {
        assert_eq!(&before[key], digest, "kept tag {key:?} changed digest");
    }
}

pub fn names(tags: &BTreeMap<(String, String), Digest>, repo: &str) -> BTreeSet<String> {
    tags.keys()
        .filter(|(r, _)| r == repo)
        .map(|(_, t)| t.clone())
        .collect()
}

pub fn summary(run: &registry_gc::model::RunRecord) -> RunSummary {
    serde_json::from_value(run.summary.clone()).unwrap()
}

pub async fn deploy_once(world: &World<'_>) {
    world
        .hook(
            "Push Hook",
            gitlab::push("main", &zeros(), &sha(0, 1), &[sha(0, 1)]),
        )
        .await;
    let tags = [
        (CI, sha(0, 1)),
        (CI, "main".to_owned()),
        (PROD, format!("prod-{}", sha(0, 1))),
        (PROD, "prod".to_owned()),
    ];
    world
        .pipeline(601, "main", &sha(0, 1), "success", None, &tags)
        .await;
}

/// A second deploy on main, so the first deploy's commit tag becomes deletable.
pub async fn deploy_again(world: &World<'_>) {
    world
        .hook(
            "Push Hook",
            gitlab::push("main", &sha(0, 1), &sha(0, 2), &[sha(0, 2)]),
        )
        .await;
    let tags = [
        (CI, sha(0, 2)),
        (CI, "main".to_owned()),
        (PROD, format!("prod-{}", sha(0, 2))),
        (PROD, "prod".to_owned()),
    ];
    world
        .pipeline(602, "main", &sha(0, 2), "success", None, &tags)
        .await;
}

/// A collector over the test daemon's store and configuration with its own protection and clock.
pub fn gc_with(
    toml: &str,
    app: &TestApp,
    protection: Arc<dyn ProtectionSource>,
    clock: Arc<ManualClock>,
) -> Gc {
    let mut config = Config::from_toml(toml).unwrap();
    config.database = app.db.config.clone();
    let wiring = Wiring {
        clock,
        protection: Some(protection),
    };
    App::with_store(config, app.store.clone(), wiring)
        .unwrap()
        .gc
}
