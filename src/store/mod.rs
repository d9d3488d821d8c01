//! The store: what webhooks told us, in SQLite (default) or Postgres behind one interface, picked
//! from the URL scheme. Every write is one transaction per delivery; nothing here decides policy.

pub mod change;
mod journal;
pub mod model;
mod postgres;
mod queries;
mod rows;
mod sql;
mod sqlite;

use sqlx::{PgPool, SqlitePool};

use crate::config::DatabaseConfig;
use change::Batch;
use model::*;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Calls the same operation on whichever backend is in use.
macro_rules! dispatch {
    ($self:ident . $f:ident ( $($arg:expr),* )) => {
        match &$self.backend {
            Backend::Sqlite(pool) => sqlite::$f(pool $(, $arg)*).await,
            Backend::Postgres(pool) => postgres::$f(pool $(, $arg)*).await,
        }
    };
}

/// Holds the GC lock until released. Dropped without release: on Postgres the connection is closed,
/// which ends the session and its advisory lock; on SQLite the lease runs out.
pub struct GcLock(LockHold);

enum LockHold {
    Postgres(Option<sqlx::pool::PoolConnection<sqlx::Postgres>>),
    Sqlite { pool: SqlitePool, holder: String },
    Released,
}

impl GcLock {
    /// Releases the lock.
    pub async fn release(mut self) {
        match std::mem::replace(&mut self.0, LockHold::Released) {
            LockHold::Postgres(Some(conn)) => postgres::release_gc_lock(conn).await,
            LockHold::Sqlite { pool, holder } => sqlite::release_gc_lock(&pool, &holder).await,
            LockHold::Postgres(None) | LockHold::Released => {}
        }
    }
}

impl Drop for GcLock {
    fn drop(&mut self) {
        if let LockHold::Postgres(conn) = &mut self.0 {
            if let Some(conn) = conn.take() {
                drop(conn.detach());
            }
        }
    }
}

/// What applying a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Recorded {
        changes: usize,
    },
    /// The delivery key was seen before; nothing changed.
    Duplicate,
}

/// Optional filters for listing image tags.
#[derive(Debug, Clone, Default)]
pub struct TagFilter {
    pub ref_name: Option<String>,
    pub kind: Option<TagKind>,
}

/// A journal entry's next state, with what the step observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalUpdate {
    pub state: JournalState,
    pub dummy_digest: Option<String>,
    pub observed_digest: Option<String>,
    pub detail: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl JournalUpdate {
    pub fn new(state: JournalState, at: chrono::DateTime<chrono::Utc>) -> Self {
        JournalUpdate {
            state,
            dummy_digest: None,
            observed_digest: None,
            detail: None,
            at,
        }
    }

    pub fn dummy(mut self, digest: &str) -> Self {
        self.dummy_digest = Some(digest.to_owned());
        self
    }

    pub fn observed(mut self, digest: &str) -> Self {
        self.observed_digest = Some(digest.to_owned());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// A store failure. `Unavailable` means the database cannot be reached right now (callers answer
/// 503 and delete nothing); the others are bugs or corruption.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Query(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unexpected value in database: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_unavailable(&e) {
            StoreError::Unavailable(e)
        } else {
            StoreError::Query(e)
        }
    }
}

/// Connection trouble, a locked SQLite file, or Postgres refusing sessions.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // SQLite BUSY (5) / LOCKED (6) and their extended codes; Postgres connection
            // exceptions (08…), shutdown / cannot connect now (57P…), too many connections, no such
            // database, database not accepting connections (55000 when connecting).
            let sqlite_busy =
                matches!(code.parse::<i32>(), Ok(c) if c & 0xff == 5 || c & 0xff == 6);
            sqlite_busy
                || code.starts_with("08")
                || code.starts_with("57P")
                || ["53300", "3D000", "55000"].contains(&code.as_ref())
        }
        _ => false,
    }
}

impl Store {
    /// Opens the database named by `cfg.url`; does not migrate.
    pub async fn connect(cfg: &DatabaseConfig) -> Result<Store, StoreError> {
        let backend = if cfg.url.0.starts_with("sqlite:") {
            Backend::Sqlite(sqlite::connect(cfg).await?)
        } else {
            Backend::Postgres(postgres::connect(cfg).await?)
        };
        Ok(Store { backend })
    }

    /// Applies pending migrations (from `migrations/<backend>`, embedded in the binary).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::migrate(pool).await,
            Backend::Postgres(pool) => postgres::migrate(pool).await,
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self.ping())
    }

    /// Records one delivery atomically; a repeated delivery key changes nothing.
    pub async fn apply(&self, batch: &Batch) -> Result<Applied, StoreError> {
        dispatch!(self.apply(batch))
    }

    pub async fn projects(&self) -> Result<Vec<ProjectRecord>, StoreError> {
        dispatch!(self.projects())
    }

    pub async fn project_by_id(&self, id: i64) -> Result<Option<ProjectRecord>, StoreError> {
        dispatch!(self.project_by_id(id))
    }

    /// Case-insensitive `path_with_namespace` lookup.
    pub async fn project_by_path(&self, path: &str) -> Result<Option<ProjectRecord>, StoreError> {
        dispatch!(self.project_by_path(path))
    }

    pub async fn refs(&self, project: i64) -> Result<Vec<RefRecord>, StoreError> {
        dispatch!(self.refs(project))
    }

    /// Commits of one ref in push order.
    pub async fn ref_commits(
        &self,
        project: i64,
        kind: RefKind,
        name: &str,
    ) -> Result<Vec<RefCommitRecord>, StoreError> {
        dispatch!(self.ref_commits(project, kind, name))
    }

    pub async fn pipelines(&self, project: i64) -> Result<Vec<PipelineRecord>, StoreError> {
        dispatch!(self.pipelines(project))
    }

    /// Statuses one pipeline went through, oldest first.
    pub async fn transitions(
        &self,
        project: i64,
        pipeline: i64,
    ) -> Result<Vec<PipelineTransition>, StoreError> {
        dispatch!(self.transitions(project, pipeline))
    }

    pub async fn merge_requests(
        &self,
        project: i64,
    ) -> Result<Vec<MergeRequestRecord>, StoreError> {
        dispatch!(self.merge_requests(project))
    }

    pub async fn image_tags(
        &self,
        project: i64,
        filter: &TagFilter,
    ) -> Result<Vec<ImageTagRecord>, StoreError> {
        dispatch!(self.image_tags(project, filter))
    }

    /// Everything recorded for a project: the policy's input.
    pub async fn project_state(&self, project: i64) -> Result<ProjectState, StoreError> {
        Ok(ProjectState {
            project: self.project_by_id(project).await?,
            refs: self.refs(project).await?,
            pipelines: self.pipelines(project).await?,
            merge_requests: self.merge_requests(project).await?,
            image_tags: self.image_tags(project, &TagFilter::default()).await?,
        })
    }

    /// Starts a garbage-collection run record (`running`); returns its id.
    pub async fn create_run(
        &self,
        trigger: &str,
        dry_run: bool,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<i64, StoreError> {
        dispatch!(self.create_run(trigger, dry_run, at))
    }

    pub async fn finish_run(
        &self,
        id: i64,
        status: RunStatus,
        at: chrono::DateTime<chrono::Utc>,
        summary: &serde_json::Value,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        dispatch!(self.finish_run(id, status, at, summary, error))
    }

    /// Marks runs left `running` by a dead process as `interrupted`. Only call while holding the GC
    /// lock. Returns how many there were.
    pub async fn interrupt_runs(
        &self,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        dispatch!(self.interrupt_runs(at))
    }

    /// The newest runs first.
    pub async fn runs(&self, limit: i64) -> Result<Vec<RunRecord>, StoreError> {
        dispatch!(self.runs(limit))
    }

    pub async fn run(&self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        dispatch!(self.run(id))
    }

    /// Records planned actions (one transaction); returns them with ids.
    pub async fn journal_insert(
        &self,
        entries: &[JournalEntry],
    ) -> Result<Vec<JournalEntry>, StoreError> {
        dispatch!(self.journal_insert(entries))
    }

    /// Moves entries to a new state (one transaction).
    pub async fn journal_update(
        &self,
        ids: &[i64],
        update: &JournalUpdate,
    ) -> Result<(), StoreError> {
        dispatch!(self.journal_update(ids, update))
    }

    pub async fn journal_of_run(&self, run: i64) -> Result<Vec<JournalEntry>, StoreError> {
        dispatch!(self.journal_of_run(run))
    }

    /// Records the digests the registry showed for recorded tags `(repository, tag, digest)`;
    /// only rows whose digest changed are written. Returns how many.
    pub async fn set_digests(
        &self,
        project: i64,
        seen: &[(String, String, String)],
    ) -> Result<u64, StoreError> {
        dispatch!(self.set_digests(project, seen))
    }

    /// Forgets delivery keys received before `before`; returns how many.
    pub async fn prune_deliveries(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        dispatch!(self.prune_deliveries(before))
    }

    /// Entries a crashed run left `planned` or `repointed`.
    pub async fn open_journal(&self) -> Result<Vec<JournalEntry>, StoreError> {
        dispatch!(self.open_journal())
    }

    /// Takes the GC lock that keeps runs from overlapping across processes: a Postgres advisory lock
    /// held on one connection for the run (replicas sharing Postgres), or, on SQLite, a lease row that
    /// expires after `lease` if the holder dies. `None`: another run holds it.
    pub async fn try_gc_lock(
        &self,
        lease: std::time::Duration,
    ) -> Result<Option<GcLock>, StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                let holder = uuid::Uuid::new_v4().to_string();
                let taken = sqlite::try_gc_lock(pool, &holder, lease).await?;
                Ok(taken.then(|| {
                    GcLock(LockHold::Sqlite {
                        pool: pool.clone(),
                        holder,
                    })
                }))
            }
            Backend::Postgres(pool) => Ok(postgres::try_gc_lock(pool)
                .await?
                .map(|c| GcLock(LockHold::Postgres(Some(c))))),
        }
    }

    /// Closes every connection (shutdown).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(pool) => pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}
