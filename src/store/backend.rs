//! `SqlStore`: the store over one sqlx pool, for either backend. The traits of `mod.rs` are
//! implemented here once, generically; what differs per backend (connecting, migrating, the GC
//! lock) is in `sqlite.rs` and `postgres.rs`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{Connection, Database, Pool};

use super::exec::{args, Conn};
use super::group::GroupWriter;
use super::health::WriteHealth;
use super::{reads, Applied, Deliveries, Lifecycle, PathClaim, Records, StoreError, TagFilter};
use crate::model::*;

/// A pool of one backend's connections, what its writes last did, and the writer that records
/// webhook deliveries in groups.
pub(crate) struct SqlStore<DB: Database> {
    pub pool: Pool<DB>,
    /// Every write reports here; readiness reads it.
    pub health: Arc<WriteHealth>,
    deliveries: GroupWriter,
}

impl<DB> SqlStore<DB>
where
    DB: Database,
    DB::Connection: Conn,
{
    /// The store over `pool`; starts its delivery writer (needs a Tokio runtime).
    pub fn new(pool: Pool<DB>) -> Self {
        let health = Arc::new(WriteHealth::default());
        let deliveries = GroupWriter::start(pool.clone(), health.clone());
        SqlStore {
            pool,
            health,
            deliveries,
        }
    }
}

/// What tells the two backends apart besides their connections: a name, their migrations and the
/// statements of the write probe.
pub(crate) trait Backend: Database {
    const LABEL: &'static str;
    /// Statements run in one transaction to see whether the database accepts writes again; `$1` is
    /// the time. They must need a little new space, and leave nothing behind but one row.
    const WRITE_PROBE: &'static [&'static str];
    /// Run once writes work again after failing for lack of space (outside a transaction): give
    /// back what the failure left behind.
    const AFTER_RECOVERY: &'static [&'static str];
    /// Statements that prepare the one session migrations run on (lifting timeouts); that
    /// session is closed afterwards, never returned to the pool.
    const MIGRATION_SESSION: &'static [&'static str];
    fn migrator() -> &'static Migrator;
}

#[async_trait]
impl<DB> Lifecycle for SqlStore<DB>
where
    DB: Backend,
    DB::Connection: Conn + Migrate,
{
    fn backend_name(&self) -> &'static str {
        DB::LABEL
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        if DB::MIGRATION_SESSION.is_empty() {
            DB::migrator().run(&self.pool).await?;
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?.detach();
        for statement in DB::MIGRATION_SESSION {
            conn.exec(statement, &[]).await?;
        }
        let migrated = DB::migrator().run_direct(&mut conn).await;
        let _ = conn.close().await;
        migrated?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.pool.acquire().await?.exec("SELECT 1", &[]).await?;
        Ok(())
    }

    /// Answers, and — only while the last write failed for lack of space — commits a small write
    /// (so a healthy database is never written to by readiness checks).
    async fn ready(&self) -> Result<(), StoreError> {
        self.ping().await?;
        if self.health.failure().is_none() {
            return Ok(());
        }
        let probe = async {
            let mut tx = self.pool.begin().await?;
            for statement in DB::WRITE_PROBE {
                tx.exec(statement, &args![chrono::Utc::now()]).await?;
            }
            tx.commit().await?;
            Ok(())
        };
        self.health.track(probe.await)?;
        if let Ok(mut c) = self.pool.acquire().await {
            for statement in DB::AFTER_RECOVERY {
                if let Err(e) = c.exec(statement, &[]).await {
                    tracing::warn!(error = %e, "after recovering writes: {statement}");
                }
            }
        }
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await
    }
}

#[async_trait]
impl<DB> Deliveries for SqlStore<DB>
where
    DB: Database,
    DB::Connection: Conn,
{
    /// Through the group writer (`group.rs`): answers `Recorded` only once the commit of its
    /// group returned; a failed delivery is rolled back to its savepoint, a failed commit answers
    /// every delivery of the group with the error. The SQLite pool closes a connection that is
    /// still inside a transaction after an error (`sqlite::release_clean`).
    async fn apply_claiming(&self, batch: &Batch, claim: PathClaim) -> Result<Applied, StoreError> {
        self.deliveries.apply(batch, claim).await
    }

    async fn prune_deliveries(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let pruned = async {
            let mut c = self.pool.acquire().await?;
            Ok(c.exec(super::sql::PRUNE_DELIVERIES, &args![before]).await?)
        };
        self.health.track(pruned.await)
    }
}

#[async_trait]
impl<DB> Records for SqlStore<DB>
where
    DB: Database,
    DB::Connection: Conn,
{
    async fn projects(&self) -> Result<Vec<ProjectRecord>, StoreError> {
        reads::projects(&mut *self.pool.acquire().await?).await
    }

    async fn project_by_id(&self, id: i64) -> Result<Option<ProjectRecord>, StoreError> {
        reads::project_by_id(&mut *self.pool.acquire().await?, id).await
    }

    async fn project_by_path(&self, path: &str) -> Result<Option<ProjectRecord>, StoreError> {
        reads::project_by_path(&mut *self.pool.acquire().await?, path).await
    }

    async fn refs(&self, project: i64) -> Result<Vec<RefRecord>, StoreError> {
        reads::refs(&mut *self.pool.acquire().await?, project).await
    }

    async fn pipelines(&self, project: i64) -> Result<Vec<PipelineRecord>, StoreError> {
        reads::pipelines(&mut *self.pool.acquire().await?, project).await
    }

    async fn merge_requests(&self, project: i64) -> Result<Vec<MergeRequestRecord>, StoreError> {
        reads::merge_requests(&mut *self.pool.acquire().await?, project).await
    }

    async fn image_tags(
        &self,
        project: i64,
        filter: &TagFilter,
    ) -> Result<Vec<ImageTagRecord>, StoreError> {
        reads::image_tags(&mut *self.pool.acquire().await?, project, filter).await
    }

    async fn set_digests(
        &self,
        project: i64,
        seen: &[(String, String, String)],
    ) -> Result<u64, StoreError> {
        let written = async {
            let mut tx = self.pool.begin().await?;
            let changed = reads::set_digests(&mut *tx, project, seen).await?;
            tx.commit().await?;
            Ok(changed)
        };
        self.health.track(written.await)
    }
}
