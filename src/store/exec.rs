//! The one place that knows how to send our SQL to each backend: arguments as a small value type,
//! bound the same way for SQLite and Postgres, and a `Conn` trait over both connection types. The
//! store's operations are written once against `Conn`; nothing here knows what a query means.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::error::BoxDynError;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{
    Arguments, Database, Encode, Executor, FromRow, IntoArguments, PgConnection, SqliteConnection,
    Type,
};

/// One bound parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
    Bool(Option<bool>),
    Time(Option<DateTime<Utc>>),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Some(v))
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(v))
    }
}
impl<'a> From<&'a crate::model::Name> for Arg<'a> {
    fn from(v: &'a crate::model::Name) -> Self {
        Arg::Text(Some(v))
    }
}
impl<'a> From<&'a Option<crate::model::Name>> for Arg<'a> {
    fn from(v: &'a Option<crate::model::Name>) -> Self {
        Arg::Text(v.as_deref())
    }
}
impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::Text(v.as_deref())
    }
}
impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Bool(Some(v))
    }
}
impl From<Option<bool>> for Arg<'_> {
    fn from(v: Option<bool>) -> Self {
        Arg::Bool(v)
    }
}
impl From<DateTime<Utc>> for Arg<'_> {
    fn from(v: DateTime<Utc>) -> Self {
        Arg::Time(Some(v))
    }
}
impl From<Option<DateTime<Utc>>> for Arg<'_> {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Arg::Time(v)
    }
}

/// `[Arg::from(a), Arg::from(b), …]`: the parameters `$1, $2, …` of one statement.
macro_rules! args {
    ($($value:expr),* $(,)?) => { [$($crate::store::exec::Arg::from($value)),*] };
}
pub(crate) use args;

/// A row type both backends can decode.
pub(crate) trait Row:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{}

/// A connection (or a transaction, which dereferences to one) that runs our SQL.
#[async_trait]
pub(crate) trait Conn: Send {
    /// Runs a statement; returns the rows it affected.
    async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, sqlx::Error>;
    /// Every row of a query.
    async fn all<T: Row>(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<T>, sqlx::Error>;
    /// The first row of a query, if any (for queries that return at most one).
    async fn optional<T: Row>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<T>, sqlx::Error> {
        Ok(self.all(sql, args).await?.into_iter().next())
    }
}

/// Binds `args` for backend `DB`.
fn bind<'q, DB: Database>(args: &[Arg<'q>]) -> Result<DB::Arguments<'q>, sqlx::Error>
where
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<bool>: Encode<'q, DB> + Type<DB>,
    Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
{
    let mut out = DB::Arguments::default();
    for arg in args {
        let added: Result<(), BoxDynError> = match *arg {
            Arg::Int(v) => out.add(v),
            Arg::Text(v) => out.add(v),
            Arg::Bool(v) => out.add(v),
            Arg::Time(v) => out.add(v),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

/// Sends a statement to a connection of backend `DB`; the one generic path both `Conn` impls use.
async fn execute<'q, DB: Database>(
    conn: &mut DB::Connection,
    sql: &'q str,
    args: &[Arg<'q>],
) -> Result<DB::QueryResult, sqlx::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments<'q>: IntoArguments<'q, DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<bool>: Encode<'q, DB> + Type<DB>,
    Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
{
    sqlx::query_with(sql, bind::<DB>(args)?).execute(conn).await
}

/// Runs a query on a connection of backend `DB` and decodes every row.
async fn fetch<'q, DB: Database, T>(
    conn: &mut DB::Connection,
    sql: &'q str,
    args: &[Arg<'q>],
) -> Result<Vec<T>, sqlx::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments<'q>: IntoArguments<'q, DB>,
    T: Row + for<'r> FromRow<'r, DB::Row>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<bool>: Encode<'q, DB> + Type<DB>,
    Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
{
    sqlx::query_as_with(sql, bind::<DB>(args)?)
        .fetch_all(conn)
        .await
}

#[async_trait]
impl Conn for SqliteConnection {
    async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, sqlx::Error> {
        Ok(execute::<sqlx::Sqlite>(self, sql, args)
            .await?
            .rows_affected())
    }

    async fn all<T: Row>(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<T>, sqlx::Error> {
        fetch::<sqlx::Sqlite, T>(self, sql, args).await
    }
}

#[async_trait]
impl Conn for PgConnection {
    async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, sqlx::Error> {
        Ok(execute::<sqlx::Postgres>(self, sql, args)
            .await?
            .rows_affected())
    }

    async fn all<T: Row>(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<T>, sqlx::Error> {
        fetch::<sqlx::Postgres, T>(self, sql, args).await
    }
}
