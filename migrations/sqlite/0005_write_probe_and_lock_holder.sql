-- Readiness' write probe: one row, written only while writes have been failing (disk full), so a
-- healthy database is never written to by health checks.
CREATE TABLE write_probe (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    at   TEXT NOT NULL,
    pad  BLOB
);

-- The GC lock names the process holding it (host, pid, PID namespace, boot id, start time; JSON), so
-- that a holder killed on this machine is seen dead at once; its lease is now short and renewed.
ALTER TABLE gc_lock ADD COLUMN owner TEXT NOT NULL DEFAULT '{}';
