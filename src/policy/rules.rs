//! The retention rules for one tag: the always-kept checks, then the rule for its kind
//! (`ci-commit`, `prod-commit`, `prod-current`, untracked; `ci-branch` lives in `branch`).
//! Each returns a [`Verdict`]; grouping tags into registry actions is `plan`'s job. No I/O.

use std::cmp::Reverse;
// Fx hashing: internal tables only, keyed by strings and ids from our own input (no DoS concern).
use rustc_hash::FxHashMap as HashMap;

use chrono::{DateTime, Utc};

use super::index::{Index, TagRecords};
use super::reason::{DeleteReason, KeepReason};
use super::settings::RetentionSettings;
use super::snapshot::{RepositorySnapshot, TagInfo};
use super::verdict::{after_grace, Verdict};
use super::{branch, PlanInput};
use crate::model::{HexId, ImageTagRecord, TagKind};

/// What the rules need besides the tag itself.
pub(super) struct Context<'a, 'i> {
    pub input: &'i PlanInput<'a>,
    pub index: &'i Index<'a>,
}

/// One registry tag and the records about it (none = untracked).
pub(super) struct Candidate<'a> {
    pub repository: &'a str,
    pub tag: &'a str,
    pub info: &'a TagInfo,
    pub records: &'a [&'a ImageTagRecord],
}

/// Facts about one repository that several of its tags need.
#[derive(Default)]
pub(super) struct RepositoryFacts<'a> {
    /// Digest → the (smallest) `prod-current` tag pointing at it.
    pub prod_current: HashMap<&'a HexId, &'a str>,
    /// `prod-commit` tag → (1-based position newest first, pipeline id).
    pub prod_rank: HashMap<&'a str, (usize, i64)>,
}

impl<'a> RepositoryFacts<'a> {
    /// Finds the current prod digests and ranks the other prod deploys by pipeline id.
    pub fn new(snapshot: &'a RepositorySnapshot, records: &TagRecords<'a>) -> Self {
        let mut facts = RepositoryFacts::default();
        let mut deploys: Vec<(Reverse<i64>, &str)> = Vec::new();
        let tagged = snapshot.tags.iter().filter_map(|(tag, info)| {
            let records = records.get(tag.as_str())?;
            Some((tag.as_str(), info, records))
        });
        for (tag, info, records) in tagged {
            if records.iter().any(|r| r.kind == TagKind::ProdCurrent) {
                let slot = facts.prod_current.entry(&info.digest).or_insert(tag);
                *slot = (*slot).min(tag);
            } else if records.iter().all(|r| r.kind == TagKind::ProdCommit) {
                let pipeline = records
                    .iter()
                    .map(|r| r.pipeline_id)
                    .max()
                    .unwrap_or_default();
                deploys.push((Reverse(pipeline), tag));
            }
        }
        deploys.retain(|(_, tag)| !facts.prod_current.contains_key(&snapshot.tags[*tag].digest));
        deploys.sort_unstable();
        for (position, (Reverse(pipeline), tag)) in deploys.into_iter().enumerate() {
            facts.prod_rank.insert(tag, (position + 1, pipeline));
        }
        facts
    }
}

/// Judges one tag; returns the image rule it was judged under (none for untracked tags).
pub(super) fn judge<'a>(
    c: &Candidate<'a>,
    ctx: &Context<'a, '_>,
    facts: &RepositoryFacts<'a>,
) -> (Option<&'a str>, Verdict) {
    if c.records.is_empty() {
        let settings = ctx
            .input
            .policy
            .for_untracked(c.repository, ctx.index.only_rule(c.repository));
        return (None, judge_with(c, settings, ctx, facts));
    }
    let only = c.records[0].rule.as_str();
    if c.records.iter().all(|r| r.rule == only) {
        // The common case, without allocating.
        let settings = ctx.input.policy.for_rule(only);
        return (Some(only), judge_with(c, settings, ctx, facts));
    }
    let mut rules: Vec<&str> = c.records.iter().map(|r| r.rule.as_str()).collect();
    rules.sort_unstable();
    rules.dedup();
    let mut first = None;
    for rule in rules {
        match judge_with(c, ctx.input.policy.for_rule(rule), ctx, facts) {
            Err(keep) => return (Some(rule), Err(keep)),
            Ok(delete) => {
                first.get_or_insert((rule, delete));
            }
        }
    }
    let (rule, delete) = first.expect("a tracked tag has at least one rule");
    (Some(rule), Ok(delete))
}

fn judge_with(
    c: &Candidate,
    s: &RetentionSettings,
    ctx: &Context,
    facts: &RepositoryFacts,
) -> Verdict {
    always_kept(c, s, ctx, facts)?;
    let now = ctx.input.now;
    if c.records.is_empty() {
        return untracked(c.info, s, now);
    }
    let kind = single_kind(c.records)?;
    let (pipelines, finished_at) = finished_pipelines(c.records, ctx.index)?;
    match kind {
        TagKind::CiCommit => {
            let reason = DeleteReason::CiCommitFinished {
                pipelines,
                finished_at,
                grace: s.ci_commit_grace,
            };
            after_grace(reason, finished_at, s.ci_commit_grace, now)
        }
        TagKind::CiBranch => branch::judge(c.records, s, ctx.index, now),
        TagKind::ProdCommit => prod_commit(c.tag, s, facts),
        TagKind::ProdCurrent => Err(KeepReason::ProdCurrent),
    }
}

/// Keep patterns, cluster protection, current prod, minimum age: checked before any rule.
fn always_kept(
    c: &Candidate,
    s: &RetentionSettings,
    ctx: &Context,
    facts: &RepositoryFacts,
) -> Result<(), KeepReason> {
    if let Some(pattern) = s.keep_patterns.matching(c.tag) {
        return Err(KeepReason::KeepPattern {
            pattern: pattern.to_owned(),
        });
    }
    let protections = ctx.input.protections;
    if protections.protects_tag(c.repository, c.tag) {
        let users = protections.tag_users(c.repository, c.tag);
        return Err(KeepReason::InUseTag { users });
    }
    // Spelling the digest out costs more than the lookup: only when anything is protected.
    if !protections.digests.is_empty() {
        let digest = c.info.digest.text();
        if protections.digests.contains(&*digest) {
            return Err(KeepReason::InUseDigest {
                digest: digest.to_owned(),
                users: protections.digest_users(&digest),
            });
        }
    }
    if c.records.iter().any(|r| r.kind == TagKind::ProdCurrent) {
        return Err(KeepReason::ProdCurrent);
    }
    if let Some(current) = facts.prod_current.get(&c.info.digest) {
        return Err(KeepReason::ProdCurrentDigest {
            current: (*current).to_owned(),
        });
    }
    let born = match c.records.iter().map(|r| r.first_seen).min() {
        Some(first_seen) => first_seen,
        None => c.info.created.ok_or(KeepReason::AgeUnknown)?,
    };
    if ctx.input.now - born < s.min_age {
        return Err(KeepReason::TooYoung { min_age: s.min_age });
    }
    Ok(())
}

fn single_kind(records: &[&ImageTagRecord]) -> Result<TagKind, KeepReason> {
    let first = records[0].kind;
    if records.iter().all(|r| r.kind == first) {
        return Ok(first);
    }
    let mut kinds: Vec<TagKind> = records.iter().map(|r| r.kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    Err(KeepReason::ConflictingKinds { kinds })
}

/// The producing pipelines (sorted ids) and the latest finish, if every one is known and finished.
fn finished_pipelines(
    records: &[&ImageTagRecord],
    index: &Index,
) -> Result<(Vec<i64>, DateTime<Utc>), KeepReason> {
    let mut ids: Vec<i64> = records.iter().map(|r| r.pipeline_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut latest = DateTime::<Utc>::MIN_UTC;
    for &id in &ids {
        let pipeline = index
            .pipeline(id)
            .ok_or(KeepReason::PipelineUnknown { pipeline: id })?;
        if !pipeline.status.is_finished() {
            return Err(KeepReason::PipelineUnfinished {
                pipeline: id,
                status: pipeline.status,
            });
        }
        latest = latest.max(pipeline.finished_at.unwrap_or(pipeline.updated_at));
    }
    Ok((ids, latest))
}

fn prod_commit(tag: &str, s: &RetentionSettings, facts: &RepositoryFacts) -> Verdict {
    let Some(&(position, pipeline)) = facts.prod_rank.get(tag) else {
        // Only tags sharing a current prod digest are unranked, and those were kept already.
        return Err(KeepReason::ProdRecent {
            pipeline: 0,
            position: 0,
            keep: s.keep_prod,
        });
    };
    if position <= s.keep_prod {
        Err(KeepReason::ProdRecent {
            pipeline,
            position,
            keep: s.keep_prod,
        })
    } else {
        Ok(DeleteReason::ProdSuperseded {
            pipeline,
            position,
            keep: s.keep_prod,
        })
    }
}

fn untracked(info: &TagInfo, s: &RetentionSettings, now: DateTime<Utc>) -> Verdict {
    let max_age = s.untracked_max_age.ok_or(KeepReason::Untracked)?;
    let created = info.created.ok_or(KeepReason::AgeUnknown)?;
    if now - created >= max_age {
        Ok(DeleteReason::UntrackedExpired { created, max_age })
    } else {
        Err(KeepReason::UntrackedYoung { created, max_age })
    }
}
