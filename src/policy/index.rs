//! Lookup tables over one `ProjectState`, built once per plan so every rule is a hash lookup:
//! records by repository:tag, refs by branch name and slug, pipelines by id and branch, merge
//! requests by source branch. Borrows the state; never copies strings, never does I/O.

// Fx hashing: internal tables only, keyed by strings and ids from our own input (no DoS concern).
use rustc_hash::FxHashMap as HashMap;

use chrono::{DateTime, Utc};

use crate::model::{
    ImageTagRecord, MergeRequestRecord, PipelineRecord, ProjectState, RefKind, RefRecord, RefState,
};

/// The rule names seen in one repository: exactly one, or several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RepositoryRule<'a> {
    Only(&'a str),
    Several,
}

/// The newest pipeline start on a branch.
#[derive(Debug, Clone, Copy)]
pub(super) struct LastPipeline {
    pub at: DateTime<Utc>,
    pub id: i64,
}

/// Indexes over a `ProjectState`.
pub(super) struct Index<'a> {
    /// Records by repository; split by tag per repository while planning it (see `tag_records`).
    pub by_repository: HashMap<&'a str, Vec<&'a ImageTagRecord>>,
    pub repository_rule: HashMap<&'a str, RepositoryRule<'a>>,
    pub branches: HashMap<&'a str, &'a RefRecord>,
    pub live_slugs: HashMap<&'a str, Vec<&'a RefRecord>>,
    pipelines: HashMap<i64, &'a PipelineRecord>,
    pub last_branch_pipeline: HashMap<&'a str, LastPipeline>,
    pub merge_requests: HashMap<&'a str, Vec<&'a MergeRequestRecord>>,
    pub default_branch: Option<&'a str>,
}

impl<'a> Index<'a> {
    /// Builds every table in one pass per collection.
    pub fn new(state: &'a ProjectState) -> Self {
        let (branches, live_slugs) = index_branches(state);
        let mut merge_requests: HashMap<&str, Vec<&MergeRequestRecord>> = HashMap::default();
        for mr in &state.merge_requests {
            merge_requests
                .entry(mr.source_branch.as_str())
                .or_default()
                .push(mr);
        }
        let (by_repository, repository_rule) = index_records(state);
        let (pipelines, last_branch_pipeline) = index_pipelines(state);
        Index {
            by_repository,
            repository_rule,
            branches,
            live_slugs,
            pipelines,
            last_branch_pipeline,
            merge_requests,
            default_branch: state
                .project
                .as_ref()
                .and_then(|p| p.default_branch.as_deref()),
        }
    }

    /// The records of one repository by tag.
    pub fn tag_records(&self, repository: &str) -> TagRecords<'a> {
        let mut by_tag: TagRecords = HashMap::default();
        for &record in self
            .by_repository
            .get(repository)
            .map_or(&[][..], Vec::as_slice)
        {
            by_tag.entry(record.tag.as_str()).or_default().push(record);
        }
        by_tag
    }

    /// The pipeline with this id, if recorded.
    pub fn pipeline(&self, id: i64) -> Option<&'a PipelineRecord> {
        self.pipelines.get(&id).copied()
    }

    /// The single image rule whose tags live in `repository`, if exactly one does.
    pub fn only_rule(&self, repository: &str) -> Option<&'a str> {
        match self.repository_rule.get(repository) {
            Some(RepositoryRule::Only(rule)) => Some(rule),
            _ => None,
        }
    }
}

/// Records of one repository by tag.
pub(super) type TagRecords<'a> = HashMap<&'a str, Vec<&'a ImageTagRecord>>;

type RecordTables<'a> = (
    HashMap<&'a str, Vec<&'a ImageTagRecord>>,
    HashMap<&'a str, RepositoryRule<'a>>,
);

fn index_records(state: &ProjectState) -> RecordTables<'_> {
    let mut records: HashMap<&str, Vec<&ImageTagRecord>> = HashMap::default();
    let mut repository_rule: HashMap<&str, RepositoryRule> = HashMap::default();
    for record in &state.image_tags {
        records
            .entry(record.repository.as_str())
            .or_default()
            .push(record);
        repository_rule
            .entry(record.repository.as_str())
            .and_modify(|seen| {
                if *seen != RepositoryRule::Only(&record.rule) {
                    *seen = RepositoryRule::Several;
                }
            })
            .or_insert(RepositoryRule::Only(&record.rule));
    }
    (records, repository_rule)
}

/// Branch refs by name (a live record wins over a deleted duplicate, see below) and every live ref, branch
/// or git tag, by slug: any of them may push the slug's `ci-branch` tag.
fn index_branches(
    state: &ProjectState,
) -> (HashMap<&str, &RefRecord>, HashMap<&str, Vec<&RefRecord>>) {
    let mut branches: HashMap<&str, &RefRecord> = HashMap::default();
    let mut live_slugs: HashMap<&str, Vec<&RefRecord>> = HashMap::default();
    for r in &state.refs {
        if r.kind == RefKind::Branch {
            // Of duplicate records, a live one wins, then the most recently updated.
            let slot = branches.entry(r.name.as_str()).or_insert(r);
            let rank = |r: &RefRecord| (r.state == RefState::Live, r.updated_at, r.deleted_at);
            if rank(r) > rank(slot) {
                *slot = r;
            }
        }
        if r.state == RefState::Live {
            live_slugs.entry(r.slug.as_str()).or_default().push(r);
        }
    }
    for refs in live_slugs.values_mut() {
        refs.sort_unstable_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        refs.dedup_by(|a, b| (a.kind, &a.name) == (b.kind, &b.name));
    }
    (branches, live_slugs)
}

type PipelineTables<'a> = (
    HashMap<i64, &'a PipelineRecord>,
    HashMap<&'a str, LastPipeline>,
);

fn index_pipelines(state: &ProjectState) -> PipelineTables<'_> {
    // A map, not a sorted vec: a binary search over a million pipelines is ~20 cache misses.
    let mut pipelines =
        HashMap::with_capacity_and_hasher(state.pipelines.len(), Default::default());
    let mut last: HashMap<&str, LastPipeline> = HashMap::default();
    for pipeline in &state.pipelines {
        pipelines.entry(pipeline.id).or_insert(pipeline);
        if pipeline.tag {
            continue;
        }
        let start = LastPipeline {
            at: pipeline.created_at.unwrap_or(pipeline.updated_at),
            id: pipeline.id,
        };
        last.entry(pipeline.ref_name.as_str())
            .and_modify(|seen| {
                if (start.at, start.id) > (seen.at, seen.id) {
                    *seen = start;
                }
            })
            .or_insert(start);
    }
    (pipelines, last)
}
