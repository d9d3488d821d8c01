//! Table tests of hook health and bulk-push detection.

use super::*;
use crate::gitlab::api::PushData;

/// Name, hooks, last delivery, running pipelines, expected status and warning codes.
type Case = (
    &'static str,
    Vec<Hook>,
    Option<DateTime<Utc>>,
    Vec<Pipeline>,
    AlertStatus,
    Vec<&'static str>,
);

fn t(minutes: i64) -> DateTime<Utc> {
    "2026-11-20T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(minutes)
}

fn hook(id: i64, url: &str, alert: &str) -> Hook {
    Hook {
        id,
        url: url.into(),
        project_id: Some(42),
        push_events: true,
        tag_push_events: true,
        merge_requests_events: true,
        pipeline_events: true,
        push_events_branch_filter: Some(String::new()),
        enable_ssl_verification: true,
        alert_status: Some(alert.into()),
        disabled_until: None,
        created_at: None,
    }
}

fn running(id: i64) -> Pipeline {
    Pipeline {
        id,
        iid: None,
        project_id: 42,
        sha: "a".repeat(40),
        git_ref: "main".into(),
        status: "running".into(),
        source: None,
        created_at: None,
        updated_at: t(-5),
        web_url: None,
    }
}

fn codes(h: &HookHealth) -> Vec<String> {
    h.warnings
        .iter()
        .map(|w| {
            serde_json::to_value(w).unwrap()["code"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

const OURS: &str = "https://registry-gc.example.com:443/webhooks/gitlab/";

fn check(cases: Vec<Case>) {
    let daemon: Url = "https://registry-gc.example.com/webhooks/gitlab"
        .parse()
        .unwrap();
    for (name, hooks, last, pipelines, status, expect) in cases {
        let h = hook_health(&hooks, &daemon, last, &pipelines, TimeDelta::hours(1), t(0));
        assert_eq!(h.alert_status, status, "{name}");
        assert_eq!(codes(&h), expect, "{name}");
        if let Some(ours) = hooks.iter().find(|h| h.url == OURS) {
            assert_eq!(h.hook_id, Some(ours.id), "{name}");
        }
    }
}

#[test]
fn hook_state_table() {
    let ours = OURS;
    let mut temporarily = hook(2, ours, "temporarily_disabled");
    temporarily.disabled_until = Some(t(30));
    let mut partial = hook(3, ours, "executable");
    partial.merge_requests_events = false;
    partial.pipeline_events = false;
    partial.push_events_branch_filter = Some("main".into());
    let cases: Vec<Case> = vec![
        (
            "healthy",
            vec![
                hook(9, "https://other.example/x", "executable"),
                hook(1, ours, "executable"),
            ],
            Some(t(-2)),
            vec![running(1)],
            AlertStatus::Executable,
            vec![],
        ),
        (
            "no hook of ours",
            vec![hook(9, "https://other.example/x", "executable")],
            Some(t(-2)),
            vec![],
            AlertStatus::Unknown(None),
            vec!["no-hook"],
        ),
        (
            "temporarily disabled",
            vec![temporarily],
            Some(t(-2)),
            vec![],
            AlertStatus::TemporarilyDisabled,
            vec!["temporarily-disabled"],
        ),
        (
            "disabled",
            vec![hook(4, ours, "disabled")],
            Some(t(-2)),
            vec![],
            AlertStatus::Disabled,
            vec!["disabled"],
        ),
        (
            "events missing, pushes filtered",
            vec![partial],
            Some(t(-2)),
            vec![],
            AlertStatus::Executable,
            vec!["missing-events", "branch-filter"],
        ),
    ];
    check(cases);
    assert_eq!(AlertStatus::TemporarilyDisabled.gauge(), 1);
}

#[test]
fn silence_table() {
    let ours = OURS;
    check(vec![
        (
            "running but silent",
            vec![hook(1, ours, "executable")],
            Some(t(-61)),
            vec![running(7)],
            AlertStatus::Executable,
            vec!["silent"],
        ),
        (
            "never heard, running",
            vec![hook(1, ours, "executable")],
            None,
            vec![running(7)],
            AlertStatus::Executable,
            vec!["silent"],
        ),
        (
            "silent but nothing runs",
            vec![hook(1, ours, "executable")],
            Some(t(-600)),
            vec![],
            AlertStatus::Executable,
            vec![],
        ),
    ]);
}

#[test]
fn bulk_pushes_are_events_without_a_ref() {
    let event =
        |id: i64, action: &str, git_ref: Option<&str>, ref_count: Option<i64>, at: i64| Event {
            id,
            project_id: Some(42),
            action_name: action.into(),
            created_at: t(at),
            push_data: Some(PushData {
                commit_count: Some(0),
                action: Some("pushed".into()),
                ref_type: Some("branch".into()),
                commit_from: None,
                commit_to: None,
                git_ref: git_ref.map(str::to_owned),
                commit_title: None,
                ref_count,
            }),
        };
    let events = [
        event(1, "pushed to", Some("main"), None, 1),
        event(2, "pushed new", None, Some(5), 2),
        event(3, "deleted", None, Some(12), 3),
        event(4, "pushed to", None, Some(4), -10),
        Event {
            push_data: None,
            ..event(5, "opened", None, None, 4)
        },
    ];
    let found: Vec<(i64, i64)> = bulk_pushes(&events, Some(t(0)))
        .iter()
        .map(|b| (b.event_id, b.ref_count))
        .collect();
    assert_eq!(found, [(2, 5), (3, 12)]);
}
