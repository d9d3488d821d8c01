//! Prometheus metrics: one registry under the `registry_gc_` prefix (plus the process collector,
//! unprefixed), typed families per area (`http`, `gc`, `registry`, `projects`), registered once.
//! Label values come from small fixed sets or from the configuration (registry hosts, project
//! names, cluster names); never a token, URL path, tag or payload value. Knows no other module.

mod gc;
mod registry;

use std::sync::Arc;

use prometheus::core::Collector;
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

pub use gc::{GcMetrics, LastRun};
pub use registry::RegistryClientMetrics;

/// Every metric registry-gc exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    process: Registry,
    /// HTTP requests by route template (never the raw path), method and status.
    pub http_requests: IntCounterVec,
    /// HTTP request duration by route template, seconds.
    pub http_duration: HistogramVec,
    /// Webhook deliveries by event (`pipeline`, `push`, …) and outcome (`recorded`, `duplicate`, …).
    pub webhook_deliveries: IntCounterVec,
    /// 1 when the last readiness check reached the database.
    pub database_up: IntGauge,
    /// Garbage-collection runs, journal and the last run.
    pub gc: GcMetrics,
    /// Requests to registries.
    pub registries: Arc<RegistryClientMetrics>,
    /// Per configured project: last webhook delivery, last plan, last reconciliation, …
    projects: ProjectMetrics,
}

/// Gauges per configured project (the label is the project's configured name).
#[derive(Clone)]
struct ProjectMetrics {
    last_delivery: IntGaugeVec,
    last_plan: IntGaugeVec,
    reconcile_last_success: IntGaugeVec,
    last_activity: IntGaugeVec,
    hook_status: IntGaugeVec,
}

impl ProjectMetrics {
    fn new(r: &Registry) -> Self {
        let per_project = |name: &str, help: &str| gauge_vec(r, name, help, &["project"]);
        ProjectMetrics {
            last_delivery: per_project("project_last_delivery_timestamp_seconds", "Unix time of the last webhook delivery recorded for the project"),
            last_plan: per_project("project_last_plan_timestamp_seconds", "Unix time the project was last planned by a run"),
            reconcile_last_success: per_project("reconcile_last_success_timestamp_seconds", "Unix time of the last successful reconciliation with the GitLab API, per project"),
            last_activity: per_project("project_last_activity_timestamp_seconds", "Unix time of the newest merge request or pipeline change the GitLab API shows, per project"),
            hook_status: per_project("gitlab_hook_alert_status", "The project hook that feeds registry-gc: 0 executable, 1 temporarily disabled, 2 disabled, -1 unknown or missing"),
        }
    }
}

/// Event label values; anything else is counted as `other`.
const EVENTS: &[&str] = &["push", "tag_push", "merge_request", "pipeline"];

/// Registers a collector, once, at start (a name clash is a bug in this module).
fn register<C: Collector + Clone + 'static>(registry: &Registry, collector: C) -> C {
    registry
        .register(Box::new(collector.clone()))
        .expect("registered once");
    collector
}

pub(crate) fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(
        r,
        IntCounterVec::new(Opts::new(name, help), labels).expect("static definition"),
    )
}

pub(crate) fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(
        r,
        IntGaugeVec::new(Opts::new(name, help), labels).expect("static definition"),
    )
}

pub(crate) fn int_gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    register(r, IntGauge::new(name, help).expect("static definition"))
}

pub(crate) fn gauge(r: &Registry, name: &str, help: &str) -> Gauge {
    register(r, Gauge::new(name, help).expect("static definition"))
}

/// A labelled histogram with buckets from 1 ms to 10 s.
pub(crate) fn histogram(r: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help)
        .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0]);
    register(
        r,
        HistogramVec::new(opts, labels).expect("static definition"),
    )
}

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("registry_gc".into()), None).expect("static prefix is valid");
        let r = &registry;
        let build = gauge_vec(
            r,
            "build_info",
            "The running version (always 1)",
            &["version"],
        );
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        Metrics {
            http_requests: counter(
                r,
                "http_requests_total",
                "HTTP requests by route template, method and status",
                &["route", "method", "status"],
            ),
            http_duration: histogram(
                r,
                "http_request_duration_seconds",
                "HTTP request duration by route template",
                &["route"],
            ),
            webhook_deliveries: counter(
                r,
                "webhook_deliveries_total",
                "GitLab webhook deliveries by event and outcome",
                &["event", "outcome"],
            ),
            database_up: int_gauge(
                r,
                "database_up",
                "1 when the database answered the last readiness check",
            ),
            gc: GcMetrics::new(r),
            registries: Arc::new(RegistryClientMetrics::new(r)),
            projects: ProjectMetrics::new(r),
            process: process_registry(),
            registry,
        }
    }

    /// Counts one delivery; unknown event names are folded into `other`.
    pub fn delivery(&self, event: &str, outcome: &str) {
        let event = EVENTS
            .iter()
            .find(|e| **e == event)
            .copied()
            .unwrap_or("other");
        self.webhook_deliveries
            .with_label_values(&[event, outcome])
            .inc();
    }

    /// A delivery for the configured project `project` was recorded at `at`.
    pub fn delivered(&self, project: &str, at: i64) {
        self.projects
            .last_delivery
            .with_label_values(&[project])
            .set(at);
    }

    /// The configured project `project` was planned by a run at `at`.
    pub fn planned(&self, project: &str, at: i64) {
        self.projects
            .last_plan
            .with_label_values(&[project])
            .set(at);
    }

    /// A project reconciled successfully at `at` (the label is a configured project's name).
    pub fn reconciled(&self, project: &str, at: i64) {
        self.projects
            .reconcile_last_success
            .with_label_values(&[project])
            .set(at);
    }

    /// The newest activity the GitLab API shows for the project.
    pub fn active(&self, project: &str, at: i64) {
        self.projects
            .last_activity
            .with_label_values(&[project])
            .set(at);
    }

    /// The state of the project hook that feeds registry-gc (`AlertStatus::gauge`).
    pub fn hook_status(&self, project: &str, status: i64) {
        self.projects
            .hook_status
            .with_label_values(&[project])
            .set(status);
    }

    /// Registers a collector of another module (cluster protection's metrics), under the prefix.
    pub fn register(&self, collector: Box<dyn Collector>) {
        if let Err(e) = self.registry.register(collector) {
            tracing::error!(error = %e, "cannot register metrics");
        }
    }

    /// The text exposition format: registry-gc's metrics, then the process's.
    pub fn render(&self) -> String {
        let mut families = self.registry.gather();
        families.extend(self.process.gather());
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The process collector (RSS, CPU, open fds), without the `registry_gc_` prefix.
fn process_registry() -> Registry {
    let registry = Registry::new();
    let collector = prometheus::process_collector::ProcessCollector::for_self();
    if let Err(e) = registry.register(Box::new(collector)) {
        tracing::warn!(error = %e, "no process metrics");
    }
    registry
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
