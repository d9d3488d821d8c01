//! Admin API of the garbage collector: the dry-run plan, triggering a run, and run history.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
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

#[derive(Debug, Deserialize)]
pub struct PlanQuery {
    project: Option<String>,
}

/// `GET /api/v1/plan[?project=P]`: what a run would do now, with a reason per tag.
pub async fn plan(
    State(app): State<AppState>,
    Query(q): Query<PlanQuery>,
) -> Result<Json<Value>, ApiError> {
    let results = app.gc.plan(q.project.as_deref()).await?;
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

#[derive(Debug, Default, Deserialize)]
pub struct RunRequest {
    /// Force a dry run (a request can never turn dry-run off; only the configuration can).
    #[serde(default)]
    dry_run: bool,
    /// Answer when the run is over, with its record, instead of at once.
    #[serde(default)]
    wait: bool,
}

/// `POST /api/v1/gc/runs`: starts a run (202), or with `"wait": true` runs it and answers its record.
pub async fn trigger(
    State(app): State<AppState>,
    body: Option<Json<RunRequest>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let request = body.map(|Json(r)| r).unwrap_or_default();
    let dry_run = request.dry_run.then_some(true);
    if app.gc.is_running() {
        return Err(GcError::AlreadyRunning.into());
    }
    if request.wait {
        let run = app.gc.run(Trigger::Api, dry_run).await?;
        return Ok((StatusCode::OK, Json(json!(run))));
    }
    let gc = app.gc.clone();
    tokio::spawn(async move {
        if let Err(e) = gc.run(Trigger::Api, dry_run).await {
            tracing::warn!(error = %e, "run requested through the API did not run");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "started" }))))
}

#[derive(Debug, Deserialize)]
pub struct RunsQuery {
    limit: Option<i64>,
}

/// `GET /api/v1/gc/runs`: the newest runs first.
pub async fn runs(
    State(app): State<AppState>,
    Query(q): Query<RunsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    Ok(Json(json!({ "runs": app.store.runs(limit).await? })))
}

/// `GET /api/v1/gc/runs/{id}`: one run with its journal.
pub async fn run(
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let run = app
        .store
        .run(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no run {id}")))?;
    let journal = app.store.journal_of_run(id).await?;
    Ok(Json(json!({ "run": run, "journal": journal })))
}
