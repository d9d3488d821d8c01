//! Pipelines: which listed pipelines are newer than their record (read in full for `tag` and
//! `finished_at`), and the changes a pipeline hook would have made for them: the pipeline, its ref,
//! and the image tags its rules expect that are not recorded yet. Pure.

use std::collections::{HashMap, HashSet};

use super::common::Stamp;
use crate::config::ProjectConfig;
use crate::gitlab::api::{Pipeline, PipelineDetail};
use crate::gitlab::finding::{Finding, Found};
use crate::model::Change;
use crate::model::{expected_tags, ProjectFacts};
use crate::model::{ImageTagRecord, Name, PipelineRecord, PipelineStatus};

/// What expanding a project's image rules needs besides the pipeline.
#[derive(Debug, Clone, Copy)]
pub struct Images<'a> {
    pub config: &'a ProjectConfig,
    /// Registry host for `$CI_REGISTRY`.
    pub registry: &'a str,
    pub project_path: &'a str,
    pub default_branch: Option<&'a str>,
}

/// Everything the pipeline changes are judged against.
#[derive(Debug, Clone, Copy)]
pub struct PipelineContext<'a> {
    pub project_id: i64,
    pub recorded: &'a [PipelineRecord],
    pub recorded_tags: &'a [ImageTagRecord],
    /// Source branch of each merge request iid (recorded or read from the API).
    pub merge_request_branches: &'a HashMap<i64, String>,
    /// `None`: record pipelines only, no image tags.
    pub images: Option<Images<'a>>,
}

/// A status from the API; unknown statuses count as not finished (they keep tags), as in webhooks.
fn status_of(text: &str) -> PipelineStatus {
    text.parse().unwrap_or_else(|_| {
        tracing::warn!(
            status = text,
            "unknown pipeline status, treated as not finished"
        );
        PipelineStatus::Created
    })
}

/// The iid of a merge request pipeline's ref (`refs/merge-requests/<iid>/head|merge|train`).
pub fn merge_request_iid(git_ref: &str) -> Option<i64> {
    let rest = git_ref.strip_prefix("refs/merge-requests/")?;
    let (iid, _kind) = rest.split_once('/')?;
    iid.parse().ok()
}

/// Whether the API's view of a pipeline is newer than the record and says something else.
fn is_news(recorded: Option<&PipelineRecord>, pipeline: &Pipeline) -> bool {
    recorded.is_none_or(|r| {
        r.status != status_of(&pipeline.status) && pipeline.updated_at > r.updated_at
    })
}

/// Listed pipelines to read in full: not recorded, or a newer, different status. Sorted.
pub fn pipelines_to_fetch(recorded: &[PipelineRecord], listed: &[Pipeline]) -> Vec<i64> {
    let by_id: HashMap<i64, &PipelineRecord> = recorded.iter().map(|p| (p.id, p)).collect();
    let mut ids: Vec<i64> = listed
        .iter()
        .filter(|p| is_news(by_id.get(&p.id).copied(), p))
        .map(|p| p.id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Merge request iids that `details` need and `known` lacks, sorted.
pub fn unknown_merge_requests(
    details: &[PipelineDetail],
    known: &HashMap<i64, String>,
) -> Vec<i64> {
    let mut iids: Vec<i64> = details
        .iter()
        .filter_map(|d| merge_request_iid(&d.pipeline.git_ref))
        .filter(|iid| !known.contains_key(iid))
        .collect();
    iids.sort_unstable();
    iids.dedup();
    iids
}

/// The source ref a pipeline hook would carry: merge request pipelines resolve to the merge
/// request's source branch. `Err` says why the pipeline cannot be placed.
fn source_ref(
    pipeline: &Pipeline,
    merge_request_branches: &HashMap<i64, String>,
) -> Result<String, String> {
    match merge_request_iid(&pipeline.git_ref) {
        Some(iid) => merge_request_branches.get(&iid).cloned().ok_or_else(|| {
            format!(
                "pipeline {} skipped: merge request !{iid} unknown",
                pipeline.id
            )
        }),
        None if pipeline.git_ref.starts_with("refs/") => Err(format!(
            "pipeline {} skipped: ref {} is not a branch or tag",
            pipeline.id, pipeline.git_ref
        )),
        None => Ok(pipeline.git_ref.clone()),
    }
}

/// The changes for pipelines read in full; pipelines whose ref cannot be resolved are skipped
/// with a note (they record nothing, so their tags stay untracked and kept).
pub(crate) fn pipeline_findings(
    ctx: &PipelineContext<'_>,
    details: &[PipelineDetail],
    stamp: Stamp,
) -> (Vec<Found>, Vec<String>) {
    let by_id: HashMap<i64, &PipelineRecord> = ctx.recorded.iter().map(|p| (p.id, p)).collect();
    let tagged: HashSet<(&str, &str, i64)> = ctx
        .recorded_tags
        .iter()
        .map(|t| (t.repository.as_str(), t.tag.as_str(), t.pipeline_id))
        .collect();
    let (mut found, mut notes) = (Vec::new(), Vec::new());
    for detail in details {
        let p = &detail.pipeline;
        if !is_news(by_id.get(&p.id).copied(), p) {
            continue;
        }
        let ref_name = match source_ref(p, ctx.merge_request_branches) {
            Ok(name) => name,
            Err(note) => {
                notes.push(note);
                continue;
            }
        };
        let record = PipelineRecord {
            project_id: ctx.project_id,
            id: p.id,
            iid: p.iid,
            ref_name: ref_name.into(),
            tag: detail.tag,
            sha: p.sha.as_str().into(),
            source: p.source.as_deref().map(Name::from),
            status: status_of(&p.status),
            merge_request_iid: merge_request_iid(&p.git_ref),
            created_at: p.created_at,
            finished_at: detail.finished_at,
            updated_at: p.updated_at,
        };
        let tags = ctx.images.map(|images| tags_of(&record, images, stamp));
        let finding = Finding::Pipeline {
            id: record.id,
            status: record.status,
        };
        found.push(stamp.found(Change::Pipeline(record), finding));
        let new_tags = tags
            .into_iter()
            .flatten()
            .filter(|t| !tagged.contains(&(t.repository.as_str(), t.tag.as_str(), t.pipeline_id)));
        found.extend(new_tags.map(|tag| tag_found(tag, stamp)));
    }
    (found, notes)
}

fn tag_found(tag: ImageTagRecord, stamp: Stamp) -> Found {
    let finding = Finding::ImageTag {
        repository: tag.repository.to_string(),
        tag: tag.tag.clone(),
        pipeline: tag.pipeline_id,
    };
    stamp.found(Change::ImageTag(tag), finding)
}

fn tags_of(record: &PipelineRecord, images: Images<'_>, stamp: Stamp) -> Vec<ImageTagRecord> {
    let project = ProjectFacts {
        id: record.project_id,
        path: images.project_path,
        default_branch: images.default_branch,
        registry: images.registry,
    };
    expected_tags(&images.config.images, &project, record, stamp.at)
}
