//! Garbage-collection runs and their journal, written once for both backends. The journal is
//! written before every registry step and updated after it, so a crash leaves enough behind for the
//! next run to finish the work; this only records, it never decides.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Database, FromRow};

use super::backend::SqlStore;
use super::exec::{args, Conn};
use super::{sql, JournalUpdate, Runs, StoreError};
use crate::model::*;

/// A run as stored: the summary is JSON text on both backends.
#[derive(FromRow)]
struct RunRow {
    id: i64,
    trigger: String,
    dry_run: bool,
    status: RunStatus,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    summary: String,
    error: Option<String>,
}

impl TryFrom<RunRow> for RunRecord {
    type Error = StoreError;
    fn try_from(r: RunRow) -> Result<Self, StoreError> {
        Ok(RunRecord {
            id: r.id,
            trigger: r.trigger,
            dry_run: r.dry_run,
            status: r.status,
            started_at: r.started_at,
            finished_at: r.finished_at,
            summary: serde_json::from_str(&r.summary)
                .map_err(|e| StoreError::Corrupt(format!("run {}: summary: {e}", r.id)))?,
            error: r.error,
        })
    }
}

#[async_trait]
impl<DB> Runs for SqlStore<DB>
where
    DB: Database,
    DB::Connection: Conn,
{
    async fn create_run(
        &self,
        trigger: &str,
        dry_run: bool,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let created = async {
            let mut c = self.pool.acquire().await?;
            let row: Option<(i64,)> = c
                .optional(sql::INSERT_RUN, &args![trigger, dry_run, at])
                .await?;
            row.map(|(id,)| id)
                .ok_or_else(|| StoreError::Corrupt("INSERT … RETURNING id returned nothing".into()))
        };
        self.health.track(created.await)
    }

    async fn finish_run(
        &self,
        id: i64,
        status: RunStatus,
        at: DateTime<Utc>,
        summary: &serde_json::Value,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let summary = summary.to_string();
        let finished = async {
            let mut c = self.pool.acquire().await?;
            let a = args![id, status.as_str(), at, &summary, error];
            c.exec(sql::FINISH_RUN, &a).await?;
            Ok(())
        };
        self.health.track(finished.await)
    }

    async fn interrupt_runs(&self, at: DateTime<Utc>) -> Result<u64, StoreError> {
        let interrupted = async {
            let mut c = self.pool.acquire().await?;
            Ok(c.exec(sql::INTERRUPT_RUNS, &args![at]).await?)
        };
        self.health.track(interrupted.await)
    }

    async fn runs(&self, limit: i64) -> Result<Vec<RunRecord>, StoreError> {
        let mut c = self.pool.acquire().await?;
        let rows: Vec<RunRow> = c.all(sql::SELECT_RUNS, &args![limit]).await?;
        rows.into_iter().map(RunRecord::try_from).collect()
    }

    async fn run(&self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        let mut c = self.pool.acquire().await?;
        let row: Option<RunRow> = c.optional(sql::SELECT_RUN, &args![id]).await?;
        row.map(RunRecord::try_from).transpose()
    }

    async fn journal_insert(
        &self,
        entries: &[JournalEntry],
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let inserted = async {
            let mut tx = self.pool.begin().await?;
            let mut out = Vec::with_capacity(entries.len());
            for e in entries {
                let id = insert_entry(&mut *tx, e).await?;
                out.push(JournalEntry { id, ..e.clone() });
            }
            tx.commit().await?;
            Ok(out)
        };
        self.health.track(inserted.await)
    }

    async fn journal_update(&self, ids: &[i64], update: &JournalUpdate) -> Result<(), StoreError> {
        let updated = async {
            let mut tx = self.pool.begin().await?;
            for id in ids {
                let a = args![
                    *id,
                    update.state.as_str(),
                    &update.dummy_digest,
                    &update.observed_digest,
                    &update.detail,
                    update.at,
                ];
                tx.exec(sql::UPDATE_JOURNAL, &a).await?;
            }
            tx.commit().await?;
            Ok(())
        };
        self.health.track(updated.await)
    }

    async fn journal_of_run(&self, run: i64) -> Result<Vec<JournalEntry>, StoreError> {
        let mut c = self.pool.acquire().await?;
        Ok(c.all(sql::SELECT_JOURNAL_OF_RUN, &args![run]).await?)
    }

    async fn open_journal(&self) -> Result<Vec<JournalEntry>, StoreError> {
        let mut c = self.pool.acquire().await?;
        Ok(c.all(sql::SELECT_OPEN_JOURNAL, &[]).await?)
    }
}

async fn insert_entry<C: Conn + ?Sized>(c: &mut C, e: &JournalEntry) -> Result<i64, StoreError> {
    let a = args![
        e.run_id,
        e.project_id,
        &e.repository,
        &e.tag,
        e.action.as_str(),
        &e.reason_code,
        &e.reason,
        &e.planned_digest,
        &e.dummy_digest,
        &e.observed_digest,
        e.state.as_str(),
        &e.detail,
        e.updated_at,
    ];
    let row: Option<(i64,)> = c.optional(sql::INSERT_JOURNAL, &a).await?;
    row.map(|(id,)| id)
        .ok_or_else(|| StoreError::Corrupt("INSERT … RETURNING id returned nothing".into()))
}
