//! Reconciliation progress per project (`reconcile_state`), written once for both backends. A
//! reconciliation's changes and its new watermarks land in one transaction, or neither does.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Database;

use super::backend::SqlStore;
use super::exec::{args, Conn};
use super::{ingest, sql, PathClaim, Reconciliations, StoreError};
use crate::model::{Batch, ReconcileState};

/// Where a successful reconciliation got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileProgress {
    pub project_id: i64,
    pub mr_watermark: Option<DateTime<Utc>>,
    pub pipeline_watermark: Option<DateTime<Utc>>,
    pub events_watermark: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
}

#[async_trait]
impl<DB> Reconciliations for SqlStore<DB>
where
    DB: Database,
    DB::Connection: Conn,
{
    async fn reconcile_state(&self, project: i64) -> Result<Option<ReconcileState>, StoreError> {
        let mut c = self.pool.acquire().await?;
        Ok(c.optional(sql::SELECT_STATE, &args![project]).await?)
    }

    async fn record_reconciliation(
        &self,
        batch: Option<&Batch>,
        progress: &ReconcileProgress,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Some(batch) = batch {
            ingest::begin_batch(&mut *tx, batch, PathClaim::Pinned).await?;
            ingest::apply_changes(&mut *tx, batch).await?;
        }
        let p = progress;
        let a = args![
            p.project_id,
            p.mr_watermark,
            p.pipeline_watermark,
            p.events_watermark,
            p.at
        ];
        tx.exec(sql::RECORD_SUCCESS, &a).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_reconcile_failure(
        &self,
        project: i64,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        let mut c = self.pool.acquire().await?;
        c.exec(sql::RECORD_FAILURE, &args![project, at, error])
            .await?;
        Ok(())
    }
}
