//! Removing named tags from one repository outside a run — `registry-gc registry rm`, and the
//! registry safety tests — through the same executor as garbage-collection runs, with a journal
//! kept in memory. Reports per tag what happened; never decides what to remove.

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::execute::{ExecError, Executor, Sibling, GONE};
use super::faults::Faults;
use super::journal::MemoryJournal;
use super::summary::RunError;
use crate::clock::SystemClock;
use crate::model::{JournalAction, JournalEntry, JournalState};
use crate::registry::{
    validate_repo, validate_tag, DeleteCapability, Digest, RegistryClient, RegistryError,
};

/// Reason code of a tag removed because someone named it.
const REQUESTED: &str = "requested";

/// What happened to one tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum RemovalOutcome {
    /// Removed.
    Removed,
    /// Already absent when its step came: nothing to do.
    AlreadyGone,
    /// Pointed at another digest than planned, so it was kept.
    SkippedMoved { observed: Digest },
    /// Could not be removed; the tag was not changed.
    Failed { reason: String },
    /// Re-pointed at the dummy but the dummy's delete failed: the tag now names the dummy.
    LeftOnDummy { dummy: Digest },
}

/// One tag's line in the report.
#[derive(Clone, Debug, Serialize)]
pub struct RemovedTag {
    pub tag: String,
    /// The digest it was expected to point at.
    pub planned: Digest,
    pub outcome: RemovalOutcome,
}

/// Everything one removal did.
#[derive(Clone, Debug, Serialize)]
pub struct RemovalReport {
    pub repo: String,
    /// How the registry removes single tags.
    pub capability: Option<DeleteCapability>,
    /// Per tag, in input order.
    pub tags: Vec<RemovedTag>,
    /// Other tags of the repository when the removal started (checked still listed afterwards).
    pub siblings_checked: usize,
    /// What went wrong beyond single tags (siblings missing or moved, verification failed).
    pub errors: Vec<String>,
    /// HTTP requests this client made during the call.
    pub requests: u64,
}

impl RemovalReport {
    /// Number of tags removed.
    pub fn removed(&self) -> usize {
        self.tags
            .iter()
            .filter(|t| t.outcome == RemovalOutcome::Removed)
            .count()
    }
}

/// Removes `tags` (each with the digest it is expected to point at) from `repo` without touching
/// any other tag. `siblings`: other tags with the digest the caller saw, re-checked afterwards
/// (tags only listed are checked for presence). Fails before changing anything when deletion is
/// disabled or the credentials lack the delete right.
pub async fn remove_tags(
    client: &RegistryClient,
    repo: &str,
    tags: &[(String, Digest)],
    siblings: &[(String, Digest)],
) -> Result<RemovalReport, RegistryError> {
    validate_repo(repo)?;
    tags.iter().try_for_each(|(t, _)| validate_tag(t))?;
    let start = client.requests_made();
    // Refusals (deletion disabled, no delete right) are errors here, before anything changes.
    client.capability(repo).await?;
    let all_siblings = siblings_of(client, repo, tags, siblings).await?;
    let journal = MemoryJournal::default();
    let clock = SystemClock;
    let executor = Executor {
        client,
        journal: &journal,
        clock: &clock,
        repository: repo,
        concurrency: client.settings().max_concurrency,
        faults: &Faults::default(),
        stop: &CancellationToken::new(),
    };
    let planned: Vec<JournalEntry> = tags.iter().map(|(t, d)| entry(repo, t, d)).collect();
    let summary = match executor.execute(&planned, &all_siblings).await {
        Ok(summary) => summary,
        Err(ExecError::Store(e)) => unreachable!("the memory journal cannot fail: {e}"),
        Err(ExecError::Crashed) => unreachable!("no crash point is set"),
    };
    let entries = journal.entries();
    Ok(RemovalReport {
        repo: repo.to_owned(),
        capability: client.known_capability(),
        tags: entries.iter().map(outcome).collect(),
        siblings_checked: all_siblings.len(),
        errors: summary
            .errors
            .iter()
            .map(|e: &RunError| e.message.clone())
            .collect(),
        requests: client.requests_made() - start,
    })
}

/// Every other tag of the repository, with the digests the caller knows.
async fn siblings_of(
    client: &RegistryClient,
    repo: &str,
    tags: &[(String, Digest)],
    known: &[(String, Digest)],
) -> Result<Vec<Sibling>, RegistryError> {
    let batch: std::collections::HashSet<&str> = tags.iter().map(|(t, _)| t.as_str()).collect();
    let listed = client.list_tags(repo).await?;
    Ok(listed
        .into_iter()
        .filter(|t| !batch.contains(t.as_str()))
        .map(|tag| {
            let digest = known
                .iter()
                .find(|(t, _)| *t == tag)
                .map(|(_, d)| d.to_string());
            Sibling { tag, digest }
        })
        .collect())
}

fn entry(repo: &str, tag: &str, digest: &Digest) -> JournalEntry {
    JournalEntry {
        id: 0,
        run_id: 0,
        project_id: 0,
        repository: repo.to_owned(),
        tag: tag.to_owned(),
        action: JournalAction::Untag,
        reason_code: REQUESTED.to_owned(),
        reason: "named for removal".to_owned(),
        planned_digest: digest.to_string(),
        dummy_digest: None,
        observed_digest: None,
        state: JournalState::Planned,
        detail: None,
        updated_at: chrono::Utc::now(),
    }
}

/// A journal entry's last state, as the tag's outcome.
fn outcome(e: &JournalEntry) -> RemovedTag {
    let observed = e
        .observed_digest
        .as_deref()
        .and_then(|d| Digest::parse(d).ok());
    let detail = e.detail.clone().unwrap_or_default();
    let outcome = match (e.state, observed) {
        (JournalState::Done, _) => RemovalOutcome::Removed,
        (JournalState::Skipped, Some(observed)) => RemovalOutcome::SkippedMoved { observed },
        (JournalState::Skipped, None) if detail == GONE => RemovalOutcome::AlreadyGone,
        (JournalState::Repointed, _) => match e.dummy_digest.as_deref().map(Digest::parse) {
            Some(Ok(dummy)) => RemovalOutcome::LeftOnDummy { dummy },
            _ => RemovalOutcome::Failed { reason: detail },
        },
        _ => RemovalOutcome::Failed { reason: detail },
    };
    RemovedTag {
        tag: e.tag.clone(),
        planned: Digest::parse(&e.planned_digest).expect("planned digests were parsed digests"),
        outcome,
    }
}
