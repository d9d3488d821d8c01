//! Prometheus metrics: one registry, one typed struct, registered once under the `registry_gc_`
//! prefix. Label values are from small fixed sets; never a token, URL or payload value.

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::gc::summary::{Outcome, RunSummary};

/// Every metric registry-gc exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// HTTP requests by route template (never the raw path), method and status.
    pub http_requests: IntCounterVec,
    /// HTTP request duration by route template, seconds.
    pub http_duration: HistogramVec,
    /// Webhook deliveries by event (`pipeline`, `push`, …) and outcome (`recorded`, `duplicate`, …).
    pub webhook_deliveries: IntCounterVec,
    /// 1 when the last readiness check reached the database.
    pub database_up: IntGauge,
    /// Garbage-collection runs by final status.
    pub gc_runs: IntCounterVec,
    /// Tags handled by runs, by rule and outcome (`removed`, `dry-run`, `skipped`, `failed`, `deferred`).
    pub gc_tags: IntCounterVec,
    /// Times a run deleted nothing in some scope, by reason (`registry_unreachable`, …).
    pub gc_refusals: IntCounterVec,
    /// Bytes the last run's image deletions left unreferenced.
    pub gc_last_bytes_unreferenced: IntGauge,
    /// Duration of the last run, seconds.
    pub gc_last_duration_seconds: Gauge,
    /// Unix time the last run finished.
    pub gc_last_run_timestamp_seconds: IntGauge,
}

/// Event label values; anything else is counted as `other`.
const EVENTS: &[&str] = &["push", "tag_push", "merge_request", "pipeline"];

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("registry_gc".into()), None).expect("static prefix is valid");
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("static definition");
            registry
                .register(Box::new(c.clone()))
                .expect("registered once");
            c
        };
        let webhook_deliveries = counter(
            "webhook_deliveries_total",
            "GitLab webhook deliveries by event and outcome",
            &["event", "outcome"],
        );
        let http_requests = counter(
            "http_requests_total",
            "HTTP requests by route template, method and status",
            &["route", "method", "status"],
        );
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request duration by route template",
            )
            .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]),
            &["route"],
        )
        .expect("static definition");
        registry
            .register(Box::new(http_duration.clone()))
            .expect("registered once");
        let gc_runs = counter(
            "gc_runs_total",
            "Garbage-collection runs by status",
            &["status"],
        );
        let gc_tags = counter(
            "gc_tags_total",
            "Tags handled by garbage-collection runs, by rule and outcome",
            &["rule", "outcome"],
        );
        let gc_refusals = counter(
            "gc_refusals_total",
            "Scopes where a run deleted nothing, by reason",
            &["reason"],
        );
        let int_gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("static definition");
            registry
                .register(Box::new(g.clone()))
                .expect("registered once");
            g
        };
        let database_up = int_gauge(
            "database_up",
            "1 when the database answered the last readiness check",
        );
        let gc_last_bytes_unreferenced = int_gauge(
            "gc_last_bytes_unreferenced",
            "Bytes the last run left unreferenced",
        );
        let gc_last_run_timestamp_seconds = int_gauge(
            "gc_last_run_timestamp_seconds",
            "Unix time the last run finished",
        );
        let gc_last_duration_seconds =
            Gauge::new("gc_last_duration_seconds", "Duration of the last run").expect("static");
        registry
            .register(Box::new(gc_last_duration_seconds.clone()))
            .expect("registered once");
        Metrics {
            registry,
            http_requests,
            http_duration,
            webhook_deliveries,
            database_up,
            gc_runs,
            gc_tags,
            gc_refusals,
            gc_last_bytes_unreferenced,
            gc_last_duration_seconds,
            gc_last_run_timestamp_seconds,
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

    /// Records a finished run.
    pub fn gc_run(&self, status: &str, summary: &RunSummary) {
        self.gc_runs.with_label_values(&[status]).inc();
        for (rule, outcomes) in &summary.by_rule {
            for (outcome, n) in outcomes {
                self.gc_tags
                    .with_label_values(&[rule.as_str(), Outcome::as_str(*outcome)])
                    .inc_by(*n as u64);
            }
        }
        self.gc_last_bytes_unreferenced
            .set(summary.bytes_unreferenced as i64);
        self.gc_last_duration_seconds
            .set(summary.duration_ms as f64 / 1000.0);
        self.gc_last_run_timestamp_seconds
            .set(chrono::Utc::now().timestamp());
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
