//! Import (`registry-gc import --project P [--since 90d]`) as a pure function: the pipelines of a
//! window (with their merge requests and the branch list) → the changes their pipeline hooks would
//! have recorded, expected image tags included, plus branch deletions confirmed one by one. Only
//! what is not recorded yet is produced, so importing twice changes nothing. No I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::api::{MergeRequest, PipelineDetail, Project};
use super::finding::Found;
use super::reconcile::{
    branch_findings, in_order, known_branches, merge_request_findings, merge_request_iid,
    missing_from, pipeline_findings, BranchList, Confirmation, Images, Known, PipelineContext,
    ReconcileError, Recorded, ShrinkLimits, Stamp,
};
use crate::model::{Change, ProjectUpsert};
use crate::model::{ImageTagRecord, RefState};

/// What the API showed for the project's window.
#[derive(Debug, Clone, Copy)]
pub struct ImportInput<'a> {
    pub recorded: Recorded<'a>,
    pub project: &'a Project,
    pub images: Images<'a>,
    pub branches: &'a BranchList,
    /// Merge requests of the window and those the pipelines name.
    pub merge_requests: &'a [MergeRequest],
    /// The window's pipelines not recorded as they are, read in full.
    pub pipelines: &'a [PipelineDetail],
}

/// The changes to record for the project, in order, and what was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub project: ProjectUpsert,
    pub found: Vec<Found>,
    pub notes: Vec<String>,
}

fn merge_request_branches(input: &ImportInput<'_>) -> HashMap<i64, String> {
    let mut branches = input.recorded.merge_request_branches();
    for mr in input.merge_requests {
        branches.insert(mr.iid, mr.source_branch.clone());
    }
    branches
}

/// Branches the imported pipelines ran on that the records do not know.
fn pipeline_branches<'a>(
    input: &'a ImportInput<'a>,
    mrs: &'a HashMap<i64, String>,
) -> BTreeSet<&'a str> {
    let recorded: HashSet<&str> = known_branches(input.recorded.refs)
        .iter()
        .map(|k| k.name)
        .collect();
    input
        .pipelines
        .iter()
        .filter(|d| !d.tag)
        .filter_map(|d| match merge_request_iid(&d.pipeline.git_ref) {
            Some(iid) => mrs.get(&iid).map(String::as_str),
            None if d.pipeline.git_ref.starts_with("refs/") => None,
            None => Some(d.pipeline.git_ref.as_str()),
        })
        .filter(|name| !recorded.contains(name))
        .collect()
}

/// Branches to confirm with the single-branch endpoint: recorded live ones the list lacks (with
/// the same plausibility check as reconciliation) and those the imported pipelines name.
pub fn import_branches_to_confirm(
    input: &ImportInput<'_>,
    limits: ShrinkLimits,
) -> Result<Vec<String>, ReconcileError> {
    let mut names =
        super::reconcile::branches_to_confirm(input.recorded.refs, input.branches, limits)?;
    let mrs = merge_request_branches(input);
    let from_pipelines: Vec<&str> = pipeline_branches(input, &mrs).into_iter().collect();
    names.extend(missing_from(&from_pipelines, input.branches));
    names.sort_unstable();
    names.dedup();
    Ok(names)
}

/// The import's changes: merge requests, branches live, pipelines with their expected tags, then
/// branches confirmed gone (after the pipelines that first record them).
pub fn import(
    input: &ImportInput<'_>,
    confirmations: &BTreeMap<String, Confirmation>,
    stamp: Stamp,
) -> Result<Import, ReconcileError> {
    let project_id = input.recorded.project_id;
    let merge_requests = merge_request_findings(
        project_id,
        input.recorded.merge_requests,
        input.merge_requests,
        stamp,
    )?;
    let mrs = merge_request_branches(input);
    let ctx = PipelineContext {
        project_id,
        recorded: input.recorded.pipelines,
        recorded_tags: input.recorded.image_tags,
        merge_request_branches: &mrs,
        images: Some(input.images),
    };
    let (pipeline_found, notes) = pipeline_findings(&ctx, input.pipelines, stamp);
    // Branches only the pipelines name and the list lacks are recorded live by their pipeline
    // first; listed ones are recorded live from the list (head commit, protection).
    let from_pipelines: Vec<&str> = pipeline_branches(input, &mrs).into_iter().collect();
    let unlisted = missing_from(&from_pipelines, input.branches);
    let mut known = known_branches(input.recorded.refs);
    known.extend(unlisted.iter().map(|name| Known {
        name,
        state: RefState::Live,
        updated_at: None,
    }));
    let refs = branch_findings(&known, input.branches, confirmations, stamp);
    Ok(Import {
        found: in_order(merge_requests, refs, pipeline_found),
        project: ProjectUpsert {
            id: input.project.id,
            path: input.project.path_with_namespace.clone(),
            default_branch: input.project.default_branch.clone(),
        },
        notes,
    })
}

/// How many of a repository's registry tags are tracked (have a record) after an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositoryTracking {
    pub repository: String,
    pub tags: usize,
    pub tracked: usize,
    /// Tracked now, untracked before the import.
    pub newly_tracked: usize,
    pub untracked: usize,
}

/// Per repository of `registry` (repository → its tags): tracked and untracked counts, given
/// the records before the import and what it found.
pub fn tracking_report(
    before: &[ImageTagRecord],
    found: &[Found],
    registry: &BTreeMap<String, Vec<String>>,
) -> Vec<RepositoryTracking> {
    let old: HashSet<(&str, &str)> = before
        .iter()
        .map(|t| (t.repository.as_str(), t.tag.as_str()))
        .collect();
    let new: HashSet<(&str, &str)> = found
        .iter()
        .filter_map(|f| match &f.change {
            Change::ImageTag(t) => Some((t.repository.as_str(), t.tag.as_str())),
            _ => None,
        })
        .collect();
    registry
        .iter()
        .map(|(repository, tags)| {
            let was = |t: &String| old.contains(&(repository.as_str(), t.as_str()));
            let is = |t: &String| was(t) || new.contains(&(repository.as_str(), t.as_str()));
            let tracked = tags.iter().filter(|t| is(t)).count();
            RepositoryTracking {
                repository: repository.clone(),
                tags: tags.len(),
                tracked,
                newly_tracked: tags.iter().filter(|t| is(t) && !was(t)).count(),
                untracked: tags.len() - tracked,
            }
        })
        .collect()
}
