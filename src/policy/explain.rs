//! Human sentences for reasons (`Display`): "branch feature/x merged in !42 at …, grace 24h
//! passed", "kept: in use by the cluster". Formatting only; no decisions, no I/O.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};

use super::duration;
use super::reason::{DeleteReason, KeepReason};
use crate::store::model::PipelineStatus;

impl DeleteReason {
    /// The event that started the waiting period, and the period, for time-based reasons.
    fn event(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeleteReason::CiCommitFinished {
                pipelines,
                finished_at,
                ..
            } => match pipelines.as_slice() {
                [one] => write!(f, "pipeline {one} finished at {}", Ts(finished_at)),
                many => write!(
                    f,
                    "pipelines {} all finished, the last at {}",
                    List(many),
                    Ts(finished_at)
                ),
            },
            DeleteReason::BranchDeleted {
                branch, deleted_at, ..
            } => {
                write!(f, "branch {branch} deleted at {}", Ts(deleted_at))
            }
            DeleteReason::BranchMerged {
                branch,
                merge_request,
                at,
                ..
            } => {
                write!(
                    f,
                    "branch {branch} merged in !{merge_request} at {}",
                    Ts(at)
                )
            }
            DeleteReason::BranchMrClosed {
                branch,
                merge_request,
                at,
                ..
            } => {
                write!(
                    f,
                    "branch {branch}: merge request !{merge_request} closed at {}",
                    Ts(at)
                )
            }
            DeleteReason::BranchStale {
                branch,
                last_activity,
                ..
            } => {
                write!(
                    f,
                    "branch {branch} had no pipeline since {}",
                    Ts(last_activity)
                )
            }
            DeleteReason::ProdSuperseded {
                pipeline, position, ..
            } => {
                write!(
                    f,
                    "prod deploy of pipeline {pipeline} is #{position} newest"
                )
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
            DeleteReason::UntrackedExpired { max_age, .. } => {
                ("max age", duration::format(*max_age))
            }
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

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("kept: ")?;
        match self {
            KeepReason::RepositoryUnlisted { why } => {
                write!(f, "repository could not be listed ({why})")
            }
            KeepReason::KeepPattern { pattern } => write!(f, "matches keep pattern {pattern}"),
            KeepReason::InUseTag => f.write_str("in use by the cluster"),
            KeepReason::InUseDigest { digest } => {
                write!(f, "in use by the cluster (digest {digest})")
            }
            KeepReason::ProtectionUnavailable { why, otherwise } => {
                write!(
                    f,
                    "cluster protection unavailable ({why}); otherwise: {otherwise}"
                )
            }
            KeepReason::ProdCurrent => f.write_str("current prod tag"),
            KeepReason::ProdCurrentDigest { current } => {
                write!(f, "same image as current prod tag {current}")
            }
            KeepReason::TooYoung { min_age } => {
                write!(f, "younger than min age {}", duration::format(*min_age))
            }
            KeepReason::AgeUnknown => f.write_str("age unknown (no record and no creation time)"),
            KeepReason::ConflictingKinds { kinds } => {
                write!(f, "recorded as different kinds ({})", List(kinds))
            }
            KeepReason::PipelineUnknown { pipeline } => {
                write!(f, "pipeline {pipeline} not recorded (state unknown)")
            }
            KeepReason::PipelineUnfinished {
                pipeline,
                status: PipelineStatus::Running,
            } => {
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
            KeepReason::MergeRequestOpen {
                branch,
                merge_request,
                state,
            } => {
                write!(f, "merge request !{merge_request} from {branch} is {state}")
            }
            KeepReason::SlugShared { other, slug } => {
                write!(f, "another live branch {other} maps to slug {slug}")
            }
            KeepReason::PipelineAfterMergeRequest {
                branch,
                pipeline,
                merge_request,
            } => {
                write!(
                    f,
                    "pipeline {pipeline} ran on {branch} after !{merge_request} was done"
                )
            }
            KeepReason::BranchActive {
                branch,
                last_activity: Some(at),
                stale_after,
            } => {
                let after = duration::format(*stale_after);
                write!(
                    f,
                    "branch {branch} is live, last pipeline at {}, stale after {after}",
                    Ts(at)
                )
            }
            KeepReason::BranchActive {
                branch,
                last_activity: None,
                ..
            } => {
                write!(f, "branch {branch} is live, no pipeline time known")
            }
            KeepReason::BranchUnknown { branch } => {
                write!(f, "branch {branch} not recorded (state unknown)")
            }
            KeepReason::MergeRequestTimeUnknown { merge_request } => {
                write!(f, "merge request !{merge_request} is done but has no time")
            }
            KeepReason::NotABranch { git_tag } => {
                write!(f, "produced for git tag {git_tag}, not a branch")
            }
            KeepReason::ProdRecent { keep, .. } => write!(f, "one of the last {keep} prod deploys"),
            KeepReason::Untracked => f.write_str("not recorded by any webhook (untracked)"),
            KeepReason::UntrackedYoung { created, max_age } => {
                let max_age = duration::format(*max_age);
                write!(
                    f,
                    "untracked, created at {}, not older than {max_age}",
                    Ts(created)
                )
            }
        }
    }
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
