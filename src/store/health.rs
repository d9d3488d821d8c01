//! Whether the database accepts writes: the last write's outcome, the cheap probe readiness runs
//! while writes have been failing, and which errors mean "no space or no storage" (SQLite full, I/O
//! or read-only; Postgres out of disk, I/O or in read-only mode). Decides nothing about records.

use std::sync::Mutex;

use super::StoreError;

/// What the store last saw of writes; shared by every operation of one store.
#[derive(Debug, Default)]
pub(crate) struct WriteHealth {
    failure: Mutex<Option<String>>,
}

impl WriteHealth {
    /// A write transaction committed: writes work.
    pub fn committed(&self) {
        let mut failure = self.failure.lock().expect("health lock");
        if let Some(previous) = failure.take() {
            tracing::info!(previous = %previous, "database accepts writes again");
        }
    }

    /// A write failed; only storage failures (disk full, I/O, read-only) make writes unhealthy.
    pub fn failed(&self, error: &StoreError) {
        if !is_storage_failure(error) {
            return;
        }
        let mut failure = self.failure.lock().expect("health lock");
        if failure.is_none() {
            tracing::error!(error = %error, "database refuses writes: not ready until a write succeeds");
        }
        *failure = Some(error.to_string());
    }

    /// Records how a write ended and passes the result on.
    pub fn track<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        match &result {
            Ok(_) => self.committed(),
            Err(e) => self.failed(e),
        }
        result
    }

    /// Why writes are failing, if the last write failed for lack of storage.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().expect("health lock").clone()
    }
}

pub(crate) fn is_storage_failure(error: &StoreError) -> bool {
    match error {
        StoreError::Unavailable(e) | StoreError::Query(e) => is_storage_error(e),
        _ => false,
    }
}

/// Out of space or storage broken: SQLite FULL (13), IOERR (10), READONLY (8), CANTOPEN (14) with
/// their extended codes; Postgres insufficient resources (class 53 but too many connections), I/O
/// error (58030), read-only transaction (25006, a standby after failover).
pub(crate) fn is_storage_error(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let code = pg.code();
        return (code.starts_with("53") && code != "53300") || code == "58030" || code == "25006";
    }
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
        return matches!(code & 0xff, 8 | 10 | 13 | 14);
    }
    false
}
