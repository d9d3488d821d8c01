//! The store's operations, written once and instantiated per backend by `backend_queries!` (SQLite
//! and Postgres share the SQL in `sql.rs`; only the connection types differ).

/// Expands to the store operations for one sqlx database type.
macro_rules! backend_queries {
    ($db:ty) => {
        use chrono::{DateTime, Utc};
        use sqlx::Pool;

        use $crate::store::change::{Batch, Change};
        use $crate::store::model::*;
        use $crate::store::rows::*;
        use $crate::store::sql;
        use $crate::store::{Applied, JournalUpdate, StoreError, TagFilter};
        use $crate::webhook::slug::slugify;

        type Tx<'c> = sqlx::Transaction<'c, $db>;

        /// Applies one delivery in one transaction; a delivery seen before changes nothing.
        pub(crate) async fn apply(pool: &Pool<$db>, batch: &Batch) -> Result<Applied, StoreError> {
            let mut tx = pool.begin().await?;
            let p = &batch.project;
            sqlx::query(sql::UPSERT_PROJECT)
                .bind(p.id)
                .bind(&p.path)
                .bind(&p.default_branch)
                .bind(batch.received_at)
                .execute(&mut *tx)
                .await?;
            let fresh = sqlx::query(sql::INSERT_DELIVERY)
                .bind(&batch.delivery_key)
                .bind(p.id)
                .bind(&batch.event)
                .bind(batch.received_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if fresh == 0 {
                tx.rollback().await?;
                return Ok(Applied::Duplicate);
            }
            for change in &batch.changes {
                apply_change(&mut tx, p.id, batch.received_at, change).await?;
            }
            tx.commit().await?;
            Ok(Applied::Recorded {
                changes: batch.changes.len(),
            })
        }

        async fn apply_change(
            tx: &mut Tx<'_>,
            project: i64,
            now: DateTime<Utc>,
            change: &Change,
        ) -> Result<(), StoreError> {
            match change {
                Change::RefPushed {
                    kind,
                    name,
                    sha,
                    created,
                    protected,
                    at,
                } => {
                    sqlx::query(sql::PUSH_REF)
                        .bind(project)
                        .bind(kind.as_str())
                        .bind(name)
                        .bind(slugify(name))
                        .bind(sha)
                        .bind(*protected)
                        .bind(*at)
                        .bind(*created)
                        .execute(&mut **tx)
                        .await?;
                    add_commit(tx, project, *kind, name, sha, *at).await
                }
                Change::RefDeleted { kind, name, at } => {
                    sqlx::query(sql::DELETE_REF)
                        .bind(project)
                        .bind(kind.as_str())
                        .bind(name)
                        .bind(slugify(name))
                        .bind(*at)
                        .execute(&mut **tx)
                        .await?;
                    Ok(())
                }
                Change::Commits {
                    kind,
                    name,
                    shas,
                    at,
                } => {
                    for sha in shas {
                        add_commit(tx, project, *kind, name, sha, *at).await?;
                    }
                    Ok(())
                }
                Change::Pipeline(p) => apply_pipeline(tx, project, now, p).await,
                Change::MergeRequest {
                    record: m,
                    authoritative,
                } => {
                    let text = if *authoritative {
                        sql::upsert_merge_request()
                    } else {
                        sql::insert_merge_request()
                    };
                    sqlx::query(&text)
                        .bind(project)
                        .bind(m.iid)
                        .bind(m.id)
                        .bind(&m.source_branch)
                        .bind(&m.target_branch)
                        .bind(m.state.as_str())
                        .bind(m.merged_at)
                        .bind(m.closed_at)
                        .bind(m.updated_at)
                        .execute(&mut **tx)
                        .await?;
                    Ok(())
                }
                Change::ImageTag(t) => {
                    sqlx::query(sql::UPSERT_IMAGE_TAG)
                        .bind(project)
                        .bind(&t.repository)
                        .bind(&t.tag)
                        .bind(t.pipeline_id)
                        .bind(t.kind.as_str())
                        .bind(&t.rule)
                        .bind(t.ref_kind.as_str())
                        .bind(&t.ref_name)
                        .bind(&t.sha)
                        .bind(t.first_seen)
                        .bind(t.last_seen)
                        .execute(&mut **tx)
                        .await?;
                    Ok(())
                }
            }
        }

        async fn add_commit(
            tx: &mut Tx<'_>,
            project: i64,
            kind: RefKind,
            name: &str,
            sha: &str,
            at: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            sqlx::query(sql::ADD_COMMIT)
                .bind(project)
                .bind(kind.as_str())
                .bind(name)
                .bind(sha)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        async fn apply_pipeline(
            tx: &mut Tx<'_>,
            project: i64,
            now: DateTime<Utc>,
            p: &PipelineRecord,
        ) -> Result<(), StoreError> {
            let kind = if p.tag { RefKind::Tag } else { RefKind::Branch };
            sqlx::query(sql::TOUCH_REF)
                .bind(project)
                .bind(kind.as_str())
                .bind(&p.ref_name)
                .bind(slugify(&p.ref_name))
                .bind(&p.sha)
                .bind(p.created_at.unwrap_or(now))
                .bind(now)
                .execute(&mut **tx)
                .await?;
            add_commit(tx, project, kind, &p.ref_name, &p.sha, now).await?;
            let previous: Option<(String,)> = sqlx::query_as(sql::PIPELINE_STATUS)
                .bind(project)
                .bind(p.id)
                .fetch_optional(&mut **tx)
                .await?;
            sqlx::query(sql::UPSERT_PIPELINE)
                .bind(project)
                .bind(p.id)
                .bind(p.iid)
                .bind(&p.ref_name)
                .bind(p.tag)
                .bind(&p.sha)
                .bind(&p.source)
                .bind(p.status.as_str())
                .bind(p.merge_request_iid)
                .bind(p.created_at)
                .bind(p.finished_at)
                .bind(p.updated_at)
                .execute(&mut **tx)
                .await?;
            if previous.as_ref().map(|(s,)| s.as_str()) != Some(p.status.as_str()) {
                sqlx::query(sql::INSERT_TRANSITION)
                    .bind(project)
                    .bind(p.id)
                    .bind(p.status.as_str())
                    .bind(p.updated_at)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok(())
        }

        fn convert<R, T: TryFrom<R, Error = StoreError>>(
            rows: Vec<R>,
        ) -> Result<Vec<T>, StoreError> {
            rows.into_iter().map(T::try_from).collect()
        }

        pub(crate) async fn projects(pool: &Pool<$db>) -> Result<Vec<ProjectRecord>, StoreError> {
            let rows: Vec<ProjectRow> =
                sqlx::query_as(sql::SELECT_PROJECTS).fetch_all(pool).await?;
            Ok(rows.into_iter().map(Into::into).collect())
        }

        pub(crate) async fn project_by_id(
            pool: &Pool<$db>,
            id: i64,
        ) -> Result<Option<ProjectRecord>, StoreError> {
            let row: Option<ProjectRow> = sqlx::query_as(sql::SELECT_PROJECT_BY_ID)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(Into::into))
        }

        pub(crate) async fn project_by_path(
            pool: &Pool<$db>,
            path: &str,
        ) -> Result<Option<ProjectRecord>, StoreError> {
            let row: Option<ProjectRow> = sqlx::query_as(sql::SELECT_PROJECT_BY_PATH)
                .bind(path)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(Into::into))
        }

        pub(crate) async fn refs(
            pool: &Pool<$db>,
            project: i64,
        ) -> Result<Vec<RefRecord>, StoreError> {
            convert(
                sqlx::query_as::<_, RefRow>(sql::SELECT_REFS)
                    .bind(project)
                    .fetch_all(pool)
                    .await?,
            )
        }

        pub(crate) async fn ref_commits(
            pool: &Pool<$db>,
            project: i64,
            kind: RefKind,
            name: &str,
        ) -> Result<Vec<RefCommitRecord>, StoreError> {
            let rows = sqlx::query_as::<_, RefCommitRow>(sql::SELECT_REF_COMMITS)
                .bind(project)
                .bind(kind.as_str())
                .bind(name)
                .fetch_all(pool)
                .await?;
            convert(rows)
        }

        pub(crate) async fn pipelines(
            pool: &Pool<$db>,
            project: i64,
        ) -> Result<Vec<PipelineRecord>, StoreError> {
            convert(
                sqlx::query_as::<_, PipelineRow>(sql::SELECT_PIPELINES)
                    .bind(project)
                    .fetch_all(pool)
                    .await?,
            )
        }

        pub(crate) async fn transitions(
            pool: &Pool<$db>,
            project: i64,
            pipeline: i64,
        ) -> Result<Vec<PipelineTransition>, StoreError> {
            let rows = sqlx::query_as::<_, TransitionRow>(sql::SELECT_TRANSITIONS)
                .bind(project)
                .bind(pipeline)
                .fetch_all(pool)
                .await?;
            convert(rows)
        }

        pub(crate) async fn merge_requests(
            pool: &Pool<$db>,
            project: i64,
        ) -> Result<Vec<MergeRequestRecord>, StoreError> {
            convert(
                sqlx::query_as::<_, MergeRequestRow>(sql::SELECT_MERGE_REQUESTS)
                    .bind(project)
                    .fetch_all(pool)
                    .await?,
            )
        }

        pub(crate) async fn image_tags(
            pool: &Pool<$db>,
            project: i64,
            filter: &TagFilter,
        ) -> Result<Vec<ImageTagRecord>, StoreError> {
            let rows = sqlx::query_as::<_, ImageTagRow>(sql::SELECT_IMAGE_TAGS)
                .bind(project)
                .bind(filter.ref_name.as_deref())
                .bind(filter.kind.map(TagKind::as_str))
                .fetch_all(pool)
                .await?;
            convert(rows)
        }

        $crate::store::journal::journal_queries!($db);

        pub(crate) async fn ping(pool: &Pool<$db>) -> Result<(), StoreError> {
            sqlx::query("SELECT 1").execute(pool).await?;
            Ok(())
        }
    };
}

pub(crate) use backend_queries;
