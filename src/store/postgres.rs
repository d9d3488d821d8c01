//! Postgres backend: for several replicas or an existing database server. Pool sizing and timeouts
//! are set here, in the constructor.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::config::DatabaseConfig;

super::queries::backend_queries!(sqlx::Postgres);

/// Connects lazily: the daemon starts (and answers `/readyz` 503) while Postgres is still down.
pub(crate) async fn connect(cfg: &DatabaseConfig) -> Result<PgPool, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(cfg.max_connections)
        .acquire_timeout(Duration::from_millis(cfg.acquire_timeout_ms))
        .connect_lazy(&cfg.url.0)?;
    Ok(pool)
}

pub(crate) async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::migrate!("migrations/postgres").run(pool).await?;
    Ok(())
}

/// Advisory lock key of the garbage collector ("rgc-gc" as bytes).
const GC_LOCK_KEY: i64 = 0x7267_632d_6763;

/// Takes the advisory lock on a dedicated connection; `None` when another session holds it.
pub(crate) async fn try_gc_lock(
    pool: &PgPool,
) -> Result<Option<sqlx::pool::PoolConnection<sqlx::Postgres>>, StoreError> {
    let mut conn = pool.acquire().await?;
    let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
        .bind(GC_LOCK_KEY)
        .fetch_one(&mut *conn)
        .await?;
    Ok(locked.then_some(conn))
}

/// Unlocks; if that fails the connection is closed instead, which also releases the lock.
pub(crate) async fn release_gc_lock(mut conn: sqlx::pool::PoolConnection<sqlx::Postgres>) {
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(GC_LOCK_KEY)
        .execute(&mut *conn)
        .await;
    if unlocked.is_err() {
        drop(conn.detach());
    }
}
