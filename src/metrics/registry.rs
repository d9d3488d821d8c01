//! Registry client metrics: requests by registry host, method and status class, their duration,
//! retries by reason and token fetches. Fed through the registry client's `RequestObserver`.

use prometheus::{HistogramVec, IntCounterVec, Registry};

use super::{counter, histogram};
use crate::registry::RequestObserver;

/// What the registry clients sent.
pub struct RegistryClientMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    retries: IntCounterVec,
    tokens: IntCounterVec,
}

/// Method label values; anything else is `other`.
const METHODS: [&str; 6] = ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"];

impl RegistryClientMetrics {
    pub(super) fn new(r: &Registry) -> Self {
        RegistryClientMetrics {
            requests: counter(
                r,
                "registry_requests_total",
                "Requests to registries by host, method and status class",
                &["registry", "method", "status_class"],
            ),
            duration: histogram(
                r,
                "registry_request_duration_seconds",
                "Duration of requests to registries",
                &["registry"],
            ),
            retries: counter(
                r,
                "registry_retries_total",
                "Requests to registries retried, by reason (429, 5xx, connect)",
                &["registry", "reason"],
            ),
            tokens: counter(
                r,
                "registry_token_fetches_total",
                "Bearer tokens fetched for registries, by result",
                &["registry", "result"],
            ),
        }
    }
}

impl RequestObserver for RegistryClientMetrics {
    fn request(&self, registry: &str, method: &str, status: Option<u16>, seconds: f64) {
        let method = METHODS
            .iter()
            .find(|m| **m == method)
            .copied()
            .unwrap_or("other");
        let class = match status {
            Some(200..=299) => "2xx",
            Some(300..=399) => "3xx",
            Some(400..=499) => "4xx",
            Some(500..=599) => "5xx",
            Some(_) | None => "error",
        };
        self.requests
            .with_label_values(&[registry, method, class])
            .inc();
        self.duration
            .with_label_values(&[registry])
            .observe(seconds);
    }

    fn retry(&self, registry: &str, reason: &'static str) {
        self.retries.with_label_values(&[registry, reason]).inc();
    }

    fn token_fetch(&self, registry: &str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.tokens.with_label_values(&[registry, result]).inc();
    }
}
