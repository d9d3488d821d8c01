//! Records as the store keeps them: what GitLab told us about refs, pipelines, merge requests and
//! the image tags each pipeline was expected to push. Plain data, no I/O; the policy reads these.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{HexId, Name};

/// Declares a string-backed enum with a stable lowercase wire/database form.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
        #[sqlx(type_name = "text")]
        pub enum $name {
            $(#[serde(rename = $text)] #[sqlx(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The form stored in the database and shown in the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownValue { kind: stringify!($name), value: other.to_owned() }),
                }
            }
        }
    };
}

/// A string that is not one of an enum's known values.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown {kind} value {value:?}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

string_enum!(
    /// A git ref is a branch or a tag.
    RefKind { Branch => "branch", Tag => "tag" }
);

string_enum!(
    /// Whether a ref still exists in the GitLab project.
    RefState { Live => "live", Deleted => "deleted" }
);

string_enum!(
    /// What an image rule produces; decides which retention rule applies to the tag.
    TagKind {
        CiCommit => "ci-commit",
        CiBranch => "ci-branch",
        ProdCommit => "prod-commit",
        ProdCurrent => "prod-current",
    }
);

string_enum!(
    /// Merge request state as GitLab reports it.
    MrState { Opened => "opened", Closed => "closed", Merged => "merged", Locked => "locked" }
);

string_enum!(
    /// Pipeline status as GitLab reports it (`object_attributes.status`).
    PipelineStatus {
        Created => "created",
        WaitingForResource => "waiting_for_resource",
        Preparing => "preparing",
        WaitingForCallback => "waiting_for_callback",
        Pending => "pending",
        Running => "running",
        Success => "success",
        Failed => "failed",
        Canceling => "canceling",
        Canceled => "canceled",
        Skipped => "skipped",
        Manual => "manual",
        Scheduled => "scheduled",
    }
);

impl PipelineStatus {
    /// A finished pipeline pushes nothing more: success, failed, canceled or skipped.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            PipelineStatus::Success
                | PipelineStatus::Failed
                | PipelineStatus::Canceled
                | PipelineStatus::Skipped
        )
    }
}

/// A GitLab project we have heard from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ProjectRecord {
    pub id: i64,
    /// `path_with_namespace` as GitLab sent it (may contain uppercase).
    pub path: String,
    pub default_branch: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_event_at: DateTime<Utc>,
}

/// A branch or tag of a project, live or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct RefRecord {
    pub project_id: i64,
    pub kind: RefKind,
    pub name: String,
    /// `CI_COMMIT_REF_SLUG` of the name.
    pub slug: String,
    pub state: RefState,
    pub protected: bool,
    /// The commit the ref pointed at last (None once deleted and never seen before).
    pub last_sha: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Who reported the deletion: `webhook` or `reconciliation` (none while live).
    #[serde(default)]
    pub deleted_by: Option<String>,
    /// When a pipeline last ran on this ref (pipeline `created_at`, else when we heard of it).
    pub last_pipeline_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A pipeline and its latest status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct PipelineRecord {
    pub project_id: i64,
    pub id: i64,
    pub iid: Option<i64>,
    /// Branch or tag name (for merge request pipelines, the source branch).
    pub ref_name: Name,
    pub tag: bool,
    pub sha: HexId,
    pub source: Option<Name>,
    pub status: PipelineStatus,
    pub merge_request_iid: Option<i64>,
    pub created_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When the latest status arrived.
    pub updated_at: DateTime<Utc>,
}

/// A merge request and its latest known state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct MergeRequestRecord {
    pub project_id: i64,
    pub iid: i64,
    pub id: Option<i64>,
    pub source_branch: String,
    pub target_branch: String,
    pub state: MrState,
    pub merged_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// `updated_at` of the newest event applied; older events do not overwrite newer state.
    pub updated_at: Option<DateTime<Utc>>,
}

/// An image tag a pipeline was expected to push, by one image rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ImageTagRecord {
    pub project_id: i64,
    /// Repository path inside the registry, e.g. `group/app-ci` (no host).
    pub repository: Name,
    pub tag: String,
    pub kind: TagKind,
    /// Name of the image rule that produced it.
    pub rule: Name,
    pub ref_kind: RefKind,
    pub ref_name: Name,
    pub sha: HexId,
    pub pipeline_id: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Unknown until the registry is read.
    pub digest: Option<HexId>,
}

/// Everything recorded for one project: the input the retention policy plans from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectState {
    pub project: Option<ProjectRecord>,
    pub refs: Vec<RefRecord>,
    pub pipelines: Vec<PipelineRecord>,
    pub merge_requests: Vec<MergeRequestRecord>,
    pub image_tags: Vec<ImageTagRecord>,
}

string_enum!(
    /// How a garbage-collection run ended (or that it is still going).
    RunStatus {
        Running => "running",
        Finished => "finished",
        Failed => "failed",
        Refused => "refused",
        Interrupted => "interrupted",
    }
);

string_enum!(
    /// The registry operation a journal entry stands for.
    JournalAction { Untag => "untag", DeleteImage => "delete-image" }
);

string_enum!(
    /// Where a journal entry is. `Planned` and `Repointed` are open: a crash leaves them for the
    /// next run to finish.
    JournalState {
        Planned => "planned",
        Repointed => "repointed",
        Done => "done",
        Skipped => "skipped",
        Failed => "failed",
        DryRun => "dry-run",
    }
);

impl JournalState {
    /// Still needs work after a crash.
    pub fn is_open(self) -> bool {
        matches!(self, JournalState::Planned | JournalState::Repointed)
    }
}

/// One garbage-collection run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: i64,
    /// `schedule`, `api` or `cli`.
    pub trigger: String,
    pub dry_run: bool,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Counts per reason and outcome, bytes, duration, errors (JSON).
    pub summary: serde_json::Value,
    pub error: Option<String>,
}

/// One tag's registry action, recorded before it is taken and updated after every step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct JournalEntry {
    /// Assigned by the store; 0 before insertion.
    pub id: i64,
    pub run_id: i64,
    pub project_id: i64,
    pub repository: String,
    pub tag: String,
    pub action: JournalAction,
    /// Machine code of the reason the plan gave (`ci-commit-finished`, …).
    pub reason_code: String,
    /// The reason in words.
    pub reason: String,
    /// The digest the plan saw; every destructive step re-checks it.
    pub planned_digest: String,
    pub dummy_digest: Option<String>,
    pub observed_digest: Option<String>,
    pub state: JournalState,
    pub detail: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A project's reconciliation with the GitLab API: where its lists continue and how the last
/// attempt went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ReconcileState {
    pub project_id: i64,
    /// `updated_at` of the newest merge request read.
    pub mr_watermark: Option<DateTime<Utc>>,
    /// `updated_at` of the newest pipeline read.
    pub pipeline_watermark: Option<DateTime<Utc>>,
    /// `created_at` of the newest project event read for bulk-push detection.
    pub events_watermark: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed (`None` after a success).
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_their_text() {
        for kind in TagKind::ALL {
            assert_eq!(kind.as_str().parse::<TagKind>().unwrap(), *kind);
        }
        for status in PipelineStatus::ALL {
            assert_eq!(status.as_str().parse::<PipelineStatus>().unwrap(), *status);
        }
        assert!("bogus".parse::<MrState>().is_err());
    }

    #[test]
    fn finished_statuses() {
        let finished: Vec<_> = PipelineStatus::ALL
            .iter()
            .filter(|s| s.is_finished())
            .collect();
        assert_eq!(
            finished,
            [
                &PipelineStatus::Success,
                &PipelineStatus::Failed,
                &PipelineStatus::Canceled,
                &PipelineStatus::Skipped
            ]
        );
    }
}
