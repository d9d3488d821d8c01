//! Run history, the crash-safe journal and the GC lock, on SQLite and on Postgres.

use chrono::{DateTime, Utc};
use registry_gc::store::model::*;
use registry_gc::store::{JournalUpdate, Store};

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
        rule: "ci-commit-finished".into(),
        reason: "pipeline 7 finished".into(),
        planned_digest: "sha256:aaaa".into(),
        dummy_digest: None,
        observed_digest: None,
        state: JournalState::Planned,
        detail: None,
        updated_at: now(),
    }
}

async fn open(db: &TestDb) -> Store {
    let store = Store::connect(&db.config).await.unwrap();
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
        let held = a.try_gc_lock(lease).await.unwrap().expect("first lock");
        assert!(b.try_gc_lock(lease).await.unwrap().is_none(), "a second process must not get the lock");
        held.release().await;
        let again = b.try_gc_lock(lease).await.unwrap().expect("free after release");
        // Dropped without release, as when the process dies: free again once Postgres has seen the
        // session end, or once the SQLite lease (1 s here) has run out.
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
