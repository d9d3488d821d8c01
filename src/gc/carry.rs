//! Carrying out one project's plan: journal it (as `dry-run` entries when deletion is off), then
//! execute it repository by repository, several at once, until the run's time budget is spent.
//! Right before each repository the cluster's protections are read again (a rollout or rollback
//! may have landed since planning): tags now in use are skipped, and if the cluster cannot be read
//! the repository is left alone.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use futures::stream::{self, StreamExt};

use super::execute::{ExecError, Executor, Sibling};
use super::journal::{entries_for, Journal, StoreJournal};
use super::plan::ProjectPlan;
use super::summary::{Refusal, RunError, RunSummary, TagOutcome};
use super::{Gc, GcError};
use crate::model::{JournalEntry, JournalState};
use crate::registry::RegistryClient;

/// How to carry a project's plan out.
pub(super) struct Carry<'a> {
    pub client: &'a RegistryClient,
    /// The registry host, for the cluster re-check.
    pub host: &'a str,
    pub dry_run: bool,
    /// After this no new repository starts.
    pub deadline: Instant,
}

impl Gc {
    /// Journals and executes one project's plan, repository by repository.
    pub(super) async fn carry_out(
        &self,
        run_id: i64,
        plan: ProjectPlan,
        how: &Carry<'_>,
        summary: &mut RunSummary,
    ) -> Result<(), GcError> {
        let dry_run = how.dry_run;
        let totals = &plan.plan.totals;
        summary.projects_planned += 1;
        summary.tags_planned += totals.tags_removed;
        summary.tags_kept += totals.tags_kept;
        for kept in &plan.plan.kept {
            *summary
                .kept_by_reason
                .entry(kept.reason.code().to_owned())
                .or_default() += 1;
        }
        summary.bytes_unreferenced += totals.bytes_unreferenced;
        let now = self.inner.clock.now();
        let state = match dry_run {
            true => JournalState::DryRun,
            false => JournalState::Planned,
        };
        let entries = entries_for(run_id, plan.project_id, &plan.plan.actions, state, now);
        if dry_run {
            StoreJournal(self.inner.store.clone())
                .insert(&entries)
                .await?;
            for e in &entries {
                summary.count(&e.reason_code, TagOutcome::DryRun, 1);
            }
            return Ok(());
        }
        let mut by_repo: HashMap<String, Vec<JournalEntry>> = HashMap::new();
        for e in entries {
            by_repo.entry(e.repository.clone()).or_default().push(e);
        }
        let results: Vec<Result<RunSummary, ExecError>> = stream::iter(by_repo)
            .map(|(repo, entries)| self.execute_repository(&plan, how, repo, entries))
            .buffer_unordered(self.inner.config.gc.repository_concurrency.max(1))
            .collect()
            .await;
        for result in results {
            summary.merge(result?);
        }
        Ok(())
    }

    /// One repository's entries, unless the time budget is spent or the process is stopping (then
    /// they are `deferred`: the next run plans them again).
    async fn execute_repository(
        &self,
        plan: &ProjectPlan,
        how: &Carry<'_>,
        repo: String,
        entries: Vec<JournalEntry>,
    ) -> Result<RunSummary, ExecError> {
        if Instant::now() > how.deadline || self.stopping() {
            let mut deferred = RunSummary {
                deferred_repositories: 1,
                ..RunSummary::default()
            };
            for e in &entries {
                deferred.count(&e.reason_code, TagOutcome::Deferred, 1);
            }
            return Ok(deferred);
        }
        let removing: HashSet<&str> = entries.iter().map(|e| e.tag.as_str()).collect();
        let siblings: Vec<Sibling> = plan
            .snapshot
            .repositories
            .get(&repo)
            .map(|r| {
                let kept = r
                    .tags
                    .iter()
                    .filter(|(t, _)| !removing.contains(t.as_str()));
                kept.map(|(tag, info)| Sibling {
                    tag: tag.clone(),
                    digest: Some(info.digest.to_string()),
                })
                .collect()
            })
            .unwrap_or_default();
        let journal = StoreJournal(self.inner.store.clone());
        let mut summary = RunSummary::default();
        let entries = self
            .recheck_cluster(how.host, &repo, entries, &journal, &mut summary)
            .await?;
        let stop = self.run_stop();
        let executor = Executor {
            client: how.client,
            journal: &journal,
            clock: self.inner.clock.as_ref(),
            repository: &repo,
            concurrency: self.inner.config.gc.registry_concurrency,
            faults: &self.inner.faults,
            stop: &stop,
        };
        summary.merge(executor.execute(&entries, &siblings).await?);
        Ok(summary)
    }

    /// The entries the cluster still allows deleting now; the others are journaled `skipped`
    /// with why. If the cluster cannot be read, none.
    async fn recheck_cluster(
        &self,
        host: &str,
        repo: &str,
        entries: Vec<JournalEntry>,
        journal: &StoreJournal,
        summary: &mut RunSummary,
    ) -> Result<Vec<JournalEntry>, ExecError> {
        let fresh = self.inner.protection.protections_for(host).await;
        let (keep, proceed, detail) = match fresh.unavailable_reason() {
            Some(why) => {
                let message = format!(
                    "{repo}: cluster protection unavailable right before deleting, nothing deleted: {why}"
                );
                summary.error(RunError::refused(
                    Refusal::ClusterProtectionUnavailable,
                    message,
                ));
                let detail = format!("cluster protection unavailable: {why}");
                (entries, Vec::new(), detail)
            }
            None => {
                let (keep, proceed) = entries.into_iter().partition(|e| {
                    fresh.protects_tag(repo, &e.tag) || fresh.digests.contains(&e.planned_digest)
                });
                let detail = "in use by the cluster (re-checked right before deleting)".to_owned();
                (keep, proceed, detail)
            }
        };
        let keep = skipped(keep, &detail);
        if !keep.is_empty() {
            journal.insert(&keep).await?;
            for e in &keep {
                summary.count(&e.reason_code, TagOutcome::Skipped, 1);
            }
        }
        Ok(proceed)
    }
}

/// `entries` as journal entries that were skipped, with `detail`.
fn skipped(entries: Vec<JournalEntry>, detail: &str) -> Vec<JournalEntry> {
    entries
        .into_iter()
        .map(|e| JournalEntry {
            state: JournalState::Skipped,
            detail: Some(detail.to_owned()),
            ..e
        })
        .collect()
}
