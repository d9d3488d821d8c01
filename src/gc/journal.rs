//! Where the executor writes down what it is about to do and what happened: the store's journal
//! for garbage-collection runs (crash-safe), or an in-memory journal for `registry rm` and tests
//! (nothing persists). The executor never knows which.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::{JournalAction, JournalEntry, JournalState};
use crate::policy::Action;
use crate::store::{JournalUpdate, SharedStore, StoreError};

/// Records planned registry actions before they happen, and every step after.
#[async_trait]
pub trait Journal: Send + Sync {
    /// Records `entries` (one transaction); returns them with ids.
    async fn insert(&self, entries: &[JournalEntry]) -> Result<Vec<JournalEntry>, StoreError>;
    /// Moves entries to a new state.
    async fn update(&self, ids: &[i64], update: JournalUpdate) -> Result<(), StoreError>;
}

/// The store's journal: what a crashed run leaves behind for the next one.
pub struct StoreJournal(pub SharedStore);

#[async_trait]
impl Journal for StoreJournal {
    async fn insert(&self, entries: &[JournalEntry]) -> Result<Vec<JournalEntry>, StoreError> {
        self.0.journal_insert(entries).await
    }

    async fn update(&self, ids: &[i64], update: JournalUpdate) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.0.journal_update(ids, &update).await
    }
}

/// A journal kept in memory: records nothing durable, but remembers each entry's last state so
/// the caller can report per tag.
#[derive(Default)]
pub struct MemoryJournal {
    entries: Mutex<Vec<JournalEntry>>,
}

impl MemoryJournal {
    /// Every entry with its last state, in insertion order.
    pub fn entries(&self) -> Vec<JournalEntry> {
        self.entries.lock().expect("journal lock").clone()
    }
}

#[async_trait]
impl Journal for MemoryJournal {
    async fn insert(&self, entries: &[JournalEntry]) -> Result<Vec<JournalEntry>, StoreError> {
        let mut all = self.entries.lock().expect("journal lock");
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let id = i64::try_from(all.len()).unwrap_or(i64::MAX) + 1;
            let e = JournalEntry { id, ..e.clone() };
            all.push(e.clone());
            out.push(e);
        }
        Ok(out)
    }

    async fn update(&self, ids: &[i64], update: JournalUpdate) -> Result<(), StoreError> {
        let mut all = self.entries.lock().expect("journal lock");
        for e in all.iter_mut().filter(|e| ids.contains(&e.id)) {
            e.state = update.state;
            e.updated_at = update.at;
            e.dummy_digest = update.dummy_digest.clone().or(e.dummy_digest.take());
            e.observed_digest = update.observed_digest.clone().or(e.observed_digest.take());
            e.detail = update.detail.clone().or(e.detail.take());
        }
        Ok(())
    }
}

/// Journal entries (state `state`) for `actions` of one project, one per tag.
pub fn entries_for(
    run_id: i64,
    project_id: i64,
    actions: &[Action],
    state: JournalState,
    now: DateTime<Utc>,
) -> Vec<JournalEntry> {
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
                reason_code: reason.code().to_owned(),
                reason: reason.to_string(),
                planned_digest: action.digest().to_string(),
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
