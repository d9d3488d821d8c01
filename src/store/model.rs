//! Records as the store keeps them: what GitLab told us about refs, pipelines, merge requests and
//! the image tags each pipeline was expected to push. Plain data, no I/O; the policy reads these.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Declares a string-backed enum with a stable lowercase wire/database form.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRecord {
    pub id: i64,
    /// `path_with_namespace` as GitLab sent it (may contain uppercase).
    pub path: String,
    pub default_branch: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_event_at: DateTime<Utc>,
}

/// A branch or tag of a project, live or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// When a pipeline last ran on this ref (pipeline `created_at`, else when we heard of it).
    pub last_pipeline_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A commit seen on a ref, in the order it was pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefCommitRecord {
    pub project_id: i64,
    pub ref_kind: RefKind,
    pub ref_name: String,
    pub sha: String,
    /// Increases with every commit recorded for the ref: the order of pushes.
    pub seq: i64,
    pub seen_at: DateTime<Utc>,
}

/// A pipeline and its latest status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineRecord {
    pub project_id: i64,
    pub id: i64,
    pub iid: Option<i64>,
    /// Branch or tag name (for merge request pipelines, the source branch).
    pub ref_name: String,
    pub tag: bool,
    pub sha: String,
    pub source: Option<String>,
    pub status: PipelineStatus,
    pub merge_request_iid: Option<i64>,
    pub created_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When the latest status arrived.
    pub updated_at: DateTime<Utc>,
}

/// One status a pipeline went through, with when GitLab reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineTransition {
    pub project_id: i64,
    pub pipeline_id: i64,
    pub status: PipelineStatus,
    pub at: DateTime<Utc>,
}

/// A merge request and its latest known state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageTagRecord {
    pub project_id: i64,
    /// Repository path inside the registry, e.g. `group/app-ci` (no host).
    pub repository: String,
    pub tag: String,
    pub kind: TagKind,
    /// Name of the image rule that produced it.
    pub rule: String,
    pub ref_kind: RefKind,
    pub ref_name: String,
    pub sha: String,
    pub pipeline_id: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Unknown until the registry is read.
    pub digest: Option<String>,
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
