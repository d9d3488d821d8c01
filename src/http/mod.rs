//! The HTTP surface: webhooks, health, metrics and the admin API on one listener. Each feature
//! brings its own `router()`; this merges them, adds the admin check, the "not migrated yet" gate,
//! request metrics (labelled from fixed sets only) and turns a handler's panic into a logged 500.
//! Handlers translate; decisions live in `webhook`, `store`, `gc` and `policy`.

mod api;
mod auth;
mod error;
mod extract;
mod gc;
mod health;
mod serve;
mod webhook;

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::gc::Gc;
use crate::metrics::Metrics;
use crate::store::SharedStore;
use crate::text::for_log;
use error::ApiError;
pub use serve::{serve, Limits};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: SharedStore,
    pub metrics: Metrics,
    pub gc: Gc,
    /// Reconciliation with the GitLab API, when configured (hook health for the API).
    pub reconciler: Option<crate::gitlab::Reconciler>,
    /// False until the database's migrations are applied: webhooks and the API answer 503.
    pub schema_ready: Arc<AtomicBool>,
}

/// The whole application's routes.
pub fn router(state: AppState) -> Router {
    let admin = with_fault_routes(api::router().merge(gc::router())).route_layer(
        middleware::from_fn_with_state(state.clone(), auth::require_admin),
    );
    let body_timeout = Duration::from_secs(state.config.server.body_read_timeout_secs);
    let routes = Router::new()
        .merge(webhook::router(state.config.server.body_limit_bytes))
        .merge(admin)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_schema,
        ));
    Router::new()
        .merge(routes)
        .merge(health::router())
        .route_layer(CatchPanicLayer::custom(panicked))
        .route_layer(middleware::from_fn_with_state(state.clone(), track_http))
        .layer(RequestBodyTimeoutLayer::new(body_timeout))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Test builds only (`fault-injection`): an admin route whose handler panics, to prove a panic
/// becomes a counted 500 and the server keeps serving.
#[cfg(feature = "fault-injection")]
fn with_fault_routes(admin: Router<AppState>) -> Router<AppState> {
    admin.route("/api/v1/fault/panic", axum::routing::get(injected_panic))
}

#[cfg(feature = "fault-injection")]
async fn injected_panic() -> &'static str {
    panic!("injected panic at \u{e9}\u{1F600}")
}

#[cfg(not(feature = "fault-injection"))]
fn with_fault_routes(admin: Router<AppState>) -> Router<AppState> {
    admin
}

/// Answers 503 while the database is not migrated yet (the daemon starts before the database).
async fn require_schema(State(app): State<AppState>, request: Request, next: Next) -> Response {
    if !app.schema_ready.load(Ordering::Acquire) {
        return ApiError::Unavailable.into_response();
    }
    next.run(request).await
}

/// A handler's panic: logged (its message cut to a bound) and answered 500 like any internal
/// error, so the connection survives and the request metrics count it.
fn panicked(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = %for_log(message), "a request handler panicked");
    ApiError::Internal.into_response()
}

/// The method label: one of a fixed set, so made-up methods cannot grow the metrics.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Counts and times every routed request by its route template.
async fn track_http(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    app.metrics
        .http_requests
        .with_label_values(&[&route, method, &status])
        .inc();
    app.metrics
        .http_duration
        .with_label_values(&[&route])
        .observe(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::POST), "POST");
        let made_up = Method::from_bytes(b"FROBNICATE").unwrap();
        assert_eq!(method_label(&made_up), "other");
    }
}
