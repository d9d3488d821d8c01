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
