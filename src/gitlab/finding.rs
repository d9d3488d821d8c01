//! What reconciliation and import found, as store changes with a reason each: the `Change` the
//! store applies (today's `store::change::Change`) and why, with its source and time, so a plan can
//! say `branch feature/a deleted (found by reconciliation at …)`. Plain data, no I/O.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::model::{Batch, Change, ProjectUpsert};
use crate::model::{MrState, PipelineStatus};

/// Where a change came from (a webhook delivery is the third source, outside this module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Reconciliation,
    Import,
}

impl Source {
    /// The name used in sentences and as the batch's event.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Reconciliation => "reconciliation",
            Source::Import => "import",
        }
    }
}

/// What the API showed that the records did not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum Finding {
    /// A branch recorded live is gone: missing from the list and `404 Branch Not Found`.
    BranchDeleted { branch: String },
    /// A branch the list shows that was recorded deleted (`revived`) or not at all.
    BranchLive { branch: String, revived: bool },
    /// A merge request newer than the record (or not recorded).
    MergeRequest { iid: i64, state: MrState },
    /// A pipeline status newer than the record (or not recorded).
    Pipeline { id: i64, status: PipelineStatus },
    /// An image tag a recorded-by-us pipeline is expected to push.
    ImageTag {
        repository: String,
        tag: String,
        pipeline: i64,
    },
}

/// Why a change is made: the finding, by which source, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub source: Source,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub finding: Finding,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::BranchDeleted { branch } => write!(f, "branch {branch} deleted"),
            Finding::BranchLive {
                branch,
                revived: true,
            } => write!(f, "branch {branch} is live again"),
            Finding::BranchLive { branch, .. } => write!(f, "branch {branch} exists"),
            Finding::MergeRequest { iid, state } => write!(f, "merge request !{iid} {state}"),
            Finding::Pipeline { id, status } => write!(f, "pipeline {id} {status}"),
            Finding::ImageTag {
                repository,
                tag,
                pipeline,
            } => write!(f, "pipeline {pipeline} pushes {repository}:{tag}"),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (found by {} at {})",
            self.finding,
            self.source.as_str(),
            self.at.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }
}

/// One change to apply, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub change: Change,
    pub reason: Reason,
}

/// A batch for `Deliveries::apply`: the changes in order, `None` when there are none. Its source
/// is a reconciliation (import included): not deduplicated, since applying the same findings twice
/// changes nothing, and it does not move the project's time of last webhook delivery.
pub fn batch(project: ProjectUpsert, at: DateTime<Utc>, found: &[Found]) -> Option<Batch> {
    if found.is_empty() {
        return None;
    }
    Some(Batch {
        source: crate::model::Source::Reconciliation,
        received_at: at,
        project,
        changes: found.iter().map(|f| f.change.clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RefKind;

    #[test]
    fn reasons_read_as_sentences() {
        let at = "2026-11-21T10:00:00Z".parse().unwrap();
        let reason = Reason {
            source: Source::Reconciliation,
            at,
            finding: Finding::BranchDeleted {
                branch: "feature/a".into(),
            },
        };
        assert_eq!(
            reason.to_string(),
            "branch feature/a deleted (found by reconciliation at 2026-11-21T10:00:00Z)"
        );
        let json = serde_json::to_value(&reason).unwrap();
        assert_eq!(json["code"], "branch-deleted");
        assert_eq!(json["source"], "reconciliation");
    }

    #[test]
    fn batches_are_keyed_by_content() {
        let at: DateTime<Utc> = "2026-11-21T10:00:00Z".parse().unwrap();
        let project = ProjectUpsert {
            id: 42,
            path: "group/app".into(),
            default_branch: Some("main".into()),
        };
        assert!(batch(project.clone(), at, &[]).is_none());
        let found = |name: &str| Found {
            change: Change::RefDeleted {
                kind: RefKind::Branch,
                name: name.into(),
                at,
            },
            reason: Reason {
                source: Source::Import,
                at,
                finding: Finding::BranchDeleted {
                    branch: name.into(),
                },
            },
        };
        let a = batch(project, at, &[found("a")]).unwrap();
        assert_eq!(a.source, crate::model::Source::Reconciliation);
        assert_eq!(a.changes.len(), 1);
    }
}
