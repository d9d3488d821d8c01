//! The SQL both backends run. Written once in the dialect SQLite and Postgres share (`$N`
//! parameters, `ON CONFLICT … DO UPDATE`, `excluded`, `CASE` instead of GREATEST/MAX).

pub(crate) const INSERT_DELIVERY: &str =
    "INSERT INTO deliveries (key, project_id, event, received_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING";

/// A project's deliveries (one, or a group commit's at once): $4 the first delivery's time (first
/// seen, if new), $5 the last one's.
pub(crate) const UPSERT_PROJECT: &str =
    "INSERT INTO projects (id, path, default_branch, first_seen, last_event_at) \
     VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (id) DO UPDATE SET path = excluded.path, \
       default_branch = COALESCE(excluded.default_branch, projects.default_branch), \
       last_event_at = excluded.last_event_at";

/// A batch that is not a webhook delivery (reconciliation): records the project if unknown, keeps
/// its path and default branch current, and leaves `last_event_at` (the last delivery) alone.
pub(crate) const UPSERT_PROJECT_QUIETLY: &str =
    "INSERT INTO projects (id, path, default_branch, first_seen, last_event_at) \
     VALUES ($1, $2, $3, $4, $4) \
     ON CONFLICT (id) DO UPDATE SET path = excluded.path, \
       default_branch = COALESCE(excluded.default_branch, projects.default_branch)";

/// $1 project, $2 kind, $3 name, $4 slug, $5 sha, $6 protected (nullable), $7 at, $8 created (bool).
pub(crate) const PUSH_REF: &str = "INSERT INTO refs (project_id, kind, name, slug, state, protected, last_sha, \
       created_at, deleted_at, last_pipeline_at, updated_at) \
     VALUES ($1, $2, $3, $4, 'live', COALESCE($6, FALSE), $5, CASE WHEN $8 THEN $7 ELSE NULL END, NULL, NULL, $7) \
     ON CONFLICT (project_id, kind, name) DO UPDATE SET state = 'live', deleted_at = NULL, \
       deleted_by = NULL, \
       last_sha = excluded.last_sha, protected = COALESCE($6, refs.protected), \
       created_at = CASE WHEN $8 OR refs.state = 'deleted' THEN $7 ELSE refs.created_at END, \
       updated_at = excluded.updated_at \
     WHERE refs.state = 'live' OR refs.updated_at <= excluded.updated_at";

/// $1 project, $2 kind, $3 name, $4 slug, $5 at, $6 who reported it (`webhook`, `reconciliation`).
/// Never overrides a newer change of the ref (a reconciliation that read the ref before a push
/// arrived).
pub(crate) const DELETE_REF: &str =
    "INSERT INTO refs (project_id, kind, name, slug, state, protected, last_sha, \
       created_at, deleted_at, last_pipeline_at, updated_at, deleted_by) \
     VALUES ($1, $2, $3, $4, 'deleted', FALSE, NULL, NULL, $5, NULL, $5, $6) \
     ON CONFLICT (project_id, kind, name) DO UPDATE SET state = 'deleted', \
       deleted_at = excluded.deleted_at, updated_at = excluded.updated_at, \
       deleted_by = excluded.deleted_by \
     WHERE refs.updated_at <= excluded.updated_at";

/// A pipeline seen on a ref: record the ref if unknown (live), never revive a deleted one.
/// $1 project, $2 kind, $3 name, $4 slug, $5 sha, $6 pipeline time, $7 now.
pub(crate) const TOUCH_REF: &str = "INSERT INTO refs (project_id, kind, name, slug, state, protected, last_sha, \
       created_at, deleted_at, last_pipeline_at, updated_at) \
     VALUES ($1, $2, $3, $4, 'live', FALSE, $5, NULL, NULL, $6, $7) \
     ON CONFLICT (project_id, kind, name) DO UPDATE SET \
       last_pipeline_at = CASE WHEN refs.last_pipeline_at IS NULL OR excluded.last_pipeline_at > refs.last_pipeline_at \
         THEN excluded.last_pipeline_at ELSE refs.last_pipeline_at END, \
       updated_at = excluded.updated_at";

pub(crate) const UPSERT_PIPELINE: &str =
    "INSERT INTO pipelines (project_id, id, iid, ref_name, tag, sha, source, \
       status, merge_request_iid, created_at, finished_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
     ON CONFLICT (project_id, id) DO UPDATE SET iid = COALESCE(excluded.iid, pipelines.iid), \
       status = excluded.status, source = COALESCE(excluded.source, pipelines.source), \
       merge_request_iid = COALESCE(excluded.merge_request_iid, pipelines.merge_request_iid), \
       created_at = COALESCE(excluded.created_at, pipelines.created_at), \
       finished_at = excluded.finished_at, updated_at = excluded.updated_at \
     WHERE pipelines.updated_at <= excluded.updated_at";

/// The start of both merge request statements (a macro so `concat!` can build constants from it).
macro_rules! mr_insert {
    () => {
        "INSERT INTO merge_requests (project_id, iid, id, source_branch, target_branch, state, \
           merged_at, closed_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (project_id, iid) "
    };
}

/// A merge request hook: newer-or-equal `updated_at` wins; merged/closed times are kept from the
/// first event that reported them and cleared on reopen.
pub(crate) const UPSERT_MERGE_REQUEST: &str = concat!(
    mr_insert!(),
    "DO UPDATE SET id = COALESCE(excluded.id, merge_requests.id), \
           source_branch = excluded.source_branch, target_branch = excluded.target_branch, \
           state = excluded.state, \
           merged_at = CASE WHEN excluded.state = 'merged' THEN COALESCE(merge_requests.merged_at, excluded.merged_at) ELSE NULL END, \
           closed_at = CASE WHEN excluded.state = 'closed' THEN COALESCE(merge_requests.closed_at, excluded.closed_at) ELSE NULL END, \
           updated_at = COALESCE(excluded.updated_at, merge_requests.updated_at) \
         WHERE merge_requests.updated_at IS NULL OR excluded.updated_at IS NULL \
           OR excluded.updated_at >= merge_requests.updated_at"
);

/// A merge request embedded in a pipeline hook: only fills in one not seen yet.
pub(crate) const INSERT_MERGE_REQUEST: &str = concat!(mr_insert!(), "DO NOTHING");

pub(crate) const UPSERT_IMAGE_TAG: &str = "INSERT INTO image_tags (project_id, repository, tag, pipeline_id, kind, \
       rule, ref_kind, ref_name, sha, first_seen, last_seen, digest) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL) \
     ON CONFLICT (project_id, repository, tag, pipeline_id) DO UPDATE SET last_seen = excluded.last_seen";

pub(crate) const SELECT_PROJECTS: &str =
    "SELECT id, path, default_branch, first_seen, last_event_at FROM projects ORDER BY path, id";
pub(crate) const SELECT_PROJECT_BY_ID: &str =
    "SELECT id, path, default_branch, first_seen, last_event_at FROM projects WHERE id = $1";
/// Another project recorded with path $1 (case-insensitive) than id $2.
pub(crate) const SELECT_OTHER_PROJECT_WITH_PATH: &str =
    "SELECT id FROM projects WHERE lower(path) = lower($1) AND id <> $2 ORDER BY id LIMIT 1";
pub(crate) const SELECT_PROJECT_BY_PATH: &str =
    "SELECT id, path, default_branch, first_seen, last_event_at FROM projects WHERE lower(path) = lower($1) \
     ORDER BY last_event_at DESC";
pub(crate) const SELECT_REFS: &str =
    "SELECT project_id, kind, name, slug, state, protected, last_sha, created_at, \
     deleted_at, deleted_by, last_pipeline_at, updated_at FROM refs WHERE project_id = $1 ORDER BY kind, name";
pub(crate) const SELECT_PIPELINES: &str = "SELECT project_id, id, iid, ref_name, tag, sha, source, status, \
     merge_request_iid, created_at, finished_at, updated_at FROM pipelines WHERE project_id = $1 ORDER BY id";
pub(crate) const SELECT_MERGE_REQUESTS: &str =
    "SELECT project_id, iid, id, source_branch, target_branch, state, \
     merged_at, closed_at, updated_at FROM merge_requests WHERE project_id = $1 ORDER BY iid";
pub(crate) const SELECT_IMAGE_TAGS: &str =
    "SELECT project_id, repository, tag, kind, rule, ref_kind, ref_name, sha, \
     pipeline_id, first_seen, last_seen, digest FROM image_tags \
     WHERE project_id = $1 AND ($2 IS NULL OR ref_name = $2) AND ($3 IS NULL OR kind = $3) \
     ORDER BY repository, tag, pipeline_id";

pub(crate) const INSERT_RUN: &str =
    "INSERT INTO gc_runs (trigger, dry_run, status, started_at, summary) \
     VALUES ($1, $2, 'running', $3, '{}') RETURNING id";
pub(crate) const FINISH_RUN: &str =
    "UPDATE gc_runs SET status = $2, finished_at = $3, summary = $4, error = $5 \
     WHERE id = $1";
/// Runs left `running` by a process that died: called by the one process that holds the GC lock.
pub(crate) const INTERRUPT_RUNS: &str =
    "UPDATE gc_runs SET status = 'interrupted', finished_at = $1 \
     WHERE status = 'running'";
macro_rules! run_columns {
    () => {
        "SELECT id, trigger, dry_run, status, started_at, finished_at, summary, error FROM gc_runs "
    };
}
pub(crate) const SELECT_RUNS: &str = concat!(run_columns!(), "ORDER BY id DESC LIMIT $1");
pub(crate) const SELECT_RUN: &str = concat!(run_columns!(), "WHERE id = $1");

pub(crate) const INSERT_JOURNAL: &str =
    "INSERT INTO gc_journal (run_id, project_id, repository, tag, action, reason_code, \
       reason, planned_digest, dummy_digest, observed_digest, state, detail, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id";
/// $1 id, $2 state, $3 dummy (kept when null), $4 observed (kept when null), $5 detail, $6 at.
pub(crate) const UPDATE_JOURNAL: &str = "UPDATE gc_journal SET state = $2, \
       dummy_digest = COALESCE($3, dummy_digest), observed_digest = COALESCE($4, observed_digest), \
       detail = COALESCE($5, detail), updated_at = $6 WHERE id = $1";
macro_rules! journal_columns {
    () => {
        "SELECT id, run_id, project_id, repository, tag, action, reason_code, reason, \
         planned_digest, dummy_digest, observed_digest, state, detail, updated_at FROM gc_journal "
    };
}
pub(crate) const SELECT_JOURNAL_OF_RUN: &str =
    concat!(journal_columns!(), "WHERE run_id = $1 ORDER BY id");
pub(crate) const SELECT_OPEN_JOURNAL: &str = concat!(
    journal_columns!(),
    "WHERE state IN ('planned', 'repointed') ORDER BY id"
);

/// $1 project, $2 repository, $3 tag, $4 digest: every record of that tag learns its digest.
pub(crate) const SET_DIGEST: &str = "UPDATE image_tags SET digest = $4 \
     WHERE project_id = $1 AND repository = $2 AND tag = $3 AND (digest IS NULL OR digest <> $4)";

/// Dedupe keys older than $1 (GitLab resends only from its last two days of logs).
pub(crate) const PRUNE_DELIVERIES: &str = "DELETE FROM deliveries WHERE received_at < $1";

/// `$1` project → its reconciliation state.
pub(crate) const SELECT_STATE: &str =
    "SELECT project_id, mr_watermark, pipeline_watermark, events_watermark, last_attempt_at, \
       last_success_at, last_error FROM reconcile_state WHERE project_id = $1";

/// A successful reconciliation: `$1` project, `$2` merge request, `$3` pipeline, `$4` events
/// watermark (each nullable), `$5` time. Watermarks only move forward; the error is cleared.
pub(crate) const RECORD_SUCCESS: &str =
    "INSERT INTO reconcile_state (project_id, mr_watermark, pipeline_watermark, events_watermark, \
       last_attempt_at, last_success_at, last_error) VALUES ($1, $2, $3, $4, $5, $5, NULL) \
     ON CONFLICT (project_id) DO UPDATE SET \
       mr_watermark = CASE WHEN reconcile_state.mr_watermark IS NULL \
         OR excluded.mr_watermark > reconcile_state.mr_watermark \
         THEN COALESCE(excluded.mr_watermark, reconcile_state.mr_watermark) \
         ELSE reconcile_state.mr_watermark END, \
       pipeline_watermark = CASE WHEN reconcile_state.pipeline_watermark IS NULL \
         OR excluded.pipeline_watermark > reconcile_state.pipeline_watermark \
         THEN COALESCE(excluded.pipeline_watermark, reconcile_state.pipeline_watermark) \
         ELSE reconcile_state.pipeline_watermark END, \
       events_watermark = CASE WHEN reconcile_state.events_watermark IS NULL \
         OR excluded.events_watermark > reconcile_state.events_watermark \
         THEN COALESCE(excluded.events_watermark, reconcile_state.events_watermark) \
         ELSE reconcile_state.events_watermark END, \
       last_attempt_at = excluded.last_attempt_at, last_success_at = excluded.last_success_at, \
       last_error = NULL";

/// A failed reconciliation: `$1` project, `$2` time, `$3` error. Watermarks and the last success stay.
pub(crate) const RECORD_FAILURE: &str =
    "INSERT INTO reconcile_state (project_id, last_attempt_at, last_error) VALUES ($1, $2, $3) \
     ON CONFLICT (project_id) DO UPDATE SET last_attempt_at = excluded.last_attempt_at, \
       last_error = excluded.last_error";
