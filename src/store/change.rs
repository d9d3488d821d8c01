//! What one webhook delivery changes, as plain data. The webhook layer builds a `Batch`; the store
//! applies it in one transaction, or not at all.

use chrono::{DateTime, Utc};

use super::model::{ImageTagRecord, MergeRequestRecord, PipelineRecord, RefKind};

/// Everything one delivery records, applied atomically and at most once per `delivery_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Dedupe key (`Idempotency-Key`, else `X-Gitlab-Event-UUID` + body hash, else body hash).
    pub delivery_key: String,
    /// The event name, e.g. `pipeline`.
    pub event: String,
    pub received_at: DateTime<Utc>,
    pub project: ProjectUpsert,
    pub changes: Vec<Change>,
}

/// The project the delivery is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectUpsert {
    pub id: i64,
    pub path: String,
    pub default_branch: Option<String>,
}

/// One change to the recorded state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A branch or tag was pushed: created (`created`), moved, or re-created after deletion.
    RefPushed {
        kind: RefKind,
        name: String,
        sha: String,
        created: bool,
        protected: Option<bool>,
        at: DateTime<Utc>,
    },
    /// A branch or tag was deleted.
    RefDeleted {
        kind: RefKind,
        name: String,
        at: DateTime<Utc>,
    },
    /// Commits that arrived on a ref, oldest first.
    Commits {
        kind: RefKind,
        name: String,
        shas: Vec<String>,
        at: DateTime<Utc>,
    },
    /// A pipeline status. Records the ref if unknown (never revives a deleted one) and the commit.
    Pipeline(PipelineRecord),
    /// A merge request. `authoritative` (from a merge request hook) overwrites older state; a copy
    /// embedded in a pipeline hook only fills in a merge request not seen yet.
    MergeRequest {
        record: MergeRequestRecord,
        authoritative: bool,
    },
    /// An image tag a pipeline is expected to push.
    ImageTag(ImageTagRecord),
}
