//! The database's answers classified per backend: a value Postgres can never store is a query
//! error, not "unavailable" (SQLite's result-code arithmetic once made Postgres's 22021 look like
//! SQLITE_BUSY); and a delivery waiting on a lock is answered 503 well before GitLab's 10 s
//! webhook timeout, on both backends.

use std::time::{Duration, Instant};

use chrono::Utc;
use registry_gc::model::*;
use sqlx::{Connection, Executor};

use crate::support::app::TestApp;
use crate::support::db::{both_backends, Backend, TestDb};
use crate::support::gitlab::{self, sha};

fn batch(name: String) -> Batch {
    Batch {
        source: Source::Webhook {
            delivery_key: format!("k-{}", name.len()),
            event: "push".into(),
        },
        received_at: Utc::now(),
        project: ProjectUpsert {
            id: 7,
            path: "group/thing".into(),
            default_branch: None,
        },
        changes: vec![Change::RefDeleted {
            kind: RefKind::Branch,
            name,
            at: Utc::now(),
        }],
    }
}

/// Holds the lock a delivery needs: a row lock on the project (Postgres), the write lock (SQLite).
enum Blocker {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::SqliteConnection),
}

impl Blocker {
    async fn hold(app: &TestApp) -> Blocker {
        let url = &app.db.config.url.0;
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            conn.execute("BEGIN EXCLUSIVE").await.unwrap();
            Blocker::Sqlite(conn)
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            conn.execute("BEGIN").await.unwrap();
            conn.execute("SELECT * FROM projects WHERE id = 42 FOR UPDATE")
                .await
                .unwrap();
            Blocker::Postgres(conn)
        }
    }

    async fn release(self) {
        match self {
            Blocker::Postgres(mut c) => c.execute("ROLLBACK").await.map(drop).unwrap(),
            Blocker::Sqlite(mut c) => c.execute("ROLLBACK").await.map(drop).unwrap(),
        }
    }
}

both_backends! {
    async fn values_the_database_refuses_are_not_unavailable(backend: Backend) {
        let db = TestDb::new(backend).await;
        let store = registry_gc::store::open(&db.config).await.unwrap();
        store.migrate().await.unwrap();
        let nul = store.project_by_path("group\0thing").await;
        // Random text does not compress below the index row limit (~2.7 KB).
        let incompressible: String = (0..600).map(|_| uuid::Uuid::new_v4().simple().to_string()).collect();
        let long = store.apply(&batch(incompressible)).await;
        match backend {
            Backend::Sqlite => {
                assert!(nul.unwrap().is_none());
                assert!(long.is_ok());
            }
            Backend::Postgres => {
                let nul = nul.unwrap_err();
                assert!(!nul.is_unavailable(), "22021 is no outage: {nul}");
                let long = long.unwrap_err();
                assert!(!long.is_unavailable(), "54000 is no outage: {long}");
            }
        }
        store.ping().await.expect("the pool is fine afterwards");
    }

    async fn a_delivery_waiting_on_a_lock_is_answered_before_gitlab_gives_up(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let first = gitlab::pipeline(950, "main", &sha(9), "running", false, None);
        assert_eq!(app.deliver("Pipeline Hook", &first, None).await.0, 200);
        let blocker = Blocker::hold(&app).await;
        let second = gitlab::pipeline(951, "main", &sha(9), "success", false, None);
        let started = Instant::now();
        let delivery = app.deliver("Pipeline Hook", &second, Some("key-951"));
        let (status, answer) = match tokio::time::timeout(Duration::from_secs(12), delivery).await {
            Ok(answered) => answered,
            Err(_) => (0, serde_json::Value::Null),
        };
        let waited = started.elapsed();
        blocker.release().await;
        assert_eq!((status, answer["error"].as_str()), (503, Some("unavailable")), "after {waited:?}: {answer}");
        assert!(waited < Duration::from_secs(8), "answered after {waited:?}: GitLab gives up after 10 s");
        // GitLab's resend goes through once the lock is gone.
        let (status, answer) = app.deliver("Pipeline Hook", &second, Some("key-951")).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("recorded")), "{answer}");
    }
}
