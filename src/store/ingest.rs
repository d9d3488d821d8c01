//! Applying one batch of changes inside a transaction the caller owns. Written once for both
//! backends against [`Conn`]; the SQL is in `sql.rs`. Only records: no policy here.

use chrono::{DateTime, Utc};

use super::exec::{args, Conn};
use super::{sql, PathClaim, StoreError};
use crate::model::*;
use crate::text::clip;

/// How a batch's transaction began.
pub(super) enum Begun {
    /// Project and delivery key recorded: apply the changes.
    Fresh,
    /// The delivery key was seen before: roll back, nothing changes.
    Duplicate,
    /// Another project id has the path (and the claim is exclusive): roll back, refuse.
    PathTaken(i64),
}

/// Records the project and the delivery key. The project row is written first, so the check for
/// another id with the same path runs with the write lock held (SQLite) and sees every committed
/// row; then the delivery key.
pub(super) async fn begin_batch<C: Conn + ?Sized>(
    c: &mut C,
    batch: &Batch,
    claim: PathClaim,
) -> Result<Begun, sqlx::Error> {
    let p = &batch.project;
    let at = batch.received_at;
    let key = batch.source.delivery_key();
    match key {
        Some(_) => {
            let a = args![p.id, &p.path, &p.default_branch, at, at];
            c.exec(sql::UPSERT_PROJECT, &a).await?
        }
        None => {
            let a = args![p.id, &p.path, &p.default_branch, at];
            c.exec(sql::UPSERT_PROJECT_QUIETLY, &a).await?
        }
    };
    if claim == PathClaim::Exclusive {
        let other: Option<(i64,)> = c
            .optional(sql::SELECT_OTHER_PROJECT_WITH_PATH, &args![&p.path, p.id])
            .await?;
        if let Some((other,)) = other {
            return Ok(Begun::PathTaken(other));
        }
    }
    let Some(key) = key else {
        return Ok(Begun::Fresh);
    };
    let event = batch.source.event();
    let fresh = c
        .exec(sql::INSERT_DELIVERY, &args![key, p.id, event, at])
        .await?;
    Ok(if fresh > 0 {
        Begun::Fresh
    } else {
        Begun::Duplicate
    })
}

/// The refusal of a batch whose path another recorded project id has.
pub(super) fn path_conflict(project: &ProjectUpsert, other: i64) -> StoreError {
    StoreError::Conflict(format!(
        "project path {:?} is recorded for project id {other}, but this says id {}; if the \
         project was re-created or moved, pin its id in the configuration (projects[].id)",
        clip(&project.path, 200),
        project.id
    ))
}

/// Applies every change of the batch, in order.
pub(super) async fn apply_changes<C: Conn + ?Sized>(
    c: &mut C,
    batch: &Batch,
) -> Result<(), sqlx::Error> {
    let project = batch.project.id;
    for change in &batch.changes {
        match change {
            Change::RefPushed {
                kind,
                name,
                sha,
                created,
                protected,
                at,
            } => {
                let slug = slugify(name);
                let a = args![
                    project,
                    kind.as_str(),
                    name,
                    &slug,
                    sha,
                    *protected,
                    *at,
                    *created
                ];
                c.exec(sql::PUSH_REF, &a).await?;
            }
            Change::RefDeleted { kind, name, at } => {
                let slug = slugify(name);
                let by = batch.source.reporter();
                let a = args![project, kind.as_str(), name, &slug, *at, by];
                c.exec(sql::DELETE_REF, &a).await?;
            }
            Change::Pipeline(p) => pipeline(c, project, batch.received_at, p).await?,
            Change::MergeRequest {
                record,
                authoritative,
            } => merge_request(c, project, record, *authoritative).await?,
            Change::ImageTag(t) => image_tag(c, project, t).await?,
        }
    }
    Ok(())
}

/// A pipeline, and its ref if unknown (never reviving a deleted one).
async fn pipeline<C: Conn + ?Sized>(
    c: &mut C,
    project: i64,
    now: DateTime<Utc>,
    p: &PipelineRecord,
) -> Result<(), sqlx::Error> {
    let kind = if p.tag { RefKind::Tag } else { RefKind::Branch };
    let slug = slugify(&p.ref_name);
    let seen = p.created_at.unwrap_or(now);
    let sha = p.sha.text();
    let a = args![project, kind.as_str(), &p.ref_name, &slug, &*sha, seen, now];
    c.exec(sql::TOUCH_REF, &a).await?;
    let a = args![
        project,
        p.id,
        p.iid,
        &p.ref_name,
        p.tag,
        &*sha,
        &p.source,
        p.status.as_str(),
        p.merge_request_iid,
        p.created_at,
        p.finished_at,
        p.updated_at,
    ];
    c.exec(sql::UPSERT_PIPELINE, &a).await?;
    Ok(())
}

async fn merge_request<C: Conn + ?Sized>(
    c: &mut C,
    project: i64,
    m: &MergeRequestRecord,
    authoritative: bool,
) -> Result<(), sqlx::Error> {
    let text = if authoritative {
        sql::UPSERT_MERGE_REQUEST
    } else {
        sql::INSERT_MERGE_REQUEST
    };
    let a = args![
        project,
        m.iid,
        m.id,
        &m.source_branch,
        &m.target_branch,
        m.state.as_str(),
        m.merged_at,
        m.closed_at,
        m.updated_at,
    ];
    c.exec(text, &a).await?;
    Ok(())
}

async fn image_tag<C: Conn + ?Sized>(
    c: &mut C,
    project: i64,
    t: &ImageTagRecord,
) -> Result<(), sqlx::Error> {
    let sha = t.sha.text();
    let a = args![
        project,
        &t.repository,
        &t.tag,
        t.pipeline_id,
        t.kind.as_str(),
        &t.rule,
        t.ref_kind.as_str(),
        &t.ref_name,
        &*sha,
        t.first_seen,
        t.last_seen,
    ];
    c.exec(sql::UPSERT_IMAGE_TAG, &a).await?;
    Ok(())
}
