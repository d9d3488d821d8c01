-- Per-ref commit lists and pipeline status transitions were written on every delivery and never
-- read by anything: no longer recorded.
DROP TABLE pipeline_transitions;
DROP TABLE ref_commits;

-- The journal's reason code was called `rule`, the name image rules use for themselves.
ALTER TABLE gc_journal RENAME COLUMN rule TO reason_code;
