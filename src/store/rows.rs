//! Database rows as sqlx decodes them (enums as text), converted into the model types. Shared by
//! both backends; a value the model does not know is an error, never silently mapped.

use chrono::{DateTime, Utc};

use super::model::*;
use super::StoreError;

fn parse<T: std::str::FromStr<Err = UnknownValue>>(s: &str) -> Result<T, StoreError> {
    s.parse()
        .map_err(|e: UnknownValue| StoreError::Corrupt(e.to_string()))
}

#[derive(sqlx::FromRow)]
pub(crate) struct ProjectRow {
    id: i64,
    path: String,
    default_branch: Option<String>,
    first_seen: DateTime<Utc>,
    last_event_at: DateTime<Utc>,
}

impl From<ProjectRow> for ProjectRecord {
    fn from(r: ProjectRow) -> Self {
        ProjectRecord {
            id: r.id,
            path: r.path,
            default_branch: r.default_branch,
            first_seen: r.first_seen,
            last_event_at: r.last_event_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RefRow {
    project_id: i64,
    kind: String,
    name: String,
    slug: String,
    state: String,
    protected: bool,
    last_sha: Option<String>,
    created_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
    last_pipeline_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<RefRow> for RefRecord {
    type Error = StoreError;
    fn try_from(r: RefRow) -> Result<Self, StoreError> {
        Ok(RefRecord {
            project_id: r.project_id,
            kind: parse(&r.kind)?,
            name: r.name,
            slug: r.slug,
            state: parse(&r.state)?,
            protected: r.protected,
            last_sha: r.last_sha,
            created_at: r.created_at,
            deleted_at: r.deleted_at,
            last_pipeline_at: r.last_pipeline_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RefCommitRow {
    project_id: i64,
    ref_kind: String,
    ref_name: String,
    sha: String,
    seq: i64,
    seen_at: DateTime<Utc>,
}

impl TryFrom<RefCommitRow> for RefCommitRecord {
    type Error = StoreError;
    fn try_from(r: RefCommitRow) -> Result<Self, StoreError> {
        Ok(RefCommitRecord {
            project_id: r.project_id,
            ref_kind: parse(&r.ref_kind)?,
            ref_name: r.ref_name,
            sha: r.sha,
            seq: r.seq,
            seen_at: r.seen_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PipelineRow {
    project_id: i64,
    id: i64,
    iid: Option<i64>,
    ref_name: String,
    tag: bool,
    sha: String,
    source: Option<String>,
    status: String,
    merge_request_iid: Option<i64>,
    created_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<PipelineRow> for PipelineRecord {
    type Error = StoreError;
    fn try_from(r: PipelineRow) -> Result<Self, StoreError> {
        Ok(PipelineRecord {
            project_id: r.project_id,
            id: r.id,
            iid: r.iid,
            ref_name: r.ref_name,
            tag: r.tag,
            sha: r.sha,
            source: r.source,
            status: parse(&r.status)?,
            merge_request_iid: r.merge_request_iid,
            created_at: r.created_at,
            finished_at: r.finished_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TransitionRow {
    project_id: i64,
    pipeline_id: i64,
    status: String,
    at: DateTime<Utc>,
}

impl TryFrom<TransitionRow> for PipelineTransition {
    type Error = StoreError;
    fn try_from(r: TransitionRow) -> Result<Self, StoreError> {
        Ok(PipelineTransition {
            project_id: r.project_id,
            pipeline_id: r.pipeline_id,
            status: parse(&r.status)?,
            at: r.at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MergeRequestRow {
    project_id: i64,
    iid: i64,
    id: Option<i64>,
    source_branch: String,
    target_branch: String,
    state: String,
    merged_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl TryFrom<MergeRequestRow> for MergeRequestRecord {
    type Error = StoreError;
    fn try_from(r: MergeRequestRow) -> Result<Self, StoreError> {
        Ok(MergeRequestRecord {
            project_id: r.project_id,
            iid: r.iid,
            id: r.id,
            source_branch: r.source_branch,
            target_branch: r.target_branch,
            state: parse(&r.state)?,
            merged_at: r.merged_at,
            closed_at: r.closed_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ImageTagRow {
    project_id: i64,
    repository: String,
    tag: String,
    kind: String,
    rule: String,
    ref_kind: String,
    ref_name: String,
    sha: String,
    pipeline_id: i64,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    digest: Option<String>,
}

impl TryFrom<ImageTagRow> for ImageTagRecord {
    type Error = StoreError;
    fn try_from(r: ImageTagRow) -> Result<Self, StoreError> {
        Ok(ImageTagRecord {
            project_id: r.project_id,
            repository: r.repository,
            tag: r.tag,
            kind: parse(&r.kind)?,
            rule: r.rule,
            ref_kind: parse(&r.ref_kind)?,
            ref_name: r.ref_name,
            sha: r.sha,
            pipeline_id: r.pipeline_id,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            digest: r.digest,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    id: i64,
    trigger: String,
    dry_run: bool,
    status: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    summary: String,
    error: Option<String>,
}

impl TryFrom<RunRow> for RunRecord {
    type Error = StoreError;
    fn try_from(r: RunRow) -> Result<Self, StoreError> {
        Ok(RunRecord {
            id: r.id,
            trigger: r.trigger,
            dry_run: r.dry_run,
            status: parse(&r.status)?,
            started_at: r.started_at,
            finished_at: r.finished_at,
            summary: serde_json::from_str(&r.summary)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            error: r.error,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct JournalRow {
    id: i64,
    run_id: i64,
    project_id: i64,
    repository: String,
    tag: String,
    action: String,
    rule: String,
    reason: String,
    planned_digest: String,
    dummy_digest: Option<String>,
    observed_digest: Option<String>,
    state: String,
    detail: Option<String>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<JournalRow> for JournalEntry {
    type Error = StoreError;
    fn try_from(r: JournalRow) -> Result<Self, StoreError> {
        Ok(JournalEntry {
            id: r.id,
            run_id: r.run_id,
            project_id: r.project_id,
            repository: r.repository,
            tag: r.tag,
            action: parse(&r.action)?,
            rule: r.rule,
            reason: r.reason,
            planned_digest: r.planned_digest,
            dummy_digest: r.dummy_digest,
            observed_digest: r.observed_digest,
            state: parse(&r.state)?,
            detail: r.detail,
            updated_at: r.updated_at,
        })
    }
}
