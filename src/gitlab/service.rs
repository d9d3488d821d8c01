//! The reconciler: runs reconciliation and import for the configured projects — reads the records,
//! asks the GitLab API, applies what it found through the store together with the new watermarks —
//! for `registry-gc reconcile`, `registry-gc import` and the daemon's schedule. It only ever makes
//! records more accurate; it never deletes, and any failure leaves the records as they were.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::client::GitLabClient;
use super::error::GitLabError;
use super::fetch::{
    bulk_pushes_since, check_hook, import_project, reconcile_project, ImportRequest,
};
use super::finding::batch;
use super::hooks::HookHealth;
use super::import::{tracking_report, RepositoryTracking};
use super::reconcile::{Images, Reconciliation, Recorded, Watermark};
use super::settings::GitLabSettings;
use super::transport::Budget;
use crate::clock::Clock;
use crate::config::{Config, ProjectConfig};
use crate::metrics::Metrics;
use crate::model::{ProjectRecord, ProjectState, ProjectUpsert};
use crate::registry::RegistryClient;
use crate::store::{ReconcileProgress, SharedStore};

/// What reconciling one project did.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectReconciled {
    pub project: String,
    /// Every change found, in words (`branch feature/a deleted (found by reconciliation at …)`).
    pub found: Vec<String>,
    pub notes: Vec<String>,
    /// Why the project could not be reconciled (records unchanged).
    pub error: Option<String>,
    /// The project hook that feeds registry-gc, when `gitlab.hook_url` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook: Option<HookHealth>,
}

impl ProjectReconciled {
    fn failed(project: String, error: String) -> ProjectReconciled {
        ProjectReconciled {
            project,
            found: Vec::new(),
            notes: Vec::new(),
            error: Some(error),
            hook: None,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub project: String,
    pub changes: usize,
    pub notes: Vec<String>,
    /// Per repository: registry tags tracked and untracked after the import.
    pub repositories: Vec<RepositoryTracking>,
}

/// Reconciliation and import against one GitLab.
#[derive(Clone)]
pub struct Reconciler {
    client: GitLabClient,
    store: SharedStore,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    /// The last hook check per project id, for `GET /api/v1/projects`.
    hooks: Arc<Mutex<BTreeMap<i64, HookHealth>>>,
    /// Per project id, after when push events are still to be looked at (bulk-push watch).
    bulk_since: Arc<Mutex<BTreeMap<i64, DateTime<Utc>>>>,
}

/// How far back the bulk-push watch looks again, for the clocks of GitLab and of registry-gc to
/// differ a little; the first look of a process goes back [`BULK_FIRST_LOOK`].
const BULK_OVERLAP: TimeDelta = TimeDelta::minutes(5);
const BULK_FIRST_LOOK: TimeDelta = TimeDelta::hours(1);

impl Reconciler {
    pub fn new(
        settings: GitLabSettings,
        store: SharedStore,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        metrics: Metrics,
    ) -> Result<Reconciler, GitLabError> {
        let client = GitLabClient::new(settings)?;
        Ok(Reconciler {
            client,
            store,
            config,
            clock,
            metrics,
            hooks: Arc::default(),
            bulk_since: Arc::default(),
        })
    }

    /// The bulk-push watch: reads each recorded project's push events since the last look and
    /// reconciles at once the projects with a bulk push (more refs than GitLab sends push hooks
    /// for, so no hook came). Returns the projects it reconciled. A project whose reconciliation
    /// fails is looked at again from the same point next time.
    pub async fn reconcile_bulk_pushed(&self) -> Vec<ProjectReconciled> {
        let budget = Budget::new(self.client.settings().request_budget);
        let mut out = Vec::new();
        for project in &self.config.projects {
            let Ok(Some(record)) = self.record(project).await else {
                continue;
            };
            let settings = self.client.settings();
            if !settings.for_project(record.id, Some(&record.path)).enabled {
                continue;
            }
            let now = self.clock.now();
            let since = self
                .bulk_since
                .lock()
                .expect("bulk watch lock")
                .get(&record.id)
                .copied();
            let since = since.unwrap_or(now - BULK_FIRST_LOOK);
            let pushes = match bulk_pushes_since(&self.client, &budget, record.id, since).await {
                Ok(pushes) => pushes,
                Err(error) => {
                    tracing::warn!(project = %project.label(), %error, "cannot read push events for bulk pushes");
                    continue;
                }
            };
            let newest = pushes.iter().map(|p| p.created_at).max();
            let mut next = now - BULK_OVERLAP;
            if let Some(newest) = newest {
                let refs: i64 = pushes.iter().map(|p| p.ref_count).sum();
                tracing::info!(project = %project.label(), pushes = pushes.len(), refs, "bulk push without hooks: reconciling the project now");
                let done = self.reconcile_one(project, &budget, false).await;
                let done = done.unwrap_or_else(|error| {
                    tracing::warn!(project = %project.label(), %error, "reconciliation after a bulk push failed; records unchanged");
                    ProjectReconciled::failed(project.label(), error)
                });
                if done.error.is_some() {
                    continue;
                }
                out.push(done);
                next = next.max(newest);
            }
            let mut seen = self.bulk_since.lock().expect("bulk watch lock");
            let at = seen.entry(record.id).or_insert(next);
            *at = (*at).max(next);
        }
        out
    }

    /// Reconciles every configured project (or only `only`, by path or id), one request budget for
    /// all. With `dry_run` nothing is written.
    pub async fn reconcile(&self, only: Option<&str>, dry_run: bool) -> Vec<ProjectReconciled> {
        let budget = Budget::new(self.client.settings().request_budget);
        let projects: Vec<ProjectConfig> = self
            .config
            .projects
            .iter()
            .filter(|p| only.is_none_or(|o| p.matches(o.parse().ok(), Some(o))))
            .cloned()
            .collect();
        let mut out = Vec::with_capacity(projects.len());
        for project in projects {
            // `enabled = false` (for all, or this project): reconciled only when named.
            if only.is_none() && !self.enabled_for(&project).await {
                tracing::debug!(project = %project.label(), "reconciliation disabled for the project");
                continue;
            }
            let done = self.reconcile_one(&project, &budget, dry_run).await;
            out.push(done.unwrap_or_else(|error| {
                tracing::warn!(project = %project.label(), %error, "reconciliation failed; records unchanged");
                ProjectReconciled::failed(project.label(), error)
            }));
        }
        out
    }

    /// Whether `gitlab.enabled` (or the project's override) lets scheduled reconciliation touch
    /// the project; the override is found by the configured or the recorded id and path.
    async fn enabled_for(&self, project: &ProjectConfig) -> bool {
        let recorded = self.record(project).await.ok().flatten();
        let id = project.id.or(recorded.as_ref().map(|r| r.id));
        let path = project.path.as_deref();
        let path = path.or(recorded.as_ref().map(|r| r.path.as_str()));
        // No real project has id 0: without an id only the path can match an override.
        let settings = self.client.settings().for_project(id.unwrap_or(0), path);
        settings.enabled
    }

    async fn reconcile_one(
        &self,
        project: &ProjectConfig,
        budget: &Budget,
        dry_run: bool,
    ) -> Result<ProjectReconciled, String> {
        let record = self.record(project).await?.ok_or_else(|| {
            "not heard from by webhook yet: import it first (registry-gc import)".to_owned()
        })?;
        let (state, watermark) = self.recorded(record.id).await?;
        let images = Images {
            config: project,
            registry: project.registry_host(),
            project_path: &record.path,
            default_branch: record.default_branch.as_deref(),
        };
        let now = self.clock.now();
        let recorded = Recorded::of(record.id, &state);
        let found = reconcile_project(
            &self.client,
            budget,
            &recorded,
            watermark,
            Some(images),
            now,
        )
        .await;
        let found = match found {
            Ok(found) => found,
            Err(e) => return Err(self.failed(record.id, now, e.to_string(), dry_run).await),
        };
        let label = project.label();
        if !dry_run {
            self.save(&record, &found, now).await?;
            self.metrics.reconciled(&label, now.timestamp());
        }
        let newest = found
            .watermark
            .merge_requests
            .max(found.watermark.pipelines);
        if let Some(at) = newest {
            self.metrics.active(&label, at.timestamp());
        }
        let hook = self.check_hook(&label, &record, budget).await;
        Ok(ProjectReconciled {
            project: label,
            found: found.found.iter().map(|f| f.reason.to_string()).collect(),
            notes: found.notes,
            error: None,
            hook,
        })
    }

    /// What is recorded for the project, and where its last reconciliation got to.
    async fn recorded(&self, project: i64) -> Result<(ProjectState, Watermark), String> {
        let state = self.store.project_state(project).await;
        let saved = self.store.reconcile_state(project).await;
        let (state, saved) = (
            state.map_err(|e| e.to_string())?,
            saved.map_err(|e| e.to_string())?,
        );
        let watermark = saved.map_or_else(Watermark::default, |s| Watermark {
            merge_requests: s.mr_watermark,
            pipelines: s.pipeline_watermark,
        });
        Ok((state, watermark))
    }

    /// Applies what was found with the new watermarks, in one transaction.
    async fn save(
        &self,
        record: &ProjectRecord,
        found: &Reconciliation,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let changes = batch(upsert(record), now, &found.found);
        let progress = ReconcileProgress {
            project_id: record.id,
            mr_watermark: found.watermark.merge_requests,
            pipeline_watermark: found.watermark.pipelines,
            events_watermark: None,
            at: now,
        };
        let saved = self
            .store
            .record_reconciliation(changes.as_ref(), &progress)
            .await;
        saved.map_err(|e| e.to_string())
    }

    /// Checks the project hook that feeds registry-gc (when `gitlab.hook_url` is set): its state
    /// goes to the metrics, `GET /api/v1/projects` and, for anything wrong, the log.
    async fn check_hook(
        &self,
        label: &str,
        record: &ProjectRecord,
        budget: &Budget,
    ) -> Option<HookHealth> {
        self.client.settings().hook_url.as_ref()?;
        let now = self.clock.now();
        let last = Some(record.last_event_at);
        match check_hook(
            &self.client,
            budget,
            record.id,
            Some(&record.path),
            last,
            now,
        )
        .await
        {
            Ok(health) => {
                self.metrics.hook_status(label, health.alert_status.gauge());
                for warning in &health.warnings {
                    tracing::warn!(
                        project = label,
                        ?warning,
                        "the GitLab hook that feeds registry-gc needs attention"
                    );
                }
                self.hooks
                    .lock()
                    .expect("hooks lock")
                    .insert(record.id, health.clone());
                Some(health)
            }
            Err(e) => {
                tracing::warn!(project = label, error = %e, "cannot check the GitLab hook");
                None
            }
        }
    }

    /// The last hook check of each project, by project id.
    pub fn hooks(&self) -> BTreeMap<i64, HookHealth> {
        self.hooks.lock().expect("hooks lock").clone()
    }

    /// Records a failed attempt (unless dry) and returns the message.
    async fn failed(
        &self,
        project: i64,
        now: DateTime<Utc>,
        message: String,
        dry_run: bool,
    ) -> String {
        if !dry_run {
            if let Err(e) = self
                .store
                .record_reconcile_failure(project, now, &message)
                .await
            {
                return format!("{message}; and the failure could not be recorded: {e}");
            }
        }
        message
    }

    /// Imports `project`'s pipelines of the last `since`, so its existing tags are tracked.
    pub async fn import(
        &self,
        only: &str,
        since: TimeDelta,
        dry_run: bool,
    ) -> Result<Imported, String> {
        let project = self
            .config
            .projects
            .iter()
            .find(|p| p.matches(only.parse().ok(), Some(only)))
            .ok_or_else(|| format!("project {only:?} is not configured"))?;
        let id = match (self.record(project).await?, project.id) {
            (Some(record), _) => record.id,
            (None, Some(id)) => id,
            (None, None) => {
                return Err("set projects[].id to import a project not heard from yet".into())
            }
        };
        let state = self
            .store
            .project_state(id)
            .await
            .map_err(|e| e.to_string())?;
        let now = self.clock.now();
        let request = ImportRequest {
            recorded: Recorded::of(id, &state),
            config: project,
            since,
            now,
        };
        let budget = Budget::new(self.client.settings().request_budget);
        let imported = import_project(&self.client, &budget, request)
            .await
            .map_err(|e| e.to_string())?;
        let registry = self.registry_tags(project, &imported.found).await;
        let repositories = tracking_report(&state.image_tags, &imported.found, &registry);
        let changes = imported.found.len();
        if !dry_run {
            if let Some(b) = batch(imported.project.clone(), now, &imported.found) {
                self.store.apply(&b).await.map_err(|e| e.to_string())?;
            }
        }
        Ok(Imported {
            project: project.label(),
            changes,
            notes: imported.notes,
            repositories,
        })
    }

    async fn record(&self, project: &ProjectConfig) -> Result<Option<ProjectRecord>, String> {
        let found = match (project.id, &project.path) {
            (Some(id), _) => self.store.project_by_id(id).await,
            (None, Some(path)) => self.store.project_by_path(path).await,
            (None, None) => Ok(None),
        };
        found.map_err(|e| e.to_string())
    }

    /// The registry's tags of every repository the project's records and findings name (empty
    /// when no registry is configured for its host or a repository cannot be listed).
    async fn registry_tags(
        &self,
        project: &ProjectConfig,
        found: &[super::finding::Found],
    ) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        let settings = self
            .config
            .registries
            .iter()
            .find(|r| r.host() == project.registry_host());
        let Some(client) = settings.and_then(|s| RegistryClient::new(s.clone()).ok()) else {
            return out;
        };
        let repositories: std::collections::BTreeSet<String> = found
            .iter()
            .filter_map(|f| match &f.change {
                crate::model::Change::ImageTag(t) => Some(t.repository.to_string()),
                _ => None,
            })
            .collect();
        for repo in repositories {
            if let Ok(tags) = client.list_tags(&repo).await {
                out.insert(repo, tags);
            }
        }
        out
    }
}

fn upsert(record: &ProjectRecord) -> ProjectUpsert {
    ProjectUpsert {
        id: record.id,
        path: record.path.clone(),
        default_branch: record.default_branch.clone(),
    }
}
