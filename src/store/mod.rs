//! The store: what GitLab told us and what garbage-collection runs did, in SQLite (the embedded
//! default) or Postgres. Callers see narrow traits — [`Deliveries`], [`Records`], [`Runs`],
//! [`GcLocks`] — implemented once over the SQL both backends share; the backend is picked once,
//! from the URL, by [`open`]. Every write of a batch is one transaction. Nothing here decides policy.

mod backend;
mod error;
mod exec;
mod group;
mod group_fast;
mod health;
mod ingest;
mod lease;
mod postgres;
mod reads;
mod reconcile;
mod runs;
mod settings;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::*;

pub use error::StoreError;
pub use reconcile::ReconcileProgress;
pub use settings::{DatabaseConfig, DatabaseUrl};

/// The database, shared by every part of the process.
pub type SharedStore = Arc<dyn Store>;

/// Everything the daemon and the CLI need from a database.
pub trait Store: Deliveries + Records + Runs + Reconciliations + GcLocks + Lifecycle {}
impl<T: Deliveries + Records + Runs + Reconciliations + GcLocks + Lifecycle> Store for T {}

/// Opens the database named by `cfg.url` (`sqlite://…` or `postgres://…`); does not migrate.
pub async fn open(cfg: &DatabaseConfig) -> Result<SharedStore, StoreError> {
    if cfg.url.is_sqlite() {
        Ok(Arc::new(sqlite::connect(cfg).await?))
    } else {
        Ok(Arc::new(postgres::connect(cfg).await?))
    }
}

/// What applying a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Recorded {
        changes: usize,
    },
    /// The delivery key was seen before; nothing changed.
    Duplicate,
}

/// How a batch may claim its project's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathClaim {
    /// Refused with [`StoreError::Conflict`] when another recorded project id has the path: one
    /// path, one project, once it is known.
    Exclusive,
    /// The configuration pins this id to the path: recorded whatever other rows say (a lookup by
    /// that path then reports the ambiguity instead of picking one).
    Pinned,
}

/// Recording what GitLab says: one batch at a time, each at most once per delivery key.
#[async_trait]
pub trait Deliveries: Send + Sync {
    /// Records one batch atomically; a repeated delivery key changes nothing. The project's path
    /// is claimed [`PathClaim::Exclusive`]ly.
    async fn apply(&self, batch: &Batch) -> Result<Applied, StoreError> {
        self.apply_claiming(batch, PathClaim::Exclusive).await
    }

    /// [`Deliveries::apply`], claiming the project's path as `claim` says.
    async fn apply_claiming(&self, batch: &Batch, claim: PathClaim) -> Result<Applied, StoreError>;

    /// Forgets delivery keys received before `before`; returns how many.
    async fn prune_deliveries(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Optional filters for listing image tags.
#[derive(Debug, Clone, Default)]
pub struct TagFilter {
    pub ref_name: Option<String>,
    pub kind: Option<TagKind>,
}

/// The recorded state, for the API and for planning.
#[async_trait]
pub trait Records: Send + Sync {
    async fn projects(&self) -> Result<Vec<ProjectRecord>, StoreError>;
    async fn project_by_id(&self, id: i64) -> Result<Option<ProjectRecord>, StoreError>;
    /// Case-insensitive `path_with_namespace` lookup; several projects recorded with the path is a
    /// [`StoreError::Conflict`], never a silent pick.
    async fn project_by_path(&self, path: &str) -> Result<Option<ProjectRecord>, StoreError>;
    async fn refs(&self, project: i64) -> Result<Vec<RefRecord>, StoreError>;
    async fn pipelines(&self, project: i64) -> Result<Vec<PipelineRecord>, StoreError>;
    async fn merge_requests(&self, project: i64) -> Result<Vec<MergeRequestRecord>, StoreError>;
    async fn image_tags(
        &self,
        project: i64,
        filter: &TagFilter,
    ) -> Result<Vec<ImageTagRecord>, StoreError>;

    /// Everything recorded for a project: the policy's input.
    async fn project_state(&self, project: i64) -> Result<ProjectState, StoreError> {
        let mut state = ProjectState {
            project: self.project_by_id(project).await?,
            refs: self.refs(project).await?,
            pipelines: self.pipelines(project).await?,
            merge_requests: self.merge_requests(project).await?,
            image_tags: self.image_tags(project, &TagFilter::default()).await?,
        };
        state.share_names();
        Ok(state)
    }

    /// Records the digests the registry showed for recorded tags `(repository, tag, digest)`;
    /// only rows whose digest changed are written. Returns how many.
    async fn set_digests(
        &self,
        project: i64,
        seen: &[(String, String, String)],
    ) -> Result<u64, StoreError>;
}

/// A journal entry's next state, with what the step observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalUpdate {
    pub state: JournalState,
    pub dummy_digest: Option<String>,
    pub observed_digest: Option<String>,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

impl JournalUpdate {
    pub fn new(state: JournalState, at: DateTime<Utc>) -> Self {
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

/// Garbage-collection runs and their journal. The journal is written before every registry step
/// and updated after it; this only records, it never decides.
#[async_trait]
pub trait Runs: Send + Sync {
    /// Starts a run record in state `running`; returns its id.
    async fn create_run(
        &self,
        trigger: &str,
        dry_run: bool,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    async fn finish_run(
        &self,
        id: i64,
        status: RunStatus,
        at: DateTime<Utc>,
        summary: &serde_json::Value,
        error: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Marks runs left `running` by a dead process as `interrupted`. Only call while holding the GC
    /// lock. Returns how many there were.
    async fn interrupt_runs(&self, at: DateTime<Utc>) -> Result<u64, StoreError>;
    /// The newest runs first.
    async fn runs(&self, limit: i64) -> Result<Vec<RunRecord>, StoreError>;
    async fn run(&self, id: i64) -> Result<Option<RunRecord>, StoreError>;
    /// Records planned actions (one transaction); returns them with ids.
    async fn journal_insert(
        &self,
        entries: &[JournalEntry],
    ) -> Result<Vec<JournalEntry>, StoreError>;
    /// Moves entries to a new state (one transaction).
    async fn journal_update(&self, ids: &[i64], update: &JournalUpdate) -> Result<(), StoreError>;
    async fn journal_of_run(&self, run: i64) -> Result<Vec<JournalEntry>, StoreError>;
    /// Entries a crashed run left `planned` or `repointed`.
    async fn open_journal(&self) -> Result<Vec<JournalEntry>, StoreError>;
}

/// Reconciliation with the GitLab API: per project, where its lists continue.
#[async_trait]
pub trait Reconciliations: Send + Sync {
    async fn reconcile_state(&self, project: i64) -> Result<Option<ReconcileState>, StoreError>;
    /// Applies a reconciliation's changes (if any; the project must be recorded or the batch
    /// records it) and moves its watermarks forward, in one transaction.
    async fn record_reconciliation(
        &self,
        batch: Option<&Batch>,
        progress: &ReconcileProgress,
    ) -> Result<(), StoreError>;
    /// Records a failed attempt; watermarks and the last success stay.
    async fn record_reconcile_failure(
        &self,
        project: i64,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError>;
}

/// The lock that keeps garbage-collection runs from overlapping across processes.
#[async_trait]
pub trait GcLocks: Send + Sync {
    /// Takes the GC lock: a Postgres advisory lock held on one connection for the run (replicas
    /// sharing Postgres), or, on SQLite, a lease row that lasts `lease` unless renewed
    /// ([`GcLock::renew`]) and names this process, so that the next taker sees a holder killed on
    /// this machine is dead and does not wait for the lease. `None`: a live run holds it.
    ///
    /// The lease is measured in wall-clock time (`Utc::now()`), never the injected clock: the row is
    /// compared by other processes, whose clocks are the system's.
    async fn try_gc_lock(&self, lease: std::time::Duration) -> Result<Option<GcLock>, StoreError>;
}

/// Holds the GC lock until released or dropped. Dropped without release: on Postgres the
/// connection is closed, which ends the session and its advisory lock; on SQLite the lease runs out
/// (or the next taker sees this process is gone).
pub struct GcLock(Box<dyn HeldLock>);

impl GcLock {
    pub(crate) fn new(held: impl HeldLock + 'static) -> GcLock {
        GcLock(Box::new(held))
    }

    /// Confirms the lock is still held, extending a lease: `Ok(false)` when it was lost (the lease
    /// was taken over, or the session holding the advisory lock ended).
    pub async fn renew(&mut self) -> Result<bool, StoreError> {
        self.0.renew().await
    }

    /// How long the lock lasts without a successful [`GcLock::renew`]; renew well within it.
    pub fn lease(&self) -> std::time::Duration {
        self.0.lease()
    }

    /// Releases the lock.
    pub async fn release(self) {
        self.0.release().await
    }
}

/// A backend's way of holding the GC lock.
#[async_trait]
pub(crate) trait HeldLock: Send {
    async fn renew(&mut self) -> Result<bool, StoreError>;
    fn lease(&self) -> std::time::Duration;
    async fn release(self: Box<Self>);
}

/// Opening, migrating and closing the database.
#[async_trait]
pub trait Lifecycle: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend_name(&self) -> &'static str;
    /// Applies pending migrations (from `migrations/<backend>`, embedded in the binary).
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Answers when the database does.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Ready for deliveries: answers, and accepts writes. While the last write failed for lack of
    /// space (disk full, I/O error, read-only), this commits a small probe write and reports its
    /// failure; a healthy database is not written to.
    async fn ready(&self) -> Result<(), StoreError>;
    /// Closes every connection (shutdown).
    async fn close(&self);
}
