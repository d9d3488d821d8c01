//! SQLite backend: the embedded default. WAL, a busy timeout and foreign keys are set here, in the
//! constructor, and nowhere else, with the check that no pooled connection stays inside a
//! transaction. The GC lock's lease row (SQLite has no advisory locks) is in `lease.rs`.

use std::str::FromStr;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnectionMetadata;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Executor, Sqlite, SqliteConnection};

use super::backend::{Backend, SqlStore};
use super::{DatabaseConfig, StoreError};

/// Page cache per connection, KiB.
const SQLITE_CACHE_KIB: u32 = 256;

/// Opens (creating if missing) the database file named by a `sqlite://` URL.
pub(super) async fn connect(cfg: &DatabaseConfig) -> Result<SqlStore<Sqlite>, StoreError> {
    let options = SqliteConnectOptions::from_str(&cfg.url.0)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a commit is on disk before it returns, so a delivery answered 200 survives a power
        // loss or a node crash too (NORMAL may lose the last commits then; GitLab does not resend
        // what was answered 200). Costs one fsync per commit.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_millis(cfg.sqlite_busy_timeout_ms))
        .foreign_keys(true)
        // Each pooled connection keeps its own page cache (SQLite's default: up to 2 MiB), held
        // for as long as the connection lives: with 8 connections, up to 16 MiB, filling a little
        // more with every GC run (scripts/bench-memory.sh). 256 KiB each bounds that; the OS's
        // file cache serves the rest.
        .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"));
    #[cfg(feature = "fault-injection")]
    let options = match cfg.sqlite_max_page_count {
        Some(pages) => options.pragma("max_page_count", pages.to_string()),
        None => options,
    };
    let pool = SqlitePoolOptions::new()
        .max_connections(cfg.max_connections)
        .acquire_timeout(Duration::from_millis(cfg.acquire_timeout_ms))
        .after_release(release_clean)
        .connect_with(options)
        .await?;
    Ok(SqlStore::new(pool))
}

/// Runs on every connection given back to the pool. One still inside a transaction is closed
/// instead of reused: after SQLITE_FULL a COMMIT can fail with SQLite having rolled back already,
/// the ROLLBACK sqlx sends on drop then fails too, and sqlx's count says "in a transaction" while
/// SQLite is not (or the other way round). Reused, such a connection turns the next `BEGIN` into a
/// SAVEPOINT of a transaction that never commits: "recorded" answered for nothing, and the write
/// lock held until restart. Closing it rolls back whatever is open and frees the lock.
fn release_clean(
    conn: &mut SqliteConnection,
    _: PoolConnectionMetadata,
) -> BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        let clean = !conn.is_in_transaction()
            && conn.execute("BEGIN").await.is_ok()
            && conn.execute("ROLLBACK").await.is_ok();
        if !clean {
            tracing::warn!("closing a database connection left inside a transaction");
        }
        Ok(clean)
    })
}

impl Backend for Sqlite {
    const LABEL: &'static str = "sqlite";
    const WRITE_PROBE: &'static [&'static str] = &[
        "INSERT INTO write_probe (id, at, pad) VALUES (1, $1, zeroblob(32768)) \
         ON CONFLICT (id) DO UPDATE SET at = excluded.at, pad = excluded.pad",
        "UPDATE write_probe SET at = $1, pad = NULL WHERE id = 1",
    ];
    const MIGRATION_SESSION: &'static [&'static str] = &[];
    // The write-ahead log grows while the disk is full (its automatic checkpoint needs room to
    // run): fold it into the database and truncate it, so the space freed is not used up by it.
    const AFTER_RECOVERY: &'static [&'static str] = &["PRAGMA wal_checkpoint(TRUNCATE)"];

    fn migrator() -> &'static Migrator {
        static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");
        &MIGRATOR
    }
}
