-- Webhook records: projects, refs, commits, pipelines, merge requests, expected image tags.
-- Timestamps are RFC 3339 text (sqlx's encoding of DateTime<Utc>), which sorts chronologically.

CREATE TABLE projects (
    id              INTEGER PRIMARY KEY,          -- GitLab project id
    path            TEXT NOT NULL,                -- path_with_namespace as sent
    default_branch  TEXT,
    first_seen      TEXT NOT NULL,
    last_event_at   TEXT NOT NULL
);
CREATE INDEX projects_by_path ON projects (lower(path));

CREATE TABLE deliveries (
    key          TEXT PRIMARY KEY,                -- Idempotency-Key / event UUID + body hash / body hash
    project_id   INTEGER NOT NULL REFERENCES projects (id),
    event        TEXT NOT NULL,
    received_at  TEXT NOT NULL
);
CREATE INDEX deliveries_by_time ON deliveries (received_at);

CREATE TABLE refs (
    project_id        INTEGER NOT NULL REFERENCES projects (id),
    kind              TEXT NOT NULL CHECK (kind IN ('branch', 'tag')),
    name              TEXT NOT NULL,
    slug              TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('live', 'deleted')),
    protected         BOOLEAN NOT NULL DEFAULT FALSE,
    last_sha          TEXT,
    created_at        TEXT,
    deleted_at        TEXT,
    last_pipeline_at  TEXT,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (project_id, kind, name)
);
CREATE INDEX refs_by_state ON refs (project_id, state);
CREATE INDEX refs_by_slug ON refs (project_id, slug);

CREATE TABLE ref_commits (
    project_id  INTEGER NOT NULL REFERENCES projects (id),
    ref_kind    TEXT NOT NULL,
    ref_name    TEXT NOT NULL,
    sha         TEXT NOT NULL,
    seq         INTEGER NOT NULL,                 -- push order within the ref
    seen_at     TEXT NOT NULL,
    PRIMARY KEY (project_id, ref_kind, ref_name, sha)
);

CREATE TABLE pipelines (
    project_id         INTEGER NOT NULL REFERENCES projects (id),
    id                 INTEGER NOT NULL,
    iid                INTEGER,
    ref_name           TEXT NOT NULL,
    tag                BOOLEAN NOT NULL,
    sha                TEXT NOT NULL,
    source             TEXT,
    status             TEXT NOT NULL,
    merge_request_iid  INTEGER,
    created_at         TEXT,
    finished_at        TEXT,
    updated_at         TEXT NOT NULL,
    PRIMARY KEY (project_id, id)
);
CREATE INDEX pipelines_by_sha ON pipelines (project_id, sha);
CREATE INDEX pipelines_by_ref ON pipelines (project_id, ref_name);

CREATE TABLE pipeline_transitions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   INTEGER NOT NULL,
    pipeline_id  INTEGER NOT NULL,
    status       TEXT NOT NULL,
    at           TEXT NOT NULL,
    FOREIGN KEY (project_id, pipeline_id) REFERENCES pipelines (project_id, id)
);
CREATE INDEX pipeline_transitions_by_pipeline ON pipeline_transitions (project_id, pipeline_id);

CREATE TABLE merge_requests (
    project_id     INTEGER NOT NULL REFERENCES projects (id),
    iid            INTEGER NOT NULL,
    id             INTEGER,
    source_branch  TEXT NOT NULL,
    target_branch  TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('opened', 'closed', 'merged', 'locked')),
    merged_at      TEXT,
    closed_at      TEXT,
    updated_at     TEXT,
    PRIMARY KEY (project_id, iid)
);
CREATE INDEX merge_requests_by_source ON merge_requests (project_id, source_branch);

CREATE TABLE image_tags (
    project_id   INTEGER NOT NULL REFERENCES projects (id),
    repository   TEXT NOT NULL,
    tag          TEXT NOT NULL,
    pipeline_id  INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('ci-commit', 'ci-branch', 'prod-commit', 'prod-current')),
    rule         TEXT NOT NULL,
    ref_kind     TEXT NOT NULL,
    ref_name     TEXT NOT NULL,
    sha          TEXT NOT NULL,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    digest       TEXT,                            -- unknown until the registry is read
    PRIMARY KEY (project_id, repository, tag, pipeline_id)
);
CREATE INDEX image_tags_by_kind_ref ON image_tags (project_id, kind, ref_name);
CREATE INDEX image_tags_by_ref ON image_tags (project_id, ref_name);
