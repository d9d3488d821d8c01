//! Executes one repository's share of a plan: journal first, then each registry step, then the
//! journal again. Every destructive step re-checks the planned digest (the registry client's
//! skip-if-moved). Nothing clever here: the plan decided, this only carries it out and records.

use std::collections::HashSet;

use chrono::Utc;
use futures::stream::{self, StreamExt};

use super::summary::{Outcome, RunSummary};
use crate::metrics::Metrics;
use crate::policy::Action;
use crate::registry::{DeleteCapability, Digest, RegistryClient, RegistryError, Repoint};
use crate::store::model::{JournalAction, JournalEntry, JournalState};
use crate::store::{JournalUpdate, Store, StoreError};

/// A test hook that stops a run where a crash would hurt most.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CrashPoint {
    #[default]
    Never,
    /// After tags were re-pointed at the dummy, before the dummy is deleted.
    AfterRepoint,
}

/// The run was stopped by a [`CrashPoint`].
#[derive(Debug, thiserror::Error)]
#[error("stopped at the crash point")]
pub struct Crashed;

/// Why executing a repository stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crashed(#[from] Crashed),
}

/// What a repository's execution needs.
pub struct Repository<'a> {
    pub store: &'a Store,
    pub metrics: &'a Metrics,
    pub client: &'a RegistryClient,
    pub name: &'a str,
    pub concurrency: usize,
    pub crash: CrashPoint,
}

impl Repository<'_> {
    /// Carries out `entries` (journaled, state `planned`, all in this repository).
    pub async fn execute(
        &self,
        entries: Vec<JournalEntry>,
        siblings: Vec<(String, String)>,
    ) -> Result<RunSummary, ExecError> {
        let mut summary = RunSummary::default();
        let (untags, deletes): (Vec<_>, Vec<_>) = entries
            .into_iter()
            .partition(|e| e.action == JournalAction::Untag);
        let capability = match self.client.capability(self.name).await {
            Ok(c) => c,
            Err(e) => {
                self.fail_all(untags.iter().chain(&deletes), &e, &mut summary)
                    .await?;
                return Ok(summary);
            }
        };
        if !untags.is_empty() {
            match capability {
                DeleteCapability::TagDelete => self.delete_tags(untags, &mut summary).await?,
                DeleteCapability::DigestOnly => {
                    self.untag_with_dummy(untags, &siblings, &mut summary)
                        .await?
                }
            }
        }
        let known: HashSet<&str> = siblings
            .iter()
            .map(|(tag, _)| tag.as_str())
            .chain(deletes.iter().map(|e| e.tag.as_str()))
            .collect();
        let newcomers = self.new_tags(&deletes, &known).await;
        self.delete_images(deletes, newcomers, &mut summary).await?;
        Ok(summary)
    }

    pub(super) async fn update(
        &self,
        ids: &[i64],
        update: JournalUpdate,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.store.journal_update(ids, &update).await
    }

    async fn fail_all<'e>(
        &self,
        entries: impl Iterator<Item = &'e JournalEntry>,
        error: &RegistryError,
        summary: &mut RunSummary,
    ) -> Result<(), StoreError> {
        let entries: Vec<&JournalEntry> = entries.collect();
        if entries.is_empty() {
            return Ok(());
        }
        tracing::warn!(repository = self.name, error = %error, "deleting nothing in this repository");
        let reason = match error {
            RegistryError::DeletionDisabled { .. } => "deletion_disabled",
            RegistryError::MissingDeleteRight { .. } => "no_delete_right",
            RegistryError::Protected { .. } => "protected",
            _ => "registry_error",
        };
        self.metrics.gc_refusals.with_label_values(&[reason]).inc();
        summary.errors.push(format!("{}: {error}", self.name));
        let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
        self.update(
            &ids,
            JournalUpdate::new(JournalState::Failed, Utc::now()).detail(error.to_string()),
        )
        .await?;
        for e in entries {
            summary.count(&e.rule, Outcome::Failed, 1);
        }
        Ok(())
    }

    /// Registries that delete single tags: re-check, then `DELETE /manifests/<tag>`.
    async fn delete_tags(
        &self,
        entries: Vec<JournalEntry>,
        summary: &mut RunSummary,
    ) -> Result<(), StoreError> {
        for e in entries {
            let planned = Digest::parse(&e.planned_digest);
            let step = match planned {
                Ok(planned) => match self.client.resolve(self.name, &e.tag).await {
                    Ok(Some(now)) if now == planned => self
                        .client
                        .delete_tag(self.name, &e.tag)
                        .await
                        .map(|_| None),
                    Ok(Some(now)) => Ok(Some(format!("moved to {now}"))),
                    Ok(None) => Ok(Some("gone before removal".to_owned())),
                    Err(err) => Err(err),
                },
                Err(err) => Err(err),
            };
            self.record_single(&e, step, summary).await?;
        }
        Ok(())
    }

    async fn record_single(
        &self,
        e: &JournalEntry,
        step: Result<Option<String>, RegistryError>,
        summary: &mut RunSummary,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let (update, outcome) = match step {
            Ok(None) => (
                JournalUpdate::new(JournalState::Done, now),
                Outcome::Removed,
            ),
            Ok(Some(why)) => (
                JournalUpdate::new(JournalState::Skipped, now).detail(why),
                Outcome::Skipped,
            ),
            Err(err) => {
                summary
                    .errors
                    .push(format!("{}:{}: {err}", self.name, e.tag));
                (
                    JournalUpdate::new(JournalState::Failed, now).detail(err.to_string()),
                    Outcome::Failed,
                )
            }
        };
        self.update(&[e.id], update).await?;
        summary.count(&e.rule, outcome, 1);
        Ok(())
    }

    /// The shared-dummy strategy: one dummy for the batch (journaled before any tag changes), each
    /// tag re-checked and re-pointed, then one DELETE of the dummy, then verification.
    async fn untag_with_dummy(
        &self,
        entries: Vec<JournalEntry>,
        siblings: &[(String, String)],
        summary: &mut RunSummary,
    ) -> Result<(), ExecError> {
        let dummy = match self.client.prepare_dummy(self.name).await {
            Ok(d) => d,
            Err(e) => {
                self.fail_all(entries.iter(), &e, summary).await?;
                return Ok(());
            }
        };
        let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
        self.update(
            &ids,
            JournalUpdate::new(JournalState::Planned, Utc::now()).dummy(dummy.digest.as_str()),
        )
        .await?;
        let results: Vec<(JournalEntry, Result<Repoint, RegistryError>)> = stream::iter(entries)
            .map(|e| {
                let dummy = &dummy;
                async move {
                    let result = match Digest::parse(&e.planned_digest) {
                        Ok(planned) => {
                            self.client
                                .point_tag_at_dummy(self.name, &e.tag, &planned, dummy)
                                .await
                        }
                        Err(err) => Err(err),
                    };
                    (e, result)
                }
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        let mut repointed: Vec<JournalEntry> = Vec::new();
        for (e, result) in results {
            let now = Utc::now();
            match result {
                Ok(Repoint::Repointed) => {
                    self.update(&[e.id], JournalUpdate::new(JournalState::Repointed, now))
                        .await?;
                    repointed.push(e);
                }
                Ok(Repoint::Moved { observed }) => {
                    tracing::info!(repository = self.name, tag = %e.tag, planned = %e.planned_digest, %observed, "tag moved since planning; kept");
                    let update = JournalUpdate::new(JournalState::Skipped, now)
                        .observed(observed.as_str())
                        .detail("moved since planning");
                    self.update(&[e.id], update).await?;
                    summary.count(&e.rule, Outcome::Skipped, 1);
                }
                Ok(Repoint::Gone) => {
                    self.update(
                        &[e.id],
                        JournalUpdate::new(JournalState::Skipped, now)
                            .detail("gone before removal"),
                    )
                    .await?;
                    summary.count(&e.rule, Outcome::Skipped, 1);
                }
                Err(err) => self.record_single(&e, Err(err), summary).await?,
            }
        }
        if repointed.is_empty() {
            return Ok(());
        }
        if self.crash == CrashPoint::AfterRepoint {
            return Err(Crashed.into());
        }
        self.delete_dummy(&dummy.digest, &repointed, siblings, summary)
            .await?;
        Ok(())
    }

    /// One DELETE for the batch. On failure the tags stay `repointed` (open): the next run retries.
    async fn delete_dummy(
        &self,
        dummy: &Digest,
        repointed: &[JournalEntry],
        siblings: &[(String, String)],
        summary: &mut RunSummary,
    ) -> Result<(), StoreError> {
        let ids: Vec<i64> = repointed.iter().map(|e| e.id).collect();
        match self.client.delete_manifest(self.name, dummy).await {
            Ok(_) => {
                self.update(&ids, JournalUpdate::new(JournalState::Done, Utc::now()))
                    .await?;
                for e in repointed {
                    summary.count(&e.rule, Outcome::Removed, 1);
                }
                self.verify(repointed, siblings, summary).await;
            }
            Err(err) => {
                let tags: Vec<&str> = repointed.iter().map(|e| e.tag.as_str()).collect();
                tracing::error!(repository = self.name, %dummy, error = %err, ?tags, "dummy delete failed: these tags point at the dummy until the next run");
                summary.errors.push(format!(
                    "{}: dummy {dummy} not deleted ({err}); left on it: {}",
                    self.name,
                    tags.join(", ")
                ));
                for e in repointed {
                    summary.count(&e.rule, Outcome::Failed, 1);
                }
            }
        }
        Ok(())
    }

    /// After the dummy's DELETE: the batch's tags are gone, every other tag is still listed, and the
    /// tags that shared a digest with a removed tag (the only ones the dummy method could touch)
    /// still resolve to the digest the plan saw.
    async fn verify(
        &self,
        removed: &[JournalEntry],
        siblings: &[(String, String)],
        summary: &mut RunSummary,
    ) {
        let removed_tags: Vec<String> = removed.iter().map(|e| e.tag.clone()).collect();
        let names: Vec<String> = siblings.iter().map(|(tag, _)| tag.clone()).collect();
        match self
            .client
            .verify_batch(self.name, &removed_tags, &names)
            .await
        {
            Ok(check) if check.still_present.is_empty() && check.siblings_missing.is_empty() => {}
            Ok(check) => summary.errors.push(format!(
                "{}: after removal, still listed: {:?}; kept tags missing: {:?}",
                self.name, check.still_present, check.siblings_missing
            )),
            Err(e) => summary
                .errors
                .push(format!("{}: could not verify the removal: {e}", self.name)),
        }
        let shared: HashSet<&str> = removed.iter().map(|e| e.planned_digest.as_str()).collect();
        let at_risk: Vec<(String, Digest)> = siblings
            .iter()
            .filter(|(_, digest)| shared.contains(digest.as_str()))
            .filter_map(|(tag, digest)| Some((tag.clone(), Digest::parse(digest).ok()?)))
            .collect();
        match self.client.verify_digests(self.name, &at_risk).await {
            Ok(changed) if changed.is_empty() => {}
            Ok(changed) => summary.errors.push(format!(
                "{}: kept tags no longer on the digest the plan saw: {changed:?}",
                self.name
            )),
            Err(e) => summary
                .errors
                .push(format!("{}: could not re-check kept tags: {e}", self.name)),
        }
    }
}

/// Journal entries (state `state`) for `actions` of one project, one per tag.
pub fn journal_entries(
    run_id: i64,
    project_id: i64,
    actions: &[Action],
    state: JournalState,
) -> Vec<JournalEntry> {
    let now = Utc::now();
    let mut out = Vec::new();
    for action in actions {
        let kind = match action {
            Action::Untag { .. } => JournalAction::Untag,
            Action::DeleteImage { .. } => JournalAction::DeleteImage,
        };
        for (tag, reason) in action.tags() {
            out.push(JournalEntry {
                id: 0,
                run_id,
                project_id,
                repository: action.repository().to_owned(),
                tag: tag.to_owned(),
                action: kind,
                rule: reason.code().to_owned(),
                reason: reason.to_string(),
                planned_digest: action.digest().to_owned(),
                dummy_digest: None,
                observed_digest: None,
                state,
                detail: None,
                updated_at: now,
            });
        }
    }
    out
}
