//! What an SRE scrapes: after the end-to-end history, a dry run and a real run, `/metrics` is
//! parsed as the Prometheus text format and its counters and gauges must have moved exactly as
//! the runs' records say; no label value comes from user input. SQLite and Postgres.

use std::collections::BTreeMap;

use chrono::{TimeDelta, Utc};
use registry_gc::clock::Clock;
use registry_gc::gc::{TagOutcome, Trigger};

use crate::support::app::TestApp;
use crate::support::db::both_backends;
use crate::support::registry::TestRegistry;
use crate::support::scenario::{config, summary, World};

/// One sample: metric name and its labels.
type Series = (String, BTreeMap<String, String>);

/// Parses the text exposition format (samples only; `# HELP`/`# TYPE` lines skipped).
fn parse(text: &str) -> BTreeMap<Series, f64> {
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("a sample is `series value`");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (
                name,
                labels_of(rest.strip_suffix('}').expect("closing brace")),
            ),
            None => (series, BTreeMap::new()),
        };
        out.insert((name.to_owned(), labels), value.parse().expect("a number"));
    }
    out
}

fn labels_of(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let end = after.find("\",").unwrap_or(after.len() - 1);
        labels.insert(
            key.trim_start_matches(',').to_owned(),
            after[..end].to_owned(),
        );
        rest = after.get(end + 2..).unwrap_or_default();
    }
    labels
}

/// The sum of `name` over the samples whose labels include `with`.
fn sum(m: &BTreeMap<Series, f64>, name: &str, with: &[(&str, &str)]) -> f64 {
    m.iter()
        .filter(|((n, labels), _)| {
            n == name
                && with
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, v)| v)
        .sum()
}

async fn scrape(app: &TestApp) -> BTreeMap<Series, f64> {
    parse(
        &app.http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
}

both_backends! {
    async fn metrics_move_as_the_runs_say(backend: Backend) {
        let registry = TestRegistry::start().await;
        let app = TestApp::spawn_with(backend, &config(&registry)).await;
        World { app: &app, registry: &registry }.replay().await;
        app.clock.set(Utc::now() + TimeDelta::days(3));
        let before = scrape(&app).await;
        let dry = app.gc.run(Trigger::Cli, Some(true)).await.unwrap();
        let run = app.gc.run(Trigger::Cli, None).await.unwrap();
        let after = scrape(&app).await;
        let delta = |name: &str, with: &[(&str, &str)]| sum(&after, name, with) - sum(&before, name, with);
        let (dry, done) = (summary(&dry), summary(&run));

        assert_eq!(delta("registry_gc_gc_runs_total", &[("trigger", "cli"), ("status", "finished")]), 2.0);
        assert_eq!(delta("registry_gc_gc_tags_total", &[("outcome", "dry-run")]), dry.total(TagOutcome::DryRun) as f64);
        assert_eq!(delta("registry_gc_gc_tags_removed_total", &[]), done.total(TagOutcome::Removed) as f64);
        assert_eq!(done.total(TagOutcome::Removed), 12, "{:?}", run.summary);
        assert_eq!(sum(&after, "registry_gc_gc_tags_kept", &[]), done.tags_kept as f64);
        assert_eq!(sum(&after, "registry_gc_gc_last_success_timestamp_seconds", &[]), run.finished_at.unwrap().timestamp() as f64);
        assert_eq!(sum(&after, "registry_gc_gc_journal_open_entries", &[]), 0.0);
        assert_eq!(sum(&after, "registry_gc_gc_deferred_repositories", &[]), 0.0);
        let requests = (dry.registry_requests + done.registry_requests) as f64;
        assert_eq!(delta("registry_gc_registry_requests_total", &[]), requests, "every registry request is counted once");
        assert!(delta("registry_gc_registry_requests_total", &[("method", "DELETE"), ("status_class", "2xx")]) >= 1.0);
        let plan_time = app.clock.now().timestamp() as f64;
        assert_eq!(sum(&after, "registry_gc_project_last_plan_timestamp_seconds", &[("project", "group/app")]), plan_time);
        assert!(sum(&after, "registry_gc_project_last_delivery_timestamp_seconds", &[("project", "group/app")]) > 0.0);
        // Every delivery answered 200 is counted once by outcome.
        let answered = sum(&after, "registry_gc_http_requests_total", &[("route", "/webhooks/gitlab"), ("status", "200")]);
        assert!(answered > 20.0);
        assert_eq!(sum(&after, "registry_gc_webhook_deliveries_total", &[]), answered);
        assert_eq!(sum(&after, "registry_gc_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
        assert!(sum(&after, "process_resident_memory_bytes", &[]) > 0.0);

        // No label value comes from user input: no tag, sha, branch or path of the history.
        for (name, labels) in after.keys() {
            for (key, value) in labels {
                let plain = value.len() <= 64 && value.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:{}*+".contains(c));
                let from_history = value.contains("feature") || value.contains("abab") || value.contains("v1.2");
                assert!(plain && !from_history, "{name}{{{key}={value:?}}}");
            }
        }
    }
}
