//! One delivery → the changes it implies (a `Batch`), as a pure function of the body, the project's
//! configuration and the time it arrived. No I/O: the HTTP layer verifies, the store applies.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::payload::{
    self, is_blank_sha, MergeRequestAttributes, MergeRequestEvent, PipelineEvent, PushEvent,
};
use crate::config::ProjectConfig;
use crate::model::*;
use crate::text::{clip, for_log};

/// What a delivery means: changes to record, or nothing registry-gc uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Translation {
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
}

/// Translates a parsed body. `Err` is a client error naming the bad field (HTTP 400).
pub fn translate(
    env: Envelope<'_>,
    body: Value,
    project: &ProjectConfig,
) -> Result<Translation, String> {
    let now = env.received_at;
    let (project_info, changes) = match env.object_kind {
        "push" | "tag_push" => {
            let event: PushEvent = payload::parse(body)?;
            match push_changes(&event, now) {
                Some(changes) => (event.project, changes),
                None => {
                    return Ok(Translation::Ignore(format!(
                        "ref {} is not a branch or tag",
                        clip(&event.git_ref, 200)
                    )))
                }
            }
        }
        "merge_request" => {
            let event: MergeRequestEvent = payload::parse(body)?;
            match merge_request_change(&event, now) {
                Ok(change) => (event.project, vec![change]),
                Err(reason) => return Ok(Translation::Ignore(reason)),
            }
        }
        "pipeline" => {
            let event: PipelineEvent = payload::parse(body)?;
            let changes = pipeline_changes(&event, project, now);
            (event.project, changes)
        }
        other => {
            return Ok(Translation::Ignore(format!(
                "event {:?} is not used by registry-gc",
                clip(other, 200)
            )))
        }
    };
    Ok(Translation::Record(Batch {
        source: Source::Webhook {
            delivery_key: env.delivery_key,
            event: env.object_kind.to_owned(),
        },
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
    let created = is_blank_sha(&event.before);
    Some(vec![Change::RefPushed {
        kind,
        name,
        sha,
        created,
        protected: event.ref_protected,
        at: now,
    }])
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
    now: DateTime<Utc>,
) -> Vec<Change> {
    let p = &event.object_attributes;
    let status = p.status.parse().unwrap_or_else(|_| {
        tracing::warn!(pipeline = p.id, status = %for_log(&p.status), "unknown pipeline status, treated as not finished");
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
    let pipeline = PipelineRecord {
        project_id: event.project.id,
        id: p.id,
        iid: p.iid,
        ref_name: p.git_ref.as_str().into(),
        tag: p.tag,
        sha: p.sha.as_str().into(),
        source: p.source.as_deref().map(Name::from),
        status,
        merge_request_iid: event.merge_request.as_ref().map(|mr| mr.iid),
        created_at: p.created_at,
        finished_at: p.finished_at,
        updated_at: now,
    };
    let facts = ProjectFacts {
        id: event.project.id,
        path: &event.project.path_with_namespace,
        default_branch: event.project.default_branch.as_deref(),
        registry: project.registry_host(),
    };
    let tags = expected_tags(&project.images, &facts, &pipeline, now);
    changes.push(Change::Pipeline(pipeline));
    changes.extend(tags.into_iter().map(Change::ImageTag));
    changes
}

#[cfg(test)]
mod tests;
