//! Store failures. `Unavailable` means the database cannot be reached or cannot write right now
//! (out of disk included), or a lock could not be had in time (callers answer 503 and delete
//! nothing; a resend will succeed); `Conflict` is
//! data that contradicts what is recorded; the others are bugs, corruption or input the database
//! can never take. Errors are classified per backend: a SQLite result code means nothing to
//! Postgres and the reverse.

use sqlx::error::DatabaseError;
use sqlx::migrate::MigrateError;
use sqlx::postgres::PgDatabaseError;
use sqlx::sqlite::SqliteError;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Query(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("unexpected value in database: {0}")]
    Corrupt(String),
    /// The request contradicts the recorded state (a path recorded for another project id, a path
    /// that names several projects). The message is safe to show.
    #[error("{0}")]
    Conflict(String),
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        // Out of disk (or storage gone read-only) is temporary too: nothing was written, so the
        // sender's retry will be applied once space is back.
        if is_unavailable(&e) || super::health::is_storage_error(&e) {
            StoreError::Unavailable(e)
        } else {
            StoreError::Query(e)
        }
    }
}

impl From<MigrateError> for StoreError {
    /// A migration that could not reach the database is `Unavailable` (retried at start); one
    /// that ran and failed is a migration error.
    fn from(e: MigrateError) -> Self {
        match e {
            MigrateError::Execute(inner) if is_unavailable(&inner) => {
                StoreError::Unavailable(inner)
            }
            other => StoreError::Migrate(other),
        }
    }
}

/// Connection trouble, an exhausted pool, or a lock not had in time. Nothing else: a value the
/// database refuses (Postgres 22021 for a NUL byte, 54000 for an over-long index row) will be
/// refused again, so it is not "unavailable".
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            if let Some(sqlite) = db.try_downcast_ref::<SqliteError>() {
                sqlite_unavailable(sqlite)
            } else if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
                postgres_unavailable(pg.code())
            } else {
                false
            }
        }
        _ => false,
    }
}

/// SQLite BUSY (5) or LOCKED (6), with any extended code: the busy timeout ran out.
fn sqlite_unavailable(e: &SqliteError) -> bool {
    let code = e.code().unwrap_or_default();
    matches!(code.parse::<i32>(), Ok(c) if c & 0xff == 5 || c & 0xff == 6)
}

/// Postgres SQLSTATEs that mean "not now": connection exceptions (08…), shutdown and cannot
/// connect now (57P…), too many connections (53300), no such database yet (3D000), database not
/// accepting connections (55000), a lock or statement timeout (55P03, 57014), and conflicts a retry
/// resolves (40001 serialization failure, 40P01 deadlock).
pub(crate) fn postgres_unavailable(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("57P")
        || [
            "53300", "3D000", "55000", "55P03", "57014", "40001", "40P01",
        ]
        .contains(&code)
}

#[cfg(test)]
mod tests {
    use super::postgres_unavailable;

    #[test]
    fn postgres_codes_that_can_never_succeed_are_not_unavailable() {
        for code in ["22021", "54000", "22008", "22P05", "23505", "42P01"] {
            assert!(!postgres_unavailable(code), "{code}");
        }
        for code in [
            "08006", "57P01", "53300", "3D000", "55P03", "57014", "40P01",
        ] {
            assert!(postgres_unavailable(code), "{code}");
        }
    }
}
