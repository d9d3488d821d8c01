//! Deleting whole images by digest: only after every planned tag is re-checked and no tag created
//! since planning points at the image. Part of the executor; never deletes a dummy or a single tag.

use std::collections::{HashMap, HashSet};

use chrono::Utc;

use super::execute::Repository;
use super::summary::{Outcome, RunSummary};
use crate::registry::{Deleted, Digest, ImageDeletion};
use crate::store::model::{JournalEntry, JournalState};
use crate::store::{JournalUpdate, StoreError};

impl Repository<'_> {
    /// Tags that appeared since planning, by the digest they point at: a digest delete would take
    /// them down too. `Err` when the repository cannot be re-read (then no image is deleted).
    pub(super) async fn new_tags(
        &self,
        deletes: &[JournalEntry],
        known: &HashSet<&str>,
    ) -> Result<HashMap<String, Vec<String>>, String> {
        let mut found: HashMap<String, Vec<String>> = HashMap::new();
        if deletes.is_empty() {
            return Ok(found);
        }
        let listed = self
            .client
            .list_tags(self.name)
            .await
            .map_err(|e| e.to_string())?;
        for tag in listed.into_iter().filter(|t| !known.contains(t.as_str())) {
            match self.client.resolve(self.name, &tag).await {
                Ok(Some(digest)) => found.entry(digest.to_string()).or_default().push(tag),
                Ok(None) => {}
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
        newcomers: Result<HashMap<String, Vec<String>>, String>,
        summary: &mut RunSummary,
    ) -> Result<(), StoreError> {
        let mut by_digest: HashMap<String, Vec<JournalEntry>> = HashMap::new();
        for e in entries {
            by_digest
                .entry(e.planned_digest.clone())
                .or_default()
                .push(e);
        }
        for (digest, group) in by_digest {
            let tags: Vec<String> = group.iter().map(|e| e.tag.clone()).collect();
            let ids: Vec<i64> = group.iter().map(|e| e.id).collect();
            let blocker = match &newcomers {
                Ok(map) => map
                    .get(&digest)
                    .map(|t| format!("not deleted, tagged since planning as {}", t.join(", "))),
                Err(e) => Some(format!(
                    "not deleted, the repository could not be re-read: {e}"
                )),
            };
            if let Some(detail) = blocker {
                tracing::info!(repository = self.name, %digest, %detail, "image kept");
                self.update(
                    &ids,
                    JournalUpdate::new(JournalState::Skipped, Utc::now()).detail(detail),
                )
                .await?;
                for e in &group {
                    summary.count(&e.rule, Outcome::Skipped, 1);
                }
                continue;
            }
            let result = match Digest::parse(&digest) {
                Ok(d) => self.client.delete_image(self.name, &d, &tags).await,
                Err(e) => Err(e),
            };
            let now = Utc::now();
            let (update, outcome) = match result {
                Ok(ImageDeletion::Deleted(Deleted::Removed | Deleted::AlreadyGone)) => (
                    JournalUpdate::new(JournalState::Done, now),
                    Outcome::Removed,
                ),
                Ok(ImageDeletion::Refused { moved }) => {
                    let detail = format!("not deleted, re-tagged since planning: {moved:?}");
                    (
                        JournalUpdate::new(JournalState::Skipped, now).detail(detail),
                        Outcome::Skipped,
                    )
                }
                Err(err) => {
                    summary
                        .errors
                        .push(format!("{}@{digest}: {err}", self.name));
                    (
                        JournalUpdate::new(JournalState::Failed, now).detail(err.to_string()),
                        Outcome::Failed,
                    )
                }
            };
            self.update(&ids, update).await?;
            for e in &group {
                summary.count(&e.rule, outcome, 1);
            }
        }
        Ok(())
    }
}
