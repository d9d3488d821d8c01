//! `/healthz` (the process is alive), `/readyz` (the database is migrated, answers and accepts
//! writes) and
//! `/metrics`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::error::ApiError;
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Ready when the database is migrated, answers within two seconds and accepts writes.
async fn readyz(State(app): State<AppState>) -> Response {
    if !app.schema_ready.load(Ordering::Acquire) {
        app.metrics.database_up.set(0);
        return ApiError::Unavailable.into_response();
    }
    let ping = tokio::time::timeout(Duration::from_secs(2), app.store.ready()).await;
    let up = matches!(ping, Ok(Ok(())));
    app.metrics.database_up.set(i64::from(up));
    match ping {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            ApiError::Unavailable.into_response()
        }
        Err(_) => ApiError::Unavailable.into_response(),
    }
}

async fn metrics(State(app): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}
