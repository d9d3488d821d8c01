//! Keeping the GC lock while a run lives: a heartbeat task renews it (a SQLite lease of
//! [`LEASE`], or a check that the Postgres session holding the advisory lock is still there) and
//! cancels the run's stop token the moment the lock is lost, so the run stops at its next safe point
//! instead of running beside another. The lock is released when the run ends, or when the run's
//! future is dropped. Paced by real time: the lease is compared by other processes.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::store::GcLock;

/// How long the SQLite lease lasts without renewal; renewed every third of it. A process that dies
/// elsewhere than on this machine blocks runs for at most this long.
pub(super) const LEASE: Duration = Duration::from_secs(30);

/// The task holding the lock for a run.
pub(super) struct Heartbeat {
    task: JoinHandle<()>,
    /// Cancelled (also when dropped): the task releases the lock and ends.
    done: DropGuard,
}

impl Heartbeat {
    /// Holds `lock` until [`Heartbeat::release`] or drop; cancels `lost` if the lock is lost.
    pub fn start(lock: GcLock, lost: CancellationToken) -> Heartbeat {
        let done = CancellationToken::new();
        let task = tokio::spawn(beat(lock, lost, done.clone()));
        Heartbeat {
            task,
            done: done.drop_guard(),
        }
    }

    /// Stops renewing and releases the lock; returns once it is released.
    pub async fn release(self) {
        drop(self.done);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the GC lock's heartbeat failed");
        }
    }
}

async fn beat(mut lock: GcLock, lost: CancellationToken, done: CancellationToken) {
    let lease = lock.lease();
    let every = lease / 3;
    let mut valid_until = Instant::now() + lease;
    loop {
        tokio::select! {
            () = done.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
        let asked = Instant::now();
        match lock.renew().await {
            Ok(true) => valid_until = asked + lease,
            Ok(false) => {
                tracing::error!("lost the GC lock; the run stops at its next safe point");
                lost.cancel();
                done.cancelled().await;
                break;
            }
            Err(e) if Instant::now() < valid_until => {
                tracing::warn!(error = %e, "could not renew the GC lock; trying again");
            }
            Err(e) => {
                tracing::error!(error = %e, "the GC lock's lease ran out; the run stops at its next safe point");
                lost.cancel();
                done.cancelled().await;
                break;
            }
        }
    }
    // Harmless when lost: the release only frees a lock that is still this run's.
    lock.release().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DatabaseConfig, DatabaseUrl};
    use sqlx::{Connection, Executor};

    const SHORT: Duration = Duration::from_millis(300);

    #[tokio::test]
    async fn renewals_keep_the_lock_and_a_lost_lock_stops_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("gc.db").display());
        let config = DatabaseConfig {
            url: DatabaseUrl(url.clone()),
            ..DatabaseConfig::default()
        };
        let store = crate::store::open(&config).await.unwrap();
        store.migrate().await.unwrap();

        // Held for three leases by renewals alone; released at the end.
        let lost = CancellationToken::new();
        let heartbeat = Heartbeat::start(
            store.try_gc_lock(SHORT).await.unwrap().unwrap(),
            lost.clone(),
        );
        tokio::time::sleep(SHORT * 3).await;
        assert!(
            store.try_gc_lock(SHORT).await.unwrap().is_none(),
            "renewed lease taken"
        );
        assert!(!lost.is_cancelled());
        heartbeat.release().await;

        // Taken over behind the holder's back: the next renewal cancels the run's token.
        let heartbeat = Heartbeat::start(
            store.try_gc_lock(SHORT).await.unwrap().expect("free"),
            lost.clone(),
        );
        let mut side = sqlx::SqliteConnection::connect(&url).await.unwrap();
        side.execute("UPDATE gc_lock SET holder = 'someone else'")
            .await
            .unwrap();
        tokio::time::timeout(SHORT * 2, lost.cancelled())
            .await
            .expect("the loss is noticed");
        heartbeat.release().await;
        let (holder,): (String,) = sqlx::query_as("SELECT holder FROM gc_lock")
            .fetch_one(&mut side)
            .await
            .unwrap();
        assert_eq!(
            holder, "someone else",
            "releasing a lost lock must not free the new holder's"
        );
    }
}
