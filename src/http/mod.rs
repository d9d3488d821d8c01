//! The HTTP server: webhooks, health, metrics and the admin API on one listener, with graceful
//! shutdown. Handlers translate; decisions live in `webhook`, `store` and `policy`.

pub mod api;
pub mod error;
pub mod gc;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::gc::Gc;
use crate::metrics::Metrics;
use crate::store::Store;
use error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub metrics: Metrics,
    pub gc: Gc,
}

/// The whole application's routes.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/projects", get(api::projects))
        .route("/api/v1/projects/{*rest}", get(api::project_resource))
        .route("/api/v1/plan", get(gc::plan))
        .route("/api/v1/gc/runs", get(gc::runs).post(gc::trigger))
        .route("/api/v1/gc/runs/{id}", get(gc::run))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin));
    Router::new()
        .route(
            "/webhooks/gitlab",
            post(webhook::receive)
                .layer(DefaultBodyLimit::max(state.config.server.body_limit_bytes)),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(api)
        .route_layer(middleware::from_fn_with_state(state.clone(), track_http))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Ready when the database answers within two seconds.
async fn readyz(State(app): State<AppState>) -> Response {
    let ping = tokio::time::timeout(Duration::from_secs(2), app.store.ping()).await;
    match ping {
        Ok(Ok(())) => {
            app.metrics.database_up.set(1);
            (StatusCode::OK, "ready").into_response()
        }
        Ok(Err(e)) => {
            app.metrics.database_up.set(0);
            tracing::warn!(error = %e, "not ready");
            ApiError::Unavailable.into_response()
        }
        Err(_) => {
            app.metrics.database_up.set(0);
            ApiError::Unavailable.into_response()
        }
    }
}

async fn metrics(State(app): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

/// Counts and times every routed request by its route template.
async fn track_http(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    app.metrics
        .http_requests
        .with_label_values(&[&route, &method, &status])
        .inc();
    app.metrics
        .http_duration
        .with_label_values(&[&route])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// `Authorization: Bearer <admin_token>` when an admin token is configured (constant-time compare).
async fn require_admin(State(app): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(token) = &app.config.server.admin_token {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !token.matches(presented.as_bytes()) {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(request).await
}

/// Serves until SIGTERM/SIGINT, then lets in-flight requests finish for up to the configured timeout.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let grace = Duration::from_secs(state.config.server.shutdown_timeout_secs);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(state);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = tx.send(());
    });
    tokio::select! {
        result = server => result,
        () = async {
            let _ = rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(?grace, "requests still running after the shutdown timeout; exiting");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, draining requests");
}
