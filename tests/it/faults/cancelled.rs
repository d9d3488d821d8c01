//! Writes whose caller goes away mid-transaction (a client hanging up, a timeout) leave no pooled
//! connection inside a transaction: every later write commits and is seen by another process. On a
//! pool of two connections, so every connection is reused many times. SQLite and Postgres.

use std::time::Duration;

use chrono::Utc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use registry_gc::model::{Batch, ProjectUpsert, Source};
use registry_gc::store::SharedStore;

use super::seed;
use crate::support::db::{both_backends, TestDb};

async fn open(db: &TestDb) -> SharedStore {
    let store = registry_gc::store::open(&db.config).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// A delivery that records only its project (`id`).
fn batch(id: i64) -> Batch {
    Batch {
        source: Source::Webhook {
            delivery_key: format!("cancel-{id}"),
            event: "push".into(),
        },
        received_at: Utc::now(),
        project: ProjectUpsert {
            id,
            path: format!("group/p{id}"),
            default_branch: Some("main".into()),
        },
        changes: Vec::new(),
    }
}

both_backends! {
    async fn cancelled_writes_leave_no_open_transaction(backend: Backend) {
        let mut db = TestDb::new(backend).await;
        db.config.max_connections = 2;
        let store = open(&db).await;
        let mut rng = StdRng::seed_from_u64(seed(0xca9c_0000, backend));
        for id in 1..=150 {
            let cut = Duration::from_micros(rng.random_range(0..3000));
            let _ = tokio::time::timeout(cut, store.apply(&batch(id))).await;
        }
        // Whatever the cancelled ones did, each new write commits: another process sees all of them.
        for id in 1001..=1010 {
            store.apply(&batch(id)).await.expect("a write after the cancelled ones");
        }
        let other = open(&db).await;
        let seen: Vec<i64> = other.projects().await.unwrap().iter().map(|p| p.id).filter(|id| *id > 1000).collect();
        assert_eq!(seen.len(), 10, "writes committed on a reused connection are visible elsewhere: {seen:?}");
        other.close().await;
        store.close().await;
    }
}
