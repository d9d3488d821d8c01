//! `POST /webhooks/gitlab`: verify, dedupe, record. The order of checks decides the answer and
//! reveals nothing to a caller without a valid token: body size (413), a token any project or
//! system hook accepts (401), JSON (400), the token accepted for the project the body names (401),
//! the project configured (404), field values (400), path owned by another project id (409),
//! database (503). Every delivery is recorded in one transaction or not at all. User text reaches
//! the log only cut to a bound.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::auth::Presented;
use super::error::ApiError;
use super::AppState;
use crate::config::ProjectConfig;
use crate::store::{Applied, PathClaim};
use crate::text::for_log;
use crate::webhook::events::{self, Envelope, Translation};

/// Longest delivery key kept as sent; longer ones are kept as their hash.
const MAX_KEY: usize = 128;

pub fn router(body_limit: usize) -> Router<AppState> {
    Router::new().route(
        "/webhooks/gitlab",
        post(receive).layer(DefaultBodyLimit::max(body_limit)),
    )
}

/// How a delivery was answered with 200.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Delivered {
    Recorded { changes: usize },
    Duplicate,
    Ignored { reason: String },
}

impl Delivered {
    /// The `status` of the answer, also the metrics outcome.
    fn label(&self) -> &'static str {
        match self {
            Delivered::Recorded { .. } => "recorded",
            Delivered::Duplicate => "duplicate",
            Delivered::Ignored { .. } => "ignored",
        }
    }

    fn body(&self) -> Value {
        match self {
            Delivered::Recorded { changes } => {
                json!({ "status": self.label(), "changes": changes })
            }
            Delivered::Duplicate => json!({ "status": self.label() }),
            Delivered::Ignored { reason } => json!({ "status": self.label(), "reason": reason }),
        }
    }
}

/// Receives one GitLab webhook delivery (project or system hook).
async fn receive(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let header_event = header(&headers, "x-gitlab-event").unwrap_or_default();
    let mut event = event_from_header(header_event);
    let result = handle(&app, &headers, body, &mut event).await;
    let outcome = match &result {
        Ok(delivered) => delivered.label(),
        Err(e) => e.code(),
    };
    app.metrics.delivery(&event, outcome);
    result.map(|delivered| Json(delivered.body()))
}

async fn handle(
    app: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    event: &mut String,
) -> Result<Delivered, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(app.config.server.body_limit_bytes),
        _ => ApiError::BadRequest(rejection.body_text()),
    })?;
    let token = Presented::from_headers(headers)
        .filter(|t| t.is_known(&app.config))
        .ok_or_else(|| {
            tracing::warn!(event = %for_log(event), "webhook with a missing or unknown token");
            ApiError::Unauthorized
        })?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("body is not valid JSON: {e}")))?;
    let object_kind = value["object_kind"]
        .as_str()
        .ok_or_else(|| ApiError::BadRequest("object_kind: required field is missing".into()))?
        .to_owned();
    *event = object_kind.clone();
    let project = authorized_project(app, &value, &token, &object_kind)?;
    let envelope = Envelope {
        object_kind: &object_kind,
        delivery_key: delivery_key(headers, &body),
        received_at: Utc::now(),
    };
    let label = project.label();
    match events::translate(envelope, value, project).map_err(ApiError::BadRequest)? {
        Translation::Ignore(reason) => {
            tracing::info!(project = %label, event = %for_log(&object_kind), reason = %for_log(&reason), "webhook ignored");
            Ok(Delivered::Ignored { reason })
        }
        Translation::Record(batch) => {
            let claim = if project.id == Some(batch.project.id) {
                PathClaim::Pinned
            } else {
                PathClaim::Exclusive
            };
            match app.store.apply_claiming(&batch, claim).await? {
                Applied::Recorded { changes } => {
                    tracing::info!(project = %label, event = %object_kind, changes, "webhook recorded");
                    app.metrics.delivered(&label, batch.received_at.timestamp());
                    Ok(Delivered::Recorded { changes })
                }
                Applied::Duplicate => {
                    tracing::info!(project = %label, event = %object_kind, "duplicate delivery, nothing changed");
                    Ok(Delivered::Duplicate)
                }
            }
        }
    }
}

/// The configured project the body names, once the token is accepted for it: 401 for a token not
/// accepted for that project (whether it is configured or not), 404 only for a caller with a system
/// hook's token naming a project that is not configured.
fn authorized_project<'a>(
    app: &'a AppState,
    value: &Value,
    token: &Presented<'_>,
    object_kind: &str,
) -> Result<&'a ProjectConfig, ApiError> {
    let (id, path) = project_identity(value)?;
    let project = app.config.project(id, path.as_deref());
    if !token.accepted_for(project, &app.config.server.system_hook_tokens) {
        tracing::warn!(project_id = ?id, project_path = ?path.as_deref().map(for_log), event = %for_log(object_kind), "webhook with a token not accepted for its project");
        return Err(ApiError::Unauthorized);
    }
    project.ok_or_else(|| {
        tracing::warn!(project_id = ?id, project_path = ?path.as_deref().map(for_log), event = %for_log(object_kind), "webhook for a project that is not configured");
        ApiError::NotFound("project is not configured in registry-gc".into())
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Pipeline Hook` → `pipeline`; used for metrics until the body says what it is.
fn event_from_header(header: &str) -> String {
    header
        .trim_end_matches(" Hook")
        .to_lowercase()
        .replace(' ', "_")
}

/// The project a body is about: `project.id` (or `project_id`) and `project.path_with_namespace`.
fn project_identity(value: &Value) -> Result<(Option<i64>, Option<String>), ApiError> {
    let id = value["project"]["id"]
        .as_i64()
        .or_else(|| value["project_id"].as_i64());
    let path = value["project"]["path_with_namespace"]
        .as_str()
        .map(str::to_owned);
    if id.is_none() && path.is_none() {
        return Err(ApiError::BadRequest(
            "project: required field is missing".into(),
        ));
    }
    Ok((id, path))
}

/// `Idempotency-Key` (same on GitLab's retries and resends); else `X-Gitlab-Event-UUID` with the body
/// hash (the UUID alone is shared by hooks triggered from one request); else the body hash.
fn delivery_key(headers: &HeaderMap, body: &[u8]) -> String {
    if let Some(key) = header(headers, "idempotency-key").filter(|k| !k.is_empty()) {
        return format!("idem:{}", bounded_key(key));
    }
    let hash = hex::encode(Sha256::digest(body));
    match header(headers, "x-gitlab-event-uuid").filter(|k| !k.is_empty()) {
        Some(uuid) => format!("uuid:{}:{hash}", bounded_key(uuid)),
        None => format!("body:{hash}"),
    }
}

/// A header value as a key: kept when short (GitLab sends UUIDs), else replaced by its hash so an
/// over-long header cannot make an index row the database refuses.
fn bounded_key(value: &str) -> String {
    if value.len() <= MAX_KEY {
        value.to_owned()
    } else {
        format!("sha256-{}", hex::encode(Sha256::digest(value.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_key_prefers_idempotency_key() {
        let mut headers = HeaderMap::new();
        assert!(delivery_key(&headers, b"{}").starts_with("body:"));
        headers.insert("x-gitlab-event-uuid", "u-1".parse().unwrap());
        assert_ne!(
            delivery_key(&headers, b"{}"),
            delivery_key(&headers, b"{ }")
        );
        headers.insert("idempotency-key", "k-1".parse().unwrap());
        assert_eq!(
            delivery_key(&headers, b"{}"),
            delivery_key(&headers, b"{ }")
        );
        headers.insert("idempotency-key", "k".repeat(5000).parse().unwrap());
        let long = delivery_key(&headers, b"{}");
        assert!(
            long.len() < 100 && long.starts_with("idem:sha256-"),
            "{long}"
        );
    }

    #[test]
    fn header_event_names() {
        assert_eq!(event_from_header("Pipeline Hook"), "pipeline");
        assert_eq!(event_from_header("Tag Push Hook"), "tag_push");
        assert_eq!(event_from_header("Merge Request Hook"), "merge_request");
    }
}
