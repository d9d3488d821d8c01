//! A GitLab registry front on loopback, in front of a real docker-registry: it answers GitLab's
//! `/gitlab/v1/` API as documented (compliance check, the detailed tag list sorted by name in pages
//! of at most 1,000 with `Link` headers, 301 to the slashed path, the registry's own 401 Bearer
//! challenge) from what the registry holds — listing it through `/v2/` and a HEAD per tag of the
//! page, with the caller's credentials, so digests are real — and proxies everything else. It
//! counts what it receives by method and API. Stopped when dropped.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::stream::{self, StreamExt};
use registry_gc::registry::manifest::ACCEPT_ALL;
use serde_json::{json, Value};

use super::fault_proxy::forward_to;
use super::registry::TestRegistry;

/// How the front writes the `Link` to the next page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    /// `<http://front/gitlab/v1/…/tags/list/?n=…&last=…>`, as GitLab sends it.
    Absolute,
    /// `</gitlab/v1/…/tags/list/?n=…&last=…>`.
    Relative,
    /// Without the trailing slash: following it costs a 301 first.
    Unslashed,
    /// On another origin (`http://127.0.0.2:9`): a client must not follow it.
    Foreign,
}

/// When the front first saw a tag, and when it saw it move.
struct Seen {
    digest: String,
    created: DateTime<Utc>,
    updated: Option<DateTime<Utc>>,
}

struct Front {
    upstream: String,
    base: String,
    http: reqwest::Client,
    links: Mutex<Links>,
    seen: Mutex<HashMap<(String, String), Seen>>,
    requests: Mutex<BTreeMap<String, u64>>,
}

/// The running front; its URL goes where the registry's would.
pub struct GitLabRegistry {
    pub url: String,
    front: Arc<Front>,
    task: tokio::task::JoinHandle<()>,
}

impl GitLabRegistry {
    /// Starts a front for `registry`.
    pub async fn start(registry: &TestRegistry) -> GitLabRegistry {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let front = Arc::new(Front {
            upstream: registry.url(),
            base: url.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            links: Mutex::new(Links::Absolute),
            seen: Mutex::new(HashMap::new()),
            requests: Mutex::new(BTreeMap::new()),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(front.clone());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        GitLabRegistry { url, front, task }
    }

    /// Changes how the next `Link` headers are written.
    pub fn set_links(&self, links: Links) {
        *self.front.links.lock().unwrap() = links;
    }

    /// Requests received so far, by `"<METHOD> <what>"`: `what` is `gitlab-check`,
    /// `gitlab-tags`, `gitlab-301`, `gitlab-other` or `v2`.
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.front.requests.lock().unwrap().clone()
    }

    /// Requests received so far of one kind (see [`Self::requests`]).
    pub fn count(&self, kind: &str) -> u64 {
        self.requests().get(kind).copied().unwrap_or(0)
    }
}

impl Drop for GitLabRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(front): State<Arc<Front>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let Some(rest) = path.strip_prefix("/gitlab/v1") else {
        front.count(request.method(), "v2");
        let (http, upstream, base) = (&front.http, &front.upstream, &front.base);
        return forward_to(http, upstream, base, request)
            .await
            .into_response();
    };
    if !path.ends_with('/') {
        front.count(request.method(), "gitlab-301");
        let query = request.uri().query().map(|q| format!("?{q}"));
        let location = format!("{path}/{}", query.unwrap_or_default());
        return (StatusCode::MOVED_PERMANENTLY, [("location", location)]).into_response();
    }
    let tags_of = rest
        .strip_prefix("/repositories/")
        .and_then(|r| r.strip_suffix("/tags/list/"));
    let method = request.method().clone();
    let headers = request.headers().clone();
    match (rest, tags_of) {
        ("/", _) if method == Method::GET => {
            front.count(&method, "gitlab-check");
            front.compliance(&headers).await
        }
        (_, Some(repo)) if method == Method::GET => {
            front.count(&method, "gitlab-tags");
            let query = request.uri().query().unwrap_or_default().to_owned();
            front.tag_list(repo, &query, &headers).await
        }
        _ => {
            front.count(&method, "gitlab-other");
            StatusCode::NOT_FOUND.into_response()
        }
    }
}

impl Front {
    fn count(&self, method: &Method, what: &str) {
        *self
            .requests
            .lock()
            .unwrap()
            .entry(format!("{method} {what}"))
            .or_default() += 1;
    }

    /// A request to the registry with the caller's `Authorization`.
    async fn upstream(&self, method: Method, path: &str, headers: &HeaderMap) -> reqwest::Response {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.upstream))
            .header("accept", ACCEPT_ALL);
        if let Some(auth) = headers.get("authorization") {
            request = request.header("authorization", auth);
        }
        request.send().await.expect("registry answers")
    }

    /// `GET /gitlab/v1/`: 200 to whoever `/v2/` lets in, else the registry's challenge.
    async fn compliance(&self, headers: &HeaderMap) -> Response {
        let reply = self.upstream(Method::GET, "/v2/", headers).await;
        match refused(&reply) {
            Some(challenge) => challenge,
            None => StatusCode::OK.into_response(),
        }
    }

    /// `GET /gitlab/v1/repositories/<repo>/tags/list/?n=&last=`.
    async fn tag_list(&self, repo: &str, query: &str, headers: &HeaderMap) -> Response {
        let query: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let n = match query.get("n").map(|n| n.parse::<usize>()) {
            None => 100,
            Some(Ok(n)) if (1..=1000).contains(&n) => n,
            Some(Ok(_)) => return invalid("INVALID_QUERY_PARAMETER_VALUE"),
            Some(Err(_)) => return invalid("INVALID_QUERY_PARAMETER_TYPE"),
        };
        let listing = self
            .upstream(Method::GET, &format!("/v2/{repo}/tags/list"), headers)
            .await;
        if let Some(challenge) = refused(&listing) {
            return challenge;
        }
        if listing.status() == 404 {
            let body = json!({"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]});
            return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
        }
        let listed: Value = listing.json().await.expect("tag list JSON");
        let mut names: Vec<String> =
            serde_json::from_value(listed["tags"].clone()).unwrap_or_default();
        names.sort();
        names.retain(|t| query.get("last").is_none_or(|last| t > last));
        let more = names.len() > n;
        names.truncate(n);
        let page: Vec<Option<Value>> = stream::iter(names.clone())
            .map(|tag| self.describe(repo, tag, headers))
            .buffered(8)
            .collect()
            .await;
        let mut answer =
            axum::Json(Value::Array(page.into_iter().flatten().collect())).into_response();
        if let (true, Some(last)) = (more, names.last()) {
            let link = self.next_link(repo, n, last);
            answer
                .headers_mut()
                .insert("link", link.parse().expect("link header"));
        }
        answer
    }

    /// One element of the tag list (`None` when the tag went away since the listing).
    async fn describe(&self, repo: &str, tag: String, headers: &HeaderMap) -> Option<Value> {
        let path = format!("/v2/{repo}/manifests/{tag}");
        let head = self.upstream(Method::HEAD, &path, headers).await;
        if !head.status().is_success() {
            return None;
        }
        let header = |name: &str| {
            let value = head.headers().get(name)?.to_str().ok()?;
            Some(value.to_owned())
        };
        let digest = header("docker-content-digest").expect("registry sends the digest");
        let media_type = header("content-type").unwrap_or_default();
        let size: u64 = header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let (created, updated) = self.record(repo, &tag, &digest);
        let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut element = json!({
            "name": tag, "digest": digest, "media_type": media_type, "size_bytes": size,
            "created_at": stamp(created), "published_at": stamp(updated.unwrap_or(created)),
        });
        if let Some(updated) = updated {
            element["updated_at"] = json!(stamp(updated));
        }
        Some(element)
    }

    /// When the tag was first seen and when it was last seen moving to another digest.
    fn record(
        &self,
        repo: &str,
        tag: &str,
        digest: &str,
    ) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
        let mut seen = self.seen.lock().unwrap();
        let now = Utc::now();
        let entry = seen
            .entry((repo.to_owned(), tag.to_owned()))
            .or_insert_with(|| Seen {
                digest: digest.to_owned(),
                created: now,
                updated: None,
            });
        if entry.digest != digest {
            entry.digest = digest.to_owned();
            entry.updated = Some(now);
        }
        (entry.created, entry.updated)
    }

    fn next_link(&self, repo: &str, n: usize, last: &str) -> String {
        let path = format!("/gitlab/v1/repositories/{repo}/tags/list/?n={n}&last={last}");
        let target = match *self.links.lock().unwrap() {
            Links::Absolute => format!("{}{path}", self.base),
            Links::Relative => path,
            Links::Unslashed => path.replace("/tags/list/?", "/tags/list?"),
            Links::Foreign => format!("http://127.0.0.2:9{path}"),
        };
        format!("<{target}>; rel=\"next\"")
    }
}

/// The registry's 401 with its challenge, passed on; `None` when it let the caller in.
fn refused(reply: &reqwest::Response) -> Option<Response> {
    if reply.status() != 401 {
        return None;
    }
    let body = json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]});
    let mut answer = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    if let Some(challenge) = reply.headers().get("www-authenticate") {
        answer
            .headers_mut()
            .insert("www-authenticate", challenge.clone());
    }
    Some(answer)
}

fn invalid(code: &str) -> Response {
    let body = json!({"errors": [{"code": code, "message": "invalid query parameter"}]});
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}
