//! `GitLabSettings`: how to reach the GitLab API (URL, token, timeouts, limits), when to reconcile
//! and how suspicious to be of its answers, with per-project overrides. Owns defaults and
//! validation (messages name the key); must never print the token (it is a redacted `Secret`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::policy::duration;
use crate::secret::Secret;

/// The `[gitlab]` section. Without it registry-gc works from webhooks alone.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GitLabSettings {
    /// Base URL of the GitLab instance, e.g. `https://gitlab.example.com` (the API is `/api/v4`).
    #[serde(with = "url_text")]
    pub url: Url,
    /// Personal, project or group access token; `read_api` is enough. Sent as `PRIVATE-TOKEN`.
    pub token: Secret,
    /// Reconcile on `schedule`. `false` keeps the API for `import` and hook checks only.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Cron with seconds; empty disables the schedule. Default: every 30 minutes.
    #[serde(default = "default_schedule")]
    pub schedule: String,
    /// Cron with seconds for the bulk-push watch: one push-events request per project; a project
    /// with a push of more refs than GitLab sends push hooks for is reconciled at once. Empty
    /// disables it. Default: every 5 minutes.
    #[serde(default = "default_bulk_push_schedule")]
    pub bulk_push_schedule: String,
    /// Time allowed for one HTTP request, milliseconds.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Time allowed to open a connection, milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Requests in flight at once, over all projects.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Retries after the first attempt on connection errors, timeouts, 5xx and 429.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First backoff between retries, milliseconds; doubles per retry up to `backoff_max_ms`.
    #[serde(default = "default_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// Longest wait a 429's `Retry-After` / `RateLimit-Reset` may impose, seconds.
    #[serde(default = "default_max_retry_wait_secs")]
    pub max_retry_wait_secs: u64,
    /// Requests one reconcile (or import) run may make, retries included; past it the project fails.
    #[serde(default = "default_request_budget")]
    pub request_budget: u32,
    /// Items per page (GitLab allows at most 100).
    #[serde(default = "default_per_page")]
    pub per_page: u32,
    /// Pages read per list. A branch list longer than this fails the reconcile; merge requests and
    /// pipelines continue from the watermark on the next run.
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
    /// A branch list holding fewer than this share of the branches recorded live is implausible
    /// (GitLab has shipped empty pages past page 1): the project's reconcile is aborted.
    #[serde(default = "default_shrink_ratio")]
    pub shrink_ratio: f64,
    /// Up to this many missing branches are always just confirmed one by one, whatever the ratio.
    #[serde(default = "default_shrink_min_missing")]
    pub shrink_min_missing: usize,
    /// Merge requests and pipelines are re-listed from this long before the watermark.
    #[serde(default = "default_overlap", with = "duration::humane")]
    pub watermark_overlap: TimeDelta,
    /// Without a watermark (first run), list what changed this long before the project was first
    /// heard of by webhook.
    #[serde(default = "default_first_window", with = "duration::humane")]
    pub first_window: TimeDelta,
    /// The daemon's webhook URL as configured in GitLab, to find its project hook.
    #[serde(default, with = "opt_url_text")]
    pub hook_url: Option<Url>,
    /// Pipelines running while no delivery came for this long: the hook is probably not working.
    #[serde(default = "default_silence", with = "duration::humane")]
    pub silence_warning: TimeDelta,
    /// Overrides per project, keyed by project id (`"42"`) or path (`"group/app"`).
    #[serde(default)]
    pub projects: BTreeMap<String, ProjectOverrides>,
}

/// Per-project overrides of `[gitlab]`; an unset key inherits.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProjectOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrink_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrink_min_missing: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_humane")]
    pub silence_warning: Option<TimeDelta>,
}

/// The settings that apply to one project, overrides resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProjectSettings {
    pub enabled: bool,
    pub shrink_ratio: f64,
    pub shrink_min_missing: usize,
    pub max_pages: u32,
    pub silence_warning: TimeDelta,
}

fn yes() -> bool {
    true
}
fn default_schedule() -> String {
    "0 */30 * * * *".into()
}
fn default_bulk_push_schedule() -> String {
    "0 */5 * * * *".into()
}
fn default_request_timeout_ms() -> u64 {
    30_000
}
fn default_connect_timeout_ms() -> u64 {
    5_000
}
fn default_concurrency() -> usize {
    4
}
fn default_retries() -> u32 {
    3
}
fn default_backoff_initial_ms() -> u64 {
    500
}
fn default_backoff_max_ms() -> u64 {
    30_000
}
fn default_max_retry_wait_secs() -> u64 {
    60
}
fn default_request_budget() -> u32 {
    5_000
}
fn default_per_page() -> u32 {
    100
}
fn default_max_pages() -> u32 {
    200
}
fn default_shrink_ratio() -> f64 {
    0.5
}
fn default_shrink_min_missing() -> usize {
    3
}
fn default_overlap() -> TimeDelta {
    TimeDelta::minutes(10)
}
fn default_first_window() -> TimeDelta {
    TimeDelta::days(7)
}
fn default_silence() -> TimeDelta {
    TimeDelta::hours(1)
}

impl GitLabSettings {
    /// Settings with every default, for `url` and `token`.
    pub fn new(url: Url, token: Secret) -> Self {
        GitLabSettings {
            url,
            token,
            enabled: true,
            schedule: default_schedule(),
            bulk_push_schedule: default_bulk_push_schedule(),
            request_timeout_ms: default_request_timeout_ms(),
            connect_timeout_ms: default_connect_timeout_ms(),
            concurrency: default_concurrency(),
            retries: default_retries(),
            backoff_initial_ms: default_backoff_initial_ms(),
            backoff_max_ms: default_backoff_max_ms(),
            max_retry_wait_secs: default_max_retry_wait_secs(),
            request_budget: default_request_budget(),
            per_page: default_per_page(),
            max_pages: default_max_pages(),
            shrink_ratio: default_shrink_ratio(),
            shrink_min_missing: default_shrink_min_missing(),
            watermark_overlap: default_overlap(),
            first_window: default_first_window(),
            hook_url: None,
            silence_warning: default_silence(),
            projects: BTreeMap::new(),
        }
    }

    /// Whether scheduled reconciliation has anything to do: enabled for all, or for one project.
    pub fn any_enabled(&self) -> bool {
        self.enabled || self.projects.values().any(|o| o.enabled == Some(true))
    }

    /// The effective settings of a project (its overrides matched by id, else path, case-insensitive).
    pub fn for_project(&self, id: i64, path: Option<&str>) -> ProjectSettings {
        let id_key = id.to_string();
        let overrides = self.projects.get(&id_key).or_else(|| {
            let path = path?;
            self.projects
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(path))
                .map(|(_, o)| o)
        });
        let o = overrides.cloned().unwrap_or_default();
        ProjectSettings {
            enabled: o.enabled.unwrap_or(self.enabled),
            shrink_ratio: o.shrink_ratio.unwrap_or(self.shrink_ratio),
            shrink_min_missing: o.shrink_min_missing.unwrap_or(self.shrink_min_missing),
            max_pages: o.max_pages.unwrap_or(self.max_pages),
            silence_warning: o.silence_warning.unwrap_or(self.silence_warning),
        }
    }

    /// Checks the section; each message starts with the key, under `prefix` (normally `gitlab`).
    pub fn validate(&self, prefix: &str, errors: &mut Vec<String>) {
        if !matches!(self.url.scheme(), "http" | "https") || self.url.host_str().is_none() {
            errors.push(format!(
                "{prefix}.url: must be an http(s) URL with a host, got {}",
                self.url
            ));
        }
        if !self.url.username().is_empty() || self.url.password().is_some() {
            errors.push(format!(
                "{prefix}.url: must not contain credentials (use {prefix}.token)"
            ));
        }
        for (key, cron) in [
            ("schedule", &self.schedule),
            ("bulk_push_schedule", &self.bulk_push_schedule),
        ] {
            if !cron.trim().is_empty() && !crate::config::is_valid_schedule(cron) {
                errors.push(format!(
                    "{prefix}.{key}: {cron:?} is not a cron expression with seconds (e.g. \"0 */30 * * * *\")"
                ));
            }
        }
        self.validate_limits(prefix, errors);
        if let Some(hook) = &self.hook_url {
            if !matches!(hook.scheme(), "http" | "https") || hook.host_str().is_none() {
                errors.push(format!(
                    "{prefix}.hook_url: must be an http(s) URL with a host"
                ));
            }
        }
        for (key, o) in &self.projects {
            let at = format!("{prefix}.projects.{key:?}");
            if let Some(ratio) = o.shrink_ratio {
                check_ratio(&format!("{at}.shrink_ratio"), ratio, errors);
            }
            if o.max_pages == Some(0) {
                errors.push(format!("{at}.max_pages: must be at least 1"));
            }
        }
    }

    /// Timeouts, limits, backoff, paging, ratio and windows.
    fn validate_limits(&self, prefix: &str, errors: &mut Vec<String>) {
        let positive = [
            ("request_timeout_ms", self.request_timeout_ms),
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("backoff_initial_ms", self.backoff_initial_ms),
            ("request_budget", u64::from(self.request_budget)),
            ("max_pages", u64::from(self.max_pages)),
        ];
        for (key, value) in positive {
            if value == 0 {
                errors.push(format!("{prefix}.{key}: must be at least 1"));
            }
        }
        if self.concurrency == 0 || self.concurrency > 64 {
            errors.push(format!("{prefix}.concurrency: must be between 1 and 64"));
        }
        if self.backoff_max_ms < self.backoff_initial_ms {
            errors.push(format!(
                "{prefix}.backoff_max_ms: must be at least backoff_initial_ms"
            ));
        }
        if !(1..=100).contains(&self.per_page) {
            errors.push(format!(
                "{prefix}.per_page: must be between 1 and 100 (GitLab's maximum)"
            ));
        }
        check_ratio(&format!("{prefix}.shrink_ratio"), self.shrink_ratio, errors);
        if self.watermark_overlap < TimeDelta::zero() || self.first_window <= TimeDelta::zero() {
            errors.push(format!(
                "{prefix}.watermark_overlap / {prefix}.first_window: must be positive"
            ));
        }
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}

fn check_ratio(key: &str, ratio: f64, errors: &mut Vec<String>) {
    if !(0.0..=1.0).contains(&ratio) {
        errors.push(format!("{key}: must be between 0 and 1, got {ratio}"));
    }
}

/// (De)serializes a URL as its text.
mod url_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use url::Url;

    pub fn serialize<S: Serializer>(u: &Url, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(u.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
        let text = String::deserialize(d)?;
        Url::parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("invalid url {text:?}: {e}")))
    }
}

/// (De)serializes an optional URL as its text.
mod opt_url_text {
    use serde::{Deserializer, Serializer};
    use url::Url;

    pub fn serialize<S: Serializer>(u: &Option<Url>, s: S) -> Result<S::Ok, S::Error> {
        match u {
            Some(u) => s.serialize_str(u.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
        super::url_text::deserialize(d).map(Some)
    }
}

/// (De)serializes an optional humane duration (`"1h"`).
mod opt_humane {
    use chrono::TimeDelta;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<TimeDelta>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&crate::policy::duration::format(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TimeDelta>, D::Error> {
        crate::policy::duration::humane::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests;
