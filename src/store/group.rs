//! Group commit for webhook deliveries: one writer task takes the deliveries waiting at that
//! moment (up to `MAX_GROUP`) and records them in one transaction, each inside its own savepoint so
//! a delivery that fails leaves the others whole; every delivery is answered only once the commit
//! returned. One commit (one fsync on SQLite, one write lock; no row fought over on Postgres) then
//! carries many deliveries. The common case skips the savepoints (`group_fast.rs`); this file's
//! per-delivery path settles everything else. A delivery whose sender gave up before its turn is not applied.

use sqlx::{Acquire, Database, Pool};
use tokio::sync::{mpsc, oneshot};

use super::exec::Conn;
use super::group_fast;
use super::health::{is_storage_failure, WriteHealth};
use super::ingest::{self, Begun};
use super::{Applied, PathClaim, StoreError};
use crate::model::Batch;

/// Most deliveries one transaction carries.
const MAX_GROUP: usize = 128;
/// Deliveries waiting for the writer before senders wait for room.
const QUEUE: usize = 1024;

/// One delivery to record, and where its answer goes.
pub(super) struct Job {
    pub(super) batch: Batch,
    pub(super) claim: PathClaim,
    reply: oneshot::Sender<Result<Applied, StoreError>>,
}

/// The handle senders use; the writer task ends when every handle is dropped.
pub(crate) struct GroupWriter {
    jobs: mpsc::Sender<Job>,
}

impl GroupWriter {
    /// Starts the writer over `pool`; its commits and failures are reported to `health`.
    pub fn start<DB>(pool: Pool<DB>, health: std::sync::Arc<WriteHealth>) -> GroupWriter
    where
        DB: Database,
        DB::Connection: Conn,
    {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(pool, health, queue));
        GroupWriter { jobs }
    }

    /// Records `batch` with the next group; answers after its commit.
    pub async fn apply(&self, batch: &Batch, claim: PathClaim) -> Result<Applied, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            batch: batch.clone(),
            claim,
            reply,
        };
        let closed = || StoreError::Unavailable(sqlx::Error::PoolClosed);
        self.jobs.send(job).await.map_err(|_| closed())?;
        answer.await.unwrap_or_else(|_| Err(closed()))
    }
}

async fn write_loop<DB>(
    pool: Pool<DB>,
    health: std::sync::Arc<WriteHealth>,
    mut queue: mpsc::Receiver<Job>,
) where
    DB: Database,
    DB::Connection: Conn,
{
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // A sender that stopped waiting (its request was cancelled) gets nothing recorded.
        group.retain(|job| !job.reply.is_closed());
        if group.is_empty() {
            continue;
        }
        let answers = apply_group(&pool, &health, &group).await;
        for (job, answer) in group.into_iter().zip(answers) {
            let _ = job.reply.send(answer);
        }
    }
}

/// Applies every job of `group` in one transaction; the answers in the group's order. A database
/// error in one delivery aborts the transaction: an outage (or no space) fails the whole group,
/// anything else fails that delivery and the group is applied again without it.
async fn apply_group<DB>(
    pool: &Pool<DB>,
    health: &WriteHealth,
    group: &[Job],
) -> Vec<Result<Applied, StoreError>>
where
    DB: Database,
    DB::Connection: Conn,
{
    let mut failed: Vec<Option<StoreError>> = group.iter().map(|_| None).collect();
    if health.failure().is_some() && group.len() > 1 {
        // Writes are failing (no space): no groups until one succeeds, so a failed transaction
        // never holds more than one delivery's worth of space.
        return one_by_one(pool, health, group, failed).await;
    }
    // Bounded: every pass either ends or marks one more delivery failed.
    for _ in 0..=group.len() {
        let attempt = match group_fast::try_group(pool, group, &failed).await {
            Some(attempt) => attempt,
            None => try_group(pool, group, &failed).await,
        };
        match attempt {
            Attempt::Committed(answers) => {
                health.committed();
                return merge(answers, failed);
            }
            Attempt::Outage(error) if group.len() > 1 && is_storage_failure(&error) => {
                // Out of space: a smaller transaction may still fit. One delivery at a time, so
                // only what really cannot be written is refused.
                return one_by_one(pool, health, group, failed).await;
            }
            Attempt::Outage(error) => {
                health.failed(&error);
                return every(group.len(), &error);
            }
            Attempt::Refused(index, error) => failed[index] = Some(error),
        }
    }
    every(
        group.len(),
        &StoreError::Corrupt("group commit did not settle".into()),
    )
}

/// Each delivery not failed yet in a transaction of its own, in order.
async fn one_by_one<DB>(
    pool: &Pool<DB>,
    health: &WriteHealth,
    group: &[Job],
    failed: Vec<Option<StoreError>>,
) -> Vec<Result<Applied, StoreError>>
where
    DB: Database,
    DB::Connection: Conn,
{
    let mut answers = Vec::with_capacity(group.len());
    for (job, failed) in group.iter().zip(failed) {
        if let Some(error) = failed {
            answers.push(Err(error));
            continue;
        }
        let alone = std::slice::from_ref(job);
        let answer = match try_group(pool, alone, &[None]).await {
            Attempt::Committed(mut one) => {
                health.committed();
                one.pop()
                    .unwrap_or(Err(StoreError::Corrupt("answer missing".into())))
            }
            Attempt::Outage(error) | Attempt::Refused(_, error) => {
                health.failed(&error);
                Err(error)
            }
        };
        answers.push(answer);
    }
    answers
}

/// How one attempt at a group went.
pub(super) enum Attempt {
    /// Committed: the answers of the deliveries not already failed, in order.
    Committed(Vec<Result<Applied, StoreError>>),
    /// The database cannot take writes now: nothing of the group is kept.
    Outage(StoreError),
    /// The delivery at this index hit an error of its own; nothing was committed.
    Refused(usize, StoreError),
}

async fn try_group<DB>(pool: &Pool<DB>, group: &[Job], failed: &[Option<StoreError>]) -> Attempt
where
    DB: Database,
    DB::Connection: Conn,
{
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(e) => return Attempt::Outage(e.into()),
    };
    let mut answers = Vec::with_capacity(group.len());
    for (index, job) in group.iter().enumerate() {
        if failed[index].is_some() {
            continue;
        }
        match apply_one(&mut tx, job).await {
            Err(e @ (StoreError::Unavailable(_) | StoreError::Migrate(_))) => {
                return Attempt::Outage(e)
            }
            Err(e @ (StoreError::Query(_) | StoreError::Corrupt(_))) => {
                return Attempt::Refused(index, e)
            }
            answer => answers.push(answer),
        }
    }
    match tx.commit().await {
        Ok(()) => Attempt::Committed(answers),
        Err(e) => Attempt::Outage(e.into()),
    }
}

/// The committed answers, with the failed deliveries' errors back in their places.
fn merge(
    answers: Vec<Result<Applied, StoreError>>,
    failed: Vec<Option<StoreError>>,
) -> Vec<Result<Applied, StoreError>> {
    let mut answers = answers.into_iter();
    failed
        .into_iter()
        .map(|f| match f {
            Some(error) => Err(error),
            None => answers
                .next()
                .unwrap_or(Err(StoreError::Corrupt("answer missing".into()))),
        })
        .collect()
}

/// One delivery inside a savepoint, so that a duplicate or a refused path leaves nothing behind.
/// A database error is returned as it is: the caller aborts the whole transaction.
async fn apply_one<DB>(tx: &mut sqlx::Transaction<'_, DB>, job: &Job) -> Result<Applied, StoreError>
where
    DB: Database,
    DB::Connection: Conn,
{
    let mut savepoint = tx.begin().await?;
    let undo = match ingest::begin_batch(&mut *savepoint, &job.batch, job.claim).await? {
        Begun::Fresh => None,
        Begun::Duplicate => Some(Ok(Applied::Duplicate)),
        Begun::PathTaken(other) => Some(Err(ingest::path_conflict(&job.batch.project, other))),
    };
    if let Some(answer) = undo {
        savepoint.rollback().await?;
        return answer;
    }
    ingest::apply_changes(&mut *savepoint, &job.batch).await?;
    savepoint.commit().await?;
    Ok(Applied::Recorded {
        changes: job.batch.changes.len(),
    })
}

/// The same failure for each of `n` deliveries (nothing of the group was committed).
fn every(n: usize, error: &StoreError) -> Vec<Result<Applied, StoreError>> {
    (0..n)
        .map(|_| {
            let carried = sqlx::Error::Protocol(error.to_string());
            Err(match error {
                StoreError::Unavailable(_) => StoreError::Unavailable(carried),
                _ => StoreError::Query(carried),
            })
        })
        .collect()
}
