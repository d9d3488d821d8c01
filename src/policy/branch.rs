//! The `ci-branch` rule: a branch's cache tag goes once the branch is deleted, its merge requests
//! are done, or it went stale — never for the default branch, an open merge request, or while
//! another live ref maps to the same slug. Pure; reads only the prebuilt index.

use chrono::{DateTime, Utc};

use super::index::Index;
use super::reason::{DeleteReason, KeepReason};
use super::settings::RetentionSettings;
use super::verdict::{after_grace, Verdict};
use crate::model::{ImageTagRecord, MergeRequestRecord, MrState, RefKind, RefRecord, RefState};

/// Judges a `ci-branch` tag: deletable only if it is deletable for every branch that pushed it.
pub(super) fn judge(
    records: &[&ImageTagRecord],
    s: &RetentionSettings,
    index: &Index,
    now: DateTime<Utc>,
) -> Verdict {
    let git_tag = records
        .iter()
        .filter(|r| r.ref_kind == RefKind::Tag)
        .map(|r| &r.ref_name)
        .min();
    if let Some(git_tag) = git_tag {
        return Err(KeepReason::NotABranch {
            git_tag: git_tag.to_string(),
        });
    }
    let mut names: Vec<&str> = records.iter().map(|r| r.ref_name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut first = None;
    for name in names {
        let delete = judge_branch(name, s, index, now)?;
        first.get_or_insert(delete);
    }
    Ok(first.expect("a tracked tag has at least one record"))
}

fn judge_branch(name: &str, s: &RetentionSettings, index: &Index, now: DateTime<Utc>) -> Verdict {
    if index.default_branch == Some(name) {
        return Err(KeepReason::DefaultBranch {
            branch: name.to_owned(),
        });
    }
    let branch = *index
        .branches
        .get(name)
        .ok_or_else(|| KeepReason::BranchUnknown {
            branch: name.to_owned(),
        })?;
    let merge_requests = index
        .merge_requests
        .get(name)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if let Some(open) = merge_requests
        .iter()
        .filter(|mr| matches!(mr.state, MrState::Opened | MrState::Locked))
        .min_by_key(|mr| mr.iid)
    {
        return Err(KeepReason::MergeRequestOpen {
            branch: name.to_owned(),
            merge_request: open.iid,
            state: open.state,
        });
    }
    shared_slug(branch, index)?;
    let outcomes = [
        deleted(branch, s, now),
        merge_requests_done(name, merge_requests, s, index, now),
        stale(branch, s, index, now),
    ];
    let mut first_keep = None;
    for outcome in outcomes.into_iter().flatten() {
        match outcome {
            Ok(delete) => return Ok(delete),
            Err(keep) => {
                first_keep.get_or_insert(keep);
            }
        }
    }
    Err(first_keep.unwrap_or(KeepReason::BranchActive {
        branch: name.to_owned(),
        last_activity: None,
        stale_after: s.stale_branch_after,
    }))
}

/// Keeps the tag while any other live ref (branch or git tag) has the branch's slug.
fn shared_slug(branch: &RefRecord, index: &Index) -> Result<(), KeepReason> {
    let others = index
        .live_slugs
        .get(branch.slug.as_str())
        .map(Vec::as_slice)
        .unwrap_or_default();
    match others
        .iter()
        .find(|other| other.kind != RefKind::Branch || other.name != branch.name)
    {
        Some(other) => Err(KeepReason::SlugShared {
            other: other.name.clone(),
            slug: branch.slug.clone(),
        }),
        None => Ok(()),
    }
}

/// Deleted branch: deletable `branch_grace` after `deleted_at`. Not applicable while live or
/// when the deletion time is unknown.
fn deleted(branch: &RefRecord, s: &RetentionSettings, now: DateTime<Utc>) -> Option<Verdict> {
    if branch.state != RefState::Deleted {
        return None;
    }
    let deleted_at = branch.deleted_at?;
    let reason = DeleteReason::BranchDeleted {
        branch: branch.name.clone(),
        deleted_at,
        by_reconciliation: branch.deleted_by.as_deref() == Some("reconciliation"),
        grace: s.branch_grace,
    };
    Some(after_grace(reason, deleted_at, s.branch_grace, now))
}

/// All merge requests from the branch done (none open: checked before): deletable
/// `branch_grace` after the newest merge/close, unless a pipeline ran on the branch since.
fn merge_requests_done(
    name: &str,
    merge_requests: &[&MergeRequestRecord],
    s: &RetentionSettings,
    index: &Index,
    now: DateTime<Utc>,
) -> Option<Verdict> {
    let mut newest: Option<(DateTime<Utc>, &MergeRequestRecord)> = None;
    for &mr in merge_requests {
        let done_at = match mr.state {
            MrState::Merged => mr.merged_at,
            _ => mr.closed_at,
        };
        let Some(at) = done_at.or(mr.updated_at) else {
            return Some(Err(KeepReason::MergeRequestTimeUnknown {
                merge_request: mr.iid,
            }));
        };
        if newest.is_none_or(|(seen, seen_mr)| (at, mr.iid) > (seen, seen_mr.iid)) {
            newest = Some((at, mr));
        }
    }
    let (at, mr) = newest?;
    if let Some(last) = index
        .last_branch_pipeline
        .get(name)
        .filter(|last| last.at > at)
    {
        let keep = KeepReason::PipelineAfterMergeRequest {
            branch: name.to_owned(),
            pipeline: last.id,
            merge_request: mr.iid,
        };
        return Some(Err(keep));
    }
    let (branch, merge_request, grace) = (name.to_owned(), mr.iid, s.branch_grace);
    let reason = match mr.state {
        MrState::Merged => DeleteReason::BranchMerged {
            branch,
            merge_request,
            at,
            grace,
        },
        _ => DeleteReason::BranchMrClosed {
            branch,
            merge_request,
            at,
            grace,
        },
    };
    Some(after_grace(reason, at, grace, now))
}

/// No pipeline (nor branch creation) for `stale_branch_after`: deletable.
fn stale(
    branch: &RefRecord,
    s: &RetentionSettings,
    index: &Index,
    now: DateTime<Utc>,
) -> Option<Verdict> {
    let last_pipeline = index
        .last_branch_pipeline
        .get(branch.name.as_str())
        .map(|last| last.at);
    let last_activity = [branch.last_pipeline_at, last_pipeline, branch.created_at]
        .into_iter()
        .flatten()
        .max()?;
    if now - last_activity >= s.stale_branch_after {
        let reason = DeleteReason::BranchStale {
            branch: branch.name.clone(),
            last_activity,
            after: s.stale_branch_after,
        };
        Some(Ok(reason))
    } else {
        let branch = branch.name.clone();
        Some(Err(KeepReason::BranchActive {
            branch,
            last_activity: Some(last_activity),
            stale_after: s.stale_branch_after,
        }))
    }
}
