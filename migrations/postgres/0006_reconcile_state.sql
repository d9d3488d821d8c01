-- GitLab reconciliation progress, one row per project: where the merge request, pipeline and
-- event lists continue next run (watermarks: `updated_at` / `created_at` of the newest item read),
-- and how the last attempt went. Written in the same transaction as the changes a run found.
-- Numbered 0004 like the SQLite file (Postgres has no 0003: the GC lock is an advisory lock there).
CREATE TABLE reconcile_state (
    project_id          BIGINT PRIMARY KEY REFERENCES projects (id),
    mr_watermark        TIMESTAMPTZ,          -- NULL: list from first_window before first_seen
    pipeline_watermark  TIMESTAMPTZ,
    events_watermark    TIMESTAMPTZ,          -- bulk-push detection (project events)
    last_attempt_at     TIMESTAMPTZ,
    last_success_at     TIMESTAMPTZ,
    last_error          TEXT                  -- why the last attempt failed; NULL after a success
);
