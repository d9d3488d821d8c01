//! The admin API under bad requests: a run-start body that cannot be read is 400/415 (it once ran
//! a real deletion as "no options"), deleting takes an explicit `"dry_run": false`; a handler's
//! panic is a counted 500; made-up HTTP methods cannot grow the metrics.

use std::time::Duration;

use serde_json::Value;

use super::{hostile_toml, metrics};
use crate::support::app::{TestApp, ADMIN};
use crate::support::db::both_backends;

const DELETING: &str = "[gc]\ndry_run = false\nschedule = \"\"\n";

/// `POST /api/v1/gc/runs` with `content_type` (if any) and `body`.
async fn start_run(app: &TestApp, content_type: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = app
        .http
        .post(app.url("/api/v1/gc/runs"))
        .bearer_auth(ADMIN)
        .body(body.to_owned());
    if let Some(ct) = content_type {
        request = request.header("Content-Type", ct);
    }
    let response = request.send().await.expect("answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits for every run to be over and returns them, newest first.
async fn settled_runs(app: &TestApp) -> Vec<registry_gc::model::RunRecord> {
    for _ in 0..200 {
        let runs = app.store.runs(100).await.unwrap();
        if !app.gc.is_running() && runs.iter().all(|r| r.finished_at.is_some()) {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("a run did not finish");
}

both_backends! {
    async fn a_run_body_that_cannot_be_read_is_refused(backend: Backend) {
        let app = TestApp::spawn_with(backend, &hostile_toml("", DELETING)).await;
        let json = Some("application/json");
        for (content_type, body, expected) in [
            (None, r#"{"dry_run": true}"#, 415),
            (Some("text/plain"), r#"{"dry_run": true}"#, 415),
            (Some("application/x-www-form-urlencoded"), "dry_run=true", 415),
            (json, r#"{"dry_run": tru"#, 400),
            (json, r#"{"dry_run": true} trailing"#, 400),
            (json, r#"{"dryrun": false}"#, 400),
            (json, r#"{"dry_run": "false"}"#, 400),
            (json, "null", 400),
            (json, "\"dry_run\"", 400),
        ] {
            let (status, answer) = start_run(&app, content_type, body).await;
            assert_eq!(status, expected, "{content_type:?} {body}: {answer}");
            assert!(answer["message"].is_string(), "an ApiError body: {answer}");
        }
        assert!(settled_runs(&app).await.is_empty(), "a refused request started a run");
    }

    async fn deleting_takes_an_explicit_dry_run_false(backend: Backend) {
        let app = TestApp::spawn_with(backend, &hostile_toml("", DELETING)).await;
        let (status, _) = start_run(&app, None, "").await;
        assert_eq!(status, 202, "an empty body starts a run");
        assert!(settled_runs(&app).await[0].dry_run, "an empty body is a dry run");
        for body in ["{}", r#"{"wait": true}"#, r#"{"wait": true, "dry_run": true}"#] {
            let (status, run) = start_run(&app, Some("application/json"), body).await;
            let run = if status == 202 { serde_json::to_value(&settled_runs(&app).await[0]).unwrap() } else { run };
            assert!(status == 200 || status == 202, "{body}: {status} {run}");
            assert_eq!(run["dry_run"], true, "{body}: {run}");
        }
        let (status, run) = start_run(&app, Some("application/json; charset=utf-8"), r#"{"dry_run": false, "wait": true}"#).await;
        assert_eq!((status, &run["dry_run"]), (200, &Value::Bool(false)), "{run}");

        // The configuration still decides: with gc.dry_run = true nothing the API says deletes.
        let app = TestApp::spawn_with(backend, &hostile_toml("", "[gc]\nschedule = \"\"\n")).await;
        let (status, run) = start_run(&app, Some("application/json"), r#"{"dry_run": false, "wait": true}"#).await;
        assert_eq!((status, &run["dry_run"]), (200, &Value::Bool(true)), "{run}");
    }

    async fn a_panic_is_a_counted_500_and_the_server_lives_on(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for _ in 0..2 {
            let response = app.http.get(app.url("/api/v1/fault/panic")).bearer_auth(ADMIN).send().await
                .expect("an answer, not a dropped connection");
            assert_eq!(response.status(), 500);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "internal");
            assert!(!body.to_string().contains("injected"), "panic details are not sent: {body}");
        }
        assert_eq!(app.http.get(app.url("/readyz")).send().await.unwrap().status(), 200);
        let text = metrics(&app).await;
        let line = r#"registry_gc_http_requests_total{method="GET",route="/api/v1/fault/panic",status="500"} 2"#;
        assert!(text.contains(line), "missing {line} in\n{text}");
    }

    async fn made_up_methods_share_one_metric_label(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for i in 0..40 {
            let method = reqwest::Method::from_bytes(format!("FUZZ{i}").as_bytes()).unwrap();
            let response = app.http.request(method, app.url("/webhooks/gitlab")).send().await.unwrap();
            assert!(response.status().is_client_error(), "{}", response.status());
        }
        let text = metrics(&app).await;
        assert!(!text.contains("FUZZ"), "a made-up method became a label:\n{text}");
        assert!(text.contains(r#"method="other""#), "{text}");
    }
}
