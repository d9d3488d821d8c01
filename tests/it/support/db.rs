//! A fresh database per test: a SQLite file in a temp dir, or a new Postgres database on the real
//! server (dropped afterwards). Postgres missing is a failure, never a skip.

use registry_gc::config::{DatabaseConfig, DatabaseUrl};
use sqlx::{Connection, Executor, PgConnection};

/// Which backend a test runs on; every store test runs on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The server the Postgres tests use (trust auth on the CI machine).
pub fn postgres_admin_url() -> String {
    std::env::var("RGC_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database that exists for one test.
pub struct TestDb {
    pub config: DatabaseConfig,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let mut config = DatabaseConfig {
            acquire_timeout_ms: 1000,
            sqlite_busy_timeout_ms: 300,
            ..Default::default()
        };
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                config.url =
                    DatabaseUrl(format!("sqlite://{}", dir.path().join("gc.db").display()));
                TestDb {
                    config,
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let name = format!("rgc_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = admin_connection().await;
                admin
                    .execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create test database");
                let base = postgres_admin_url();
                let url = format!(
                    "{}/{name}",
                    base.rsplit_once('/').expect("URL has a database").0
                );
                config.url = DatabaseUrl(url);
                TestDb {
                    config,
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// A SQLite database file `gc.db` in `dir`, which the caller owns (e.g. a small tmpfs).
    pub fn sqlite_in(dir: &std::path::Path) -> TestDb {
        let config = DatabaseConfig {
            url: DatabaseUrl(format!("sqlite://{}", dir.join("gc.db").display())),
            acquire_timeout_ms: 1000,
            sqlite_busy_timeout_ms: 300,
            ..Default::default()
        };
        TestDb {
            config,
            _dir: None,
            pg_name: None,
        }
    }

    /// The same database, for a second app over it; it does not own (drop) the database, so the
    /// original must outlive it.
    pub fn share(&self) -> TestDb {
        TestDb {
            config: self.config.clone(),
            _dir: None,
            pg_name: None,
        }
    }

    /// The Postgres database name, if any.
    pub fn pg_name(&self) -> Option<&str> {
        self.pg_name.as_deref()
    }
}

/// A connection to the Postgres server's admin database; panics loudly if Postgres is not there.
pub async fn admin_connection() -> PgConnection {
    let url = postgres_admin_url();
    PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "Postgres is required for the store tests and is not reachable at {url}: {e}. \
             Start it (scripts/test.sh does) or set RGC_TEST_POSTGRES_URL."
        )
    })
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs outside any async context guarantee: use a small runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&postgres_admin_url()).await {
                    let _ = admin
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}

/// Declares one test per backend: `mod name { sqlite(), postgres() }` around one async body.
macro_rules! both_backends {
    ($(async fn $name:ident($backend:ident: Backend) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($backend: $crate::support::db::Backend) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run($crate::support::db::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run($crate::support::db::Backend::Postgres).await
                }
            }
        )*
    };
}
pub(crate) use both_backends;
