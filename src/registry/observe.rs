//! What the registry client reports about its own traffic, for whoever measures it (the daemon's
//! metrics): every request with its outcome and duration, every retry with its reason, every token
//! fetch. Labels are the configured registry host and fixed words; never a path, tag or token.

/// Receives the client's traffic events. Implementations must be cheap and must not block.
pub trait RequestObserver: Send + Sync {
    /// One HTTP exchange: `status` is `None` when no answer arrived (connection error, timeout).
    fn request(&self, registry: &str, method: &str, status: Option<u16>, seconds: f64);
    /// A retry: `reason` is `429`, `5xx` or `connect`.
    fn retry(&self, registry: &str, reason: &'static str);
    /// A token fetched from the token realm, or not.
    fn token_fetch(&self, registry: &str, ok: bool);
}

/// Observes nothing (the CLI's one-off commands, tests).
pub struct Unobserved;

impl RequestObserver for Unobserved {
    fn request(&self, _: &str, _: &str, _: Option<u16>, _: f64) {}
    fn retry(&self, _: &str, _: &'static str) {}
    fn token_fetch(&self, _: &str, _: bool) {}
}
