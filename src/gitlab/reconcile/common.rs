//! What the parts of reconciliation share: who found a change and when (`Stamp`), and why a
//! project's reconciliation failed (`ReconcileError`).

use chrono::{DateTime, Utc};

use crate::gitlab::error::GitLabError;
use crate::gitlab::finding::{Finding, Found, Reason, Source};
use crate::model::Change;

/// Why a project's reconciliation (or import) failed; its records were left as they were.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Api(#[from] GitLabError),
    /// The branch list contradicts itself or the records too much to be believed.
    #[error(
        "branch list not believed: {0} (GitLab has returned empty pages past page 1; if the \
         branches really went, lower gitlab.shrink_ratio for this project)"
    )]
    Implausible(String),
}

/// Who found something, and when (the time the API was read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub source: Source,
    pub at: DateTime<Utc>,
}

impl Stamp {
    pub(crate) fn found(self, change: Change, finding: Finding) -> Found {
        Found {
            change,
            reason: Reason {
                source: self.source,
                at: self.at,
                finding,
            },
        }
    }
}
