//! What one delivery (or one reconciliation) changes, as plain data. The webhook layer, and later
//! the GitLab reconciler, build a `Batch`; the store applies it in one transaction, or not at all.

use chrono::{DateTime, Utc};

use super::records::{ImageTagRecord, MergeRequestRecord, PipelineRecord, RefKind};

/// Everything one delivery or reconciliation records, applied atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Where the changes come from; a webhook delivery is applied at most once per key.
    pub source: Source,
    pub received_at: DateTime<Utc>,
    pub project: ProjectUpsert,
    pub changes: Vec<Change>,
}

/// Where a batch of changes comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A GitLab webhook delivery.
    Webhook {
        /// Dedupe key (`Idempotency-Key`, else `X-Gitlab-Event-UUID` + body hash, else body hash).
        delivery_key: String,
        /// The event name, e.g. `pipeline`.
        event: String,
    },
    /// What reading the GitLab API found (never deduplicated: applying it twice changes nothing).
    Reconciliation,
}

impl Source {
    /// The dedupe key of a webhook delivery.
    pub fn delivery_key(&self) -> Option<&str> {
        match self {
            Source::Webhook { delivery_key, .. } => Some(delivery_key),
            Source::Reconciliation => None,
        }
    }

    /// `webhook` or `reconciliation`: who reported a change (recorded with ref deletions).
    pub fn reporter(&self) -> &'static str {
        match self {
            Source::Webhook { .. } => "webhook",
            Source::Reconciliation => "reconciliation",
        }
    }

    /// `pipeline`, `push`, … for webhooks; `reconciliation` otherwise.
    pub fn event(&self) -> &str {
        match self {
            Source::Webhook { event, .. } => event,
            Source::Reconciliation => "reconciliation",
        }
    }
}

/// The project the batch is about.
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
    /// A pipeline status. Records the ref if unknown (never revives a deleted one).
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
