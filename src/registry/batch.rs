//! `remove_tags`: the batch removal of tags in one repository, built from the steps in `remove.rs`,
//! and the `RemovalReport` it returns. Must never leave a tag on the dummy without reporting it.

use super::client::RegistryClient;
use super::digest::{validate_repo, validate_tag, Digest};
use super::error::RegistryError;
use super::remove::{DeleteCapability, Deleted, Dummy, Repoint};
use serde::Serialize;
use std::collections::HashSet;
use tokio::task::JoinSet;

/// How a batch was removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Strategy {
    /// One `DELETE` per tag, by tag name.
    NativeTagDelete,
    /// All tags re-pointed at one batch dummy, then one `DELETE` of the dummy digest.
    SharedDummy,
}

/// What happened to one tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum TagOutcome {
    /// Removed by this batch.
    Removed,
    /// Already absent when the batch looked: nothing to do.
    AlreadyGone,
    /// Pointed at another digest than planned, so it was kept.
    SkippedMoved { observed: Digest },
    /// Could not be removed; the tag was not changed.
    Failed { reason: String },
    /// Re-pointed at the dummy but the dummy's delete failed: the tag now names the dummy.
    LeftOnDummy { reason: String },
}

/// One tag's line in the report.
#[derive(Clone, Debug, Serialize)]
pub struct TagResult {
    /// The tag.
    pub tag: String,
    /// The digest the plan expected it to point at.
    pub planned: Digest,
    /// What happened.
    pub outcome: TagOutcome,
}

/// Everything a batch did, for the journal, logs and the CLI.
#[derive(Clone, Debug, Serialize)]
pub struct RemovalReport {
    /// Repository.
    pub repo: String,
    /// Strategy used.
    pub strategy: Strategy,
    /// Dummy digest, for the shared-dummy strategy.
    pub dummy: Option<Digest>,
    /// Per tag, in input order.
    pub tags: Vec<TagResult>,
    /// Other tags of the repository confirmed still listed after the removal.
    pub siblings_checked: usize,
    /// Other tags that disappeared during the batch (should be empty; someone else may have deleted them).
    pub siblings_missing: Vec<String>,
    /// Siblings given to [`RegistryClient::remove_tags_verified`] that no longer resolve to the
    /// digest the caller saw (`None`: gone). Empty for [`RegistryClient::remove_tags`].
    pub siblings_changed: Vec<(String, Option<Digest>)>,
    /// HTTP requests this client made during the call (includes concurrent calls on the same client).
    pub requests: u64,
}

impl RemovalReport {
    /// Tags with the given outcome kind.
    pub fn count(&self, pred: impl Fn(&TagOutcome) -> bool) -> usize {
        self.tags.iter().filter(|t| pred(&t.outcome)).count()
    }
    /// Number of tags removed.
    pub fn removed(&self) -> usize {
        self.count(|o| *o == TagOutcome::Removed)
    }
}

impl RegistryClient {
    /// Removes `tags` (each with the digest the plan saw) from `repo` without touching any other tag.
    /// Uses native tag deletes where the registry has them, else one shared dummy and one DELETE.
    /// Fails before changing anything when deletion is disabled or the credentials lack delete rights.
    pub async fn remove_tags(
        &self,
        repo: &str,
        tags: &[(String, Digest)],
    ) -> Result<RemovalReport, RegistryError> {
        validate_repo(repo)?;
        tags.iter().try_for_each(|(t, _)| validate_tag(t))?;
        let start = self.requests_made();
        let capability = self.capability(repo).await?;
        let listed: HashSet<String> = self.list_tags(repo).await?.into_iter().collect();
        let batch: HashSet<&str> = tags.iter().map(|(t, _)| t.as_str()).collect();
        let siblings: Vec<String> = listed
            .iter()
            .filter(|t| !batch.contains(t.as_str()))
            .cloned()
            .collect();
        let (strategy, dummy, mut results) = match capability {
            DeleteCapability::TagDelete => (
                Strategy::NativeTagDelete,
                None,
                self.native_deletes(repo, tags, &listed).await,
            ),
            DeleteCapability::DigestOnly => {
                let (dummy, results) = self.dummy_deletes(repo, tags, &listed).await?;
                (Strategy::SharedDummy, dummy, results)
            }
        };
        let expected_gone: Vec<String> = results
            .iter()
            .filter(|r| r.outcome == TagOutcome::Removed)
            .map(|r| r.tag.clone())
            .collect();
        let check = self.verify_batch(repo, &expected_gone, &siblings).await?;
        for r in results
            .iter_mut()
            .filter(|r| check.still_present.contains(&r.tag))
        {
            r.outcome = TagOutcome::Failed {
                reason: "still listed after the delete (re-pushed meanwhile?)".into(),
            };
        }
        if !check.siblings_missing.is_empty() {
            tracing::warn!(repo, missing = ?check.siblings_missing, "tags outside the batch disappeared during removal");
        }
        Ok(RemovalReport {
            repo: repo.to_owned(),
            strategy,
            dummy,
            tags: results,
            siblings_checked: check.siblings_present,
            siblings_missing: check.siblings_missing,
            siblings_changed: Vec::new(),
            requests: self.requests_made() - start,
        })
    }

    /// [`Self::remove_tags`], then a HEAD of each sibling in `siblings` (tag, digest the caller saw
    /// before the batch): those that no longer resolve to it are listed in `siblings_changed`.
    pub async fn remove_tags_verified(
        &self,
        repo: &str,
        tags: &[(String, Digest)],
        siblings: &[(String, Digest)],
    ) -> Result<RemovalReport, RegistryError> {
        let mut report = self.remove_tags(repo, tags).await?;
        let start = self.requests_made();
        report.siblings_changed = self.verify_digests(repo, siblings).await?;
        report.requests += self.requests_made() - start;
        if !report.siblings_changed.is_empty() {
            tracing::warn!(repo, changed = ?report.siblings_changed, "kept tags changed during removal");
        }
        Ok(report)
    }

    /// Strategy 1: per tag, re-resolve then DELETE by tag.
    async fn native_deletes(
        &self,
        repo: &str,
        tags: &[(String, Digest)],
        listed: &HashSet<String>,
    ) -> Vec<TagResult> {
        let outcomes = self
            .per_tag(
                repo,
                tags,
                listed,
                |client, repo, tag, planned| async move {
                    match client.resolve(&repo, &tag).await? {
                        None => Ok(TagOutcome::AlreadyGone),
                        Some(d) if d != planned => Ok(TagOutcome::SkippedMoved { observed: d }),
                        Some(_) => Ok(match client.delete_tag(&repo, &tag).await? {
                            Deleted::Removed => TagOutcome::Removed,
                            Deleted::AlreadyGone => TagOutcome::AlreadyGone,
                        }),
                    }
                },
            )
            .await;
        outcomes
    }

    /// Strategy 2: one dummy, every tag re-pointed (if unchanged), one DELETE of the dummy.
    async fn dummy_deletes(
        &self,
        repo: &str,
        tags: &[(String, Digest)],
        listed: &HashSet<String>,
    ) -> Result<(Option<Digest>, Vec<TagResult>), RegistryError> {
        if !tags.iter().any(|(t, _)| listed.contains(t)) {
            let results = tags
                .iter()
                .map(|(t, d)| result(t, d, TagOutcome::AlreadyGone))
                .collect();
            return Ok((None, results));
        }
        let dummy = std::sync::Arc::new(self.prepare_dummy(repo).await?);
        let d2 = dummy.clone();
        let mut results = self
            .per_tag(repo, tags, listed, move |client, repo, tag, planned| {
                let dummy = d2.clone();
                async move {
                    Ok(
                        match client
                            .point_tag_at_dummy(&repo, &tag, &planned, &dummy)
                            .await?
                        {
                            Repoint::Repointed => TagOutcome::Removed,
                            Repoint::Moved { observed } => TagOutcome::SkippedMoved { observed },
                            Repoint::Gone => TagOutcome::AlreadyGone,
                        },
                    )
                }
            })
            .await;
        let repointed = results.iter().any(|r| r.outcome == TagOutcome::Removed);
        if repointed {
            if let Err(e) = self.delete_manifest(repo, &dummy.digest).await {
                tracing::error!(repo, dummy = %dummy.digest, error = %e, "dummy delete failed; tags left on the dummy");
                leave_on_dummy(&mut results, &dummy, &e);
            }
        }
        Ok((Some(dummy.digest.clone()), results))
    }

    /// Runs `step` for every tag concurrently (the client's semaphore bounds requests in flight);
    /// tags absent from `listed` are `AlreadyGone` without a request. Results keep input order.
    async fn per_tag<F, Fut>(
        &self,
        repo: &str,
        tags: &[(String, Digest)],
        listed: &HashSet<String>,
        step: F,
    ) -> Vec<TagResult>
    where
        F: Fn(RegistryClient, String, String, Digest) -> Fut,
        Fut: std::future::Future<Output = Result<TagOutcome, RegistryError>> + Send + 'static,
    {
        let mut set = JoinSet::new();
        let mut results: Vec<TagResult> = tags
            .iter()
            .map(|(t, d)| result(t, d, TagOutcome::AlreadyGone))
            .collect();
        for (i, (tag, planned)) in tags
            .iter()
            .enumerate()
            .filter(|(_, (t, _))| listed.contains(t))
        {
            let fut = step(self.clone(), repo.to_owned(), tag.clone(), planned.clone());
            set.spawn(async move { (i, fut.await) });
        }
        while let Some(joined) = set.join_next().await {
            let (i, outcome) = joined.expect("removal task panicked");
            results[i].outcome = outcome.unwrap_or_else(|e| TagOutcome::Failed {
                reason: e.to_string(),
            });
        }
        results
    }
}

fn result(tag: &str, planned: &Digest, outcome: TagOutcome) -> TagResult {
    TagResult {
        tag: tag.to_owned(),
        planned: planned.clone(),
        outcome,
    }
}

fn leave_on_dummy(results: &mut [TagResult], dummy: &Dummy, e: &RegistryError) {
    for r in results
        .iter_mut()
        .filter(|r| r.outcome == TagOutcome::Removed)
    {
        r.outcome = TagOutcome::LeftOnDummy {
            reason: format!(
                "tag points at dummy {}; its delete failed: {e}",
                dummy.digest
            ),
        };
    }
}
