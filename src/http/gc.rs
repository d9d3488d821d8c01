//! Admin API of the garbage collector: the dry-run plan, triggering a run, and run history.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::extract::{bounded, optional_json, Path, Query};
use super::AppState;
use crate::gc::{GcError, Trigger};

impl From<GcError> for ApiError {
    fn from(e: GcError) -> Self {
        match e {
            GcError::AlreadyRunning => ApiError::Conflict(e.to_string()),
            GcError::Store(e) => e.into(),
            other => {
                tracing::error!(error = %other, "garbage-collection error");
                ApiError::Internal
            }
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/plan", get(plan))
        .route("/api/v1/gc/runs", get(runs).post(trigger))
        .route("/api/v1/gc/runs/{id}", get(run))
}

#[derive(Debug, Deserialize)]
struct PlanQuery {
    project: Option<String>,
}

/// `GET /api/v1/plan[?project=P]`: what a run would do now, with a reason per tag.
async fn plan(
    State(app): State<AppState>,
    Query(q): Query<PlanQuery>,
) -> Result<Json<Value>, ApiError> {
    let project = q
        .project
        .as_deref()
        .map(|p| bounded("project", p))
        .transpose()?;
    let results = app.gc.plan(project).await?;
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(plan) => plans.push(plan),
            Err(e) => errors.push(e.to_string()),
        }
    }
    Ok(Json(json!({ "plans": plans, "errors": errors })))
}

/// The body of `POST /api/v1/gc/runs`. Empty, `{}` or without `dry_run` is a dry run: deleting
/// takes an explicit `"dry_run": false`, and then only if the configuration allows it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRequest {
    /// `false`: delete if `gc.dry_run = false`; absent or `true`: a dry run whatever the config.
    #[serde(default)]
    dry_run: Option<bool>,
    /// Answer when the run is over, with its record, instead of at once.
    #[serde(default)]
    wait: bool,
}

impl RunRequest {
    /// The collector's override: forced dry run unless the request says `"dry_run": false`.
    fn forced_dry_run(&self) -> Option<bool> {
        match self.dry_run {
            Some(false) => None,
            _ => Some(true),
        }
    }
}

/// `POST /api/v1/gc/runs`: starts a run (202), or with `"wait": true` runs it and answers its record.
/// A body that cannot be read is 400 or 415, never "no options".
async fn trigger(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let request: RunRequest = optional_json(&headers, body)?;
    let dry_run = request.forced_dry_run();
    if app.gc.is_running() {
        return Err(GcError::AlreadyRunning.into());
    }
    if request.wait {
        let run = app.gc.run(Trigger::Api, dry_run).await?;
        return Ok((StatusCode::OK, Json(json!(run))));
    }
    app.gc.start(Trigger::Api, dry_run)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "started" }))))
}

#[derive(Debug, Deserialize)]
struct RunsQuery {
    limit: Option<i64>,
}

/// `GET /api/v1/gc/runs`: the newest runs first.
async fn runs(
    State(app): State<AppState>,
    Query(q): Query<RunsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    Ok(Json(json!({ "runs": app.store.runs(limit).await? })))
}

/// `GET /api/v1/gc/runs/{id}`: one run with its journal.
async fn run(State(app): State<AppState>, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    let run = app
        .store
        .run(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no run {id}")))?;
    let journal = app.store.journal_of_run(id).await?;
    Ok(Json(json!({ "run": run, "journal": journal })))
}
