//! SQLite backend: the embedded default. WAL, a busy timeout and foreign keys are set here, in the
//! constructor, and nowhere else.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config::DatabaseConfig;

super::queries::backend_queries!(sqlx::Sqlite);

/// Opens (creating if missing) the database file named by a `sqlite://` URL.
pub(crate) async fn connect(cfg: &DatabaseConfig) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(&cfg.url.0)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_millis(cfg.sqlite_busy_timeout_ms))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(cfg.max_connections)
        .acquire_timeout(Duration::from_millis(cfg.acquire_timeout_ms))
        .connect_with(options)
        .await?;
    Ok(pool)
}

pub(crate) async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    sqlx::migrate!("migrations/sqlite").run(pool).await?;
    Ok(())
}

/// Takes the lease row if it is free or its lease ran out; `holder` identifies this run.
pub(crate) async fn try_gc_lock(
    pool: &SqlitePool,
    holder: &str,
    lease: std::time::Duration,
) -> Result<bool, StoreError> {
    let now = chrono::Utc::now().timestamp_millis();
    let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
    let taken = sqlx::query(
        "INSERT INTO gc_lock (id, holder, expires_at) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE gc_lock.expires_at < $3",
    )
    .bind(holder)
    .bind(until)
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(taken == 1)
}

/// Gives the lease back (only if this holder still has it).
pub(crate) async fn release_gc_lock(pool: &SqlitePool, holder: &str) {
    let released = sqlx::query("DELETE FROM gc_lock WHERE holder = $1")
        .bind(holder)
        .execute(pool)
        .await;
    if let Err(e) = released {
        tracing::warn!(error = %e, "could not release the GC lock; it expires with its lease");
    }
}
