//! Deleting whole images by digest: only after every planned tag is re-checked and no tag created
//! since planning points at the image. Part of the executor; never deletes a dummy or a single tag.

use std::collections::{HashMap, HashSet};

use futures::stream::{self, StreamExt};

use super::execute::{refusal_of, Executor};
use super::summary::{RunError, RunSummary, TagOutcome};
use crate::model::{JournalEntry, JournalState};
use crate::registry::{Deleted, Digest, ImageDeletion, RegistryError};
use crate::store::{JournalUpdate, StoreError};

/// The tags not being deleted, by the digest they point at now; `Err` when the repository could not
/// be re-read (then no image is deleted).
pub(super) type Newcomers = Result<HashMap<String, Vec<String>>, String>;

impl Executor<'_> {
    /// Every tag of the repository except `going` (the tags whose images are deleted), by the digest
    /// it points at now: a digest delete would take them down too. Kept tags are resolved again as
    /// well as new ones, since a kept tag may have moved onto a planned image.
    pub(super) async fn other_tags(
        &self,
        deletes: &[JournalEntry],
        going: &HashSet<&str>,
    ) -> Newcomers {
        let mut found: HashMap<String, Vec<String>> = HashMap::new();
        if deletes.is_empty() {
            return Ok(found);
        }
        let repo = self.repository;
        let listed = self
            .client
            .list_tags(repo)
            .await
            .map_err(|e| e.to_string())?;
        let unknown = listed.into_iter().filter(|t| !going.contains(t.as_str()));
        let resolved: Vec<_> = stream::iter(unknown)
            .map(|tag| async move { self.client.resolve(repo, &tag).await.map(|d| (tag, d)) })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        for result in resolved {
            match result {
                Ok((tag, Some(digest))) => found.entry(digest.to_string()).or_default().push(tag),
                Ok((_, None)) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(found)
    }

    /// Images whose every tag goes: one DELETE by digest after re-checking every tag, unless a tag
    /// that appeared since planning points at the image.
    pub(super) async fn delete_images(
        &self,
        entries: Vec<JournalEntry>,
        newcomers: Newcomers,
        summary: &mut RunSummary,
    ) -> Result<(), StoreError> {
        let mut by_digest: HashMap<String, Vec<JournalEntry>> = HashMap::new();
        for e in entries {
            by_digest
                .entry(e.planned_digest.clone())
                .or_default()
                .push(e);
        }
        // Each image is re-checked and deleted on its own, `concurrency` at a time: on distribution a
        // DELETE costs the registry a scan of the repository's tags, so they overlap well.
        let mut done = stream::iter(by_digest)
            .map(|(digest, group)| {
                let blocker = match &newcomers {
                    Ok(map) => map
                        .get(&digest)
                        .map(|t| format!("not deleted, tagged as {} (not planned for removal)", t.join(", "))),
                    Err(e) => Some(format!(
                        "not deleted, the repository could not be re-read: {e}"
                    )),
                };
                async move {
                    let (update, outcome, error) = match blocker {
                        Some(detail) => {
                            tracing::info!(repository = self.repository, %digest, %detail, "image kept");
                            let update = self.at(JournalState::Skipped).detail(detail);
                            (update, TagOutcome::Skipped, None)
                        }
                        None if self.stop.is_cancelled() => {
                            let (update, outcome) = self.deferred();
                            (update, outcome, None)
                        }
                        None => self.delete_image(&digest, &group).await,
                    };
                    (group, update, outcome, error)
                }
            })
            .buffer_unordered(self.concurrency.max(1));
        // Journaled as each image is done, not after the last one.
        while let Some((group, update, outcome, error)) = done.next().await {
            let ids: Vec<i64> = group.iter().map(|e| e.id).collect();
            self.update(&ids, update).await?;
            for e in &group {
                summary.count(&e.reason_code, outcome, 1);
            }
            if let Some(error) = error {
                summary.error(error);
            }
        }
        Ok(())
    }

    /// Re-checks every tag of `group` and deletes the image by digest; what to journal, and the
    /// run error to report if it failed.
    async fn delete_image(
        &self,
        digest: &str,
        group: &[JournalEntry],
    ) -> (JournalUpdate, TagOutcome, Option<RunError>) {
        let tags: Vec<String> = group.iter().map(|e| e.tag.clone()).collect();
        let result = match Digest::parse(digest) {
            Ok(d) => self.client.delete_image(self.repository, &d, &tags).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(ImageDeletion::Deleted(Deleted::Removed | Deleted::AlreadyGone)) => {
                (self.at(JournalState::Done), TagOutcome::Removed, None)
            }
            Ok(ImageDeletion::Refused { moved }) => {
                let detail = format!("not deleted, re-tagged since planning: {moved:?}");
                let update = self.at(JournalState::Skipped).detail(detail);
                (update, TagOutcome::Skipped, None)
            }
            Err(err) => {
                let message = format!("{}@{digest}: {err}", self.repository);
                let error = match err {
                    RegistryError::DeletionDisabled { .. }
                    | RegistryError::MissingDeleteRight { .. }
                    | RegistryError::Protected { .. } => {
                        RunError::refused(refusal_of(&err), message)
                    }
                    _ => RunError::note(message),
                };
                let update = self.at(JournalState::Failed).detail(err.to_string());
                (update, TagOutcome::Failed, Some(error))
            }
        }
    }
}
