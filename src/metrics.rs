//! Prometheus metrics: one registry, one typed struct, registered once under the `registry_gc_`
//! prefix. Label values are from small fixed sets; never a token, URL or payload value.

use prometheus::{Encoder, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// Every metric registry-gc exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Webhook deliveries by event (`pipeline`, `push`, …) and outcome (`recorded`, `duplicate`, …).
    pub webhook_deliveries: IntCounterVec,
    /// 1 when the last readiness check reached the database.
    pub database_up: IntGauge,
}

/// Event label values; anything else is counted as `other`.
const EVENTS: &[&str] = &["push", "tag_push", "merge_request", "pipeline"];

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("registry_gc".into()), None).expect("static prefix is valid");
        let webhook_deliveries = IntCounterVec::new(
            Opts::new(
                "webhook_deliveries_total",
                "GitLab webhook deliveries by event and outcome",
            ),
            &["event", "outcome"],
        )
        .expect("static metric definition");
        let database_up = IntGauge::new(
            "database_up",
            "1 when the database answered the last readiness check",
        )
        .expect("static metric definition");
        registry
            .register(Box::new(webhook_deliveries.clone()))
            .expect("registered once");
        registry
            .register(Box::new(database_up.clone()))
            .expect("registered once");
        Metrics {
            registry,
            webhook_deliveries,
            database_up,
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
