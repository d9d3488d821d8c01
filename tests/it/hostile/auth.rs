//! Authentication before anything is revealed: a webhook without a token accepted for the project
//! it names is 401 whether that project is configured or not (no enumeration); only a system
//! hook's token learns "not configured" (404). The admin API is closed without an admin token.

use serde_json::json;

use super::{hostile_toml, post_webhook, project_count};
use crate::support::app::{TestApp, ADMIN, TOKEN};
use crate::support::db::both_backends;
use crate::support::gitlab::{self, sha};

const SYSTEM: &str = "system-hook-token-for-tests";

both_backends! {
    async fn projects_cannot_be_enumerated(backend: Backend) {
        let server = format!("system_hook_tokens = [\"{SYSTEM}\"]");
        let app = TestApp::spawn_with(backend, &hostile_toml(&server, "")).await;
        let known = gitlab::pipeline(801, "main", &sha(8), "running", false, None);
        let mut unknown = known.clone();
        unknown["project"]["id"] = json!(99);
        unknown["project"]["path_with_namespace"] = json!("other/project");
        for (token, body, expected) in [
            (None, &unknown, 401),
            (None, &known, 401),
            (Some("wrong"), &unknown, 401),
            (Some("wrong"), &known, 401),
            (Some(TOKEN), &unknown, 401),
            (Some(SYSTEM), &unknown, 404),
        ] {
            let (status, answer) = post_webhook(&app, token, "Pipeline Hook", body.to_string()).await;
            assert_eq!(status, expected, "token {token:?}, project {}: {answer}", body["project"]["id"]);
        }
        // Without a known token the body is not even parsed: garbage is 401 too, not 400.
        let (status, _) = post_webhook(&app, None, "Pipeline Hook", "{not json").await;
        assert_eq!(status, 401);
        let (status, _) = post_webhook(&app, Some(TOKEN), "Pipeline Hook", "{not json").await;
        assert_eq!(status, 400);
        assert_eq!(project_count(&app).await, 0);
        for (token, expected) in [(TOKEN, "recorded"), (SYSTEM, "duplicate")] {
            let (status, answer) = post_webhook(&app, Some(token), "Pipeline Hook", known.to_string()).await;
            assert_eq!((status, answer["status"].as_str()), (200, Some(expected)), "{answer}");
        }
    }

    async fn the_admin_api_is_closed_without_a_token(backend: Backend) {
        let closed = hostile_toml("", "").replace("admin_token = \"admin-token-for-tests\"", "");
        let app = TestApp::spawn_with(backend, &closed).await;
        for path in ["/api/v1/projects", "/api/v1/gc/runs", "/api/v1/plan"] {
            let response = app.http.get(app.url(path)).send().await.unwrap();
            assert_eq!(response.status(), 403, "{path}");
        }
        let start = app.http.post(app.url("/api/v1/gc/runs")).send().await.unwrap();
        assert_eq!(start.status(), 403, "a run must not start");
        assert!(app.store.runs(10).await.unwrap().is_empty());
        assert_eq!(app.http.get(app.url("/readyz")).send().await.unwrap().status(), 200);

        let open = closed.replace("[server]\n", "[server]\ninsecure_open_api = true\n");
        let app = TestApp::spawn_with(backend, &open).await;
        let response = app.http.get(app.url("/api/v1/projects")).send().await.unwrap();
        assert_eq!(response.status(), 200, "explicitly opened");

        let app = TestApp::spawn_with(backend, &hostile_toml("insecure_open_api = true", "")).await;
        let response = app.http.get(app.url("/api/v1/projects")).send().await.unwrap();
        assert_eq!(response.status(), 401, "a configured token wins over insecure_open_api");
        let response = app.http.get(app.url("/api/v1/projects")).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
}
