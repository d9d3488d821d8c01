//! Finishes what an interrupted run left open. A tag the journal (or the registry) shows pointing at
//! its batch's dummy is finished by deleting the dummy; anything not yet changed is closed as
//! skipped, to be planned afresh. Never deletes a digest other than a batch's own dummy.

use std::collections::{BTreeMap, HashMap};

use super::summary::{RunError, RunSummary, TagOutcome};
use crate::clock::Clock;
use crate::model::{JournalAction, JournalEntry, JournalState};
use crate::registry::{Digest, RegistryClient};
use crate::store::{JournalUpdate, Store, StoreError};

/// Closes every open journal entry; `clients` gives each project's registry.
pub async fn resume(
    store: &dyn Store,
    clients: &HashMap<i64, RegistryClient>,
    clock: &dyn Clock,
    summary: &mut RunSummary,
) -> Result<(), StoreError> {
    let open = store.open_journal().await?;
    if open.is_empty() {
        return Ok(());
    }
    tracing::info!(
        entries = open.len(),
        "finishing actions an interrupted run left open"
    );
    let mut batches: BTreeMap<(i64, String, Option<String>), Vec<JournalEntry>> = BTreeMap::new();
    for e in open {
        batches
            .entry((e.project_id, e.repository.clone(), e.dummy_digest.clone()))
            .or_default()
            .push(e);
    }
    for ((project_id, repository, dummy), entries) in batches {
        let client = clients.get(&project_id);
        match (client, dummy) {
            (Some(client), Some(dummy)) => {
                let batch = Batch { store, client, clock, repository: &repository };
                batch.finish(&dummy, entries, summary).await?
            }
            (None, Some(_)) => summary.error(RunError::note(format!(
                "{repository}: an interrupted batch waits on a dummy, but no registry is configured for project {project_id}"
            ))),
            (_, None) => close_untouched(store, clock, &entries, summary).await?,
        }
    }
    Ok(())
}

/// Entries that never got as far as a dummy: nothing in the registry changed.
async fn close_untouched(
    store: &dyn Store,
    clock: &dyn Clock,
    entries: &[JournalEntry],
    summary: &mut RunSummary,
) -> Result<(), StoreError> {
    let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
    let detail = "interrupted before any change; planned again by the next run";
    store
        .journal_update(
            &ids,
            &JournalUpdate::new(JournalState::Skipped, clock.now()).detail(detail),
        )
        .await?;
    for e in entries {
        summary.count(&e.reason_code, TagOutcome::Skipped, 1);
    }
    Ok(())
}

/// One interrupted batch: the tags it re-pointed at its dummy in one repository.
struct Batch<'a> {
    store: &'a dyn Store,
    client: &'a RegistryClient,
    clock: &'a dyn Clock,
    repository: &'a str,
}

impl Batch<'_> {
    async fn finish(
        &self,
        dummy: &str,
        entries: Vec<JournalEntry>,
        summary: &mut RunSummary,
    ) -> Result<(), StoreError> {
        let repository = self.repository;
        let Ok(dummy) = Digest::parse(dummy) else {
            let message = format!("{repository}: journal holds an invalid dummy digest");
            summary.error(RunError::note(message));
            return Ok(());
        };
        let Some((on_dummy, untouched)) = self.split(&dummy, entries, summary).await else {
            return Ok(());
        };
        close_untouched(self.store, self.clock, &untouched, summary).await?;
        if on_dummy.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = on_dummy.iter().map(|e| e.id).collect();
        match self.client.delete_manifest(repository, &dummy).await {
            Ok(_) => {
                let update = JournalUpdate::new(JournalState::Done, self.clock.now())
                    .detail("finished after an interrupted run");
                self.store.journal_update(&ids, &update).await?;
                summary.resumed += on_dummy.len();
                for e in &on_dummy {
                    summary.count(&e.reason_code, TagOutcome::Removed, 1);
                }
            }
            Err(err) => summary.error(RunError::note(format!(
                "{repository}: dummy {dummy} still not deleted: {err}"
            ))),
        }
        Ok(())
    }

    /// Which entries' tags really point at the dummy now (a crash may have hit between the PUT and
    /// the journal) and which were never touched; `None` when the registry cannot tell.
    async fn split(
        &self,
        dummy: &Digest,
        entries: Vec<JournalEntry>,
        summary: &mut RunSummary,
    ) -> Option<(Vec<JournalEntry>, Vec<JournalEntry>)> {
        let mut on_dummy = Vec::new();
        let mut untouched = Vec::new();
        for e in entries {
            let points_at_dummy = e.action == JournalAction::Untag
                && match self.client.resolve(self.repository, &e.tag).await {
                    Ok(found) => found.as_ref() == Some(dummy),
                    Err(err) => {
                        let message = format!(
                            "{}:{}: cannot resume, registry: {err}",
                            self.repository, e.tag
                        );
                        summary.error(RunError::note(message));
                        return None;
                    }
                };
            if points_at_dummy || e.state == JournalState::Repointed {
                on_dummy.push(e);
            } else {
                untouched.push(e);
            }
        }
        Some((on_dummy, untouched))
    }
}
