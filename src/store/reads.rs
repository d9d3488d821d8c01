//! Reading the recorded state back, and writing back the digests runs saw. Written once for both
//! backends against [`Conn`]; rows decode straight into the model's records.

use super::exec::{args, Conn};
use super::{sql, StoreError, TagFilter};
use crate::model::*;
use crate::text::clip;

pub(super) async fn projects<C: Conn + ?Sized>(
    c: &mut C,
) -> Result<Vec<ProjectRecord>, StoreError> {
    Ok(c.all(sql::SELECT_PROJECTS, &[]).await?)
}

pub(super) async fn project_by_id<C: Conn + ?Sized>(
    c: &mut C,
    id: i64,
) -> Result<Option<ProjectRecord>, StoreError> {
    Ok(c.optional(sql::SELECT_PROJECT_BY_ID, &args![id]).await?)
}

pub(super) async fn project_by_path<C: Conn + ?Sized>(
    c: &mut C,
    path: &str,
) -> Result<Option<ProjectRecord>, StoreError> {
    let mut found: Vec<ProjectRecord> = c.all(sql::SELECT_PROJECT_BY_PATH, &args![path]).await?;
    if found.len() > 1 {
        let ids: Vec<String> = found.iter().map(|p| p.id.to_string()).collect();
        return Err(StoreError::Conflict(format!(
            "several recorded projects have the path {:?} (ids {}): look the project up by id, \
             or pin its id in the configuration (projects[].id)",
            clip(path, 200),
            ids.join(", ")
        )));
    }
    Ok(found.pop())
}

pub(super) async fn refs<C: Conn + ?Sized>(
    c: &mut C,
    project: i64,
) -> Result<Vec<RefRecord>, StoreError> {
    Ok(c.all(sql::SELECT_REFS, &args![project]).await?)
}

pub(super) async fn pipelines<C: Conn + ?Sized>(
    c: &mut C,
    project: i64,
) -> Result<Vec<PipelineRecord>, StoreError> {
    Ok(c.all(sql::SELECT_PIPELINES, &args![project]).await?)
}

pub(super) async fn merge_requests<C: Conn + ?Sized>(
    c: &mut C,
    project: i64,
) -> Result<Vec<MergeRequestRecord>, StoreError> {
    Ok(c.all(sql::SELECT_MERGE_REQUESTS, &args![project]).await?)
}

pub(super) async fn image_tags<C: Conn + ?Sized>(
    c: &mut C,
    project: i64,
    filter: &TagFilter,
) -> Result<Vec<ImageTagRecord>, StoreError> {
    let kind = filter.kind.map(TagKind::as_str);
    let a = args![project, filter.ref_name.as_deref(), kind];
    Ok(c.all(sql::SELECT_IMAGE_TAGS, &a).await?)
}

/// Records the digest the registry showed for each `(repository, tag, digest)`; returns how many
/// rows changed.
pub(super) async fn set_digests<C: Conn + ?Sized>(
    c: &mut C,
    project: i64,
    seen: &[(String, String, String)],
) -> Result<u64, StoreError> {
    let mut changed = 0;
    for (repository, tag, digest) in seen {
        let a = args![project, repository, tag, digest];
        changed += c.exec(sql::SET_DIGEST, &a).await?;
    }
    Ok(changed)
}
