//! Hostile or broken input, as an attacker or a bad day sends it: every case is answered with a
//! 4xx naming what is wrong (or a documented 503), never a panic, a 500, a lockout or a leak. On
//! SQLite and on Postgres; the listener and start-up cases run the real binary.

mod api;
mod auth;
mod database;
mod fuzz;
mod listener;
mod payload;
mod projects;
mod startup;

use serde_json::Value;

use crate::support::app::{project_toml, TestApp};

/// Posts `body` to the webhook endpoint with `token` (if any), as GitLab would.
pub async fn post_webhook(
    app: &TestApp,
    token: Option<&str>,
    event: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut request = app
        .http
        .post(app.url("/webhooks/gitlab"))
        .header("Content-Type", "application/json")
        .header("X-Gitlab-Event", event)
        .body(body);
    if let Some(token) = token {
        request = request.header("X-Gitlab-Token", token);
    }
    let response = request
        .send()
        .await
        .expect("an answer, not a dropped connection");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The test project's configuration plus a rule using `$CI_COMMIT_SHORT_SHA` (the one that used
/// to slice bytes), `server` keys added to `[server]` and `extra` appended (further tables).
pub fn hostile_toml(server: &str, extra: &str) -> String {
    let base = project_toml("registry.example.com", "").replacen(
        "[server]\n",
        &format!("[server]\n{server}\n"),
        1,
    );
    format!(
        "{base}\n[[projects.images]]\nname = \"short\"\nkind = \"ci-commit\"\n\
         image = \"$CI_REGISTRY_IMAGE/app-short:$CI_COMMIT_SHORT_SHA\"\n{extra}"
    )
}

/// The projects recorded so far.
pub async fn project_count(app: &TestApp) -> usize {
    app.store.projects().await.expect("projects").len()
}

/// The text of `/metrics`.
pub async fn metrics(app: &TestApp) -> String {
    let response = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    response.text().await.expect("text")
}
