//! The daemon's HTTP server on a loopback port 0 over a fresh database, driven with reqwest like
//! GitLab would. Stopped when the handle drops.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;
use registry_gc::app::{App, Wiring};
use registry_gc::clock::ManualClock;
use registry_gc::cluster::NoClusterProtection;
use registry_gc::config::Config;
use registry_gc::gc::Gc;
use registry_gc::store::SharedStore;
use serde_json::Value;

use super::db::{Backend, TestDb};

/// Token the test project accepts.
pub const TOKEN: &str = "s3cret-webhook-token";
/// Admin token of the read API.
pub const ADMIN: &str = "admin-token-for-tests";

/// Project `group/app` (id 42) on registry `host` with the four image rules of the product
/// description; `project_extra` goes into the project's table. Append further tables after it.
pub fn project_toml(host: &str, project_extra: &str) -> String {
    format!(
        r#"
[server]
body_limit_bytes = 65536
admin_token = "admin-token-for-tests"

[[projects]]
path = "group/app"
id = 42
webhook_tokens = ["old-token-being-rotated", "s3cret-webhook-token"]
registry = "{host}"
{project_extra}

[[projects.images]]
name = "ci-commit"
kind = "ci-commit"
image = "$CI_REGISTRY_IMAGE/app-ci:$CI_COMMIT_SHA"

[[projects.images]]
name = "ci-branch"
kind = "ci-branch"
image = "$CI_REGISTRY_IMAGE/app-ci:$CI_COMMIT_REF_SLUG"

[[projects.images]]
name = "prod-commit"
kind = "prod-commit"
image = "$CI_REGISTRY_IMAGE/app:prod-$CI_COMMIT_SHA"
refs = ["^$CI_DEFAULT_BRANCH$"]

[[projects.images]]
name = "prod"
kind = "prod-current"
image = "$CI_REGISTRY_IMAGE/app:prod"
refs = ["^$CI_DEFAULT_BRANCH$"]
"#
    )
}

pub struct TestApp {
    pub app: App,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub store: SharedStore,
    pub db: TestDb,
    pub gc: Gc,
    pub clock: Arc<ManualClock>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    /// Starts the server with `project_toml` on a fresh database of `backend`.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, &project_toml("registry.example.com", "")).await
    }

    pub async fn spawn_with(backend: Backend, toml: &str) -> TestApp {
        Self::spawn_on(TestDb::new(backend).await, toml).await
    }

    /// A second app with configuration `toml` over this app's database (as after a restart with
    /// a changed configuration); `self` must outlive it.
    pub async fn spawn_sharing(&self, toml: &str) -> TestApp {
        Self::spawn_on(self.db.share(), toml).await
    }

    /// Starts the server with `toml` over an existing test database.
    pub async fn spawn_on(db: TestDb, toml: &str) -> TestApp {
        super::init_test_log();
        let mut config = Config::from_toml(toml).expect("test config is valid");
        config.database = db.config.clone();
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let wiring = Wiring {
            clock: clock.clone(),
            protection: Some(Arc::new(NoClusterProtection)),
        };
        let app = App::build(config, wiring).await.expect("app builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // The daemon's own server loop, with its connection cap and header-read timeout.
        tokio::spawn(app.http_server(listener, async move {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            http: reqwest::Client::new(),
            store: app.store.clone(),
            gc: app.gc.clone(),
            app,
            db,
            clock,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Posts a webhook as GitLab does: JSON body, `X-Gitlab-Event`, token, optional idempotency key.
    pub async fn deliver(
        &self,
        event_header: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.url("/webhooks/gitlab"))
            .header("Content-Type", "application/json")
            .header("User-Agent", "GitLab/17.4.0")
            .header("X-Gitlab-Event", event_header)
            .header("X-Gitlab-Token", TOKEN)
            .header("X-Gitlab-Instance", "https://gitlab.example.com")
            .header("X-Gitlab-Event-UUID", uuid::Uuid::new_v4().to_string())
            .header("X-Gitlab-Webhook-UUID", uuid::Uuid::new_v4().to_string())
            .body(body.to_string());
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// GET on the admin API with the admin token.
    pub async fn api(&self, path: &str) -> Value {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(ADMIN)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("json")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.app.stop.cancel();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
