//! Reconciliation as a pure function: what the store recorded for a project plus what the GitLab
//! API showed → the changes that make the records accurate, each with its reason, and the next
//! watermark. It only corrects records; it deletes nothing by itself, and an answer it does not
//! believe fails the whole project (records untouched). The API calls are `gitlab::fetch`'s job.

mod branches;
mod common;
mod merge_requests;
mod pipelines;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

pub(crate) use branches::{branch_findings, known_branches, missing_from, Known};
pub use branches::{branches_to_confirm, BranchList, Confirmation, ShrinkLimits};
pub use common::{ReconcileError, Stamp};
pub(crate) use merge_requests::merge_request_findings;
pub use merge_requests::open_merge_requests_to_recheck;
pub(crate) use pipelines::pipeline_findings;
pub use pipelines::{
    merge_request_iid, pipelines_to_fetch, unknown_merge_requests, Images, PipelineContext,
};

use super::api::{MergeRequest, PipelineDetail};
use super::finding::Found;
use crate::model::Change;
use crate::model::{
    ImageTagRecord, MergeRequestRecord, PipelineRecord, ProjectRecord, ProjectState, RefRecord,
};

/// What the store holds for one project (today's records), borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    pub project_id: i64,
    pub project: Option<&'a ProjectRecord>,
    pub refs: &'a [RefRecord],
    pub merge_requests: &'a [MergeRequestRecord],
    pub pipelines: &'a [PipelineRecord],
    pub image_tags: &'a [ImageTagRecord],
}

impl<'a> Recorded<'a> {
    /// A view of `Store::project_state`.
    pub fn of(project_id: i64, state: &'a ProjectState) -> Recorded<'a> {
        Recorded {
            project_id,
            project: state.project.as_ref(),
            refs: &state.refs,
            merge_requests: &state.merge_requests,
            pipelines: &state.pipelines,
            image_tags: &state.image_tags,
        }
    }

    /// Source branch of every recorded merge request.
    pub fn merge_request_branches(&self) -> HashMap<i64, String> {
        self.merge_requests
            .iter()
            .map(|m| (m.iid, m.source_branch.clone()))
            .collect()
    }
}

/// Where the merge request and pipeline lists continue next time (`updated_at` of the newest item
/// read). Persisted per project (`reconcile_state`); `None` before the first run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub merge_requests: Option<DateTime<Utc>>,
    pub pipelines: Option<DateTime<Utc>>,
}

/// Where a list starts: `overlap` before the watermark, else `first_window` before the project was
/// first heard of (or before `now`).
pub fn list_from(
    mark: Option<DateTime<Utc>>,
    first_seen: Option<DateTime<Utc>>,
    overlap: TimeDelta,
    first_window: TimeDelta,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    match mark {
        Some(mark) => mark - overlap,
        None => first_seen.unwrap_or(now).min(now) - first_window,
    }
}

/// The watermark after reading `items` (id, `updated_at`) of a list sorted by `updated_at`: the
/// newest seen, never moving back. If an id shows up twice the list moved under the reader (an
/// item updated mid-read shifts the pages, so another may have been skipped): keep the old mark.
pub fn advance(
    old: Option<DateTime<Utc>>,
    items: impl IntoIterator<Item = (i64, DateTime<Utc>)>,
) -> Option<DateTime<Utc>> {
    let mut seen = std::collections::HashSet::new();
    let mut newest = old;
    for (id, updated_at) in items {
        if !seen.insert(id) {
            return old;
        }
        newest = newest.max(Some(updated_at));
    }
    newest
}

/// What the API showed for one project, read at `stamp.at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub branches: BranchList,
    /// The answer of the single-branch endpoint for each branch `branches_to_confirm` named.
    pub confirmations: BTreeMap<String, Confirmation>,
    /// The merge request listing plus the rechecked open ones.
    pub merge_requests: Vec<MergeRequest>,
    /// The pipelines `pipelines_to_fetch` named, read in full.
    pub pipelines: Vec<PipelineDetail>,
    /// The watermark after these listings (see [`advance`]).
    pub watermark: Watermark,
}

/// The outcome for one project: changes to apply in order, the new watermark, and notes on what
/// was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    pub project_id: i64,
    pub at: DateTime<Utc>,
    pub found: Vec<Found>,
    pub watermark: Watermark,
    pub notes: Vec<String>,
}

/// Reconciles one project. `images`: expand the image rules for pipelines not seen by webhook.
pub fn reconcile(
    recorded: &Recorded<'_>,
    observed: &Observed,
    images: Option<Images<'_>>,
    limits: ShrinkLimits,
    stamp: Stamp,
) -> Result<Reconciliation, ReconcileError> {
    let to_confirm = branches_to_confirm(recorded.refs, &observed.branches, limits)?;
    let mut notes = confirmation_notes(&to_confirm, &observed.confirmations);
    let merge_requests = merge_request_findings(
        recorded.project_id,
        recorded.merge_requests,
        &observed.merge_requests,
        stamp,
    )?;
    let mut branches = recorded.merge_request_branches();
    for mr in &observed.merge_requests {
        branches.insert(mr.iid, mr.source_branch.clone());
    }
    let ctx = PipelineContext {
        project_id: recorded.project_id,
        recorded: recorded.pipelines,
        recorded_tags: recorded.image_tags,
        merge_request_branches: &branches,
        images,
    };
    let (pipelines, pipeline_notes) = pipeline_findings(&ctx, &observed.pipelines, stamp);
    notes.extend(pipeline_notes);
    let confirmed: BTreeMap<String, Confirmation> = observed
        .confirmations
        .iter()
        .filter(|(name, _)| to_confirm.contains(name))
        .map(|(n, c)| (n.clone(), c.clone()))
        .collect();
    let refs = branch_findings(
        &known_branches(recorded.refs),
        &observed.branches,
        &confirmed,
        stamp,
    );
    Ok(Reconciliation {
        project_id: recorded.project_id,
        at: stamp.at,
        found: in_order(merge_requests, refs, pipelines),
        watermark: observed.watermark,
        notes,
    })
}

/// Branches the list lacked that the single-branch endpoint did not confirm gone.
fn confirmation_notes(
    to_confirm: &[String],
    confirmations: &BTreeMap<String, Confirmation>,
) -> Vec<String> {
    to_confirm
        .iter()
        .filter_map(|name| match confirmations.get(name) {
            None => Some(format!(
                "branch {name} missing from the list was not confirmed"
            )),
            Some(Confirmation::Exists(_)) => {
                Some(format!("branch {name} missing from the list exists (200)"))
            }
            Some(Confirmation::Gone) => None,
        })
        .collect()
}

/// The order changes are applied in: merge requests, branches live, pipelines (a pipeline never
/// revives a ref, and records an unknown one live), branch deletions last.
pub(crate) fn in_order(
    merge_requests: Vec<Found>,
    refs: Vec<Found>,
    pipelines: Vec<Found>,
) -> Vec<Found> {
    let (deleted, live): (Vec<Found>, Vec<Found>) = refs
        .into_iter()
        .partition(|f| matches!(f.change, Change::RefDeleted { .. }));
    let mut found = merge_requests;
    found.extend(live);
    found.extend(pipelines);
    found.extend(deleted);
    found
}
