//! `POST /webhooks/gitlab`: verify, dedupe, record. The order of checks decides the answer: body
//! size (413), JSON (400), project (404), token (401), fields (400), database (503). Every
//! delivery is recorded in one transaction or not at all.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::Utc;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::AppState;
use crate::config::{ProjectConfig, Secret};
use crate::store::Applied;
use crate::webhook::events::{self, Envelope, Outcome};

/// Receives one GitLab webhook delivery (project or system hook).
pub async fn receive(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let header_event = header(&headers, "x-gitlab-event").unwrap_or_default();
    let mut event = event_from_header(header_event);
    let result = handle(&app, &headers, body, &mut event).await;
    let outcome = match &result {
        Ok(answer) => answer["status"].as_str().unwrap_or("recorded").to_owned(),
        Err(e) => e.code().to_owned(),
    };
    app.metrics.delivery(&event, &outcome);
    result
}

async fn handle(
    app: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    event: &mut String,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(app.config.server.body_limit_bytes),
        _ => ApiError::BadRequest(rejection.body_text()),
    })?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("body is not valid JSON: {e}")))?;
    let object_kind = value["object_kind"]
        .as_str()
        .ok_or_else(|| ApiError::BadRequest("object_kind: required field is missing".into()))?
        .to_owned();
    *event = object_kind.clone();
    let (id, path) = project_identity(&value)?;
    let project = app.config.project(id, path.as_deref()).ok_or_else(|| {
        tracing::warn!(project_id = ?id, project_path = ?path, event = %object_kind, "webhook for a project that is not configured");
        ApiError::NotFound("project is not configured in registry-gc".into())
    })?;
    if !token_accepted(project, &app.config.server.system_hook_tokens, headers) {
        tracing::warn!(project = %project.label(), event = %object_kind, "webhook with a missing or wrong token");
        return Err(ApiError::Unauthorized);
    }
    let envelope = Envelope {
        object_kind: &object_kind,
        delivery_key: delivery_key(headers, &body),
        received_at: Utc::now(),
        registry: project.registry_host(),
    };
    match events::translate(envelope, value, project).map_err(ApiError::BadRequest)? {
        Outcome::Ignore(reason) => {
            tracing::info!(project = %project.label(), event = %object_kind, %reason, "webhook ignored");
            Ok(Json(json!({ "status": "ignored", "reason": reason })))
        }
        Outcome::Record(batch) => match app.store.apply(&batch).await? {
            Applied::Recorded { changes } => {
                tracing::info!(project = %project.label(), event = %object_kind, changes, "webhook recorded");
                Ok(Json(json!({ "status": "recorded", "changes": changes })))
            }
            Applied::Duplicate => {
                tracing::info!(project = %project.label(), event = %object_kind, "duplicate delivery, nothing changed");
                Ok(Json(json!({ "status": "duplicate" })))
            }
        },
    }
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

/// Compares the presented token with every accepted one in constant time (no early exit).
fn token_accepted(project: &ProjectConfig, system: &[Secret], headers: &HeaderMap) -> bool {
    let Some(presented) = headers.get("x-gitlab-token") else {
        return false;
    };
    project
        .webhook_tokens
        .iter()
        .chain(system)
        .fold(false, |ok, token| token.matches(presented.as_bytes()) | ok)
}

/// `Idempotency-Key` (same on GitLab's retries and resends); else `X-Gitlab-Event-UUID` with the body
/// hash (the UUID alone is shared by hooks triggered from one request); else the body hash.
fn delivery_key(headers: &HeaderMap, body: &[u8]) -> String {
    if let Some(key) = header(headers, "idempotency-key").filter(|k| !k.is_empty()) {
        return format!("idem:{key}");
    }
    let hash = hex::encode(Sha256::digest(body));
    match header(headers, "x-gitlab-event-uuid").filter(|k| !k.is_empty()) {
        Some(uuid) => format!("uuid:{uuid}:{hash}"),
        None => format!("body:{hash}"),
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
    }

    #[test]
    fn header_event_names() {
        assert_eq!(event_from_header("Pipeline Hook"), "pipeline");
        assert_eq!(event_from_header("Tag Push Hook"), "tag_push");
        assert_eq!(event_from_header("Merge Request Hook"), "merge_request");
    }
}
