//! One garbage-collection run: lock, resume, plan each project, journal, execute, record. The
//! planning and the registry steps live elsewhere; this sequences them and accounts for the result.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use futures::stream::{self, StreamExt};

use super::execute::{journal_entries, ExecError, Repository};
use super::summary::{Outcome, RunSummary};
use super::{resume, Gc, GcError, ProjectPlan, Target, Trigger, DELIVERY_KEY_RETENTION};
use crate::registry::RegistryClient;
use crate::store::model::{JournalState, RunRecord, RunStatus};
use crate::store::StoreError;

impl Gc {
    /// One run: resume what a crash left, plan, journal and (unless dry-run) delete.
    pub async fn run(&self, trigger: Trigger, dry_run: Option<bool>) -> Result<RunRecord, GcError> {
        let Ok(_local) = self.inner.running.try_lock() else {
            return Err(GcError::AlreadyRunning);
        };
        // The lease outlives the run's time budget (the last repository may start just before it).
        let lease = self.inner.config.gc.time_budget() * 2 + std::time::Duration::from_secs(600);
        let Some(lock) = self.inner.store.try_gc_lock(lease).await? else {
            return Err(GcError::AlreadyRunning);
        };
        let result = self.run_locked(trigger, self.dry_run(dry_run)).await;
        lock.release().await;
        result
    }

    async fn run_locked(&self, trigger: Trigger, dry_run: bool) -> Result<RunRecord, GcError> {
        let started = Instant::now();
        let requests_before = self.requests_made();
        let run_id = self.start_run(trigger, dry_run).await?;
        let targets = self.targets(None).await?;
        let mut summary = RunSummary::default();
        self.resume_or_report(&targets, dry_run, &mut summary)
            .await?;
        let refused = self
            .plan_and_carry_out(run_id, &targets, dry_run, started, &mut summary)
            .await?;
        summary.duration_ms = started.elapsed().as_millis() as u64;
        summary.registry_requests = self.requests_made() - requests_before;
        let status = if refused > 0 && refused == targets.len() {
            RunStatus::Refused
        } else {
            RunStatus::Finished
        };
        self.finish(run_id, status, &summary).await
    }

    /// Marks runs a dead process left as interrupted, forgets old delivery keys, records the run.
    async fn start_run(&self, trigger: Trigger, dry_run: bool) -> Result<i64, StoreError> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        store.interrupt_runs(now).await?;
        let forgotten = store.prune_deliveries(now - DELIVERY_KEY_RETENTION).await?;
        tracing::debug!(forgotten, "pruned old webhook delivery keys");
        let run_id = store.create_run(trigger.as_str(), dry_run, now).await?;
        tracing::info!(
            run_id,
            trigger = trigger.as_str(),
            dry_run,
            "garbage-collection run started"
        );
        Ok(run_id)
    }

    /// Plans and carries out every project; returns how many were refused.
    async fn plan_and_carry_out(
        &self,
        run_id: i64,
        targets: &[Target<'_>],
        dry_run: bool,
        started: Instant,
        summary: &mut RunSummary,
    ) -> Result<usize, GcError> {
        let protections = self.inner.protection.protections().await;
        if let Some(reason) = protections.unavailable_reason() {
            let message = format!("cluster protection unavailable, nothing deleted: {reason}");
            self.refuse(summary, "cluster_protection_unavailable", message);
        }
        let deadline = started + self.inner.config.gc.time_budget();
        let mut refused = 0;
        for target in targets {
            match self.plan_target(target, &protections, true).await {
                Ok((plan, client)) => {
                    self.carry_out(run_id, plan, &client, dry_run, deadline, summary)
                        .await?
                }
                Err(e) => {
                    refused += 1;
                    let message = format!("{}: nothing deleted: {e}", target.config.label());
                    self.refuse(summary, refusal_reason(&e), message);
                }
            }
        }
        Ok(refused)
    }

    /// Records how the run ended, in the store and the metrics.
    async fn finish(
        &self,
        run_id: i64,
        status: RunStatus,
        summary: &RunSummary,
    ) -> Result<RunRecord, GcError> {
        let store = &self.inner.store;
        let json = serde_json::to_value(summary).unwrap_or_default();
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
        self.inner.metrics.gc_run(status.as_str(), summary);
        tracing::info!(
            run_id,
            status = status.as_str(),
            removed = summary.total(Outcome::Removed),
            errors = summary.errors.len(),
            "garbage-collection run finished"
        );
        let missing = || GcError::Store(StoreError::Corrupt(format!("run {run_id} vanished")));
        store.run(run_id).await?.ok_or_else(missing)
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
                    let siblings: Vec<(String, String)> =
                        snapshot.repositories.get(&repo).map_or_else(Vec::new, |r| {
                            r.tags
                                .iter()
                                .filter(|(t, _)| !removing.contains(t.as_str()))
                                .map(|(t, info)| (t.clone(), info.digest.clone()))
                                .collect()
                        });
                    let repository = Repository {
                        store: &self.inner.store,
                        metrics: &self.inner.metrics,
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
}

fn refusal_reason(e: &GcError) -> &'static str {
    match e {
        GcError::UnknownProject(_) => "project_unknown",
        GcError::NoRegistry(_) => "no_registry_configured",
        GcError::RegistryUnreachable { .. } => "registry_unreachable",
        _ => "error",
    }
}
