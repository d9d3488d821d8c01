-- Readiness' write probe: one row, written only while writes have been failing (disk full, read-only
-- standby), so a healthy database is never written to by health checks.
CREATE TABLE write_probe (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    at   TIMESTAMPTZ NOT NULL,
    pad  BYTEA
);
