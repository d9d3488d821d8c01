//! One delivery → the changes it implies (a `Batch`), as a pure function of the body, the project's
//! configuration and the time it arrived. No I/O: the HTTP layer verifies, the store applies.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::payload::{
    self, is_blank_sha, MergeRequestAttributes, MergeRequestEvent, PipelineEvent, PushEvent,
};
use super::slug::slugify;
use crate::config::template::{ExpandError, Vars};
use crate::config::ProjectConfig;
use crate::store::change::{Batch, Change, ProjectUpsert};
use crate::store::model::*;

/// What to do with a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Record(Batch),
    /// A well-formed delivery registry-gc has no use for; answered 200 `ignored`.
    Ignore(String),
}

/// Where a delivery came from and when.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    pub object_kind: &'a str,
    pub delivery_key: String,
    pub received_at: DateTime<Utc>,
    pub registry: &'a str,
}

/// Translates a parsed body. `Err` is a client error naming the bad field (HTTP 400).
pub fn translate(
    env: Envelope<'_>,
    body: Value,
    project: &ProjectConfig,
) -> Result<Outcome, String> {
    let now = env.received_at;
    let (project_info, changes) = match env.object_kind {
        "push" | "tag_push" => {
            let event: PushEvent = payload::parse(body)?;
            match push_changes(&event, now) {
                Some(changes) => (event.project, changes),
                None => {
                    return Ok(Outcome::Ignore(format!(
                        "ref {} is not a branch or tag",
                        event.git_ref
                    )))
                }
            }
        }
        "merge_request" => {
            let event: MergeRequestEvent = payload::parse(body)?;
            match merge_request_change(&event, now) {
                Ok(change) => (event.project, vec![change]),
                Err(reason) => return Ok(Outcome::Ignore(reason)),
            }
        }
        "pipeline" => {
            let event: PipelineEvent = payload::parse(body)?;
            let changes = pipeline_changes(&event, project, env.registry, now);
            (event.project, changes)
        }
        other => {
            return Ok(Outcome::Ignore(format!(
                "event {other:?} is not used by registry-gc"
            )))
        }
    };
    Ok(Outcome::Record(Batch {
        delivery_key: env.delivery_key,
        event: env.object_kind.to_owned(),
        received_at: now,
        project: ProjectUpsert {
            id: project_info.id,
            path: project_info.path_with_namespace,
            default_branch: project_info.default_branch,
        },
        changes,
    }))
}

/// Branch/tag created, moved or deleted. `None` for refs that are neither branch nor tag.
fn push_changes(event: &PushEvent, now: DateTime<Utc>) -> Option<Vec<Change>> {
    let (kind, name) = if let Some(name) = event.git_ref.strip_prefix("refs/heads/") {
        (RefKind::Branch, name.to_owned())
    } else if let Some(name) = event.git_ref.strip_prefix("refs/tags/") {
        (RefKind::Tag, name.to_owned())
    } else {
        return None;
    };
    if is_blank_sha(&event.after) {
        return Some(vec![Change::RefDeleted {
            kind,
            name,
            at: now,
        }]);
    }
    // For tags `after` is the tag object; `checkout_sha` is the commit it points at.
    let sha = match kind {
        RefKind::Tag => event
            .checkout_sha
            .clone()
            .unwrap_or_else(|| event.after.clone()),
        RefKind::Branch => event.after.clone(),
    };
    let mut changes = Vec::with_capacity(2);
    let shas: Vec<String> = event.commits.iter().map(|c| c.id.clone()).collect();
    if !shas.is_empty() {
        changes.push(Change::Commits {
            kind,
            name: name.clone(),
            shas,
            at: now,
        });
    }
    let created = is_blank_sha(&event.before);
    changes.push(Change::RefPushed {
        kind,
        name,
        sha,
        created,
        protected: event.ref_protected,
        at: now,
    });
    Some(changes)
}

/// A merge request's new state. Merge requests from forks are ignored: their source branch is not
/// a branch of this project.
fn merge_request_change(event: &MergeRequestEvent, now: DateTime<Utc>) -> Result<Change, String> {
    let mr = &event.object_attributes;
    if mr.is_from_fork(event.project.id) {
        return Err(format!("merge request !{} comes from a fork", mr.iid));
    }
    let state = mr
        .state
        .as_deref()
        .ok_or("object_attributes.state: required field is missing")?;
    let state: MrState = state
        .parse()
        .map_err(|e| format!("merge request !{}: {e}", mr.iid))?;
    let when = mr.updated_at.unwrap_or(now);
    Ok(Change::MergeRequest {
        record: mr_record(event.project.id, mr, state, Some(when)),
        authoritative: true,
    })
}

/// The record of a merge request; `when` (the event's time) dates a merge or close.
fn mr_record(
    project_id: i64,
    mr: &MergeRequestAttributes,
    state: MrState,
    when: Option<DateTime<Utc>>,
) -> MergeRequestRecord {
    MergeRequestRecord {
        project_id,
        iid: mr.iid,
        id: mr.id,
        source_branch: mr.source_branch.clone(),
        target_branch: mr.target_branch.clone(),
        state,
        merged_at: when.filter(|_| state == MrState::Merged),
        closed_at: when.filter(|_| state == MrState::Closed),
        updated_at: mr.updated_at,
    }
}

fn pipeline_changes(
    event: &PipelineEvent,
    project: &ProjectConfig,
    registry: &str,
    now: DateTime<Utc>,
) -> Vec<Change> {
    let p = &event.object_attributes;
    let status = p.status.parse().unwrap_or_else(|_| {
        tracing::warn!(pipeline = p.id, status = %p.status, "unknown pipeline status, treated as not finished");
        PipelineStatus::Created
    });
    let mut changes = Vec::new();
    let own_mr = event
        .merge_request
        .as_ref()
        .filter(|mr| !mr.is_from_fork(event.project.id));
    if let Some(mr) = own_mr {
        let state = mr
            .state
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(MrState::Opened);
        changes.push(Change::MergeRequest {
            record: mr_record(event.project.id, mr, state, None),
            authoritative: false,
        });
    }
    changes.push(Change::Pipeline(PipelineRecord {
        project_id: event.project.id,
        id: p.id,
        iid: p.iid,
        ref_name: p.git_ref.clone(),
        tag: p.tag,
        sha: p.sha.clone(),
        source: p.source.clone(),
        status,
        merge_request_iid: event.merge_request.as_ref().map(|mr| mr.iid),
        created_at: p.created_at,
        finished_at: p.finished_at,
        updated_at: now,
    }));
    changes.extend(
        expected_tags(event, project, registry, now)
            .into_iter()
            .map(Change::ImageTag),
    );
    changes
}

/// The image tags this pipeline is expected to push, one per applicable image rule.
pub fn expected_tags(
    event: &PipelineEvent,
    project: &ProjectConfig,
    registry: &str,
    now: DateTime<Utc>,
) -> Vec<ImageTagRecord> {
    let p = &event.object_attributes;
    let default_branch = event.project.default_branch.as_deref();
    let slug = slugify(&p.git_ref);
    let vars = Vars {
        commit_sha: &p.sha,
        ref_name: &p.git_ref,
        ref_slug: &slug,
        is_tag: p.tag,
        pipeline_id: p.id,
        pipeline_iid: p.iid,
        project_path: &event.project.path_with_namespace,
        project_id: event.project.id,
        default_branch,
        registry,
    };
    let mut tags = Vec::new();
    for rule in project
        .images
        .iter()
        .filter(|r| r.applies_to(&p.git_ref, default_branch))
    {
        match rule.image.expand(&vars) {
            Ok(image) => tags.push(ImageTagRecord {
                project_id: event.project.id,
                repository: image.repository,
                tag: image.tag,
                kind: rule.kind,
                rule: rule.name.clone(),
                ref_kind: if p.tag { RefKind::Tag } else { RefKind::Branch },
                ref_name: p.git_ref.clone(),
                sha: p.sha.clone(),
                pipeline_id: p.id,
                first_seen: now,
                last_seen: now,
                digest: None,
            }),
            Err(ExpandError::Unset(var)) => {
                tracing::debug!(rule = %rule.name, var, "rule does not apply to this pipeline");
            }
            Err(e) => {
                tracing::warn!(rule = %rule.name, pipeline = p.id, error = %e, "image rule produced no valid tag")
            }
        }
    }
    tags
}

#[cfg(test)]
mod tests;
