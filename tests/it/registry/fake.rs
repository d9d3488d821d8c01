//! Small fake registry fronts for behaviours distribution 2.8 cannot show (tag delete, 401 refusals,
//! failing deletes, 429): serving on loopback and the tag-map answers they share.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use registry_gc::registry::{Digest, RegistryClient, RegistrySettings};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Tag → digest, as a fake registry stores it.
pub type Tags = Mutex<BTreeMap<String, Digest>>;

/// A router served on a free loopback port; the server task is aborted on Drop.
pub struct Served {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    /// A client for this front with default settings, `retries` changed.
    pub fn client(&self, retries: u32) -> RegistryClient {
        let mut settings = RegistrySettings::new(self.url.parse().unwrap());
        settings.retries = retries;
        RegistryClient::new(settings).unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `app` (plus `GET /v2/` answering 200).
pub async fn serve(app: axum::Router) -> Served {
    let app = app.route("/v2/", axum::routing::get(|| async { "{}" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Served { url, task }
}

/// `tags` holding each of `names` on `digest`.
pub fn tags_on(digest: &Digest, names: &[&str]) -> Tags {
    Mutex::new(
        names
            .iter()
            .map(|n| (n.to_string(), digest.clone()))
            .collect(),
    )
}

/// HEAD of a manifest by tag: 200 with `Docker-Content-Digest`, or 404.
pub fn head_answer(tags: &Tags, reference: &str) -> Response {
    match tags.lock().unwrap().get(reference) {
        Some(d) => ([("docker-content-digest", d.to_string())], "").into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /v2/<name>/tags/list`.
pub fn list_answer(tags: &Tags, name: &str) -> Response {
    let list: Vec<String> = tags.lock().unwrap().keys().cloned().collect();
    axum::Json(serde_json::json!({ "name": name, "tags": list })).into_response()
}
