//! Postgres backend: for several replicas or an existing database server. Pool sizing and timeouts
//! are set here, in the constructor; so is the GC lock, a session advisory lock.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::Postgres;

use super::backend::{Backend, SqlStore};
use super::exec::{args, Conn};
use super::{DatabaseConfig, GcLock, GcLocks, HeldLock, StoreError};

/// Connects lazily: the daemon starts (and answers `/readyz` 503) while Postgres is still down.
/// Every session gets `statement_timeout` and `lock_timeout` below GitLab's 10 s webhook timeout,
/// so a delivery waiting on a lock is answered 503 before GitLab gives up on it. The server probes
/// idle sessions with TCP keepalives, so the GC lock of a replica whose node vanished (no FIN ever
/// arrives) is freed after about a minute rather than the kernel's two hours.
pub(super) async fn connect(cfg: &DatabaseConfig) -> Result<SqlStore<Postgres>, StoreError> {
    let options = PgConnectOptions::from_str(&cfg.url.0)?.options([
        (
            "statement_timeout",
            format!("{}ms", cfg.statement_timeout_ms),
        ),
        ("lock_timeout", format!("{}ms", cfg.lock_timeout_ms)),
        ("tcp_keepalives_idle", "30".to_owned()),
        ("tcp_keepalives_interval", "10".to_owned()),
        ("tcp_keepalives_count", "3".to_owned()),
    ]);
    let pool = PgPoolOptions::new()
        .max_connections(cfg.max_connections)
        .acquire_timeout(Duration::from_millis(cfg.acquire_timeout_ms))
        .connect_lazy_with(options);
    Ok(SqlStore::new(pool))
}

impl Backend for Postgres {
    const LABEL: &'static str = "postgres";
    const WRITE_PROBE: &'static [&'static str] = &[
        "INSERT INTO write_probe (id, at, pad) VALUES (1, $1, NULL) \
         ON CONFLICT (id) DO UPDATE SET at = excluded.at, pad = NULL",
    ];
    const AFTER_RECOVERY: &'static [&'static str] = &[];
    // Migrations may build indexes over large tables: no webhook is waiting on them.
    const MIGRATION_SESSION: &'static [&'static str] =
        &["SET statement_timeout = 0", "SET lock_timeout = 0"];

    fn migrator() -> &'static Migrator {
        static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");
        &MIGRATOR
    }
}

/// Advisory lock key of the garbage collector ("rgc-gc" as bytes).
const GC_LOCK_KEY: i64 = 0x7267_632d_6763;

#[async_trait]
impl GcLocks for SqlStore<Postgres> {
    /// Takes the advisory lock on a dedicated connection, held for the run. `lease` only paces the
    /// holder's checks that its session is still there.
    async fn try_gc_lock(&self, lease: Duration) -> Result<Option<GcLock>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let row: Option<(bool,)> = conn
            .optional("SELECT pg_try_advisory_lock($1)", &args![GC_LOCK_KEY])
            .await?;
        let locked = row.is_some_and(|(locked,)| locked);
        Ok(locked.then(|| GcLock::new(Advisory(Some(conn), lease))))
    }
}

/// The connection whose session holds the advisory lock.
struct Advisory(Option<PoolConnection<Postgres>>, Duration);

#[async_trait]
impl HeldLock for Advisory {
    /// The lock lives as long as its session: asks that session, and never locks again (a second
    /// `pg_try_advisory_lock` would stack, and one unlock would no longer free it).
    async fn renew(&mut self) -> Result<bool, StoreError> {
        let Some(conn) = self.0.as_mut() else {
            return Ok(false);
        };
        Ok(conn.exec("SELECT 1", &[]).await.is_ok())
    }

    fn lease(&self) -> Duration {
        self.1
    }

    /// Unlocks; if that fails the connection is closed instead, which also releases the lock.
    async fn release(mut self: Box<Self>) {
        let Some(mut conn) = self.0.take() else {
            return;
        };
        let unlocked = conn
            .exec("SELECT pg_advisory_unlock($1)", &args![GC_LOCK_KEY])
            .await;
        if unlocked.is_err() {
            drop(conn.detach());
        }
    }
}

impl Drop for Advisory {
    /// Dropped without release (a run stopped mid-way): close the session so the lock goes with it.
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            drop(conn.detach());
        }
    }
}
