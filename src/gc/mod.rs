//! The garbage-collection run: read the registry, plan with the policy, journal, execute, record.
//! Dry-run is the default. Runs never overlap (in-process lock plus the store's GC lock). When the
//! state it needs is missing (registry unreachable, no registry configured, cluster protection
//! unavailable) it deletes nothing in that scope and says why in the run, the logs and the metrics.

pub mod clock;
mod execute;
pub mod protect;
pub mod report;
mod resume;
pub mod schedule;
mod snapshot;
pub mod summary;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::stream::{self, StreamExt};
use serde::Serialize;

pub use clock::{Clock, ManualClock, SystemClock};
pub use execute::CrashPoint;
use execute::{journal_entries, ExecError, Repository};
use protect::ProtectionSource;
use summary::{Outcome, RunSummary};

use crate::config::{Config, ProjectConfig};
use crate::metrics::Metrics;
use crate::policy::{self, Plan, PlanInput, Protections, RegistrySnapshot, Totals};
use crate::registry::{RegistryClient, RegistryError};
use crate::store::model::{JournalState, ProjectRecord, RunRecord, RunStatus};
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
        let repositories: Vec<String> = state
            .image_tags
            .iter()
            .map(|t| t.repository.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let concurrency = self.inner.config.gc.registry_concurrency;
        let mut snapshot = snapshot::read(client, &repositories, concurrency).await;
        let policy = self.inner.config.project_policy(target.config);
        let recorded: HashSet<(&str, &str)> = state
            .image_tags
            .iter()
            .map(|t| (t.repository.as_str(), t.tag.as_str()))
            .collect();
        // Same settings lookup as the policy: the repository's, else its only rule's, else default.
        let may_expire = |repo: &str| {
            let rules: BTreeSet<&str> = state
                .image_tags
                .iter()
                .filter(|t| t.repository == repo)
                .map(|t| t.rule.as_str())
                .collect();
            let only_rule = if rules.len() == 1 {
                rules.first().copied()
            } else {
                None
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

    /// One run: resume what a crash left, plan, journal and (unless dry-run) delete.
    pub async fn run(&self, trigger: Trigger, dry_run: Option<bool>) -> Result<RunRecord, GcError> {
        let Ok(_local) = self.inner.running.try_lock() else {
            return Err(GcError::AlreadyRunning);
        };
        let Some(lock) = self.inner.store.try_gc_lock().await? else {
            return Err(GcError::AlreadyRunning);
        };
        let result = self.run_locked(trigger, self.dry_run(dry_run)).await;
        lock.release().await;
        result
    }

    async fn run_locked(&self, trigger: Trigger, dry_run: bool) -> Result<RunRecord, GcError> {
        let store = &self.inner.store;
        let started = Instant::now();
        let requests_before = self.requests_made();
        store.interrupt_runs(self.inner.clock.now()).await?;
        let forgotten = store
            .prune_deliveries(self.inner.clock.now() - DELIVERY_KEY_RETENTION)
            .await?;
        tracing::debug!(forgotten, "pruned old webhook delivery keys");
        let run_id = store
            .create_run(trigger.as_str(), dry_run, self.inner.clock.now())
            .await?;
        tracing::info!(
            run_id,
            trigger = trigger.as_str(),
            dry_run,
            "garbage-collection run started"
        );
        let targets = self.targets(None).await?;
        let mut summary = RunSummary::default();
        self.resume_or_report(&targets, dry_run, &mut summary)
            .await?;
        let protections = self.inner.protection.protections().await;
        if let Some(reason) = protections.unavailable_reason() {
            self.refuse(
                &mut summary,
                "cluster_protection_unavailable",
                format!("cluster protection unavailable, nothing deleted: {reason}"),
            );
        }
        let deadline = started + self.inner.config.gc.time_budget();
        let mut refused = 0;
        for target in &targets {
            match self.plan_target(target, &protections, true).await {
                Ok((plan, client)) => {
                    self.carry_out(run_id, plan, &client, dry_run, deadline, &mut summary)
                        .await?
                }
                Err(e) => {
                    refused += 1;
                    let reason = refusal_reason(&e);
                    self.refuse(
                        &mut summary,
                        reason,
                        format!("{}: nothing deleted: {e}", target.config.label()),
                    );
                }
            }
        }
        summary.duration_ms = started.elapsed().as_millis() as u64;
        summary.registry_requests = self.requests_made() - requests_before;
        let status = if refused > 0 && refused == targets.len() {
            RunStatus::Refused
        } else {
            RunStatus::Finished
        };
        let json = serde_json::to_value(&summary).unwrap_or_default();
        let error = (!summary.errors.is_empty()).then(|| summary.errors.join("; "));
        store
            .finish_run(
                run_id,
                status,
                self.inner.clock.now(),
                &json,
                error.as_deref(),
            )
            .await?;
        self.inner.metrics.gc_run(status.as_str(), &summary);
        tracing::info!(
            run_id,
            status = status.as_str(),
            removed = summary.total(Outcome::Removed),
            errors = summary.errors.len(),
            "garbage-collection run finished"
        );
        store
            .run(run_id)
            .await?
            .ok_or(GcError::Store(StoreError::Corrupt(format!(
                "run {run_id} vanished"
            ))))
    }

    fn refuse(&self, summary: &mut RunSummary, reason: &'static str, message: String) {
        tracing::warn!(reason, "{message}");
        self.inner
            .metrics
            .gc_refusals
            .with_label_values(&[reason])
            .inc();
        summary.errors.push(message);
    }

    async fn resume_or_report(
        &self,
        targets: &[Target<'_>],
        dry_run: bool,
        summary: &mut RunSummary,
    ) -> Result<(), StoreError> {
        if dry_run {
            let open = self.inner.store.open_journal().await?.len();
            if open > 0 {
                summary.errors.push(format!("{open} actions of an interrupted run are open; a run without dry-run finishes them"));
            }
            return Ok(());
        }
        let clients: HashMap<i64, RegistryClient> = targets
            .iter()
            .filter_map(|t| Some((t.record.as_ref()?.id, t.client.clone()?)))
            .collect();
        resume::resume(&self.inner.store, &clients, summary).await
    }

    /// Journals and executes one project's plan, repository by repository.
    async fn carry_out(
        &self,
        run_id: i64,
        plan: ProjectPlan,
        client: &RegistryClient,
        dry_run: bool,
        deadline: Instant,
        summary: &mut RunSummary,
    ) -> Result<(), GcError> {
        summary.projects_planned += 1;
        summary.tags_planned += plan.plan.totals.tags_removed;
        summary.tags_kept += plan.plan.totals.tags_kept;
        summary.bytes_unreferenced += plan.plan.totals.bytes_unreferenced;
        let state = if dry_run {
            JournalState::DryRun
        } else {
            JournalState::Planned
        };
        let entries = journal_entries(run_id, plan.project_id, &plan.plan.actions, state);
        if dry_run {
            self.inner.store.journal_insert(&entries).await?;
            for e in &entries {
                summary.count(&e.rule, Outcome::DryRun, 1);
            }
            return Ok(());
        }
        let mut by_repo: HashMap<String, Vec<_>> = HashMap::new();
        for e in entries {
            by_repo.entry(e.repository.clone()).or_default().push(e);
        }
        let crash = *self.inner.crash.lock().expect("crash lock");
        let concurrency = self.inner.config.gc.registry_concurrency;
        let results: Vec<Result<RunSummary, ExecError>> = stream::iter(by_repo)
            .map(|(repo, entries)| {
                let snapshot = &plan.snapshot;
                async move {
                    if Instant::now() > deadline {
                        let mut deferred = RunSummary::default();
                        for e in &entries {
                            deferred.count(&e.rule, Outcome::Deferred, 1);
                        }
                        return Ok(deferred);
                    }
                    let entries = self.inner.store.journal_insert(&entries).await?;
                    let removing: HashSet<&str> = entries.iter().map(|e| e.tag.as_str()).collect();
                    let siblings: Vec<String> =
                        snapshot.repositories.get(&repo).map_or_else(Vec::new, |r| {
                            r.tags
                                .keys()
                                .filter(|t| !removing.contains(t.as_str()))
                                .cloned()
                                .collect()
                        });
                    let repository = Repository {
                        store: &self.inner.store,
                        client,
                        name: &repo,
                        concurrency,
                        crash,
                    };
                    repository.execute(entries, siblings).await
                }
            })
            .buffer_unordered(self.inner.config.gc.repository_concurrency.max(1))
            .collect()
            .await;
        for result in results {
            match result {
                Ok(part) => summary.merge(part),
                Err(ExecError::Crashed(_)) => return Err(GcError::Crashed),
                Err(ExecError::Store(e)) => return Err(e.into()),
            }
        }
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

fn refusal_reason(e: &GcError) -> &'static str {
    match e {
        GcError::UnknownProject(_) => "project_unknown",
        GcError::NoRegistry(_) => "no_registry_configured",
        GcError::RegistryUnreachable { .. } => "registry_unreachable",
        _ => "error",
    }
}
