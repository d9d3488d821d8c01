//! Bad input gets a clear error and changes nothing; a database that is down gets 503 and the
//! delivery is not half-written. On SQLite and on Postgres.

use serde_json::{json, Value};
use sqlx::{Connection, Executor};

use crate::support::app::{TestApp, ADMIN, TOKEN};
use crate::support::db::{admin_connection, both_backends, Backend};
use crate::support::gitlab::{self, sha};

async fn post_raw(
    app: &TestApp,
    token: Option<&str>,
    event: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut request = app
        .http
        .post(app.url("/webhooks/gitlab"))
        .header("X-Gitlab-Event", event)
        .body(body);
    if let Some(token) = token {
        request = request.header("X-Gitlab-Token", token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn nothing_recorded(app: &TestApp) {
    assert!(
        app.store.projects().await.unwrap().is_empty(),
        "a rejected delivery wrote something"
    );
}

both_backends! {
    async fn rejects_bad_deliveries(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let good = gitlab::pipeline(401, "main", &sha(1), "running", false, None).to_string();

        let (status, body) = post_raw(&app, Some("wrong-token"), "Pipeline Hook", good.clone()).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("unauthorized")));
        let (status, _) = post_raw(&app, None, "Pipeline Hook", good.clone()).await;
        assert_eq!(status, 401);
        let (status, _) = post_raw(&app, Some(&TOKEN[..TOKEN.len() - 1]), "Pipeline Hook", good.clone()).await;
        assert_eq!(status, 401, "a prefix of the token is not the token");

        let (status, body) = post_raw(&app, Some(TOKEN), "Pipeline Hook", "{\"object_kind\": \"pipeline\",").await;
        assert_eq!(status, 400);
        assert!(body["message"].as_str().unwrap().contains("not valid JSON"), "{body}");

        let mut missing = gitlab::pipeline(402, "main", &sha(1), "running", false, None);
        missing["object_attributes"].as_object_mut().unwrap().remove("status");
        let (status, body) = post_raw(&app, Some(TOKEN), "Pipeline Hook", missing.to_string()).await;
        assert_eq!(status, 400);
        assert_eq!(body["message"], "object_attributes.status: required field is missing");

        let (status, body) = post_raw(&app, Some(TOKEN), "Pipeline Hook", json!({"project": {"id": 42}}).to_string()).await;
        assert_eq!(status, 400);
        assert_eq!(body["message"], "object_kind: required field is missing");

        let huge = format!("{{\"object_kind\":\"push\",\"pad\":\"{}\"}}", "x".repeat(70_000));
        let (status, body) = post_raw(&app, Some(TOKEN), "Push Hook", huge).await;
        assert_eq!((status, body["error"].as_str()), (413, Some("too_large")));

        let mut stranger = gitlab::pipeline(403, "main", &sha(1), "running", false, None);
        stranger["project"]["id"] = json!(99);
        stranger["project"]["path_with_namespace"] = json!("other/project");
        // A project token does not reveal whether another project is configured: 401, not 404.
        let (status, _) = post_raw(&app, Some(TOKEN), "Pipeline Hook", stranger.to_string()).await;
        assert_eq!(status, 401);

        nothing_recorded(&app).await;

        // A known project's event registry-gc does not use: 200 ignored, nothing written.
        let job = json!({"object_kind": "build", "project_id": 42, "project": {"id": 42, "path_with_namespace": "group/app"}});
        let (status, body) = post_raw(&app, Some(TOKEN), "Job Hook", job.to_string()).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("ignored")));
        nothing_recorded(&app).await;

        // The rotated-out token still works while it is configured.
        let (status, _) = post_raw(&app, Some("old-token-being-rotated"), "Pipeline Hook", good).await;
        assert_eq!(status, 200);

        let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        for line in [
            r#"registry_gc_webhook_deliveries_total{event="pipeline",outcome="unauthorized"} 4"#,
            r#"registry_gc_webhook_deliveries_total{event="pipeline",outcome="bad_request"} 3"#,
            r#"registry_gc_webhook_deliveries_total{event="push",outcome="too_large"} 1"#,
            r#"registry_gc_webhook_deliveries_total{event="other",outcome="ignored"} 1"#,
            r#"registry_gc_webhook_deliveries_total{event="pipeline",outcome="recorded"} 1"#,
        ] {
            assert!(metrics.contains(line), "missing {line} in\n{metrics}");
        }
        assert!(!metrics.contains(TOKEN) && !metrics.contains("old-token-being-rotated"));
        let by_route = r#"registry_gc_http_requests_total{method="POST",route="/webhooks/gitlab",status="401"} 4"#;
        assert!(metrics.contains(by_route), "missing {by_route} in\n{metrics}");
    }

    async fn admin_api_needs_the_token(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let url = app.url("/api/v1/projects");
        assert_eq!(app.http.get(&url).send().await.unwrap().status(), 401);
        assert_eq!(app.http.get(&url).bearer_auth("nope").send().await.unwrap().status(), 401);
        assert_eq!(app.http.get(&url).bearer_auth(ADMIN).send().await.unwrap().status(), 200);
        let missing = app.http.get(app.url("/api/v1/projects/no/such/tags")).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(missing.status(), 404);
        assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
        // Routes are labelled by their template, never by the project path in the URL.
        let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains(r#"route="/api/v1/projects/{*rest}""#) && !metrics.contains("no/such"), "{metrics}");
    }

    async fn database_down_is_503_and_writes_nothing(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let body = gitlab::pipeline(501, "main", &sha(5), "running", false, None);
        let outage = Outage::begin(&app).await;
        let (status, answer) = app.deliver("Pipeline Hook", &body, Some("key-501")).await;
        assert_eq!((status, answer["error"].as_str()), (503, Some("unavailable")), "{answer}");
        if backend == Backend::Postgres {
            let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
            assert_eq!(ready.status(), 503);
        }
        outage.end(&app).await;
        assert_eq!(app.http.get(app.url("/readyz")).send().await.unwrap().status(), 200);
        assert!(app.store.pipelines(42).await.unwrap().is_empty(), "the failed delivery left rows behind");
        // GitLab's resend of the same delivery now goes through: the key was not burnt by the 503.
        let (status, answer) = app.deliver("Pipeline Hook", &body, Some("key-501")).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("recorded")));
    }
}

/// Makes the test's database unavailable: Postgres refuses connections to it (and the pool's are
/// cut); SQLite's file is held under an exclusive lock by another connection.
enum Outage {
    Postgres(String),
    Sqlite(sqlx::SqliteConnection),
}

impl Outage {
    async fn begin(app: &TestApp) -> Outage {
        match app.db.pg_name() {
            Some(name) => {
                let mut admin = admin_connection().await;
                admin
                    .execute(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false").as_str())
                    .await
                    .unwrap();
                admin
                    .execute(format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'").as_str())
                    .await
                    .unwrap();
                Outage::Postgres(name.to_owned())
            }
            None => {
                let mut conn = sqlx::SqliteConnection::connect(&app.db.config.url.0)
                    .await
                    .unwrap();
                conn.execute("BEGIN EXCLUSIVE").await.unwrap();
                Outage::Sqlite(conn)
            }
        }
    }

    async fn end(self, _app: &TestApp) {
        match self {
            Outage::Postgres(name) => {
                let mut admin = admin_connection().await;
                admin
                    .execute(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true").as_str())
                    .await
                    .unwrap();
            }
            Outage::Sqlite(mut conn) => {
                conn.execute("ROLLBACK").await.unwrap();
                conn.close().await.unwrap();
            }
        }
    }
}
