//! Hook health as a pure function: the project's hooks (`GET /projects/:id/hooks`), the daemon's
//! webhook URL, the time of the last delivery and the pipelines GitLab shows running → whether the
//! hook that feeds registry-gc exists, is enabled, sends what we need, and seems to be heard.
//! Bulk pushes (`push_data.ref_count` set, `ref` null) are found here too. No I/O.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use url::Url;

use super::api::{Event, Hook, Pipeline};

/// `alert_status` of the hook, as GitLab reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Executable,
    TemporarilyDisabled,
    Disabled,
    /// Absent (older GitLab) or a value this version does not know.
    Unknown(Option<String>),
}

impl AlertStatus {
    fn of(text: Option<&str>) -> AlertStatus {
        match text {
            Some("executable") => AlertStatus::Executable,
            Some("temporarily_disabled") => AlertStatus::TemporarilyDisabled,
            Some("disabled") => AlertStatus::Disabled,
            other => AlertStatus::Unknown(other.map(str::to_owned)),
        }
    }

    /// The metric value: 0 executable, 1 temporarily disabled, 2 disabled, -1 unknown.
    pub fn gauge(&self) -> i64 {
        match self {
            AlertStatus::Executable => 0,
            AlertStatus::TemporarilyDisabled => 1,
            AlertStatus::Disabled => 2,
            AlertStatus::Unknown(_) => -1,
        }
    }
}

/// Something an operator should look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum HookWarning {
    /// No project hook points at the daemon's URL (a system or group hook may still feed it).
    NoHook {
        url: String,
    },
    Disabled,
    TemporarilyDisabled {
        until: Option<DateTime<Utc>>,
    },
    /// Trigger switched off that registry-gc needs (`push_events`, `merge_requests_events`, …).
    MissingEvents {
        events: Vec<&'static str>,
    },
    /// Pushes are filtered to some branches, so deletions of the others are never sent.
    BranchFilter {
        filter: String,
    },
    /// GitLab shows pipelines running, but nothing was delivered for `silence`.
    Silent {
        last_delivery: Option<DateTime<Utc>>,
        running: Vec<i64>,
        #[serde(with = "crate::policy::duration::humane")]
        silence: TimeDelta,
    },
}

/// The state of the hook that feeds registry-gc, for metrics and `GET /api/v1/projects`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookHealth {
    pub hook_id: Option<i64>,
    pub alert_status: AlertStatus,
    pub disabled_until: Option<DateTime<Utc>>,
    pub warnings: Vec<HookWarning>,
}

/// Scheme, host, port and path without a trailing slash: how hook URLs are compared (GitLab may
/// hold credentials or `{variables}` in the user part).
fn normalized(url: &str) -> Option<String> {
    let url = Url::parse(url).ok()?;
    let port = url.port_or_known_default()?;
    let host = url.host_str()?.to_ascii_lowercase();
    Some(format!(
        "{}://{host}:{port}{}",
        url.scheme(),
        url.path().trim_end_matches('/')
    ))
}

/// The hook pointing at `daemon` (the first, if several do).
pub fn find_hook<'a>(hooks: &'a [Hook], daemon: &Url) -> Option<&'a Hook> {
    let wanted = normalized(daemon.as_str())?;
    hooks
        .iter()
        .find(|h| normalized(&h.url).as_deref() == Some(wanted.as_str()))
}

/// Judges the project's hooks. `running`: pipelines GitLab shows running or pending now.
pub fn hook_health(
    hooks: &[Hook],
    daemon: &Url,
    last_delivery: Option<DateTime<Utc>>,
    running: &[Pipeline],
    silence: TimeDelta,
    now: DateTime<Utc>,
) -> HookHealth {
    let hook = find_hook(hooks, daemon);
    let alert_status = AlertStatus::of(hook.and_then(|h| h.alert_status.as_deref()));
    let mut warnings = match hook {
        None => vec![HookWarning::NoHook {
            url: daemon.to_string(),
        }],
        Some(h) => hook_warnings(h, &alert_status),
    };
    let active: Vec<i64> = running
        .iter()
        .filter(|p| matches!(p.status.as_str(), "running" | "pending"))
        .map(|p| p.id)
        .collect();
    let quiet = last_delivery.is_none_or(|at| now - at >= silence);
    if !active.is_empty() && quiet {
        warnings.push(HookWarning::Silent {
            last_delivery,
            running: active,
            silence,
        });
    }
    HookHealth {
        hook_id: hook.map(|h| h.id),
        disabled_until: hook.and_then(|h| h.disabled_until),
        alert_status,
        warnings,
    }
}

/// What is wrong with the hook itself: disabled, triggers off, pushes filtered.
fn hook_warnings(h: &Hook, alert_status: &AlertStatus) -> Vec<HookWarning> {
    let mut warnings = Vec::new();
    match alert_status {
        AlertStatus::Disabled => warnings.push(HookWarning::Disabled),
        AlertStatus::TemporarilyDisabled => warnings.push(HookWarning::TemporarilyDisabled {
            until: h.disabled_until,
        }),
        _ => {}
    }
    let events: Vec<&'static str> = [
        ("push_events", h.push_events),
        ("tag_push_events", h.tag_push_events),
        ("merge_requests_events", h.merge_requests_events),
        ("pipeline_events", h.pipeline_events),
    ]
    .into_iter()
    .filter(|(_, on)| !on)
    .map(|(name, _)| name)
    .collect();
    if !events.is_empty() {
        warnings.push(HookWarning::MissingEvents { events });
    }
    let filter = h.push_events_branch_filter.as_deref().map(str::trim);
    if let Some(filter) = filter.filter(|f| !f.is_empty()) {
        warnings.push(HookWarning::BranchFilter {
            filter: filter.to_owned(),
        });
    }
    warnings
}

/// A push of more refs than `push_event_hooks_limit`: no push hooks were sent for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkPush {
    pub event_id: i64,
    pub created_at: DateTime<Utc>,
    pub action_name: String,
    pub ref_count: i64,
    pub ref_type: Option<String>,
}

/// The bulk pushes among `events` created after `since`: a reason to reconcile the project now.
pub fn bulk_pushes(events: &[Event], since: Option<DateTime<Utc>>) -> Vec<BulkPush> {
    events
        .iter()
        .filter(|e| since.is_none_or(|s| e.created_at > s))
        .filter(|e| e.action_name.starts_with("pushed") || e.action_name == "deleted")
        .filter_map(|e| {
            let data = e.push_data.as_ref()?;
            let ref_count = data.ref_count.filter(|_| data.git_ref.is_none())?;
            Some(BulkPush {
                event_id: e.id,
                created_at: e.created_at,
                action_name: e.action_name.clone(),
                ref_count,
                ref_type: data.ref_type.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
