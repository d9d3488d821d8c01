//! The common case of a group commit without a savepoint per delivery. The two reasons a delivery
//! is undone inside a group (its key was seen before; another project id has its path) are
//! settled for the whole group up front: one insert of every delivery key says which are new
//! (`RETURNING`), each project is written once and its path checked once. Then only the
//! deliveries' own changes are written one by one. Whatever this path cannot settle exactly as
//! the per-delivery path would (a delivery without key, two projects with one path in the group, a
//! path conflict, a key recorded by another writer meanwhile, an error in a group-wide statement)
//! makes it step aside: the transaction is rolled back and the savepoint path runs instead.
//! Measured effect in README ("Performance").

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{Database, Pool};

use super::exec::{args, Arg, Conn};
use super::group::{Attempt, Job};
use super::ingest;
use super::{sql, Applied, PathClaim, StoreError};

/// One project's share of the group: the values the sequence of its deliveries leaves behind.
struct ProjectWrite<'a> {
    id: i64,
    path: &'a str,
    default_branch: Option<&'a str>,
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
    exclusive: bool,
}

/// `None`: not settled here; the caller uses the savepoint path.
pub(super) async fn try_group<DB>(
    pool: &Pool<DB>,
    group: &[Job],
    failed: &[Option<StoreError>],
) -> Option<Attempt>
where
    DB: Database,
    DB::Connection: Conn,
{
    let live: Vec<&Job> = group
        .iter()
        .zip(failed)
        .filter(|(_, f)| f.is_none())
        .map(|(job, _)| job)
        .collect();
    // Batches without a delivery key (reconciliation) are not group-committed; be sure anyway.
    if live.is_empty()
        || live
            .iter()
            .any(|job| job.batch.source.delivery_key().is_none())
    {
        return None;
    }
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(e) => return Some(Attempt::Outage(e.into())),
    };
    let result = settle(&mut *tx, group, failed).await;
    match result {
        Settled::Written(answers) => Some(match tx.commit().await {
            Ok(()) if answers.len() > 1 => {
                tracing::debug!(deliveries = answers.len(), "group committed");
                Attempt::Committed(answers)
            }
            Ok(()) => Attempt::Committed(answers),
            Err(e) => Attempt::Outage(e.into()),
        }),
        Settled::Refused(index, e) => Some(Attempt::Refused(index, e)),
        Settled::Outage(e) => Some(Attempt::Outage(e)),
        // Dropping the transaction rolls it back.
        Settled::StepAside => {
            tracing::debug!(
                deliveries = live.len(),
                "group handed to the per-delivery path"
            );
            None
        }
    }
}

enum Settled {
    Written(Vec<Result<Applied, StoreError>>),
    Refused(usize, StoreError),
    Outage(StoreError),
    StepAside,
}

/// A group-wide statement failed: an outage is the group's answer, anything else steps aside.
fn group_error(e: sqlx::Error) -> Settled {
    match StoreError::from(e) {
        e @ (StoreError::Unavailable(_) | StoreError::Migrate(_)) => Settled::Outage(e),
        _ => Settled::StepAside,
    }
}

async fn settle<C: Conn + ?Sized>(
    c: &mut C,
    group: &[Job],
    failed: &[Option<StoreError>],
) -> Settled {
    // The first occurrence of each key goes to the insert; a repeat within the group is a duplicate.
    let mut seen: HashSet<&str> = HashSet::new();
    let candidates: Vec<(usize, &Job)> = group
        .iter()
        .enumerate()
        .filter(|(i, _)| failed[*i].is_none())
        .filter(|(_, job)| {
            job.batch
                .source
                .delivery_key()
                .is_some_and(|k| seen.insert(k))
        })
        .collect();
    // First statement, so it takes SQLite's write lock before anything is read.
    let inserted = match insert_deliveries(c, &candidates).await {
        Ok(keys) => keys,
        Err(e) => return group_error(e),
    };
    let fresh_at: HashSet<usize> = candidates
        .iter()
        .filter(|(_, job)| {
            job.batch
                .source
                .delivery_key()
                .is_some_and(|k| inserted.contains(k))
        })
        .map(|(i, _)| *i)
        .collect();
    let fresh: Vec<&Job> = candidates
        .iter()
        .filter(|(i, _)| fresh_at.contains(i))
        .map(|(_, job)| *job)
        .collect();
    let Some(projects) = projects_of(&fresh) else {
        return Settled::StepAside;
    };
    for p in &projects {
        let a = args![p.id, p.path, p.default_branch, p.first_at, p.last_at];
        if let Err(e) = c.exec(sql::UPSERT_PROJECT, &a).await {
            return group_error(e);
        }
    }
    for p in projects.iter().filter(|p| p.exclusive) {
        let a = args![p.path, p.id];
        match c
            .optional::<(i64,)>(sql::SELECT_OTHER_PROJECT_WITH_PATH, &a)
            .await
        {
            Ok(None) => {}
            // Which of the project's deliveries the claim refuses is the savepoint path's to say.
            Ok(Some(_)) => return Settled::StepAside,
            Err(e) => return group_error(e),
        }
    }
    let mut answers = Vec::new();
    for (index, job) in group.iter().enumerate() {
        if failed[index].is_some() {
            continue;
        }
        if !fresh_at.contains(&index) {
            answers.push(Ok(Applied::Duplicate));
            continue;
        }
        if let Err(e) = ingest::apply_changes(c, &job.batch).await {
            return match StoreError::from(e) {
                e @ (StoreError::Unavailable(_) | StoreError::Migrate(_)) => Settled::Outage(e),
                e => Settled::Refused(index, e),
            };
        }
        answers.push(Ok(Applied::Recorded {
            changes: job.batch.changes.len(),
        }));
    }
    Settled::Written(answers)
}

/// One insert of the candidates' delivery keys; the keys that went in (the others were recorded
/// before). A project not recorded yet fails it (foreign key): then the savepoint path runs.
async fn insert_deliveries<C: Conn + ?Sized>(
    c: &mut C,
    candidates: &[(usize, &Job)],
) -> Result<HashSet<String>, sqlx::Error> {
    if candidates.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<String> = (0..candidates.len())
        .map(|i| {
            let n = 4 * i;
            format!("(${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4)
        })
        .collect();
    let text = format!(
        "INSERT INTO deliveries (key, project_id, event, received_at) VALUES {} \
         ON CONFLICT (key) DO NOTHING RETURNING key",
        rows.join(", ")
    );
    let mut a: Vec<Arg<'_>> = Vec::with_capacity(4 * candidates.len());
    for (_, job) in candidates {
        let b = &job.batch;
        a.extend(args![
            b.source.delivery_key(),
            b.project.id,
            b.source.event(),
            b.received_at
        ]);
    }
    let keys: Vec<(String,)> = c.all(&text, &a).await?;
    Ok(keys.into_iter().map(|(k,)| k).collect())
}

/// Each project of the fresh deliveries, written as their sequence would leave it: the last path,
/// the last default branch given, the first and last delivery times. `None` when the group holds
/// what only the per-delivery path settles exactly: one project under several paths, or two
/// projects whose paths are equal (paths compare without case).
fn projects_of<'a>(fresh: &[&'a Job]) -> Option<Vec<ProjectWrite<'a>>> {
    let mut order: Vec<i64> = Vec::new();
    let mut by_id: HashMap<i64, ProjectWrite<'a>> = HashMap::new();
    for job in fresh {
        let (p, at) = (&job.batch.project, job.batch.received_at);
        let exclusive = job.claim == PathClaim::Exclusive;
        match by_id.get_mut(&p.id) {
            Some(w) if w.path != p.path => return None,
            Some(w) => {
                w.default_branch = p.default_branch.as_deref().or(w.default_branch);
                w.last_at = at;
                w.exclusive |= exclusive;
            }
            None => {
                order.push(p.id);
                by_id.insert(
                    p.id,
                    ProjectWrite {
                        id: p.id,
                        path: &p.path,
                        default_branch: p.default_branch.as_deref(),
                        first_at: at,
                        last_at: at,
                        exclusive,
                    },
                );
            }
        }
    }
    let paths: HashSet<String> = by_id.values().map(|w| w.path.to_lowercase()).collect();
    if paths.len() != by_id.len() {
        return None;
    }
    // Rows locked in one order by every writer: two replicas' groups cannot deadlock.
    order.sort_unstable();
    Some(
        order
            .into_iter()
            .filter_map(|id| by_id.remove(&id))
            .collect(),
    )
}
