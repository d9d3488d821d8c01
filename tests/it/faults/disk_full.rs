//! The database runs out of space while GitLab keeps delivering: every delivery answered 200 must be
//! in the database (after space is back, and after a restart), nothing else is answered but 503
//! while it is full, `/readyz` says 503 while writes fail and 200 again once they succeed, without
//! a restart. SQLite on a real 2 MiB tmpfs, SQLite with a `max_page_count` limit (for machines that
//! cannot mount), and Postgres answering `disk_full` (SQLSTATE 53100) from a trigger.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::future::join_all;
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};

use crate::support::app::{project_toml, TestApp};
use crate::support::db::{Backend, TestDb};
use crate::support::gitlab;
use crate::support::tmpfs::Tmpfs;

/// Deliveries sent at once, like GitLab's workers do.
const CONCURRENCY: usize = 4;
/// Refused deliveries to see before calling the database full.
const REFUSALS: usize = 12;

/// What GitLab was told about each delivery (a pipeline hook per pipeline id).
#[derive(Default)]
struct Ledger {
    acked: BTreeSet<i64>,
    refused: BTreeSet<i64>,
    next: i64,
}

async fn deliver(app: &TestApp, id: i64) -> u16 {
    let body = gitlab::pipeline(id, "main", &format!("{id:040x}"), "success", false, None);
    let key = format!("fill-{id}");
    app.deliver("Pipeline Hook", &body, Some(&key)).await.0
}

impl Ledger {
    fn note(&mut self, id: i64, status: u16) {
        match status {
            200 => {
                self.refused.remove(&id);
                self.acked.insert(id);
            }
            503 => {
                self.refused.insert(id);
            }
            other => panic!("delivery {id} answered {other}: only 200 or 503 are allowed"),
        }
    }

    /// Delivers `CONCURRENCY` new pipelines at once.
    async fn round(&mut self, app: &TestApp, limit: i64) {
        assert!(self.next < limit, "the database never filled up");
        let ids: Vec<i64> = (self.next..self.next + CONCURRENCY as i64).collect();
        self.next += CONCURRENCY as i64;
        let answers = join_all(ids.iter().map(|&id| deliver(app, id))).await;
        for (id, status) in ids.into_iter().zip(answers) {
            self.note(id, status);
        }
    }

    /// Delivers new pipelines until `REFUSALS` were refused and `/readyz` says the database takes
    /// no writes: when writes work again the daemon gives back what it can (SQLite truncates its
    /// write-ahead log), so the first refusals may not mean the disk is full yet.
    async fn fill(&mut self, app: &TestApp, limit: i64) {
        while self.refused.len() < REFUSALS || readyz(app).await != 503 {
            self.round(app, limit).await;
        }
        assert!(
            !self.acked.is_empty(),
            "nothing was recorded before the disk filled"
        );
    }

    /// GitLab's resend of every refused delivery: each must now be answered 200.
    async fn resend_refused(&mut self, app: &TestApp) {
        let refused: Vec<i64> = self.refused.iter().copied().collect();
        for id in refused {
            let status = deliver(app, id).await;
            assert_eq!(status, 200, "resend of {id} once space is back");
            self.note(id, status);
        }
    }
}

async fn readyz(app: &TestApp) -> u16 {
    let response = app.http.get(app.url("/readyz")).send().await.unwrap();
    response.status().as_u16()
}

/// Polls `/readyz` until it answers `status` (at most 15 s).
async fn wait_readyz(app: &TestApp, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = readyz(app).await;
        if now == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz stayed {now}, expected {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every acknowledged pipeline is recorded, in the running daemon's store and after a restart.
async fn assert_recorded(app: &TestApp, acked: &BTreeSet<i64>) {
    let check = |store: registry_gc::store::SharedStore| async move {
        let recorded: BTreeSet<i64> = store
            .pipelines(42)
            .await
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect();
        let lost: Vec<&i64> = acked.difference(&recorded).collect();
        assert!(
            lost.is_empty(),
            "{} of {} deliveries answered 200 are not in the database: {lost:?}",
            lost.len(),
            acked.len()
        );
    };
    check(app.store.clone()).await;
    app.store.close().await;
    let reopened = registry_gc::store::open(&app.db.config).await.unwrap();
    reopened.migrate().await.unwrap();
    check(reopened.clone()).await;
    reopened.close().await;
}

/// Fills the database, checks the answers while full, frees space with `free`, checks recovery.
async fn exercise(app: &TestApp, free: impl std::future::Future<Output = ()>) {
    assert_eq!(readyz(app).await, 200);
    let mut ledger = Ledger {
        next: 1000,
        ..Ledger::default()
    };
    ledger.fill(app, 20_000).await;
    let status = deliver(app, ledger.next).await;
    assert_eq!(status, 503, "a delivery while full");
    ledger.note(ledger.next, status);
    free.await;
    wait_readyz(app, 200).await;
    ledger.resend_refused(app).await;
    let fresh = ledger.next + 1;
    let status = deliver(app, fresh).await;
    ledger.note(fresh, status);
    assert_eq!(status, 200, "a new delivery once space is back");
    assert_recorded(app, &ledger.acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_full_tmpfs() {
    let Some(tmpfs) = Tmpfs::mount(2 * 1024 * 1024) else {
        return;
    };
    let ballast = tmpfs.path().join("ballast");
    std::fs::write(&ballast, vec![0u8; 1024 * 1024]).unwrap();
    let app = TestApp::spawn_on(
        TestDb::sqlite_in(tmpfs.path()),
        &project_toml("registry.example.com", ""),
    )
    .await;
    exercise(&app, async { std::fs::remove_file(&ballast).unwrap() }).await;
}

/// SQLite's `max_page_count` as the disk: a ballast table takes all but a few pages of the limit,
/// and deleting it gives them back (freelist pages are reused without growing the file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_at_its_page_limit() {
    const LIMIT: u32 = 400;
    let mut db = TestDb::new(Backend::Sqlite).await;
    db.config.sqlite_max_page_count = Some(LIMIT);
    let app = TestApp::spawn_on(db, &project_toml("registry.example.com", "")).await;
    let mut side = SqliteConnection::connect(&app.db.config.url.0)
        .await
        .unwrap();
    let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count")
        .fetch_one(&mut side)
        .await
        .unwrap();
    let ballast = (i64::from(LIMIT) - pages - 12) * 4000;
    side.execute("CREATE TABLE ballast (b BLOB)").await.unwrap();
    sqlx::query("INSERT INTO ballast VALUES (zeroblob($1))")
        .bind(ballast)
        .execute(&mut side)
        .await
        .unwrap();
    exercise(&app, async {
        side.execute("DELETE FROM ballast").await.unwrap();
    })
    .await;
}

/// Postgres out of disk: the server answers `disk_full` (53100) to every insert of a delivery or of
/// the probe until the operator has made room (here: a trigger, then dropped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_out_of_disk() {
    let app = TestApp::spawn_on(
        TestDb::new(Backend::Postgres).await,
        &project_toml("registry.example.com", ""),
    )
    .await;
    let mut side = PgConnection::connect(&app.db.config.url.0).await.unwrap();
    let full = "CREATE FUNCTION disk_is_full() RETURNS trigger LANGUAGE plpgsql AS $$ \
        BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$";
    side.execute(full).await.unwrap();
    // Enough deliveries go through first for the ledger to hold some answered 200.
    let mut ledger = Ledger {
        next: 1000,
        ..Ledger::default()
    };
    for _ in 0..3 {
        let id = ledger.next;
        ledger.next += 1;
        ledger.note(id, deliver(&app, id).await);
    }
    for table in ["deliveries", "write_probe"] {
        let trigger = format!("CREATE TRIGGER full_{table} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION disk_is_full()");
        side.execute(trigger.as_str()).await.unwrap();
    }
    ledger.fill(&app, 2000).await;
    wait_readyz(&app, 503).await;
    for table in ["deliveries", "write_probe"] {
        side.execute(format!("DROP TRIGGER full_{table} ON {table}").as_str())
            .await
            .unwrap();
    }
    wait_readyz(&app, 200).await;
    ledger.resend_refused(&app).await;
    side.close().await.unwrap();
    assert_recorded(&app, &ledger.acked).await;
}
