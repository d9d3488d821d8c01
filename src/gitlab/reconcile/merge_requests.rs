//! Merge requests: an API merge request newer than its record (or not recorded) becomes an
//! authoritative merge request change, as a merge request hook would. Merge requests from forks
//! are ignored, as webhooks ignore them. Pure.

use std::collections::{BTreeMap, HashMap};

use super::common::{ReconcileError, Stamp};
use crate::gitlab::api::MergeRequest;
use crate::gitlab::error::GitLabError;
use crate::gitlab::finding::{Finding, Found};
use crate::model::Change;
use crate::model::{MergeRequestRecord, MrState};

/// The record an API merge request stands for; an unknown `state` does not parse.
fn record_of(project_id: i64, mr: &MergeRequest) -> Result<MergeRequestRecord, ReconcileError> {
    let state: MrState = mr.state.parse().map_err(|e| {
        ReconcileError::Api(GitLabError::Parse {
            path: format!("merge request !{}", mr.iid),
            detail: format!("{e}"),
        })
    })?;
    Ok(MergeRequestRecord {
        project_id,
        iid: mr.iid,
        id: Some(mr.id),
        source_branch: mr.source_branch.clone(),
        target_branch: mr.target_branch.clone(),
        state,
        merged_at: mr.merged_at.filter(|_| state == MrState::Merged),
        closed_at: mr.closed_at.filter(|_| state == MrState::Closed),
        updated_at: Some(mr.updated_at),
    })
}

/// Whether `new` says something `old` does not, and is newer.
fn supersedes(new: &MergeRequestRecord, old: &MergeRequestRecord) -> bool {
    let newer = match (new.updated_at, old.updated_at) {
        (Some(n), Some(o)) => n > o,
        (_, None) => true,
        (None, Some(_)) => false,
    };
    let differs = (
        new.state,
        &new.source_branch,
        &new.target_branch,
        new.merged_at.is_some(),
        new.closed_at.is_some(),
    ) != (
        old.state,
        &old.source_branch,
        &old.target_branch,
        old.merged_at.is_some(),
        old.closed_at.is_some(),
    );
    newer && differs
}

/// Changes for the merge requests the API shows (the newest copy of each iid counts).
pub(crate) fn merge_request_findings(
    project_id: i64,
    recorded: &[MergeRequestRecord],
    listed: &[MergeRequest],
    stamp: Stamp,
) -> Result<Vec<Found>, ReconcileError> {
    let by_iid: HashMap<i64, &MergeRequestRecord> = recorded.iter().map(|m| (m.iid, m)).collect();
    let mut newest: BTreeMap<i64, &MergeRequest> = BTreeMap::new();
    for mr in listed.iter().filter(|m| m.source_project_id == project_id) {
        let slot = newest.entry(mr.iid).or_insert(mr);
        if mr.updated_at > slot.updated_at {
            *slot = mr;
        }
    }
    let mut found = Vec::new();
    for mr in newest.values() {
        let record = record_of(project_id, mr)?;
        if by_iid
            .get(&mr.iid)
            .is_some_and(|old| !supersedes(&record, old))
        {
            continue;
        }
        let finding = Finding::MergeRequest {
            iid: record.iid,
            state: record.state,
        };
        let change = Change::MergeRequest {
            record,
            authoritative: true,
        };
        found.push(stamp.found(change, finding));
    }
    Ok(found)
}

/// Recorded merge requests still opened or locked that the listing did not show: rechecked by iid,
/// so a lost merge or close is found even after the watermark passed it.
pub fn open_merge_requests_to_recheck(
    recorded: &[MergeRequestRecord],
    listed: &[MergeRequest],
) -> Vec<i64> {
    let seen: std::collections::HashSet<i64> = listed.iter().map(|m| m.iid).collect();
    let mut iids: Vec<i64> = recorded
        .iter()
        .filter(|m| matches!(m.state, MrState::Opened | MrState::Locked))
        .map(|m| m.iid)
        .filter(|iid| !seen.contains(iid))
        .collect();
    iids.sort_unstable();
    iids.dedup();
    iids
}
