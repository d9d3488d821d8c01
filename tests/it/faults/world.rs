//! The world the GC fault tests run in: a real registry behind a [`FaultProxy`], a database of
//! either backend, the test daemon recording GitLab's webhooks into it, and a config file for the
//! real binary. Rounds of deploys on `main` give every run work of both kinds (tags untagged through
//! a shared dummy, images deleted by digest); the expected survivors come from the plan made before
//! any fault, and are checked against the registry itself (never through the proxy).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use registry_gc::model::{JournalState, RunStatus};
use registry_gc::registry::{Digest, Format};
use registry_gc::store::SharedStore;

use crate::support::app::{project_toml, TestApp};
use crate::support::binary::Process;
use crate::support::db::Backend;
use crate::support::fault_proxy::{FaultMix, FaultProxy};
use crate::support::gitlab::{self, zeros};
use crate::support::registry::{TestImage, TestRegistry};
use crate::support::scenario::{tags, CI, PROD};

/// Every tag of both repositories with its digest.
pub type Tags = BTreeMap<(String, String), Digest>;

pub struct GcWorld {
    pub registry: TestRegistry,
    pub proxy: FaultProxy,
    pub app: TestApp,
    /// Holds `registry-gc.toml` and the binary's logs.
    pub dir: tempfile::TempDir,
    /// The last commit deployed on main.
    head: String,
}

/// What a run must leave: the tags before it, and the ones the plan keeps.
pub struct Expectation {
    pub before: Tags,
    pub survivors: BTreeSet<(String, String)>,
    pub removed: usize,
}

/// A commit SHA of deploy round `round`, commit `n`.
fn commit(round: u8, n: u8) -> String {
    format!("{round:02x}{n:02x}{}", "cd".repeat(18))
}

impl GcWorld {
    /// The world on `backend`, its registry behind a proxy with `mix`, faults seeded by `seed`.
    pub async fn start(backend: Backend, seed: u64, mix: FaultMix) -> GcWorld {
        let registry = TestRegistry::start().await;
        let proxy = FaultProxy::start(&registry.url(), seed, mix).await;
        let toml = config(&proxy);
        let app = TestApp::spawn_with(backend, &toml).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let world = GcWorld {
            registry,
            proxy,
            app,
            dir,
            head: zeros(),
        };
        world.write_config("");
        world
    }

    /// Writes the binary's config: the world's, with `server` lines added to its `[server]` table.
    pub fn write_config(&self, server: &str) {
        let url = &self.app.db.config.url.0;
        let toml = config(&self.proxy).replacen("[server]\n", &format!("[server]\n{server}\n"), 1);
        let toml = format!("{toml}\n[database]\nurl = \"{url}\"\n");
        std::fs::write(self.dir.path().join("registry-gc.toml"), toml).expect("write config");
    }

    pub fn store(&self) -> &SharedStore {
        &self.app.store
    }

    async fn hook(&self, event: &str, body: serde_json::Value) {
        let (status, answer) = self.app.deliver(event, &body, None).await;
        assert_eq!(status, 200, "{event}: {answer}");
    }

    /// Round `round` of deploys on main: six commits, the first three with images of their own, the
    /// last three with one image (so their commit tags share a digest with `main` and `prod`).
    pub async fn deploy_round(&mut self, round: u8) {
        let shared = TestImage::random(Format::Docker, 1, 256);
        for n in 1..=6u8 {
            let sha = commit(round, n);
            let before = std::mem::replace(&mut self.head, sha.clone());
            self.hook(
                "Push Hook",
                gitlab::push("main", &before, &sha, std::slice::from_ref(&sha)),
            )
            .await;
            let id = 1000 + i64::from(round) * 10 + i64::from(n);
            self.hook(
                "Pipeline Hook",
                gitlab::pipeline(id, "main", &sha, "running", false, None),
            )
            .await;
            let image = match n {
                1..=3 => TestImage::random(Format::Docker, 1, 256),
                _ => shared.clone(),
            };
            let prod = format!("prod-{sha}");
            for (repo, tag) in [
                (CI, sha.as_str()),
                (CI, "main"),
                (PROD, prod.as_str()),
                (PROD, "prod"),
            ] {
                self.registry.push_image(repo, tag, &image).await;
            }
            self.hook(
                "Pipeline Hook",
                gitlab::pipeline(id, "main", &sha, "success", false, None),
            )
            .await;
        }
    }

    /// The registry's tags, read directly (not through the proxy).
    pub async fn tags(&self) -> Tags {
        tags(&self.registry.client()).await
    }

    /// The plan a run would carry out now (made with faults off) and what it leaves.
    pub async fn expect(&self) -> Expectation {
        let mix = FaultMix::default();
        self.proxy.set_mix(mix);
        self.app.clock.set(Utc::now() + TimeDelta::minutes(1));
        let before = self.tags().await;
        let mut removed = BTreeSet::new();
        for plan in self.app.gc.plan(None).await.expect("plan") {
            let plan = plan.expect("project planned");
            for action in &plan.plan.actions {
                for (tag, _) in action.tags() {
                    removed.insert((action.repository().to_owned(), tag.to_owned()));
                }
            }
        }
        assert!(!removed.is_empty(), "the round left nothing to remove");
        let survivors: BTreeSet<_> = before
            .keys()
            .filter(|k| !removed.contains(*k))
            .cloned()
            .collect();
        assert!(
            survivors.contains(&(CI.into(), "main".into()))
                && survivors.contains(&(PROD.into(), "prod".into()))
        );
        Expectation {
            before,
            survivors,
            removed: removed.len(),
        }
    }

    /// The registry holds exactly the survivors, each on the digest it had before.
    pub async fn check(&self, expected: &Expectation, context: &str) {
        let after = self.tags().await;
        let names: BTreeSet<_> = after.keys().cloned().collect();
        let gone: Vec<_> = expected.survivors.difference(&names).collect();
        let left: Vec<_> = names.difference(&expected.survivors).collect();
        assert!(gone.is_empty(), "{context}: kept tags deleted: {gone:?}");
        assert!(
            left.is_empty(),
            "{context}: planned tags still there: {left:?}"
        );
        for (key, digest) in &after {
            assert_eq!(
                &expected.before[key], digest,
                "{context}: kept tag {key:?} changed digest"
            );
        }
    }

    /// Runs `registry-gc run` to its end (at most `limit`); the run record it printed.
    pub async fn run_binary(&self, name: &str, limit: Duration) -> serde_json::Value {
        let mut process = Process::start(self.dir.path(), name, &["run"]);
        let status = process.wait(limit).await;
        let log = process.log();
        assert!(
            status.is_some_and(|s| s.success()),
            "{name}: {status:?}\n{log}"
        );
        serde_json::from_str(&process.output()).unwrap_or_else(|e| panic!("{name}: {e}\n{log}"))
    }

    /// No run is left `running` and no journal entry open.
    pub async fn assert_settled(&self, context: &str) {
        let runs = self.store().runs(1000).await.unwrap();
        let running: Vec<i64> = runs
            .iter()
            .filter(|r| r.status == RunStatus::Running)
            .map(|r| r.id)
            .collect();
        assert!(
            running.is_empty(),
            "{context}: runs still 'running': {running:?}"
        );
        let open = self.store().open_journal().await.unwrap();
        let open: Vec<(&str, JournalState)> =
            open.iter().map(|e| (e.tag.as_str(), e.state)).collect();
        assert!(
            open.is_empty(),
            "{context}: journal entries left open: {open:?}"
        );
    }
}

/// The test project with its registry behind `proxy`, deleting for real, with no grace periods
/// (the real binary plans with the real clock), few retries and short timeouts.
fn config(proxy: &FaultProxy) -> String {
    let project = project_toml(&proxy.host(), "");
    format!(
        "{project}\n[gc]\ndry_run = false\nschedule = \"\"\n\n[gc.retention]\nci_commit_grace = \"0s\"\n\
         branch_grace = \"0s\"\nmin_age = \"0s\"\n\n[[registries]]\nurl = \"{}\"\nretries = 3\n\
         request_timeout_secs = 10\nconnect_timeout_secs = 2\n",
        proxy.url()
    )
}
