//! The plan the policy hands to the executor and the API: registry actions, every kept tag with
//! why, and totals. Data and serialization only (`--json` prints it as is).

use std::sync::Arc;

use serde::Serialize;

use super::reason::{with_message, DeleteReason, KeepReason};
use crate::model::HexId;

/// One registry operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Remove only this tag (dummy strategy): other tags on its digest are kept.
    Untag {
        repository: Arc<str>,
        tag: String,
        /// The digest the tag pointed at when planned; the executor re-checks it before acting.
        digest: HexId,
        /// Image rule that recorded the tag (none for untracked tags).
        rule: Option<Arc<str>>,
        #[serde(serialize_with = "with_message")]
        reason: DeleteReason,
    },
    /// Delete the manifest by digest: every tag on it is deletable.
    DeleteImage {
        repository: Arc<str>,
        digest: HexId,
        /// Manifest size in bytes, if the snapshot knew it.
        size: Option<u64>,
        /// Every tag on the digest, sorted, each with its own reason.
        tags: Vec<TagDeletion>,
    },
}

/// One tag removed by a [`Action::DeleteImage`], with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagDeletion {
    pub tag: String,
    /// Image rule that recorded the tag (none for untracked tags).
    pub rule: Option<Arc<str>>,
    #[serde(serialize_with = "with_message")]
    pub reason: DeleteReason,
}

impl Action {
    /// The repository acted on.
    pub fn repository(&self) -> &str {
        match self {
            Action::Untag { repository, .. } | Action::DeleteImage { repository, .. } => repository,
        }
    }

    /// The digest acted on (for `Untag`, the digest planned for the tag).
    pub fn digest(&self) -> &HexId {
        match self {
            Action::Untag { digest, .. } | Action::DeleteImage { digest, .. } => digest,
        }
    }

    /// Each tag this action removes, with its reason.
    pub fn tags(&self) -> Vec<(&str, &DeleteReason)> {
        match self {
            Action::Untag { tag, reason, .. } => vec![(tag.as_str(), reason)],
            Action::DeleteImage { tags, .. } => {
                tags.iter().map(|t| (t.tag.as_str(), &t.reason)).collect()
            }
        }
    }

    /// Sort key: repository, then the first tag.
    pub(super) fn sort_key(&self) -> (&str, &str) {
        match self {
            Action::Untag {
                repository, tag, ..
            } => (repository, tag),
            Action::DeleteImage {
                repository, tags, ..
            } => (repository, tags.first().map_or("", |t| &t.tag)),
        }
    }
}

/// A tag the plan leaves alone, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub repository: Arc<str>,
    pub tag: String,
    /// From the snapshot; from the record when the repository could not be listed (maybe unknown).
    pub digest: Option<HexId>,
    /// Image rule that recorded the tag (none for untracked tags).
    pub rule: Option<Arc<str>>,
    #[serde(serialize_with = "with_message")]
    pub reason: KeepReason,
}

/// What the plan would do, in numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Tags removed by all actions.
    pub tags_removed: usize,
    /// `Untag` actions.
    pub untags: usize,
    /// `DeleteImage` actions: digests left with no tag.
    pub digests_deleted: usize,
    /// Sum of the known sizes of those digests.
    pub bytes_unreferenced: u64,
    /// Deleted digests whose size the snapshot did not know (not in `bytes_unreferenced`).
    pub digests_size_unknown: usize,
    /// Entries in `kept`.
    pub tags_kept: usize,
}

/// The result of planning: sorted by repository then tag, so equal inputs give equal plans.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub kept: Vec<Kept>,
    pub totals: Totals,
}

impl Totals {
    /// Counts `actions` and `kept`.
    pub fn count(actions: &[Action], kept: &[Kept]) -> Totals {
        let mut totals = Totals {
            tags_kept: kept.len(),
            ..Totals::default()
        };
        for action in actions {
            match action {
                Action::Untag { .. } => {
                    totals.untags += 1;
                    totals.tags_removed += 1;
                }
                Action::DeleteImage { size, tags, .. } => {
                    totals.digests_deleted += 1;
                    totals.tags_removed += tags.len();
                    match size {
                        Some(size) => totals.bytes_unreferenced += size,
                        None => totals.digests_size_unknown += 1,
                    }
                }
            }
        }
        totals
    }
}
