-- The GC lock for SQLite (Postgres uses an advisory lock): one row, held by one run at a time,
-- with a lease so that a crashed holder does not block runs forever.
CREATE TABLE gc_lock (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    holder      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL                -- unix milliseconds
);
