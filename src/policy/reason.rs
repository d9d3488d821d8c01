//! Why a tag goes or stays: typed reasons with a stable machine code (`code()`, the `code` field in
//! JSON) and a human sentence (`Display`). Only data and formatting; deciding lives in `rules`.

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Serialize, Serializer};

use super::duration;
use crate::store::model::{MrState, PipelineStatus, TagKind};

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
    ProdSuperseded { pipeline: i64, position: usize, keep: usize },
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
    /// The cluster reports the tag in use.
    InUseTag,
    /// The cluster reports the tag's digest in use.
    InUseDigest { digest: String },
    /// Would be deleted, but cluster protection is configured and could not be read.
    ProtectionUnavailable { why: String, otherwise: DeleteReason },
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
    PipelineUnfinished { pipeline: i64, status: PipelineStatus },
    /// The deletion condition holds but its grace period has not passed yet.
    GraceNotPassed { pending: DeleteReason },
    /// The tag belongs to the project's default branch.
    DefaultBranch { branch: String },
    /// A merge request from the branch is still open (or locked).
    MergeRequestOpen { branch: String, merge_request: i64, state: MrState },
    /// Another live branch has the same slug and would use this tag.
    SlugShared { other: String, slug: String },
    /// A pipeline ran on the branch after its merge requests were done.
    PipelineAfterMergeRequest { branch: String, pipeline: i64, merge_request: i64 },
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
    ProdRecent { pipeline: i64, position: usize, keep: usize },
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

    /// The event that started the waiting period, and the period, for time-based reasons.
    fn event(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeleteReason::CiCommitFinished { pipelines, finished_at, .. } => match pipelines.as_slice() {
                [one] => write!(f, "pipeline {one} finished at {}", Ts(finished_at)),
                many => write!(f, "pipelines {} all finished, the last at {}", List(many), Ts(finished_at)),
            },
            DeleteReason::BranchDeleted { branch, deleted_at, .. } => {
                write!(f, "branch {branch} deleted at {}", Ts(deleted_at))
            }
            DeleteReason::BranchMerged { branch, merge_request, at, .. } => {
                write!(f, "branch {branch} merged in !{merge_request} at {}", Ts(at))
            }
            DeleteReason::BranchMrClosed { branch, merge_request, at, .. } => {
                write!(f, "branch {branch}: merge request !{merge_request} closed at {}", Ts(at))
            }
            DeleteReason::BranchStale { branch, last_activity, .. } => {
                write!(f, "branch {branch} had no pipeline since {}", Ts(last_activity))
            }
            DeleteReason::ProdSuperseded { pipeline, position, .. } => {
                write!(f, "prod deploy of pipeline {pipeline} is #{position} newest")
            }
            DeleteReason::UntrackedExpired { created, .. } => {
                write!(f, "untracked tag created at {}", Ts(created))
            }
        }
    }

    /// The waiting period and its name, as shown after the event.
    fn period(&self) -> (&'static str, String) {
        match self {
            DeleteReason::CiCommitFinished { grace, .. }
            | DeleteReason::BranchDeleted { grace, .. }
            | DeleteReason::BranchMerged { grace, .. }
            | DeleteReason::BranchMrClosed { grace, .. } => ("grace", duration::format(*grace)),
            DeleteReason::BranchStale { after, .. } => ("stale after", duration::format(*after)),
            DeleteReason::ProdSuperseded { keep, .. } => ("keeping the last", keep.to_string()),
            DeleteReason::UntrackedExpired { max_age, .. } => ("max age", duration::format(*max_age)),
        }
    }
}

impl fmt::Display for DeleteReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.event(f)?;
        let (name, value) = self.period();
        match self {
            DeleteReason::ProdSuperseded { .. } => write!(f, ", superseded ({name} {value})"),
            _ => write!(f, ", {name} {value} passed"),
        }
    }
}

impl KeepReason {
    /// Stable machine code, equal to the `code` field in JSON.
    pub fn code(&self) -> &'static str {
        match self {
            KeepReason::RepositoryUnlisted { .. } => "repository-unlisted",
            KeepReason::KeepPattern { .. } => "keep-pattern",
            KeepReason::InUseTag => "in-use-tag",
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

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("kept: ")?;
        match self {
            KeepReason::RepositoryUnlisted { why } => write!(f, "repository could not be listed ({why})"),
            KeepReason::KeepPattern { pattern } => write!(f, "matches keep pattern {pattern}"),
            KeepReason::InUseTag => f.write_str("in use by the cluster"),
            KeepReason::InUseDigest { digest } => write!(f, "in use by the cluster (digest {digest})"),
            KeepReason::ProtectionUnavailable { why, otherwise } => {
                write!(f, "cluster protection unavailable ({why}); otherwise: {otherwise}")
            }
            KeepReason::ProdCurrent => f.write_str("current prod tag"),
            KeepReason::ProdCurrentDigest { current } => write!(f, "same image as current prod tag {current}"),
            KeepReason::TooYoung { min_age } => write!(f, "younger than min age {}", duration::format(*min_age)),
            KeepReason::AgeUnknown => f.write_str("age unknown (no record and no creation time)"),
            KeepReason::ConflictingKinds { kinds } => write!(f, "recorded as different kinds ({})", List(kinds)),
            KeepReason::PipelineUnknown { pipeline } => write!(f, "pipeline {pipeline} not recorded (state unknown)"),
            KeepReason::PipelineUnfinished { pipeline, status: PipelineStatus::Running } => {
                write!(f, "pipeline {pipeline} still running")
            }
            KeepReason::PipelineUnfinished { pipeline, status } => {
                write!(f, "pipeline {pipeline} not finished ({status})")
            }
            KeepReason::GraceNotPassed { pending } => {
                pending.event(f)?;
                let (name, value) = pending.period();
                write!(f, ", {name} {value} not yet passed")
            }
            KeepReason::DefaultBranch { branch } => write!(f, "{branch} is the default branch"),
            KeepReason::MergeRequestOpen { branch, merge_request, state } => {
                write!(f, "merge request !{merge_request} from {branch} is {state}")
            }
            KeepReason::SlugShared { other, slug } => {
                write!(f, "another live branch {other} maps to slug {slug}")
            }
            KeepReason::PipelineAfterMergeRequest { branch, pipeline, merge_request } => {
                write!(f, "pipeline {pipeline} ran on {branch} after !{merge_request} was done")
            }
            KeepReason::BranchActive { branch, last_activity: Some(at), stale_after } => {
                let after = duration::format(*stale_after);
                write!(f, "branch {branch} is live, last pipeline at {}, stale after {after}", Ts(at))
            }
            KeepReason::BranchActive { branch, last_activity: None, .. } => {
                write!(f, "branch {branch} is live, no pipeline time known")
            }
            KeepReason::BranchUnknown { branch } => write!(f, "branch {branch} not recorded (state unknown)"),
            KeepReason::MergeRequestTimeUnknown { merge_request } => {
                write!(f, "merge request !{merge_request} is done but has no time")
            }
            KeepReason::NotABranch { git_tag } => write!(f, "produced for git tag {git_tag}, not a branch"),
            KeepReason::ProdRecent { keep, .. } => write!(f, "one of the last {keep} prod deploys"),
            KeepReason::Untracked => f.write_str("not recorded by any webhook (untracked)"),
            KeepReason::UntrackedYoung { created, max_age } => {
                let max_age = duration::format(*max_age);
                write!(f, "untracked, created at {}, not older than {max_age}", Ts(created))
            }
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
    Explained { reason, message: reason.to_string() }.serialize(serializer)
}

/// A timestamp as RFC 3339 in UTC with whole seconds: `2026-11-20T10:00:00Z`.
struct Ts<'a>(&'a DateTime<Utc>);

impl fmt::Display for Ts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

/// A comma-separated list.
struct List<'a, T>(&'a [T]);

impl<T: fmt::Display> fmt::Display for List<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}
