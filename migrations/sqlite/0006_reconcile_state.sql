-- GitLab reconciliation progress, one row per project: where the merge request, pipeline and
-- event lists continue next run (watermarks: `updated_at` / `created_at` of the newest item read),
-- and how the last attempt went. Written in the same transaction as the changes a run found.
-- Timestamps are RFC 3339 text, as in 0001.
CREATE TABLE reconcile_state (
    project_id          INTEGER PRIMARY KEY REFERENCES projects (id),
    mr_watermark        TEXT,                 -- NULL: list from first_window before first_seen
    pipeline_watermark  TEXT,
    events_watermark    TEXT,                 -- bulk-push detection (project events)
    last_attempt_at     TEXT,
    last_success_at     TEXT,
    last_error          TEXT                  -- why the last attempt failed; NULL after a success
);
