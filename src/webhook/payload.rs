//! GitLab webhook bodies, as far as registry-gc reads them. Required fields are plain types, so a
//! body missing one fails to parse with the field's path; everything else is optional and lenient.
//! Every string the store keeps is bounded while parsing (`field`): SHAs are hex, names have a
//! length limit and no NUL, so the database never sees a value it must refuse.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::field;
use super::time::lenient;

/// The common `project` object (only what we use).
#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    pub id: i64,
    #[serde(deserialize_with = "field::path")]
    pub path_with_namespace: String,
    #[serde(default, deserialize_with = "field::opt_name")]
    pub default_branch: Option<String>,
}

/// Push Hook and Tag Push Hook.
#[derive(Debug, Clone, Deserialize)]
pub struct PushEvent {
    #[serde(deserialize_with = "field::sha")]
    pub before: String,
    #[serde(deserialize_with = "field::sha")]
    pub after: String,
    #[serde(rename = "ref", deserialize_with = "field::name")]
    pub git_ref: String,
    #[serde(default)]
    pub ref_protected: Option<bool>,
    #[serde(default, deserialize_with = "field::opt_sha")]
    pub checkout_sha: Option<String>,
    pub project: Project,
}

/// Merge Request Hook.
#[derive(Debug, Clone, Deserialize)]
pub struct MergeRequestEvent {
    pub project: Project,
    pub object_attributes: MergeRequestAttributes,
}

/// A merge request as the merge request hook's `object_attributes`, or the `merge_request` object
/// of a merge request pipeline (which has fewer fields: the optional ones are absent there).
#[derive(Debug, Clone, Deserialize)]
pub struct MergeRequestAttributes {
    #[serde(default)]
    pub id: Option<i64>,
    pub iid: i64,
    #[serde(deserialize_with = "field::name")]
    pub source_branch: String,
    #[serde(deserialize_with = "field::name")]
    pub target_branch: String,
    #[serde(default)]
    pub source_project_id: Option<i64>,
    #[serde(default, deserialize_with = "field::opt_word")]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl MergeRequestAttributes {
    /// A merge request whose source branch lives in another project (a fork).
    pub fn is_from_fork(&self, project_id: i64) -> bool {
        self.source_project_id.is_some_and(|id| id != project_id)
    }
}

/// Pipeline Hook.
#[derive(Debug, Clone, Deserialize)]
pub struct PipelineEvent {
    pub project: Project,
    pub object_attributes: PipelineAttributes,
    #[serde(default)]
    pub merge_request: Option<MergeRequestAttributes>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PipelineAttributes {
    pub id: i64,
    #[serde(default)]
    pub iid: Option<i64>,
    #[serde(rename = "ref", deserialize_with = "field::name")]
    pub git_ref: String,
    #[serde(default)]
    pub tag: bool,
    #[serde(deserialize_with = "field::sha")]
    pub sha: String,
    #[serde(default, deserialize_with = "field::opt_word")]
    pub source: Option<String>,
    #[serde(deserialize_with = "field::word")]
    pub status: String,
    #[serde(default, deserialize_with = "lenient")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient")]
    pub finished_at: Option<DateTime<Utc>>,
}

/// True when a SHA is GitLab's "no commit" value: all zeros, 40 (SHA-1) or 64 (SHA-256) long.
pub fn is_blank_sha(sha: &str) -> bool {
    !sha.is_empty() && sha.bytes().all(|b| b == b'0')
}

/// Parses a body into `T`; the error names the JSON path of the first bad or missing field.
pub fn parse<T: for<'de> Deserialize<'de>>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.inner().to_string();
        let mut path = e.path().to_string();
        // serde names a missing field in the message, at the path of its parent: join them.
        if let Some(field) = inner
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            path = if path == "." {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            };
            return format!("{path}: required field is missing");
        }
        if path == "." {
            inner
        } else {
            format!("{path}: {inner}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_shas_of_both_lengths() {
        assert!(is_blank_sha(&"0".repeat(40)));
        assert!(is_blank_sha(&"0".repeat(64)));
        assert!(!is_blank_sha("0000000000000000000000000000000000000001"));
        assert!(!is_blank_sha(""));
    }

    #[test]
    fn missing_field_is_named_with_its_path() {
        let body = serde_json::json!({
            "project": {"id": 1, "path_with_namespace": "g/a"},
            "object_attributes": {"id": 5, "ref": "main", "status": "running"}
        });
        let err = parse::<PipelineEvent>(body).unwrap_err();
        assert_eq!(err, "object_attributes.sha: required field is missing");
    }

    #[test]
    fn bad_values_are_named_with_their_path() {
        let body = |sha: &str, git_ref: &str| {
            serde_json::json!({
                "project": {"id": 1, "path_with_namespace": "g/a"},
                "object_attributes": {"id": 5, "ref": git_ref, "sha": sha, "status": "running"}
            })
        };
        let multibyte = format!("{}é", "a".repeat(38));
        let err = parse::<PipelineEvent>(body(&multibyte, "main")).unwrap_err();
        assert!(
            err.starts_with("object_attributes.sha: not a commit SHA"),
            "{err}"
        );
        let err = parse::<PipelineEvent>(body(&"a".repeat(40), "ma\0in")).unwrap_err();
        assert!(
            err.starts_with("object_attributes.ref: contains a NUL"),
            "{err}"
        );
        let long = "x".repeat(9000);
        let err = parse::<PipelineEvent>(body(&"a".repeat(40), &long)).unwrap_err();
        assert!(
            err.starts_with("object_attributes.ref: longer than 1024"),
            "{err}"
        );
        assert!(err.len() < 200, "the value is not echoed: {err}");
    }
}
