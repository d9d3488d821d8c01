//! GitLab REST API answers, with GitLab's field names (branches, merge requests, pipelines, project
//! hooks, events, the project). Only what registry-gc reads is required; a required field missing
//! or a timestamp that does not parse makes the whole answer unparseable, never silently `None`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::webhook::time::parse_gitlab_time;

/// `GET /projects/:id`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Project {
    pub id: i64,
    pub path_with_namespace: String,
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub web_url: Option<String>,
}

/// One entry of `GET /projects/:id/repository/branches` (and the single-branch answer).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Branch {
    pub name: String,
    pub commit: BranchCommit,
    #[serde(default)]
    pub merged: bool,
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub web_url: Option<String>,
}

/// The commit a branch points at (only what we read).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct BranchCommit {
    pub id: String,
    #[serde(default, with = "opt_time")]
    pub committed_date: Option<DateTime<Utc>>,
}

/// One entry of `GET /projects/:id/merge_requests`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct MergeRequest {
    pub id: i64,
    pub iid: i64,
    pub project_id: i64,
    /// `opened`, `closed`, `merged` or `locked`.
    pub state: String,
    pub source_branch: String,
    pub target_branch: String,
    pub source_project_id: i64,
    pub target_project_id: i64,
    #[serde(with = "time")]
    pub updated_at: DateTime<Utc>,
    #[serde(default, with = "opt_time")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, with = "opt_time")]
    pub merged_at: Option<DateTime<Utc>>,
    #[serde(default, with = "opt_time")]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub web_url: Option<String>,
}

/// One entry of `GET /projects/:id/pipelines`. `ref` is `pipeline.ref`: for merge request pipelines
/// that is `refs/merge-requests/<iid>/head` (or `/merge`, `/train`), not the source branch.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Pipeline {
    pub id: i64,
    #[serde(default)]
    pub iid: Option<i64>,
    pub project_id: i64,
    pub sha: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub status: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default, with = "opt_time")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(with = "time")]
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub web_url: Option<String>,
}

/// `GET /projects/:id/pipelines/:pipeline_id`: the list entry plus `tag` and the times.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PipelineDetail {
    #[serde(flatten)]
    pub pipeline: Pipeline,
    pub tag: bool,
    #[serde(default)]
    pub before_sha: Option<String>,
    #[serde(default, with = "opt_time")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, with = "opt_time")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub duration: Option<i64>,
}

/// One entry of `GET /projects/:id/hooks`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Hook {
    pub id: i64,
    pub url: String,
    #[serde(default)]
    pub project_id: Option<i64>,
    #[serde(default)]
    pub push_events: bool,
    #[serde(default)]
    pub tag_push_events: bool,
    #[serde(default)]
    pub merge_requests_events: bool,
    #[serde(default)]
    pub pipeline_events: bool,
    #[serde(default)]
    pub push_events_branch_filter: Option<String>,
    #[serde(default)]
    pub enable_ssl_verification: bool,
    /// `executable`, `temporarily_disabled` or `disabled` (absent before GitLab 15.x).
    #[serde(default)]
    pub alert_status: Option<String>,
    #[serde(default, with = "opt_time")]
    pub disabled_until: Option<DateTime<Utc>>,
    #[serde(default, with = "opt_time")]
    pub created_at: Option<DateTime<Utc>>,
}

/// One entry of `GET /projects/:id/events`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Event {
    pub id: i64,
    #[serde(default)]
    pub project_id: Option<i64>,
    /// `pushed to`, `pushed new`, `deleted`, `opened`, …
    pub action_name: String,
    #[serde(with = "time")]
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub push_data: Option<PushData>,
}

/// `push_data` of a push event. A push of more refs than `push_event_hooks_limit` is one event
/// with `ref_count` set and `ref` null, and sent no per-ref push hooks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PushData {
    #[serde(default)]
    pub commit_count: Option<i64>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub ref_type: Option<String>,
    #[serde(default)]
    pub commit_from: Option<String>,
    #[serde(default)]
    pub commit_to: Option<String>,
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    #[serde(default)]
    pub commit_title: Option<String>,
    #[serde(default)]
    pub ref_count: Option<i64>,
}

/// A required GitLab timestamp: any of GitLab's formats, else the answer does not parse.
mod time {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_gitlab_time(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unparseable time {text:?}")))
    }
}

/// An optional GitLab timestamp: missing or null is `None`; text that does not parse is an error.
mod opt_time {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&t.to_rfc3339()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => super::parse_gitlab_time(&text)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("unparseable time {text:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_strict() {
        let ok = serde_json::json!({"id": 1, "action_name": "pushed to", "created_at": "2026-11-20T10:00:00.123Z"});
        assert!(serde_json::from_value::<Event>(ok).is_ok());
        let bad =
            serde_json::json!({"id": 1, "action_name": "pushed to", "created_at": "yesterday"});
        let err = serde_json::from_value::<Event>(bad).unwrap_err();
        assert!(err.to_string().contains("unparseable time"), "{err}");
        let null_ok = serde_json::json!({"id": 1, "url": "https://x", "disabled_until": null});
        assert_eq!(
            serde_json::from_value::<Hook>(null_ok)
                .unwrap()
                .disabled_until,
            None
        );
    }

    #[test]
    fn pipeline_detail_flattens_the_list_entry() {
        let body = serde_json::json!({
            "id": 287, "iid": 144, "project_id": 21, "sha": "50f0", "ref": "main", "status": "success",
            "source": "push", "created_at": "2022-09-21T01:05:07.200Z", "updated_at": "2022-09-21T01:05:50.185Z",
            "tag": false, "finished_at": "2022-09-21T01:05:50.175Z", "detailed_status": {"text": "passed"}
        });
        let p: PipelineDetail = serde_json::from_value(body).unwrap();
        assert_eq!(
            (p.pipeline.id, p.pipeline.git_ref.as_str(), p.tag),
            (287, "main", false)
        );
        assert!(p.finished_at.is_some());
    }
}
