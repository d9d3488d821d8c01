//! Finishes what an interrupted run left open. A tag the journal (or the registry) shows pointing at
//! its batch's dummy is finished by deleting the dummy; anything not yet changed is closed as
//! skipped, to be planned afresh. Never deletes a digest other than a batch's own dummy.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;

use super::summary::{Outcome, RunSummary};
use crate::registry::{Digest, RegistryClient};
use crate::store::model::{JournalAction, JournalEntry, JournalState};
use crate::store::{JournalUpdate, Store, StoreError};

/// Closes every open journal entry; `clients` gives each project's registry.
pub async fn resume(
    store: &Store,
    clients: &HashMap<i64, RegistryClient>,
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
                finish_batch(store, client, &repository, &dummy, entries, summary).await?
            }
            (None, Some(_)) => {
                summary.errors.push(format!(
                    "{repository}: an interrupted batch waits on a dummy, but no registry is configured for project {project_id}"
                ));
            }
            (_, None) => close_untouched(store, &entries, summary).await?,
        }
    }
    Ok(())
}

/// Entries that never got as far as a dummy: nothing in the registry changed.
async fn close_untouched(
    store: &Store,
    entries: &[JournalEntry],
    summary: &mut RunSummary,
) -> Result<(), StoreError> {
    let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
    let detail = "interrupted before any change; planned again by the next run";
    store
        .journal_update(
            &ids,
            &JournalUpdate::new(JournalState::Skipped, Utc::now()).detail(detail),
        )
        .await?;
    for e in entries {
        summary.count(&e.rule, Outcome::Skipped, 1);
    }
    Ok(())
}

async fn finish_batch(
    store: &Store,
    client: &RegistryClient,
    repository: &str,
    dummy: &str,
    entries: Vec<JournalEntry>,
    summary: &mut RunSummary,
) -> Result<(), StoreError> {
    let Ok(dummy) = Digest::parse(dummy) else {
        summary.errors.push(format!(
            "{repository}: journal holds an invalid dummy digest"
        ));
        return Ok(());
    };
    // Which tags really point at the dummy now (a crash may have hit between PUT and journal).
    let mut on_dummy = Vec::new();
    let mut untouched = Vec::new();
    for e in entries {
        let points_at_dummy = e.action == JournalAction::Untag
            && match client.resolve(repository, &e.tag).await {
                Ok(found) => found.as_ref() == Some(&dummy),
                Err(err) => {
                    summary.errors.push(format!(
                        "{repository}:{}: cannot resume, registry: {err}",
                        e.tag
                    ));
                    return Ok(());
                }
            };
        if points_at_dummy || e.state == JournalState::Repointed {
            on_dummy.push(e);
        } else {
            untouched.push(e);
        }
    }
    close_untouched(store, &untouched, summary).await?;
    if on_dummy.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = on_dummy.iter().map(|e| e.id).collect();
    match client.delete_manifest(repository, &dummy).await {
        Ok(_) => {
            let update = JournalUpdate::new(JournalState::Done, Utc::now())
                .detail("finished after an interrupted run");
            store.journal_update(&ids, &update).await?;
            summary.resumed += on_dummy.len();
            for e in &on_dummy {
                summary.count(&e.rule, Outcome::Removed, 1);
            }
        }
        Err(err) => summary.errors.push(format!(
            "{repository}: dummy {dummy} still not deleted: {err}"
        )),
    }
    Ok(())
}
