//! GitLab REST API answers in GitLab's exact shapes (field sets copied from the API documentation
//! for branches, merge requests, pipelines, a single pipeline, project hooks, events and the
//! project), with only the values a scenario needs as parameters.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

pub const PROJECT_ID: i64 = 42;
pub const PROJECT_PATH: &str = "group/app";
const WEB: &str = "https://gitlab.example.com/group/app";

/// GitLab's API time format: ISO 8601 UTC with milliseconds.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn user() -> Value {
    json!({"id": 1, "username": "root", "name": "Administrator", "state": "active", "locked": false,
           "avatar_url": "https://www.gravatar.com/avatar/e64c7d89f26bd1972efa854d13d7dd61?s=80&d=identicon",
           "web_url": "https://gitlab.example.com/root"})
}

/// `GET /projects/:id`.
pub fn project(default_branch: &str) -> Value {
    json!({
        "id": PROJECT_ID, "description": null, "name": "app", "name_with_namespace": "group / app",
        "path": "app", "path_with_namespace": PROJECT_PATH, "created_at": "2024-01-01T00:00:00.000Z",
        "default_branch": default_branch, "tag_list": [], "topics": [],
        "ssh_url_to_repo": "git@gitlab.example.com:group/app.git",
        "http_url_to_repo": "https://gitlab.example.com/group/app.git", "web_url": WEB,
        "readme_url": null, "forks_count": 0, "avatar_url": null, "star_count": 0,
        "last_activity_at": "2026-11-20T10:00:00.000Z",
        "namespace": {"id": 3, "name": "group", "path": "group", "kind": "group", "full_path": "group",
                      "parent_id": null, "avatar_url": null, "web_url": "https://gitlab.example.com/groups/group"},
        "container_registry_image_prefix": "registry.example.com/group/app",
        "visibility": "private", "archived": false, "empty_repo": false
    })
}

/// One entry of `GET /projects/:id/repository/branches` (and the single branch).
pub fn branch(name: &str, sha: &str, default: bool) -> Value {
    json!({
        "name": name, "merged": false, "protected": default, "default": default,
        "developers_can_push": false, "developers_can_merge": false, "can_push": true,
        "web_url": format!("{WEB}/-/tree/{name}"),
        "commit": {
            "id": sha, "short_id": &sha[..8], "created_at": "2026-11-20T09:00:00.000+00:00",
            "parent_ids": [], "title": "a commit", "message": "a commit\n",
            "author_name": "John Smith", "author_email": "john@example.com",
            "authored_date": "2026-11-20T09:00:00.000+00:00",
            "committer_name": "John Smith", "committer_email": "john@example.com",
            "committed_date": "2026-11-20T09:00:00.000+00:00",
            "trailers": {}, "extended_trailers": {},
            "web_url": format!("{WEB}/-/commit/{sha}")
        }
    })
}

/// One entry of `GET /projects/:id/merge_requests`; `state` opened, closed, merged or locked.
pub fn merge_request(iid: i64, source: &str, state: &str, updated: DateTime<Utc>) -> Value {
    let at = ts(updated);
    let merged = state == "merged";
    let closed = state == "closed";
    let mut mr = json!({
        "id": 1000 + iid, "iid": iid, "project_id": PROJECT_ID, "title": format!("Change {iid}"),
        "description": "", "state": state, "imported": false, "imported_from": "none",
        "created_at": "2026-11-20T08:00:00.000Z", "updated_at": at,
        "merged_by": if merged { user() } else { Value::Null },
        "merge_user": if merged { user() } else { Value::Null },
        "merged_at": if merged { json!(at) } else { Value::Null },
        "merge_after": null, "prepared_at": "2026-11-20T08:00:01.000Z",
        "closed_by": if closed { user() } else { Value::Null },
        "closed_at": if closed { json!(at) } else { Value::Null },
        "target_branch": "main", "source_branch": source, "user_notes_count": 0,
        "upvotes": 0, "downvotes": 0, "author": user(), "assignees": [], "assignee": null,
        "reviewers": [], "source_project_id": PROJECT_ID, "target_project_id": PROJECT_ID
    });
    let rest = json!({
        "labels": [], "draft": false, "work_in_progress": false, "milestone": null,
        "merge_when_pipeline_succeeds": false, "merge_status": "can_be_merged",
        "detailed_merge_status": if merged { "not_open" } else { "mergeable" },
        "sha": "8888888888888888888888888888888888888888", "merge_commit_sha": null,
        "squash_commit_sha": null, "discussion_locked": null, "should_remove_source_branch": true,
        "force_remove_source_branch": false, "allow_collaboration": false,
        "allow_maintainer_to_push": false, "reference": format!("!{iid}"),
        "references": {"short": format!("!{iid}"), "relative": format!("!{iid}"), "full": format!("group/app!{iid}")},
        "web_url": format!("{WEB}/-/merge_requests/{iid}"),
        "time_stats": {"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": null, "human_total_time_spent": null},
        "squash": false, "squash_on_merge": false,
        "task_completion_status": {"count": 0, "completed_count": 0},
        "has_conflicts": false, "blocking_discussions_resolved": true, "approvals_before_merge": null
    });
    let fields = mr.as_object_mut().expect("object");
    fields.extend(rest.as_object().expect("object").clone());
    mr
}

/// `GET /projects/:id/pipelines/:id`. The list answer is this with only the list's fields
/// (see [`pipeline_list_entry`]). `git_ref` is `pipeline.ref` (`refs/merge-requests/3/head` for
/// merge request pipelines).
pub fn pipeline(
    id: i64,
    git_ref: &str,
    sha: &str,
    status: &str,
    tag: bool,
    updated: DateTime<Utc>,
) -> Value {
    let finished = ["success", "failed", "canceled", "skipped"].contains(&status);
    let source = if git_ref.starts_with("refs/merge-requests/") {
        "merge_request_event"
    } else {
        "push"
    };
    json!({
        "id": id, "iid": id - 100, "project_id": PROJECT_ID, "name": null, "sha": sha,
        "ref": git_ref, "status": status, "source": source,
        "created_at": ts(updated - chrono::TimeDelta::minutes(5)), "updated_at": ts(updated),
        "web_url": format!("{WEB}/-/pipelines/{id}"),
        "before_sha": "0000000000000000000000000000000000000000", "tag": tag, "yaml_errors": null,
        "user": user(), "started_at": ts(updated - chrono::TimeDelta::minutes(4)),
        "finished_at": if finished { json!(ts(updated)) } else { Value::Null },
        "committed_at": null, "duration": if finished { json!(240) } else { Value::Null },
        "queued_duration": 6, "coverage": null,
        "detailed_status": {"icon": format!("status_{status}"), "text": status, "label": status,
            "group": status, "tooltip": status, "has_details": false,
            "details_path": format!("/group/app/-/pipelines/{id}"), "illustration": null,
            "favicon": "/assets/ci_favicons/favicon_status_success.png"}
    })
}

/// The fields `GET /projects/:id/pipelines` shows of a pipeline.
pub fn pipeline_list_entry(detail: &Value) -> Value {
    let keys = [
        "id",
        "iid",
        "project_id",
        "sha",
        "ref",
        "status",
        "source",
        "created_at",
        "updated_at",
        "web_url",
        "name",
    ];
    Value::Object(
        keys.iter()
            .map(|k| (k.to_string(), detail[*k].clone()))
            .collect(),
    )
}

/// One entry of `GET /projects/:id/hooks`.
pub fn hook(
    id: i64,
    url: &str,
    alert_status: &str,
    disabled_until: Option<DateTime<Utc>>,
) -> Value {
    json!({
        "id": id, "url": url, "name": "registry-gc", "description": "", "project_id": PROJECT_ID,
        "push_events": true, "push_events_branch_filter": "", "branch_filter_strategy": "wildcard",
        "issues_events": false, "confidential_issues_events": false, "merge_requests_events": true,
        "tag_push_events": true, "note_events": false, "confidential_note_events": false,
        "job_events": false, "pipeline_events": true, "wiki_page_events": false,
        "deployment_events": false, "releases_events": false, "milestone_events": false,
        "feature_flag_events": false, "enable_ssl_verification": true,
        "repository_update_events": false, "alert_status": alert_status,
        "disabled_until": disabled_until.map(ts), "url_variables": [],
        "created_at": "2026-01-01T00:00:00.000Z", "resource_access_token_events": false,
        "custom_webhook_template": null, "custom_headers": []
    })
}

/// One entry of `GET /projects/:id/events` for a push: `git_ref` None with `ref_count` set is a
/// bulk push (more refs than `push_event_hooks_limit`).
pub fn push_event(
    id: i64,
    action_name: &str,
    git_ref: Option<&str>,
    ref_count: Option<i64>,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "id": id, "project_id": PROJECT_ID, "action_name": action_name, "target_id": null,
        "target_iid": null, "target_type": null, "author_id": 1, "target_title": null,
        "created_at": ts(at), "author": user(), "imported": false, "imported_from": "none",
        "push_data": {"commit_count": if git_ref.is_some() { 1 } else { 0 }, "action": "pushed",
            "ref_type": "branch", "commit_from": null, "commit_to": null, "ref": git_ref,
            "commit_title": null, "ref_count": ref_count},
        "author_username": "root"
    })
}
