//! A GitLab REST API on loopback for tests (no GitLab can run here): the real endpoints registry-gc
//! reads, answering in GitLab's shapes (`shapes`) with GitLab's offset pagination headers, and
//! faults to inject (429 with and without hints, 5xx, slow answers, garbage, the empty-pages bug).
//! The server task is aborted when the handle drops.

mod answers;
pub mod shapes;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::Value;

use answers::{message, page, pairs, param};
pub use shapes::{PROJECT_ID, PROJECT_PATH};

/// The token the fake accepts.
pub const TOKEN: &str = "glpat-test-token-never-logged";

/// A fault answered instead of the next matching request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 429 with `Retry-After: <secs>`.
    RetryAfter(u64),
    /// 429 with `RateLimit-Reset` (Unix time, now) and no `Retry-After`.
    RateLimitReset,
    /// 429 with no hint at all.
    Bare429,
    /// This status with an HTML body.
    Status(u16),
    /// Answer after this long.
    Slow(Duration),
    /// 200 with a body that is not the documented JSON.
    Garbage,
}

/// What the fake GitLab holds and how it misbehaves. Lock it to change either mid-test.
#[derive(Debug, Default)]
pub struct World {
    pub project: Value,
    pub branches: Vec<Value>,
    pub merge_requests: Vec<Value>,
    /// Single-pipeline shapes; the list shows `pipeline_list_entry` of each.
    pub pipelines: Vec<Value>,
    pub hooks: Vec<Value>,
    pub events: Vec<Value>,
    /// Faults for requests whose path contains the given text, in order.
    pub faults: VecDeque<(String, Fault)>,
    /// GitLab's empty-pages bug: pages past the first come back empty, headers unchanged.
    pub empty_pages_bug: bool,
    /// Totals (`x-total`, `x-total-pages`, `rel="last"`) are omitted above this many items.
    pub count_limit: usize,
    /// Only `Link` tells the next page (no `x-next-page`), as behind some proxies.
    pub link_only: bool,
    /// Branches the list leaves out although the single-branch endpoint finds them.
    pub hidden_from_list: Vec<String>,
    /// Every request: `path?query`, in order.
    pub requests: Vec<String>,
}

/// The running fake.
pub struct FakeGitLab {
    pub url: String,
    pub world: Arc<Mutex<World>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGitLab {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Shared = Arc<Mutex<World>>;

impl FakeGitLab {
    /// Serves `world` on a free loopback port.
    pub async fn start(mut world: World) -> FakeGitLab {
        if world.count_limit == 0 {
            world.count_limit = 10_000;
        }
        let world = Arc::new(Mutex::new(world));
        let project = "/api/v4/projects/{id}";
        let app = Router::new()
            .route(project, get(project_answer))
            .route(&format!("{project}/repository/branches"), get(branches))
            .route(
                &format!("{project}/repository/branches/{{branch}}"),
                get(one_branch),
            )
            .route(&format!("{project}/merge_requests"), get(merge_requests))
            .route(&format!("{project}/pipelines"), get(pipelines))
            .route(
                &format!("{project}/pipelines/{{pipeline}}"),
                get(one_pipeline),
            )
            .route(&format!("{project}/hooks"), get(hooks))
            .route(&format!("{project}/events"), get(events))
            .layer(middleware::from_fn_with_state(world.clone(), gate))
            .with_state(world.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeGitLab { url, world, task }
    }

    /// The requests made so far whose path contains `part`.
    pub fn requests_to(&self, part: &str) -> usize {
        self.world
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.contains(part))
            .count()
    }

    /// Queues a fault for the next request whose path contains `path_part`.
    pub fn fault(&self, path_part: &str, fault: Fault) {
        self.world
            .lock()
            .unwrap()
            .faults
            .push_back((path_part.to_owned(), fault));
    }
}

/// Authentication, the request log and injected faults, before any endpoint.
async fn gate(State(world): State<Shared>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get("private-token")
        .and_then(|v| v.to_str().ok());
    if token != Some(TOKEN) {
        return message(StatusCode::UNAUTHORIZED, "401 Unauthorized");
    }
    let path = request.uri().path().to_owned();
    let fault = {
        let mut w = world.lock().unwrap();
        let query = request
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        w.requests.push(format!("{path}{query}"));
        let at = w
            .faults
            .iter()
            .position(|(part, _)| path.contains(part.as_str()));
        at.and_then(|i| w.faults.remove(i)).map(|(_, f)| f)
    };
    match fault {
        None => next.run(request).await,
        Some(Fault::Slow(wait)) => {
            tokio::time::sleep(wait).await;
            next.run(request).await
        }
        Some(fault) => answers::fault(fault),
    }
}

fn known_project(id: &str) -> bool {
    id == PROJECT_ID.to_string() || id.eq_ignore_ascii_case(PROJECT_PATH)
}

fn updated_after(v: &Value, query: &[(String, String)]) -> bool {
    let Some(after) = param(query, "updated_after") else {
        return true;
    };
    let after: DateTime<Utc> = after.parse().expect("updated_after is ISO 8601");
    let at: DateTime<Utc> = v["updated_at"].as_str().unwrap().parse().unwrap();
    at >= after
}

fn sort_by_updated(items: &mut [Value]) {
    items.sort_by(|a, b| {
        a["updated_at"]
            .as_str()
            .cmp(&b["updated_at"].as_str())
            .then(a["id"].as_i64().cmp(&b["id"].as_i64()))
    });
}

macro_rules! project_guard {
    ($id:expr) => {
        if !known_project(&$id) {
            return message(StatusCode::NOT_FOUND, "404 Project Not Found");
        }
    };
}

async fn project_answer(State(w): State<Shared>, Path(id): Path<String>) -> Response {
    let w = w.lock().unwrap();
    project_guard!(id);
    axum::Json(w.project.clone()).into_response()
}

async fn branches(
    State(w): State<Shared>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let w = w.lock().unwrap();
    project_guard!(id);
    let mut items: Vec<Value> = w
        .branches
        .iter()
        .filter(|b| !w.hidden_from_list.iter().any(|h| b["name"] == h.as_str()))
        .cloned()
        .collect();
    items.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    page(
        &w,
        &format!("/api/v4/projects/{id}/repository/branches"),
        &pairs(&q),
        items,
    )
}

async fn one_branch(State(w): State<Shared>, Path((id, name)): Path<(String, String)>) -> Response {
    let w = w.lock().unwrap();
    project_guard!(id);
    match w.branches.iter().find(|b| b["name"] == name.as_str()) {
        Some(b) => axum::Json(b.clone()).into_response(),
        None => message(StatusCode::NOT_FOUND, "404 Branch Not Found"),
    }
}

async fn merge_requests(
    State(w): State<Shared>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let w = w.lock().unwrap();
    project_guard!(id);
    let query = pairs(&q);
    let iids: Vec<i64> = query
        .iter()
        .filter(|(k, _)| k == "iids[]")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let mut items: Vec<Value> = w
        .merge_requests
        .iter()
        .filter(|m| iids.is_empty() || iids.contains(&m["iid"].as_i64().unwrap()))
        .filter(|m| updated_after(m, &query))
        .cloned()
        .collect();
    sort_by_updated(&mut items);
    page(
        &w,
        &format!("/api/v4/projects/{id}/merge_requests"),
        &query,
        items,
    )
}

async fn pipelines(
    State(w): State<Shared>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let w = w.lock().unwrap();
    project_guard!(id);
    let query = pairs(&q);
    let running = param(&query, "scope") == Some("running");
    let mut items: Vec<Value> = w
        .pipelines
        .iter()
        .filter(|p| updated_after(p, &query))
        .filter(|p| !running || p["status"] == "running")
        .map(shapes::pipeline_list_entry)
        .collect();
    sort_by_updated(&mut items);
    page(
        &w,
        &format!("/api/v4/projects/{id}/pipelines"),
        &query,
        items,
    )
}

async fn one_pipeline(
    State(w): State<Shared>,
    Path((id, pipeline)): Path<(String, i64)>,
) -> Response {
    let w = w.lock().unwrap();
    project_guard!(id);
    match w.pipelines.iter().find(|p| p["id"] == pipeline) {
        Some(p) => axum::Json(p.clone()).into_response(),
        None => message(StatusCode::NOT_FOUND, "404 Not found"),
    }
}

async fn hooks(State(w): State<Shared>, Path(id): Path<String>, RawQuery(q): RawQuery) -> Response {
    let w = w.lock().unwrap();
    project_guard!(id);
    page(
        &w,
        &format!("/api/v4/projects/{id}/hooks"),
        &pairs(&q),
        w.hooks.clone(),
    )
}

async fn events(
    State(w): State<Shared>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let w = w.lock().unwrap();
    project_guard!(id);
    let query = pairs(&q);
    let after = param(&query, "after").map(|d| format!("{d}T23:59:59.999Z"));
    let items: Vec<Value> = w
        .events
        .iter()
        .filter(|e| param(&query, "action") != Some("pushed") || e["push_data"].is_object())
        .filter(|e| {
            after
                .as_deref()
                .is_none_or(|a| e["created_at"].as_str().unwrap() > a)
        })
        .cloned()
        .collect();
    page(&w, &format!("/api/v4/projects/{id}/events"), &query, items)
}
