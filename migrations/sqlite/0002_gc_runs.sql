-- Garbage-collection runs and the crash-safe journal of every registry action they take.

CREATE TABLE gc_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger      TEXT NOT NULL,                 -- schedule | api | cli
    dry_run      BOOLEAN NOT NULL,
    status       TEXT NOT NULL,                 -- running | finished | failed | refused | interrupted
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    summary      TEXT NOT NULL DEFAULT '{}',    -- JSON: counts per rule and outcome, bytes, errors
    error        TEXT
);
CREATE INDEX gc_runs_by_status ON gc_runs (status);

CREATE TABLE gc_journal (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id           INTEGER NOT NULL REFERENCES gc_runs (id),
    project_id       INTEGER NOT NULL,
    repository       TEXT NOT NULL,
    tag              TEXT NOT NULL,
    action           TEXT NOT NULL CHECK (action IN ('untag', 'delete-image')),
    rule             TEXT NOT NULL,
    reason           TEXT NOT NULL,
    planned_digest   TEXT NOT NULL,
    dummy_digest     TEXT,                      -- set before any tag of the batch is re-pointed
    observed_digest  TEXT,
    state            TEXT NOT NULL,             -- planned | repointed | done | skipped | failed | dry-run
    detail           TEXT,
    updated_at       TEXT NOT NULL
);
CREATE INDEX gc_journal_by_run ON gc_journal (run_id);
CREATE INDEX gc_journal_open ON gc_journal (state) WHERE state IN ('planned', 'repointed');
