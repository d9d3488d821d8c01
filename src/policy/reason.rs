//! Why a tag goes or stays: typed reasons with a stable machine code (`code()`, the `code` field in
//! JSON); their human sentences (`Display`) are in `explain`. Only data; deciding lives in `rules`.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Serialize, Serializer};

use super::duration;
use super::users::ImageUsers;
use crate::model::{MrState, PipelineStatus, TagKind};

/// Why a tag may be deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum DeleteReason {
    /// Every pipeline that produced the `ci-commit` tag finished, the last one `grace` ago or more.
    CiCommitFinished {
        pipelines: Vec<i64>,
        finished_at: DateTime<Utc>,
        #[serde(with = "duration::humane")]
        grace: TimeDelta,
    },
    /// The tag's branch was deleted `grace` ago or more.
    BranchDeleted {
        branch: String,
        deleted_at: DateTime<Utc>,
        /// The deletion was found by reconciliation with the GitLab API, not by a webhook.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        by_reconciliation: bool,
        #[serde(with = "duration::humane")]
        grace: TimeDelta,
    },
    /// The branch's merge requests are done, the newest merged; no pipeline ran since.
    BranchMerged {
        branch: String,
        merge_request: i64,
        at: DateTime<Utc>,
        #[serde(with = "duration::humane")]
        grace: TimeDelta,
    },
    /// The branch's merge requests are done, the newest closed unmerged; no pipeline ran since.
    BranchMrClosed {
        branch: String,
        merge_request: i64,
        at: DateTime<Utc>,
        #[serde(with = "duration::humane")]
        grace: TimeDelta,
    },
    /// No pipeline ran on the branch for `after`.
    BranchStale {
        branch: String,
        last_activity: DateTime<Utc>,
        #[serde(with = "duration::humane")]
        after: TimeDelta,
    },
    /// A `prod-commit` tag older than the newest `keep` deploys.
    ProdSuperseded {
        pipeline: i64,
        position: usize,
        keep: usize,
    },
    /// An untracked tag created longer ago than `max_age`.
    UntrackedExpired {
        created: DateTime<Utc>,
        #[serde(with = "duration::humane")]
        max_age: TimeDelta,
    },
}

/// Why a tag stays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum KeepReason {
    /// The repository could not be listed, so nothing in it is touched.
    RepositoryUnlisted { why: String },
    /// The tag matches a keep pattern.
    KeepPattern { pattern: String },
    /// The cluster reports the tag in use, by these users.
    InUseTag { users: ImageUsers },
    /// The cluster reports the tag's digest in use, by these users.
    InUseDigest { digest: String, users: ImageUsers },
    /// Would be deleted, but cluster protection is configured and could not be read.
    ProtectionUnavailable {
        why: String,
        otherwise: DeleteReason,
    },
    /// The moving `prod-current` tag.
    ProdCurrent,
    /// Same image as the current prod tag.
    ProdCurrentDigest { current: String },
    /// Younger than the minimum age.
    TooYoung {
        #[serde(with = "duration::humane")]
        min_age: TimeDelta,
    },
    /// No age known (untracked tag without a creation time).
    AgeUnknown,
    /// Records disagree on what kind of tag this is.
    ConflictingKinds { kinds: Vec<TagKind> },
    /// A pipeline that produced the tag is not recorded.
    PipelineUnknown { pipeline: i64 },
    /// A pipeline that produced the tag has not finished.
    PipelineUnfinished {
        pipeline: i64,
        status: PipelineStatus,
    },
    /// The deletion condition holds but its grace period has not passed yet.
    GraceNotPassed { pending: DeleteReason },
    /// The tag belongs to the project's default branch.
    DefaultBranch { branch: String },
    /// A merge request from the branch is still open (or locked).
    MergeRequestOpen {
        branch: String,
        merge_request: i64,
        state: MrState,
    },
    /// Another live branch has the same slug and would use this tag.
    SlugShared { other: String, slug: String },
    /// A pipeline ran on the branch after its merge requests were done.
    PipelineAfterMergeRequest {
        branch: String,
        pipeline: i64,
        merge_request: i64,
    },
    /// The branch is live and ran a pipeline recently.
    BranchActive {
        branch: String,
        last_activity: Option<DateTime<Utc>>,
        #[serde(with = "duration::humane")]
        stale_after: TimeDelta,
    },
    /// The tag's branch has no record, so its state is unknown.
    BranchUnknown { branch: String },
    /// A merge request is done but carries no time.
    MergeRequestTimeUnknown { merge_request: i64 },
    /// The tag was produced for a git tag, not a branch; branch rules do not apply.
    NotABranch { git_tag: String },
    /// One of the newest `keep` prod deploys.
    ProdRecent {
        pipeline: i64,
        position: usize,
        keep: usize,
    },
    /// No webhook recorded the tag and untracked tags are left alone.
    Untracked,
    /// Untracked tag not older than the untracked max age.
    UntrackedYoung {
        created: DateTime<Utc>,
        #[serde(with = "duration::humane")]
        max_age: TimeDelta,
    },
}

impl DeleteReason {
    /// Stable machine code, equal to the `code` field in JSON.
    pub fn code(&self) -> &'static str {
        match self {
            DeleteReason::CiCommitFinished { .. } => "ci-commit-finished",
            DeleteReason::BranchDeleted { .. } => "branch-deleted",
            DeleteReason::BranchMerged { .. } => "branch-merged",
            DeleteReason::BranchMrClosed { .. } => "branch-mr-closed",
            DeleteReason::BranchStale { .. } => "branch-stale",
            DeleteReason::ProdSuperseded { .. } => "prod-superseded",
            DeleteReason::UntrackedExpired { .. } => "untracked-expired",
        }
    }
}

impl KeepReason {
    /// Stable machine code, equal to the `code` field in JSON.
    pub fn code(&self) -> &'static str {
        match self {
            KeepReason::RepositoryUnlisted { .. } => "repository-unlisted",
            KeepReason::KeepPattern { .. } => "keep-pattern",
            KeepReason::InUseTag { .. } => "in-use-tag",
            KeepReason::InUseDigest { .. } => "in-use-digest",
            KeepReason::ProtectionUnavailable { .. } => "protection-unavailable",
            KeepReason::ProdCurrent => "prod-current",
            KeepReason::ProdCurrentDigest { .. } => "prod-current-digest",
            KeepReason::TooYoung { .. } => "too-young",
            KeepReason::AgeUnknown => "age-unknown",
            KeepReason::ConflictingKinds { .. } => "conflicting-kinds",
            KeepReason::PipelineUnknown { .. } => "pipeline-unknown",
            KeepReason::PipelineUnfinished { .. } => "pipeline-unfinished",
            KeepReason::GraceNotPassed { .. } => "grace-not-passed",
            KeepReason::DefaultBranch { .. } => "default-branch",
            KeepReason::MergeRequestOpen { .. } => "merge-request-open",
            KeepReason::SlugShared { .. } => "slug-shared",
            KeepReason::PipelineAfterMergeRequest { .. } => "pipeline-after-merge-request",
            KeepReason::BranchActive { .. } => "branch-active",
            KeepReason::BranchUnknown { .. } => "branch-unknown",
            KeepReason::MergeRequestTimeUnknown { .. } => "merge-request-time-unknown",
            KeepReason::NotABranch { .. } => "not-a-branch",
            KeepReason::ProdRecent { .. } => "prod-recent",
            KeepReason::Untracked => "untracked",
            KeepReason::UntrackedYoung { .. } => "untracked-young",
        }
    }
}

/// Serializes a reason as its fields plus `code` and a human `message`.
pub(crate) fn with_message<R, S>(reason: &R, serializer: S) -> Result<S::Ok, S::Error>
where
    R: Serialize + fmt::Display,
    S: Serializer,
{
    #[derive(Serialize)]
    struct Explained<'a, R> {
        #[serde(flatten)]
        reason: &'a R,
        message: String,
    }
    Explained {
        reason,
        message: reason.to_string(),
    }
    .serialize(serializer)
}
