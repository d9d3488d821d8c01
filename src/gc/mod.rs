//! The garbage-collection run: read the registry, plan with the policy, journal, execute, record.
//! Dry-run is the default. Runs never overlap (in-process lock plus the store's GC lock). When the
//! state it needs is missing (registry unreachable, no registry configured, cluster protection
//! unavailable) it deletes nothing in that scope and says why in the run, the logs and the metrics.

pub mod clock;
mod execute;
mod images;
pub mod protect;
pub mod report;
mod resume;
mod run;
pub mod schedule;
mod snapshot;
pub mod summary;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde::Serialize;

pub use clock::{Clock, ManualClock, SystemClock};
pub use execute::CrashPoint;
use protect::ProtectionSource;

use crate::config::{Config, ProjectConfig};
use crate::metrics::Metrics;
use crate::policy::{self, Plan, PlanInput, Protections, RegistrySnapshot, Totals};
use crate::registry::{RegistryClient, RegistryError};
use crate::store::model::ProjectRecord;
use crate::store::{Store, StoreError};

/// How long webhook delivery keys are kept for deduplication. GitLab resends from the last two days
/// of its logs; a week leaves room.
const DELIVERY_KEY_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// Why a run did not happen or stopped.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("a garbage-collection run is already in progress")]
    AlreadyRunning,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stopped at the test crash point")]
    Crashed,
    #[error("project {0} has not been heard from by webhook yet")]
    UnknownProject(String),
    #[error("no [[registries]] entry for registry host {0:?}")]
    NoRegistry(String),
    #[error("registry {host} is unreachable: {error}")]
    RegistryUnreachable { host: String, error: RegistryError },
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Schedule,
    Api,
    Cli,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Api => "api",
            Trigger::Cli => "cli",
        }
    }
}

/// One project's plan, as `registry-gc plan` and `GET /api/v1/plan` show it.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectPlan {
    pub project: String,
    pub project_id: i64,
    #[serde(flatten)]
    pub plan: Plan,
    #[serde(skip)]
    snapshot: RegistrySnapshot,
}

/// A configured project with what a run needs to act on it.
struct Target<'a> {
    config: &'a ProjectConfig,
    record: Option<ProjectRecord>,
    client: Option<RegistryClient>,
}

/// The garbage collector; cheap to clone, shared by the scheduler and the API.
#[derive(Clone)]
pub struct Gc {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Config>,
    store: Store,
    clients: HashMap<String, RegistryClient>,
    protection: Arc<dyn ProtectionSource>,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    running: tokio::sync::Mutex<()>,
    crash: Mutex<CrashPoint>,
}

impl Gc {
    /// Builds a registry client per `[[registries]]` entry.
    pub fn new(
        config: Arc<Config>,
        store: Store,
        protection: Arc<dyn ProtectionSource>,
        clock: Arc<dyn Clock>,
        metrics: Metrics,
    ) -> Result<Gc, RegistryError> {
        let mut clients = HashMap::new();
        for settings in &config.registries {
            clients.insert(settings.host(), RegistryClient::new(settings.clone())?);
        }
        let inner = Inner {
            config,
            store,
            clients,
            protection,
            clock,
            metrics,
            running: tokio::sync::Mutex::new(()),
            crash: Mutex::new(CrashPoint::Never),
        };
        Ok(Gc {
            inner: Arc::new(inner),
        })
    }

    /// Test hook: make the next runs stop where a crash would hurt most.
    #[doc(hidden)]
    pub fn set_crash_point(&self, point: CrashPoint) {
        *self.inner.crash.lock().expect("crash lock") = point;
    }

    fn dry_run(&self, forced: Option<bool>) -> bool {
        forced.unwrap_or(self.inner.config.gc.dry_run)
    }

    async fn targets(&self, only: Option<&str>) -> Result<Vec<Target<'_>>, StoreError> {
        let mut out = Vec::new();
        for config in &self.inner.config.projects {
            if only.is_some_and(|p| !config.matches(p.parse().ok(), Some(p))) {
                continue;
            }
            let record = match (config.id, &config.path) {
                (Some(id), _) => self.inner.store.project_by_id(id).await?,
                (None, Some(path)) => self.inner.store.project_by_path(path).await?,
                (None, None) => None,
            };
            let client = self.inner.clients.get(config.registry_host()).cloned();
            out.push(Target {
                config,
                record,
                client,
            });
        }
        Ok(out)
    }

    /// Plans every configured project (or only `project`, by path or id) without changing anything.
    pub async fn plan(
        &self,
        project: Option<&str>,
    ) -> Result<Vec<Result<ProjectPlan, GcError>>, GcError> {
        let protections = self.inner.protection.protections().await;
        let mut plans = Vec::new();
        for target in self.targets(project).await? {
            plans.push(
                self.plan_target(&target, &protections, false)
                    .await
                    .map(|(plan, _)| plan),
            );
        }
        Ok(plans)
    }

    /// A project's plan and the client of its registry. `remember`: write the digests seen back to
    /// the store (runs do; a plan on its own changes nothing).
    async fn plan_target(
        &self,
        target: &Target<'_>,
        protections: &Protections,
        remember: bool,
    ) -> Result<(ProjectPlan, RegistryClient), GcError> {
        let record = target
            .record
            .as_ref()
            .ok_or_else(|| GcError::UnknownProject(target.config.label()))?;
        let host = target.config.registry_host();
        let client = target
            .client
            .as_ref()
            .ok_or_else(|| GcError::NoRegistry(host.to_owned()))?;
        client
            .ping()
            .await
            .map_err(|error| GcError::RegistryUnreachable {
                host: host.to_owned(),
                error,
            })?;
        let state = self.inner.store.project_state(record.id).await?;
        // One pass over the records: the rules seen per repository (which also lists the
        // repositories to read) and the recorded (repository, tag) pairs.
        let mut rules_by_repo: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut recorded: HashSet<(&str, &str)> = HashSet::with_capacity(state.image_tags.len());
        for t in &state.image_tags {
            rules_by_repo
                .entry(&t.repository)
                .or_default()
                .insert(&t.rule);
            recorded.insert((&t.repository, &t.tag));
        }
        let repositories: Vec<String> = rules_by_repo.keys().map(|r| (*r).to_owned()).collect();
        let concurrency = self.inner.config.gc.registry_concurrency;
        let mut snapshot = snapshot::read(client, &repositories, concurrency).await;
        let policy = self.inner.config.project_policy(target.config);
        // Same settings lookup as the policy: the repository's, else its only rule's, else default.
        let may_expire = |repo: &str| {
            let only_rule = match rules_by_repo.get(repo) {
                Some(rules) if rules.len() == 1 => rules.first().copied(),
                _ => None,
            };
            policy
                .for_untracked(repo, only_rule)
                .untracked_max_age
                .is_some()
        };
        snapshot::date_untracked(client, &mut snapshot, &recorded, may_expire, concurrency).await;
        if remember {
            self.remember_digests(record.id, &snapshot, &recorded)
                .await?;
        }
        let now = self.inner.clock.now();
        let mut plan = policy::plan(&PlanInput {
            state: &state,
            snapshot: &snapshot,
            protections,
            now,
            policy: &policy,
        });
        snapshot::size_deleted_images(client, &mut plan.actions, concurrency).await;
        plan.totals = Totals::count(&plan.actions, &plan.kept);
        let plan = ProjectPlan {
            project: record.path.clone(),
            project_id: record.id,
            plan,
            snapshot,
        };
        Ok((plan, client.clone()))
    }

    /// Writes the digest each recorded tag has in the registry back to the store (changed ones only).
    async fn remember_digests(
        &self,
        project_id: i64,
        snapshot: &RegistrySnapshot,
        recorded: &HashSet<(&str, &str)>,
    ) -> Result<(), StoreError> {
        let seen: Vec<(String, String, String)> = snapshot
            .repositories
            .iter()
            .flat_map(|(repo, r)| r.tags.iter().map(move |(tag, info)| (repo, tag, info)))
            .filter(|(repo, tag, _)| recorded.contains(&(repo.as_str(), tag.as_str())))
            .map(|(repo, tag, info)| (repo.clone(), tag.clone(), info.digest.clone()))
            .collect();
        let changed = self.inner.store.set_digests(project_id, &seen).await?;
        tracing::debug!(project_id, changed, "recorded digests from the registry");
        Ok(())
    }

    fn requests_made(&self) -> u64 {
        self.inner
            .clients
            .values()
            .map(RegistryClient::requests_made)
            .sum()
    }

    /// Whether a run is going on in this process right now.
    pub fn is_running(&self) -> bool {
        self.inner.running.try_lock().is_err()
    }

    /// The store this collector records into (for the API).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }
}
