//! SQLite's GC lock: one lease row naming its holder (a random id per taking) and the process that
//! took it. The holder renews the lease while its run lives; another process may take the row once
//! the lease ran out, or at once when the process named is visibly dead on this machine (killed,
//! crashed, rebooted). Times are wall-clock milliseconds: the row is compared across processes.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use sqlx::{Sqlite, SqlitePool};

use super::backend::SqlStore;
use super::exec::{args, Conn};
use super::{GcLock, GcLocks, HeldLock, StoreError};
use crate::process::{Liveness, ProcessIdentity};

const SELECT_LEASE: &str = "SELECT holder, owner, expires_at FROM gc_lock WHERE id = 1";
/// $1 holder, $2 owner, $3 until, $4 now, $5 the holder found dead (or NULL).
const TAKE_LEASE: &str =
    "INSERT INTO gc_lock (id, holder, owner, expires_at) VALUES (1, $1, $2, $3) \
     ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, owner = excluded.owner, \
       expires_at = excluded.expires_at \
     WHERE gc_lock.expires_at < $4 OR gc_lock.holder = $5";
const RENEW_LEASE: &str = "UPDATE gc_lock SET expires_at = $2 WHERE id = 1 AND holder = $1";
const RELEASE_LEASE: &str = "DELETE FROM gc_lock WHERE holder = $1";

fn expiry(now_ms: i64, lease: Duration) -> i64 {
    now_ms.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
}

/// The process an owner column names, if it is dead for sure.
fn dead_owner(owner: &str) -> Option<ProcessIdentity> {
    let process: ProcessIdentity = serde_json::from_str(owner).ok()?;
    (process.liveness() == Liveness::Dead).then_some(process)
}

#[async_trait]
impl GcLocks for SqlStore<Sqlite> {
    /// Takes the lease row if it is free, ran out, or names a dead process (compare-and-swap on the
    /// holder id, so two takers of a dead holder's row cannot both win).
    async fn try_gc_lock(&self, lease: Duration) -> Result<Option<GcLock>, StoreError> {
        let mut c = self.pool.acquire().await?;
        let now = Utc::now().timestamp_millis();
        let current: Option<(String, String, i64)> = c.optional(SELECT_LEASE, &[]).await?;
        let dead = current
            .as_ref()
            .filter(|(_, _, expires)| *expires >= now)
            .and_then(|(holder, owner, _)| Some((holder.as_str(), dead_owner(owner)?)));
        let holder = uuid::Uuid::new_v4().to_string();
        let owner = serde_json::to_string(ProcessIdentity::current())
            .map_err(|e| StoreError::Corrupt(format!("process identity: {e}")))?;
        let until = expiry(now, lease);
        let dead_holder = dead.as_ref().map(|(holder, _)| *holder);
        let a = args![&holder, &owner, until, now, dead_holder];
        if c.exec(TAKE_LEASE, &a).await? == 0 {
            return Ok(None);
        }
        if let Some((_, process)) = &dead {
            tracing::warn!(%process, "took over the GC lock of a process that is gone");
        }
        let pool = self.pool.clone();
        Ok(Some(GcLock::new(Lease {
            pool,
            holder,
            lease,
        })))
    }
}

/// The lease row this process holds.
struct Lease {
    pool: SqlitePool,
    holder: String,
    lease: Duration,
}

#[async_trait]
impl HeldLock for Lease {
    /// Extends the lease if the row is still this holder's.
    async fn renew(&mut self) -> Result<bool, StoreError> {
        let until = expiry(Utc::now().timestamp_millis(), self.lease);
        let mut c = self.pool.acquire().await?;
        Ok(c.exec(RENEW_LEASE, &args![&self.holder, until]).await? == 1)
    }

    fn lease(&self) -> Duration {
        self.lease
    }

    /// Gives the lease back (only if this holder still has it).
    async fn release(self: Box<Self>) {
        let released = match self.pool.acquire().await {
            Ok(mut c) => c.exec(RELEASE_LEASE, &args![&self.holder]).await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = released {
            tracing::warn!(error = %e, "could not release the GC lock; it expires with its lease");
        }
    }
}
