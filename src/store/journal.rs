//! Garbage-collection runs and their journal, instantiated per backend by `journal_queries!`.
//! The journal is written before every registry step and updated after it, so a crash leaves
//! enough behind for the next run to finish the work; this module only records, it never decides.

/// Expands to the run and journal operations for one sqlx database type.
macro_rules! journal_queries {
    ($db:ty) => {
        /// Starts a run record in state `running`; returns its id.
        pub(crate) async fn create_run(
            pool: &Pool<$db>,
            trigger: &str,
            dry_run: bool,
            at: DateTime<Utc>,
        ) -> Result<i64, StoreError> {
            let (id,): (i64,) = sqlx::query_as(sql::INSERT_RUN)
                .bind(trigger)
                .bind(dry_run)
                .bind(at)
                .fetch_one(pool)
                .await?;
            Ok(id)
        }

        pub(crate) async fn finish_run(
            pool: &Pool<$db>,
            id: i64,
            status: RunStatus,
            at: DateTime<Utc>,
            summary: &serde_json::Value,
            error: Option<&str>,
        ) -> Result<(), StoreError> {
            sqlx::query(sql::FINISH_RUN)
                .bind(id)
                .bind(status.as_str())
                .bind(at)
                .bind(summary.to_string())
                .bind(error)
                .execute(pool)
                .await?;
            Ok(())
        }

        pub(crate) async fn interrupt_runs(
            pool: &Pool<$db>,
            at: DateTime<Utc>,
        ) -> Result<u64, StoreError> {
            Ok(sqlx::query(sql::INTERRUPT_RUNS)
                .bind(at)
                .execute(pool)
                .await?
                .rows_affected())
        }

        pub(crate) async fn runs(
            pool: &Pool<$db>,
            limit: i64,
        ) -> Result<Vec<RunRecord>, StoreError> {
            convert(
                sqlx::query_as::<_, RunRow>(&sql::select_runs())
                    .bind(limit)
                    .fetch_all(pool)
                    .await?,
            )
        }

        pub(crate) async fn run(
            pool: &Pool<$db>,
            id: i64,
        ) -> Result<Option<RunRecord>, StoreError> {
            let row = sqlx::query_as::<_, RunRow>(&sql::select_run())
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.map(RunRecord::try_from).transpose()
        }

        /// Records planned actions in one transaction; returns them with their ids.
        pub(crate) async fn journal_insert(
            pool: &Pool<$db>,
            entries: &[JournalEntry],
        ) -> Result<Vec<JournalEntry>, StoreError> {
            let mut tx = pool.begin().await?;
            let mut out = Vec::with_capacity(entries.len());
            for e in entries {
                let (id,): (i64,) = sqlx::query_as(sql::INSERT_JOURNAL)
                    .bind(e.run_id)
                    .bind(e.project_id)
                    .bind(&e.repository)
                    .bind(&e.tag)
                    .bind(e.action.as_str())
                    .bind(&e.rule)
                    .bind(&e.reason)
                    .bind(&e.planned_digest)
                    .bind(&e.dummy_digest)
                    .bind(&e.observed_digest)
                    .bind(e.state.as_str())
                    .bind(&e.detail)
                    .bind(e.updated_at)
                    .fetch_one(&mut *tx)
                    .await?;
                out.push(JournalEntry { id, ..e.clone() });
            }
            tx.commit().await?;
            Ok(out)
        }

        /// Moves entries to `update.state`, in one transaction.
        pub(crate) async fn journal_update(
            pool: &Pool<$db>,
            ids: &[i64],
            update: &JournalUpdate,
        ) -> Result<(), StoreError> {
            let mut tx = pool.begin().await?;
            for id in ids {
                sqlx::query(sql::UPDATE_JOURNAL)
                    .bind(*id)
                    .bind(update.state.as_str())
                    .bind(&update.dummy_digest)
                    .bind(&update.observed_digest)
                    .bind(&update.detail)
                    .bind(update.at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        pub(crate) async fn journal_of_run(
            pool: &Pool<$db>,
            run: i64,
        ) -> Result<Vec<JournalEntry>, StoreError> {
            convert(
                sqlx::query_as::<_, JournalRow>(&sql::select_journal_of_run())
                    .bind(run)
                    .fetch_all(pool)
                    .await?,
            )
        }

        /// Records the digest the registry showed for each `(repository, tag, digest)`, in one
        /// transaction; returns how many rows changed.
        pub(crate) async fn set_digests(
            pool: &Pool<$db>,
            project: i64,
            seen: &[(String, String, String)],
        ) -> Result<u64, StoreError> {
            let mut tx = pool.begin().await?;
            let mut changed = 0;
            for (repository, tag, digest) in seen {
                changed += sqlx::query(sql::SET_DIGEST)
                    .bind(project)
                    .bind(repository)
                    .bind(tag)
                    .bind(digest)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            Ok(changed)
        }

        pub(crate) async fn prune_deliveries(
            pool: &Pool<$db>,
            before: DateTime<Utc>,
        ) -> Result<u64, StoreError> {
            Ok(sqlx::query(sql::PRUNE_DELIVERIES)
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected())
        }

        pub(crate) async fn open_journal(
            pool: &Pool<$db>,
        ) -> Result<Vec<JournalEntry>, StoreError> {
            convert(
                sqlx::query_as::<_, JournalRow>(&sql::select_open_journal())
                    .fetch_all(pool)
                    .await?,
            )
        }
    };
}

pub(crate) use journal_queries;
