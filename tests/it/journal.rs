//! Run history, the crash-safe journal and the GC lock, on SQLite and on Postgres.

use chrono::{DateTime, Utc};
use registry_gc::model::*;
use registry_gc::process::ProcessIdentity;
use registry_gc::store::{JournalUpdate, SharedStore};

use crate::support::db::{both_backends, TestDb};

fn now() -> DateTime<Utc> {
    "2026-11-22T12:00:00Z".parse().unwrap()
}

fn entry(run_id: i64, tag: &str) -> JournalEntry {
    JournalEntry {
        id: 0,
        run_id,
        project_id: 42,
        repository: "group/app-ci".into(),
        tag: tag.into(),
        action: JournalAction::Untag,
        reason_code: "ci-commit-finished".into(),
        reason: "pipeline 7 finished".into(),
        planned_digest: "sha256:aaaa".into(),
        dummy_digest: None,
        observed_digest: None,
        state: JournalState::Planned,
        detail: None,
        updated_at: now(),
    }
}

async fn open(db: &TestDb) -> SharedStore {
    let store = registry_gc::store::open(&db.config).await.unwrap();
    store.migrate().await.unwrap();
    store
}

both_backends! {
    async fn journal_survives_a_crash(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = open(&db).await;
        let run = store.create_run("cli", false, now()).await.unwrap();
        let entries = store.journal_insert(&[entry(run, "a"), entry(run, "b"), entry(run, "c")]).await.unwrap();
        let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        store.journal_update(&ids, &JournalUpdate::new(JournalState::Planned, now()).dummy("sha256:dddd")).await.unwrap();
        store.journal_update(&ids[..1], &JournalUpdate::new(JournalState::Repointed, now())).await.unwrap();
        store.journal_update(&ids[1..2], &JournalUpdate::new(JournalState::Skipped, now()).observed("sha256:bbbb").detail("moved")).await.unwrap();

        // The process dies here. A new process (a new Store) finds the run and the open entries.
        drop(store);
        let store = open(&db).await;
        assert_eq!(store.interrupt_runs(now()).await.unwrap(), 1);
        assert_eq!(store.run(run).await.unwrap().unwrap().status, RunStatus::Interrupted);
        let open_entries = store.open_journal().await.unwrap();
        let states: Vec<_> = open_entries.iter().map(|e| (e.tag.as_str(), e.state, e.dummy_digest.as_deref())).collect();
        assert_eq!(states, [("a", JournalState::Repointed, Some("sha256:dddd")), ("c", JournalState::Planned, Some("sha256:dddd"))]);
        let all = store.journal_of_run(run).await.unwrap();
        assert_eq!(all[1].observed_digest.as_deref(), Some("sha256:bbbb"));
        assert_eq!(all[1].dummy_digest.as_deref(), Some("sha256:dddd"), "a later update keeps the dummy");
    }

    async fn runs_are_listed_newest_first(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = open(&db).await;
        let first = store.create_run("schedule", true, now()).await.unwrap();
        let second = store.create_run("api", false, now()).await.unwrap();
        let summary = serde_json::json!({"removed": 3, "bytes": 1024});
        store.finish_run(first, RunStatus::Finished, now(), &summary, None).await.unwrap();
        store.finish_run(second, RunStatus::Refused, now(), &serde_json::json!({}), Some("registry unreachable")).await.unwrap();
        let runs = store.runs(10).await.unwrap();
        assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [second, first]);
        assert_eq!(runs[1].summary, summary);
        assert!(runs[1].dry_run);
        assert_eq!(runs[0].error.as_deref(), Some("registry unreachable"));
        assert_eq!(store.interrupt_runs(now()).await.unwrap(), 0);
    }

    async fn gc_lock_is_exclusive_across_stores(backend: Backend) {
        let db = TestDb::new(backend).await;
        // Two stores on one database: two processes, e.g. the daemon and `registry-gc run --once`.
        let a = open(&db).await;
        let b = open(&db).await;
        let lease = std::time::Duration::from_secs(1);
        let mut held = a.try_gc_lock(lease).await.unwrap().expect("first lock");
        assert!(b.try_gc_lock(lease).await.unwrap().is_none(), "a second process must not get the lock");
        assert!(held.renew().await.unwrap(), "the holder renews its lock");
        held.release().await;
        let again = b.try_gc_lock(lease).await.unwrap().expect("free after release");
        // Dropped without release: free again once Postgres has seen the session end, or once the
        // SQLite lease (1 s here) has run out (the holder, this process, is alive).
        drop(again);
        let mut freed = false;
        for _ in 0..100 {
            if a.try_gc_lock(lease).await.unwrap().is_some() {
                freed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert!(freed, "the lock of a dead holder was never freed");
    }
}

/// A lease row naming `owner` that would last another hour.
async fn plant_lease(db: &TestDb, owner: &ProcessIdentity) {
    use sqlx::{Connection, Executor};
    let mut c = sqlx::SqliteConnection::connect(&db.config.url.0)
        .await
        .unwrap();
    let until = Utc::now().timestamp_millis() + 3_600_000;
    let owner = serde_json::to_string(owner).unwrap();
    let row = format!("INSERT INTO gc_lock (id, holder, owner, expires_at) VALUES (1, 'planted', '{owner}', {until})");
    c.execute(row.as_str()).await.unwrap();
}

/// The advisory lock lives with its session: when that session ends (the server restarted, the
/// connection cut), the holder's check says it is lost and another process can take it.
#[tokio::test]
async fn postgres_lock_is_lost_with_its_session() {
    use sqlx::{Connection, Executor};
    let db = TestDb::new(crate::support::db::Backend::Postgres).await;
    let (a, b) = (open(&db).await, open(&db).await);
    let lease = std::time::Duration::from_secs(30);
    let mut held = a.try_gc_lock(lease).await.unwrap().unwrap();
    assert!(held.renew().await.unwrap());
    let mut side = sqlx::PgConnection::connect(&db.config.url.0).await.unwrap();
    let end = "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' \
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    side.execute(end).await.unwrap();
    assert!(
        !held.renew().await.unwrap(),
        "the holder must learn its session ended"
    );
    let mut taken = None;
    for _ in 0..100 {
        taken = b.try_gc_lock(lease).await.unwrap();
        if taken.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(taken.is_some(), "free once the holding session is gone");
    held.release().await;
}

#[tokio::test]
async fn sqlite_lease_of_a_dead_process_is_taken_at_once() {
    let db = TestDb::new(crate::support::db::Backend::Sqlite).await;
    let store = open(&db).await;
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let dead = ProcessIdentity {
        pid,
        start_ticks: 0,
        ..ProcessIdentity::current().clone()
    };
    plant_lease(&db, &dead).await;
    let lease = std::time::Duration::from_secs(30);
    let lock = store.try_gc_lock(lease).await.unwrap();
    assert!(
        lock.is_some(),
        "a lease held by a process that is gone must not lock runs out"
    );
}

#[tokio::test]
async fn sqlite_lease_elsewhere_waits_and_a_taken_lease_is_lost() {
    let db = TestDb::new(crate::support::db::Backend::Sqlite).await;
    let store = open(&db).await;
    let elsewhere = ProcessIdentity {
        host: "another-host".into(),
        ..ProcessIdentity::current().clone()
    };
    plant_lease(&db, &elsewhere).await;
    let lease = std::time::Duration::from_millis(300);
    assert!(
        store.try_gc_lock(lease).await.unwrap().is_none(),
        "a live-looking holder on another host keeps its lease"
    );

    // A lease that ran out is taken over; the old holder's next renewal says it lost the lock.
    let db = TestDb::new(crate::support::db::Backend::Sqlite).await;
    let (a, b) = (open(&db).await, open(&db).await);
    let mut first = a.try_gc_lock(lease).await.unwrap().unwrap();
    tokio::time::sleep(lease + std::time::Duration::from_millis(100)).await;
    let second = b
        .try_gc_lock(lease)
        .await
        .unwrap()
        .expect("taken once the lease ran out");
    assert!(
        !first.renew().await.unwrap(),
        "the first holder must learn it lost the lock"
    );
    first.release().await;
    assert!(
        a.try_gc_lock(lease).await.unwrap().is_none(),
        "releasing a lost lock frees nothing"
    );
    second.release().await;
}
