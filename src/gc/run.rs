//! One garbage-collection run: lock, resume, plan each project, journal, execute, record. The
//! planning and the registry steps live elsewhere; this sequences them and accounts for the result.

use std::collections::HashMap;
use std::time::Instant;

use super::carry::Carry;
use super::lease::{Heartbeat, LEASE};
use super::plan::Target;
use super::summary::{Refusal, RunError, RunSummary, TagOutcome};
use super::{resume, Gc, GcError, Trigger, DELIVERY_KEY_RETENTION};
use crate::metrics::LastRun;
use crate::model::{RunRecord, RunStatus};
use crate::registry::RegistryClient;
use crate::store::StoreError;

impl Gc {
    /// One run: resume what a crash left, plan, journal and (unless dry-run) delete. The run goes
    /// on the app's task tracker, so a caller that goes away (an HTTP client hanging up on
    /// `"wait": true`) does not cut it off at an arbitrary point: it still stops only at a safe
    /// point, records itself and releases the lock, and shutdown waits for it.
    pub async fn run(&self, trigger: Trigger, dry_run: Option<bool>) -> Result<RunRecord, GcError> {
        let gc = self.clone();
        let run = self
            .inner
            .tasks
            .spawn(async move { gc.run_here(trigger, dry_run).await });
        run.await.map_err(|e| GcError::Aborted(e.to_string()))?
    }

    /// A run in the calling task: the GC lock, kept by a heartbeat for as long as the run lives.
    pub(super) async fn run_here(
        &self,
        trigger: Trigger,
        dry_run: Option<bool>,
    ) -> Result<RunRecord, GcError> {
        let Ok(_local) = self.inner.running.try_lock() else {
            return Err(GcError::AlreadyRunning);
        };
        let Some(lock) = self.inner.store.try_gc_lock(LEASE).await? else {
            return Err(GcError::AlreadyRunning);
        };
        let stop = self.inner.stop.child_token();
        *self.inner.run_stop.lock().expect("run stop lock") = stop.clone();
        let heartbeat = Heartbeat::start(lock, stop);
        let result = self.run_locked(trigger, self.dry_run(dry_run)).await;
        heartbeat.release().await;
        result
    }

    /// Marks runs a dead process left `running` as `interrupted` when no run holds the lock (the
    /// daemon calls this at start, so the history does not show a dead run as running until the
    /// next run); returns how many.
    pub async fn recover_abandoned(&self) -> Result<u64, GcError> {
        let Ok(_local) = self.inner.running.try_lock() else {
            return Ok(0);
        };
        let Some(lock) = self.inner.store.try_gc_lock(LEASE).await? else {
            return Ok(0);
        };
        let marked = self
            .inner
            .store
            .interrupt_runs(self.inner.clock.now())
            .await;
        lock.release().await;
        Ok(marked?)
    }

    async fn run_locked(&self, trigger: Trigger, dry_run: bool) -> Result<RunRecord, GcError> {
        let started = Instant::now();
        let requests_before = self.requests_made();
        let run_id = self.start_run(trigger, dry_run).await?;
        let targets = self.targets(None).await?;
        let mut summary = RunSummary::default();
        self.resume_or_report(&targets, dry_run, &mut summary)
            .await?;
        let deadline = started + self.inner.config.gc.time_budget();
        let refused = self
            .plan_and_carry_out(run_id, &targets, dry_run, deadline, &mut summary)
            .await?;
        summary.duration_ms = started.elapsed().as_millis() as u64;
        summary.registry_requests = self.requests_made() - requests_before;
        let status = if self.stopping() {
            let message = match self.inner.stop.is_cancelled() {
                true => "stopped by shutdown at a safe point; the next run continues",
                false => "lost the GC lock, stopped at a safe point; the next run continues",
            };
            summary.error(RunError::note(message));
            RunStatus::Interrupted
        } else if refused > 0 && refused == targets.len() {
            RunStatus::Refused
        } else {
            RunStatus::Finished
        };
        self.finish(run_id, trigger, status, &summary).await
    }

    /// Marks runs a dead process left as interrupted, forgets old delivery keys, records the run.
    async fn start_run(&self, trigger: Trigger, dry_run: bool) -> Result<i64, StoreError> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        store.interrupt_runs(now).await?;
        let forgotten = store.prune_deliveries(now - DELIVERY_KEY_RETENTION).await?;
        tracing::debug!(forgotten, "pruned old webhook delivery keys");
        let run_id = store.create_run(trigger.as_str(), dry_run, now).await?;
        let trigger = trigger.as_str();
        tracing::info!(run_id, trigger, dry_run, "garbage-collection run started");
        Ok(run_id)
    }

    /// Plans and carries out every project; returns how many were refused.
    async fn plan_and_carry_out(
        &self,
        run_id: i64,
        targets: &[Target<'_>],
        dry_run: bool,
        deadline: Instant,
        summary: &mut RunSummary,
    ) -> Result<usize, GcError> {
        let mut refused = 0;
        for target in targets {
            if self.stopping() {
                break;
            }
            let survey = match self.survey(target).await {
                Ok(survey) => survey,
                Err(e) => {
                    refused += 1;
                    let message = format!("{}: nothing deleted: {e}", target.config.label());
                    let refusal = e.refusal().unwrap_or(Refusal::RegistryError);
                    summary.error(RunError::refused(refusal, message));
                    continue;
                }
            };
            let seen = survey.recorded_digests();
            let store = &self.inner.store;
            let changed = store.set_digests(survey.record.id, &seen).await?;
            tracing::debug!(
                project = survey.record.id,
                changed,
                "recorded digests from the registry"
            );
            let client = survey.client.clone();
            let protections = self.protections(target).await;
            if let Some(reason) = protections.unavailable_reason() {
                let label = target.config.label();
                let message =
                    format!("{label}: cluster protection unavailable, nothing deleted: {reason}");
                summary.error(RunError::refused(
                    Refusal::ClusterProtectionUnavailable,
                    message,
                ));
            }
            let plan = self.plan_survey(target, survey, protections).await;
            let planned_at = self.inner.clock.now().timestamp();
            self.inner
                .metrics
                .planned(&target.config.label(), planned_at);
            let host = target.config.registry_host();
            let how = Carry {
                client: &client,
                host,
                dry_run,
                deadline,
            };
            self.carry_out(run_id, plan, &how, summary).await?;
        }
        Ok(refused)
    }

    /// Records how the run ended, in the store and the metrics.
    async fn finish(
        &self,
        run_id: i64,
        trigger: Trigger,
        status: RunStatus,
        summary: &RunSummary,
    ) -> Result<RunRecord, GcError> {
        let store = &self.inner.store;
        let json = serde_json::to_value(summary).unwrap_or_default();
        let messages: Vec<&str> = summary.errors.iter().map(|e| e.message.as_str()).collect();
        let error = (!messages.is_empty()).then(|| messages.join("; "));
        let now = self.inner.clock.now();
        store
            .finish_run(run_id, status, now, &json, error.as_deref())
            .await?;
        self.count_run(trigger, status, summary, now);
        self.count_open_journal().await?;
        tracing::info!(
            run_id,
            status = status.as_str(),
            removed = summary.total(TagOutcome::Removed),
            errors = summary.errors.len(),
            "garbage-collection run finished"
        );
        let missing = || GcError::Store(StoreError::Corrupt(format!("run {run_id} vanished")));
        store.run(run_id).await?.ok_or_else(missing)
    }

    /// The run's numbers and refusals, into the metrics; each refusal is also logged.
    fn count_run(
        &self,
        trigger: Trigger,
        status: RunStatus,
        summary: &RunSummary,
        now: chrono::DateTime<chrono::Utc>,
    ) {
        let metrics = &self.inner.metrics.gc;
        for e in &summary.errors {
            if let Some(refusal) = e.refusal {
                tracing::warn!(reason = refusal.label(), "{}", e.message);
                metrics.refusal(refusal.label());
            }
        }
        let tags = summary.by_reason.iter().flat_map(|(reason, outcomes)| {
            outcomes
                .iter()
                .map(move |(outcome, n)| (reason.as_str(), outcome.as_str(), *n as u64))
        });
        metrics.run_finished(trigger.as_str(), status.as_str(), tags);
        metrics.kept(
            summary
                .kept_by_reason
                .iter()
                .map(|(r, n)| (r.as_str(), *n as u64)),
        );
        metrics.last_run(LastRun {
            bytes_unreferenced: summary.bytes_unreferenced,
            seconds: summary.duration_ms as f64 / 1000.0,
            finished_at: now.timestamp(),
            deferred_repositories: summary.deferred_repositories,
            succeeded: status == RunStatus::Finished,
        });
    }

    /// The journal's open entries, into the metrics (a `repointed` entry older than a run is a
    /// dummy whose DELETE keeps failing).
    pub(crate) async fn count_open_journal(&self) -> Result<(), StoreError> {
        let open = self.inner.store.open_journal().await?;
        let now = self.inner.clock.now();
        let mut by_state: Vec<(&str, usize, i64)> = Vec::new();
        for state in ["planned", "repointed"] {
            let entries = open.iter().filter(|e| e.state.as_str() == state);
            let (count, oldest) = entries.fold((0, None), |(n, oldest), e| {
                (
                    n + 1,
                    Some(
                        oldest.map_or(e.updated_at, |o: chrono::DateTime<chrono::Utc>| {
                            o.min(e.updated_at)
                        }),
                    ),
                )
            });
            let age = oldest.map_or(0, |o| (now - o).num_seconds().max(0));
            by_state.push((state, count, age));
        }
        self.inner.metrics.gc.journal(&by_state);
        Ok(())
    }

    async fn resume_or_report(
        &self,
        targets: &[Target<'_>],
        dry_run: bool,
        summary: &mut RunSummary,
    ) -> Result<(), StoreError> {
        let store = self.inner.store.as_ref();
        if dry_run {
            let open = store.open_journal().await?.len();
            if open > 0 {
                summary.error(RunError::note(format!("{open} actions of an interrupted run are open; a run without dry-run finishes them")));
            }
            return Ok(());
        }
        let clients: HashMap<i64, RegistryClient> = targets
            .iter()
            .filter_map(|t| Some((t.record.as_ref()?.id, t.client.clone()?)))
            .collect();
        resume::resume(store, &clients, self.inner.clock.as_ref(), summary).await
    }
}
