//! The one deletion orchestrator, used by garbage-collection runs and by `registry rm`: journal
//! first, then each registry step, then the journal again. Every destructive step re-checks the
//! planned digest (the registry client's skip-if-moved). Nothing clever here: the plan decided,
//! this only carries it out and records; it must never delete a digest a kept tag may point at.

use std::collections::HashSet;

use futures::stream::{self, StreamExt};
use tokio_util::sync::CancellationToken;

use super::faults::{CrashPoint, Faults};
use super::journal::Journal;
use super::summary::{Refusal, RunError, RunSummary, TagOutcome};
use crate::clock::Clock;
use crate::model::{JournalAction, JournalEntry, JournalState};
use crate::registry::{DeleteCapability, Digest, Dummy, RegistryClient, RegistryError, Repoint};
use crate::store::{JournalUpdate, StoreError};

/// Why executing a repository stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stopped at a test crash point (feature `fault-injection`).
    #[error("stopped at the crash point")]
    Crashed,
}

/// A tag of the repository that is not being removed, with the digest it had when planned (if
/// known): after a batch it must still be listed, and still on that digest.
#[derive(Debug, Clone)]
pub struct Sibling {
    pub tag: String,
    pub digest: Option<String>,
}

/// Carries out one repository's share of a plan.
pub struct Executor<'a> {
    pub client: &'a RegistryClient,
    pub journal: &'a dyn Journal,
    pub clock: &'a dyn Clock,
    pub repository: &'a str,
    /// Registry requests in flight at once for this repository.
    pub concurrency: usize,
    pub faults: &'a Faults,
    /// Cancelled when the run must stop (shutdown, lost lock): no new tag or image is started; a
    /// batch already on its dummy is still finished, so nothing is left half done.
    pub stop: &'a CancellationToken,
}

/// The registry error as the reason nothing was deleted.
pub(super) fn refusal_of(error: &RegistryError) -> Refusal {
    match error {
        RegistryError::DeletionDisabled { .. } => Refusal::DeletionDisabled,
        RegistryError::MissingDeleteRight { .. } => Refusal::NoDeleteRight,
        RegistryError::Protected { .. } => Refusal::Protected,
        _ => Refusal::RegistryError,
    }
}

impl Executor<'_> {
    /// Journals `planned` (all in this repository), then carries it out.
    pub async fn execute(
        &self,
        planned: &[JournalEntry],
        siblings: &[Sibling],
    ) -> Result<RunSummary, ExecError> {
        let mut summary = RunSummary::default();
        let entries = self.journal.insert(planned).await?;
        let (untags, deletes): (Vec<_>, Vec<_>) = entries
            .into_iter()
            .partition(|e| e.action == JournalAction::Untag);
        let capability = match self.client.capability(self.repository).await {
            Ok(c) => c,
            Err(e) => {
                let all: Vec<JournalEntry> = untags.into_iter().chain(deletes).collect();
                self.fail_all(&all, &e, &mut summary).await?;
                return Ok(summary);
            }
        };
        match capability {
            _ if untags.is_empty() => {}
            DeleteCapability::TagDelete => self.delete_tags(untags, &mut summary).await?,
            DeleteCapability::DigestOnly => {
                self.untag_with_dummy(untags, siblings, &mut summary)
                    .await?
            }
        }
        if self.stop.is_cancelled() {
            for e in &deletes {
                self.defer(e, &mut summary).await?;
            }
            return Ok(summary);
        }
        // Every other tag is resolved again, kept ones included: one moved onto a planned image
        // since planning (the same content built again, a rollback) would go with its DELETE.
        let going: HashSet<&str> = deletes.iter().map(|e| e.tag.as_str()).collect();
        let newcomers = self.other_tags(&deletes, &going).await;
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
        self.journal.update(ids, update).await
    }

    pub(super) fn at(&self, state: JournalState) -> JournalUpdate {
        JournalUpdate::new(state, self.clock.now())
    }

    /// A step not started because the run is stopping: closed, and planned again by the next run.
    pub(super) fn deferred(&self) -> (JournalUpdate, TagOutcome) {
        let update = self.at(JournalState::Skipped).detail(STOPPED);
        (update, TagOutcome::Deferred)
    }

    /// Closes `e` as not started (see [`Executor::deferred`]).
    async fn defer(&self, e: &JournalEntry, summary: &mut RunSummary) -> Result<(), StoreError> {
        let (update, outcome) = self.deferred();
        self.update(&[e.id], update).await?;
        summary.count(&e.reason_code, outcome, 1);
        Ok(())
    }

    /// The registry refused before anything changed: every entry fails, and why is said once.
    async fn fail_all(
        &self,
        entries: &[JournalEntry],
        error: &RegistryError,
        summary: &mut RunSummary,
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        tracing::warn!(repository = self.repository, error = %error, "deleting nothing in this repository");
        let refusal = refusal_of(error);
        let message = format!("{}: nothing deleted: {error}", self.repository);
        summary.error(RunError::refused(refusal, message));
        let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
        let update = self.at(JournalState::Failed).detail(error.to_string());
        self.update(&ids, update).await?;
        for e in entries {
            summary.count(&e.reason_code, TagOutcome::Failed, 1);
        }
        Ok(())
    }

    /// Registries that delete single tags: per tag, re-check, then `DELETE /manifests/<tag>`.
    async fn delete_tags(
        &self,
        entries: Vec<JournalEntry>,
        summary: &mut RunSummary,
    ) -> Result<(), StoreError> {
        let results: Vec<(JournalEntry, Option<Result<Step, RegistryError>>)> =
            stream::iter(entries)
                .map(|e| async move {
                    if self.stop.is_cancelled() {
                        return (e, None);
                    }
                    let step = self.delete_one_tag(&e).await;
                    (e, Some(step))
                })
                .buffer_unordered(self.concurrency.max(1))
                .collect()
                .await;
        for (e, step) in results {
            match step {
                Some(step) => self.record(&e, step, summary).await?,
                None => self.defer(&e, summary).await?,
            }
        }
        Ok(())
    }

    async fn delete_one_tag(&self, e: &JournalEntry) -> Result<Step, RegistryError> {
        let planned = Digest::parse(&e.planned_digest)?;
        match self.client.resolve(self.repository, &e.tag).await? {
            None => Ok(Step::Gone),
            Some(now) if now != planned => Ok(Step::Moved(now)),
            Some(_) => {
                self.client.delete_tag(self.repository, &e.tag).await?;
                Ok(Step::Done)
            }
        }
    }

    /// Writes what one step did to one tag.
    pub(super) async fn record(
        &self,
        e: &JournalEntry,
        step: Result<Step, RegistryError>,
        summary: &mut RunSummary,
    ) -> Result<(), StoreError> {
        let (update, outcome) = match step {
            Ok(Step::Done) => (self.at(JournalState::Done), TagOutcome::Removed),
            Ok(Step::Moved(observed)) => {
                tracing::info!(repository = self.repository, tag = %e.tag, planned = %e.planned_digest, %observed, "tag moved since planning; kept");
                let update = self
                    .at(JournalState::Skipped)
                    .observed(observed.as_str())
                    .detail("moved since planning");
                (update, TagOutcome::Skipped)
            }
            Ok(Step::Gone) => (
                self.at(JournalState::Skipped).detail(GONE),
                TagOutcome::Skipped,
            ),
            Err(err) => {
                let message = format!("{}:{}: {err}", self.repository, e.tag);
                summary.error(RunError::note(message));
                let update = self.at(JournalState::Failed).detail(err.to_string());
                (update, TagOutcome::Failed)
            }
        };
        self.update(&[e.id], update).await?;
        summary.count(&e.reason_code, outcome, 1);
        Ok(())
    }

    /// The shared-dummy strategy: one dummy for the batch (journaled before any tag changes), each
    /// tag re-checked and re-pointed, then one DELETE of the dummy, then verification.
    async fn untag_with_dummy(
        &self,
        entries: Vec<JournalEntry>,
        siblings: &[Sibling],
        summary: &mut RunSummary,
    ) -> Result<(), ExecError> {
        let dummy = match self.client.prepare_dummy(self.repository).await {
            Ok(d) => d,
            Err(e) => {
                self.fail_all(&entries, &e, summary).await?;
                return Ok(());
            }
        };
        let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
        let journaled = self.at(JournalState::Planned).dummy(dummy.digest.as_str());
        self.update(&ids, journaled).await?;
        let mut repointed = Vec::new();
        for (e, result) in self.repoint_all(entries, &dummy).await {
            let Some(result) = result else {
                self.defer(&e, summary).await?;
                continue;
            };
            match result {
                Ok(Repoint::Repointed) => {
                    self.update(&[e.id], self.at(JournalState::Repointed))
                        .await?;
                    repointed.push(e);
                }
                Ok(Repoint::Moved { observed }) => {
                    self.record(&e, Ok(Step::Moved(observed)), summary).await?
                }
                Ok(Repoint::Gone) => self.record(&e, Ok(Step::Gone), summary).await?,
                Err(err) => self.record(&e, Err(err), summary).await?,
            }
        }
        if repointed.is_empty() {
            return Ok(());
        }
        if self.faults.fires(CrashPoint::AfterRepoint) {
            return Err(ExecError::Crashed);
        }
        self.delete_dummy(&dummy.digest, &repointed, siblings, summary)
            .await?;
        Ok(())
    }

    /// Re-checks and re-points every tag at the dummy, `concurrency` at a time; `None` for the tags
    /// not started because the run is stopping.
    async fn repoint_all(
        &self,
        entries: Vec<JournalEntry>,
        dummy: &Dummy,
    ) -> Vec<(JournalEntry, Option<Result<Repoint, RegistryError>>)> {
        stream::iter(entries)
            .map(|e| async move {
                if self.stop.is_cancelled() {
                    return (e, None);
                }
                let result = match Digest::parse(&e.planned_digest) {
                    Ok(planned) => {
                        self.client
                            .point_tag_at_dummy(self.repository, &e.tag, &planned, dummy)
                            .await
                    }
                    Err(err) => Err(err),
                };
                (e, Some(result))
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await
    }

    /// One DELETE for the batch, then the listing that proves it. On failure the tags stay
    /// `repointed` (open): the next run deletes the dummy.
    async fn delete_dummy(
        &self,
        dummy: &Digest,
        repointed: &[JournalEntry],
        siblings: &[Sibling],
        summary: &mut RunSummary,
    ) -> Result<(), StoreError> {
        if let Err(err) = self.client.delete_manifest(self.repository, dummy).await {
            let tags: Vec<&str> = repointed.iter().map(|e| e.tag.as_str()).collect();
            tracing::error!(repository = self.repository, %dummy, error = %err, ?tags, "dummy delete failed: these tags point at the dummy until the next run");
            let message = format!(
                "{}: dummy {dummy} not deleted ({err}); left on it: {}",
                self.repository,
                tags.join(", ")
            );
            summary.error(RunError::note(message));
            for e in repointed {
                summary.count(&e.reason_code, TagOutcome::Failed, 1);
            }
            return Ok(());
        }
        let still_listed = self.verify(repointed, siblings, summary).await;
        for e in repointed {
            let step = match still_listed.contains(e.tag.as_str()) {
                true => Err(RegistryError::InvalidResponse {
                    path: format!("/v2/{}/tags/list", self.repository),
                    detail: "still listed after the delete (re-pushed meanwhile?)".into(),
                }),
                false => Ok(Step::Done),
            };
            self.record(e, step, summary).await?;
        }
        Ok(())
    }

    /// After the dummy's DELETE: which of the batch's tags are still listed; every other tag must
    /// still be listed, and the tags that shared a digest with a removed tag (the only ones the
    /// dummy method could touch) must still resolve to the digest the plan saw.
    async fn verify(
        &self,
        removed: &[JournalEntry],
        siblings: &[Sibling],
        summary: &mut RunSummary,
    ) -> HashSet<String> {
        let repo = self.repository;
        let removed_tags: Vec<String> = removed.iter().map(|e| e.tag.clone()).collect();
        let names: Vec<String> = siblings.iter().map(|s| s.tag.clone()).collect();
        let mut still_listed = HashSet::new();
        match self.client.verify_batch(repo, &removed_tags, &names).await {
            Ok(check) => {
                if !check.siblings_missing.is_empty() {
                    let missing = &check.siblings_missing;
                    let message = format!("{repo}: kept tags no longer listed: {missing:?}");
                    summary.error(RunError::note(message));
                }
                still_listed.extend(check.still_present);
            }
            Err(e) => summary.error(RunError::note(format!(
                "{repo}: could not verify the removal: {e}"
            ))),
        }
        let shared: HashSet<&str> = removed.iter().map(|e| e.planned_digest.as_str()).collect();
        let at_risk: Vec<(String, Digest)> = siblings
            .iter()
            .filter_map(|s| Some((s.tag.clone(), s.digest.as_deref()?)))
            .filter(|(_, digest)| shared.contains(digest))
            .filter_map(|(tag, digest)| Some((tag, Digest::parse(digest).ok()?)))
            .collect();
        match self.client.verify_digests(repo, &at_risk).await {
            Ok(changed) if changed.is_empty() => {}
            Ok(changed) => summary.error(RunError::note(format!(
                "{repo}: kept tags no longer on the digest the plan saw: {changed:?}"
            ))),
            Err(e) => summary.error(RunError::note(format!(
                "{repo}: could not re-check kept tags: {e}"
            ))),
        }
        still_listed
    }
}

/// Journal detail of a tag that was already gone when its step came.
pub(super) const GONE: &str = "gone before removal";
/// Journal detail of a step not started because the run was stopping.
const STOPPED: &str =
    "not started: the run was stopping (shutdown or lost GC lock); planned again by the next run";

/// What one registry step found.
pub(super) enum Step {
    Done,
    Moved(Digest),
    Gone,
}
