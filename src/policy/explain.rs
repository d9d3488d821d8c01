//! Human sentences for reasons (`Display`): "branch feature/x merged in !42 at …, grace 24h
//! passed", "kept: in use by Deployment shop/web (container web)". Formatting only; no decisions,
//! no I/O.

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use super::duration;
use super::reason::{DeleteReason, KeepReason};
use crate::model::PipelineStatus;

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
            DeleteReason::BranchDeleted { .. }
            | DeleteReason::BranchMerged { .. }
            | DeleteReason::BranchMrClosed { .. }
            | DeleteReason::BranchStale { .. } => self.branch_event(f),
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

    /// The event of the branch rules.
    fn branch_event(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeleteReason::BranchDeleted {
                branch,
                deleted_at,
                by_reconciliation: true,
                ..
            } => write!(
                f,
                "branch {branch} deleted (found by reconciliation at {})",
                Ts(deleted_at)
            ),
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
            other => other.event(f),
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
        use KeepReason as K;
        f.write_str("kept: ")?;
        match self {
            K::RepositoryUnlisted { why } => write!(f, "repository could not be listed ({why})"),
            K::KeepPattern { pattern } => write!(f, "matches keep pattern {pattern}"),
            K::InUseTag { users } => users.fmt(f),
            K::InUseDigest { digest, users } => write!(f, "{users} (digest {digest})"),
            K::ProtectionUnavailable { why, otherwise } => {
                write!(
                    f,
                    "cluster protection unavailable ({why}); otherwise: {otherwise}"
                )
            }
            K::ProdCurrent => f.write_str("current prod tag"),
            K::ProdCurrentDigest { current } => {
                write!(f, "same image as current prod tag {current}")
            }
            K::TooYoung { min_age } => write!(f, "younger than min age {}", Period(min_age)),
            K::AgeUnknown => f.write_str("age unknown (no record and no creation time)"),
            K::ConflictingKinds { kinds } => {
                write!(f, "recorded as different kinds ({})", List(kinds))
            }
            K::PipelineUnknown { .. }
            | K::PipelineUnfinished { .. }
            | K::GraceNotPassed { .. }
            | K::DefaultBranch { .. }
            | K::MergeRequestOpen { .. }
            | K::SlugShared { .. }
            | K::PipelineAfterMergeRequest { .. }
            | K::BranchActive { .. }
            | K::BranchUnknown { .. }
            | K::MergeRequestTimeUnknown { .. }
            | K::NotABranch { .. } => self.fmt_recorded_state(f),
            K::ProdRecent { keep, .. } => write!(f, "one of the last {keep} prod deploys"),
            K::Untracked => f.write_str("not recorded by any webhook (untracked)"),
            K::UntrackedYoung { created, max_age } => {
                write!(
                    f,
                    "untracked, created at {}, not older than {}",
                    Ts(created),
                    Period(max_age)
                )
            }
        }
    }
}

impl KeepReason {
    /// The reasons that come from recorded pipelines, branches and merge requests.
    fn fmt_recorded_state(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use KeepReason as K;
        match self {
            K::PipelineUnknown { pipeline } => {
                write!(f, "pipeline {pipeline} not recorded (state unknown)")
            }
            K::PipelineUnfinished { pipeline, status } => unfinished(f, *pipeline, *status),
            K::GraceNotPassed { pending } => grace_not_passed(f, pending),
            K::DefaultBranch { branch } => write!(f, "{branch} is the default branch"),
            K::MergeRequestOpen {
                branch,
                merge_request: mr,
                state,
            } => {
                write!(f, "merge request !{mr} from {branch} is {state}")
            }
            K::SlugShared { other, slug } => {
                write!(f, "another live branch {other} maps to slug {slug}")
            }
            K::PipelineAfterMergeRequest {
                branch,
                pipeline,
                merge_request: mr,
            } => {
                write!(
                    f,
                    "pipeline {pipeline} ran on {branch} after !{mr} was done"
                )
            }
            K::BranchActive {
                branch,
                last_activity,
                stale_after,
            } => branch_active(f, branch, last_activity.as_ref(), stale_after),
            K::BranchUnknown { branch } => {
                write!(f, "branch {branch} not recorded (state unknown)")
            }
            K::MergeRequestTimeUnknown { merge_request: mr } => {
                write!(f, "merge request !{mr} is done but has no time")
            }
            K::NotABranch { git_tag } => write!(f, "produced for git tag {git_tag}, not a branch"),
            // Display sends only the variants above here; anything else is shown as data.
            other => write!(f, "{other:?}"),
        }
    }
}

fn unfinished(f: &mut fmt::Formatter<'_>, pipeline: i64, status: PipelineStatus) -> fmt::Result {
    match status {
        PipelineStatus::Running => write!(f, "pipeline {pipeline} still running"),
        _ => write!(f, "pipeline {pipeline} not finished ({status})"),
    }
}

fn grace_not_passed(f: &mut fmt::Formatter<'_>, pending: &DeleteReason) -> fmt::Result {
    pending.event(f)?;
    let (name, value) = pending.period();
    write!(f, ", {name} {value} not yet passed")
}

fn branch_active(
    f: &mut fmt::Formatter<'_>,
    branch: &str,
    last_activity: Option<&DateTime<Utc>>,
    stale_after: &TimeDelta,
) -> fmt::Result {
    match last_activity {
        Some(at) => write!(
            f,
            "branch {branch} is live, last pipeline at {}, stale after {}",
            Ts(at),
            Period(stale_after)
        ),
        None => write!(f, "branch {branch} is live, no pipeline time known"),
    }
}

/// A duration as the configuration writes it (`24h`, `30d`).
struct Period<'a>(&'a TimeDelta);

impl fmt::Display for Period<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&duration::format(*self.0))
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
