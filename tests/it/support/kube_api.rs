//! A fake Kubernetes API server on a free loopback port, for cluster-protection tests. It answers
//! the real list and watch endpoints with payloads recorded in the API server's format: lists as
//! `{"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion", "continue"}, "items"}`
//! paginated by `limit`/`continue`; `?watch=true&resourceVersion=…&allowWatchBookmarks=true&
//! timeoutSeconds=…` as newline-delimited `ADDED`/`MODIFIED`/`DELETED`/`BOOKMARK`/`ERROR` events,
//! replayed from the requested resourceVersion; an `ERROR` event with a `410 Expired` Status for a
//! compacted resourceVersion; `403 Forbidden` and `404 NotFound` Status objects; API discovery
//! (`APIResourceList`) for extra kinds. A real `kube::Client` is pointed at it. The server task is
//! aborted on Drop; every watch stream ends at its `timeoutSeconds`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::watch;

mod cursor;

use cursor::Cursor;

/// How one collection answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    Normal,
    /// Every request is answered 403 Forbidden.
    Forbidden,
    /// Lists never answer: the connection stays open and nothing is sent.
    HangList,
    /// The first list answers; after it, watches stay open without a byte and lists hang.
    GoSilent,
}

struct Collection {
    group_version: &'static str,
    kind: &'static str,
    objects: BTreeMap<(String, String), Value>,
    behaviour: Behaviour,
    lists: usize,
    /// (resourceVersion, namespace, event line), oldest first.
    log: Vec<(u64, String, String)>,
}

struct Api {
    version: u64,
    /// Watches from before this resourceVersion answer 410 Expired.
    compacted_before: u64,
    collections: HashMap<String, Collection>,
    discovery: HashMap<String, Value>,
    authorizations: Vec<String>,
}

type Shared = (Arc<Mutex<Api>>, watch::Sender<u64>);

/// The fake API server; stopped when dropped.
pub struct FakeKube {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

/// The built-in collections registry-gc reads: (plural, group/version, kind).
const BUILTIN: [(&str, &str, &str); 8] = [
    ("pods", "v1", "Pod"),
    ("replicationcontrollers", "v1", "ReplicationController"),
    ("deployments", "apps/v1", "Deployment"),
    ("replicasets", "apps/v1", "ReplicaSet"),
    ("statefulsets", "apps/v1", "StatefulSet"),
    ("daemonsets", "apps/v1", "DaemonSet"),
    ("jobs", "batch/v1", "Job"),
    ("cronjobs", "batch/v1", "CronJob"),
];

/// Time between BOOKMARK events on an open watch (the real server sends about one a minute).
const BOOKMARK_EVERY: Duration = Duration::from_millis(200);

impl FakeKube {
    /// Serves empty built-in collections.
    pub async fn start() -> FakeKube {
        let mut api = Api {
            version: 100,
            compacted_before: 0,
            collections: HashMap::new(),
            discovery: HashMap::new(),
            authorizations: Vec::new(),
        };
        for (plural, group_version, kind) in BUILTIN {
            api.collections
                .insert(plural.into(), Collection::new(group_version, kind));
        }
        let shared = Arc::new((Arc::new(Mutex::new(api)), watch::channel(100).0));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeKube { url, shared, task }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Api) -> T) -> T {
        let out = f(&mut self.shared.0.lock().unwrap());
        let version = self.shared.0.lock().unwrap().version;
        self.shared.1.send_replace(version);
        out
    }

    /// Adds or replaces `object` in `plural`, as an `ADDED` or `MODIFIED` event.
    pub fn put(&self, plural: &str, object: Value) {
        self.with(|api| api.put(plural, object, true));
    }

    /// Changes `object` without an event reaching any watch (as if it happened while compacted).
    pub fn put_unseen(&self, plural: &str, object: Value) {
        self.with(|api| api.put(plural, object, false));
    }

    /// Deletes `namespace/name` from `plural`, as a `DELETED` event.
    pub fn delete(&self, plural: &str, namespace: &str, name: &str) {
        self.with(|api| api.delete(plural, namespace, name));
    }

    /// Sets how `plural` answers.
    pub fn set_behaviour(&self, plural: &str, behaviour: Behaviour) {
        self.with(|api| api.collections.get_mut(plural).unwrap().behaviour = behaviour);
    }

    /// Compacts the event history: open watches get an `ERROR` 410 event and end; watching from
    /// any resourceVersion seen so far answers 410 until the client lists again.
    pub fn expire_watches(&self) {
        self.with(|api| {
            api.version += 1;
            api.compacted_before = api.version;
        });
    }

    /// Serves a custom resource: discovery of `group/version` and the collection `plural`.
    pub fn add_kind(&self, group_version: &'static str, plural: &str, kind: &'static str) {
        self.with(|api| {
            let resource = json!({"name": plural, "singularName": kind.to_lowercase(),
                "namespaced": true, "kind": kind, "verbs": ["get", "list", "watch"]});
            api.discovery.insert(
                format!("/apis/{group_version}"),
                json!({
                "kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": group_version, "resources": [resource]}),
            );
            api.collections
                .insert(plural.into(), Collection::new(group_version, kind));
        });
    }

    /// How many list requests `plural` answered (or held open).
    pub fn lists(&self, plural: &str) -> usize {
        self.with(|api| api.collections[plural].lists)
    }

    /// Every `Authorization` header received.
    pub fn authorizations(&self) -> Vec<String> {
        self.with(|api| api.authorizations.clone())
    }

    /// A client configuration pointing at this server.
    pub fn config(&self) -> kube::Config {
        kube::Config::new(self.url.parse().unwrap())
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Collection {
    fn new(group_version: &'static str, kind: &'static str) -> Self {
        Collection {
            group_version,
            kind,
            objects: BTreeMap::new(),
            behaviour: Behaviour::Normal,
            lists: 0,
            log: Vec::new(),
        }
    }
}

impl Api {
    fn put(&mut self, plural: &str, mut object: Value, logged: bool) {
        self.version += 1;
        let collection = self.collections.get_mut(plural).unwrap();
        object["kind"] = json!(collection.kind);
        object["apiVersion"] = json!(collection.group_version);
        object["metadata"]["resourceVersion"] = json!(self.version.to_string());
        let key = key_of(&object);
        let verb = if collection.objects.contains_key(&key) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        if logged {
            let line = json!({"type": verb, "object": object}).to_string();
            collection.log.push((self.version, key.0.clone(), line));
        }
        collection.objects.insert(key, object);
    }

    fn delete(&mut self, plural: &str, namespace: &str, name: &str) {
        self.version += 1;
        let collection = self.collections.get_mut(plural).unwrap();
        let key = (namespace.to_owned(), name.to_owned());
        if let Some(mut object) = collection.objects.remove(&key) {
            object["metadata"]["resourceVersion"] = json!(self.version.to_string());
            let line = json!({"type": "DELETED", "object": object}).to_string();
            collection.log.push((self.version, key.0, line));
        }
    }
}

fn key_of(object: &Value) -> (String, String) {
    let meta = &object["metadata"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (text(&meta["namespace"]), text(&meta["name"]))
}

/// `/api/v1[/namespaces/NS]/PLURAL` or `/apis/GROUP/VERSION[/namespaces/NS]/PLURAL`.
fn collection_path(path: &str) -> Option<(Option<String>, String)> {
    let rest = match path.strip_prefix("/api/v1/") {
        Some(rest) => rest,
        None => path.strip_prefix("/apis/")?.splitn(3, '/').nth(2)?,
    };
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["namespaces", ns, plural] => Some((Some((*ns).to_owned()), (*plural).to_owned())),
        [plural] => Some((None, (*plural).to_owned())),
        _ => None,
    }
}

/// A `Status` object as the API server sends it with an error.
pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code})
}

fn status_response(code: u16, reason: &str, message: &str) -> Response {
    let code_ = StatusCode::from_u16(code).unwrap();
    (code_, axum::Json(status(code, reason, message))).into_response()
}

/// What to do with one request, decided under the lock.
enum Answer {
    Now(Response),
    Hang,
    Watch(Cursor),
}

async fn answer(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    match decide(&shared, &request) {
        Answer::Now(response) => response,
        Answer::Hang => std::future::pending().await,
        Answer::Watch(cursor) => {
            let lines = futures::stream::unfold(cursor, |mut c| async move {
                let line = c.next_line().await?;
                Some((Ok::<_, std::convert::Infallible>(format!("{line}\n")), c))
            });
            (
                [("content-type", "application/json")],
                Body::from_stream(lines),
            )
                .into_response()
        }
    }
}

fn decide(shared: &Shared, request: &Request) -> Answer {
    let path = request.uri().path();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let mut api = shared.0.lock().unwrap();
    if let Some(auth) = request.headers().get("authorization") {
        api.authorizations
            .push(auth.to_str().unwrap_or_default().to_owned());
    }
    if let Some(found) = api.discovery.get(path) {
        return Answer::Now(axum::Json(found.clone()).into_response());
    }
    let not_found = || {
        status_response(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    };
    let Some((namespace, plural)) = collection_path(path) else {
        return Answer::Now(not_found());
    };
    let version = api.version;
    let compacted_before = api.compacted_before;
    let Some(collection) = api.collections.get_mut(&plural) else {
        return Answer::Now(not_found());
    };
    let watching = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    let behaviour = collection.behaviour;
    if behaviour == Behaviour::Forbidden {
        return Answer::Now(forbidden(collection, &plural, watching));
    }
    if !watching {
        collection.lists += 1;
        if behaviour == Behaviour::HangList
            || (behaviour == Behaviour::GoSilent && collection.lists > 1)
        {
            return Answer::Hang;
        }
        return Answer::Now(list(collection, namespace.as_deref(), &query, version));
    }
    let from: u64 = query
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let seconds: u64 = query
        .get("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(290);
    Answer::Watch(Cursor {
        api: shared.0.clone(),
        changes: shared.1.subscribe(),
        plural,
        namespace,
        after: from,
        gone: from < compacted_before,
        silent: behaviour == Behaviour::GoSilent,
        deadline: Instant::now() + Duration::from_secs(seconds),
    })
}

fn list(
    collection: &Collection,
    namespace: Option<&str>,
    query: &HashMap<String, String>,
    version: u64,
) -> Response {
    let items: Vec<&Value> = collection
        .objects
        .iter()
        .filter(|((ns, _), _)| namespace.is_none_or(|wanted| wanted == ns))
        .map(|(_, object)| object)
        .collect();
    let start: usize = query
        .get("continue")
        .and_then(|c| c.strip_prefix("page-")?.parse().ok())
        .unwrap_or(0);
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX);
    let page: Vec<&Value> = items.iter().skip(start).take(limit).copied().collect();
    let mut metadata = json!({"resourceVersion": version.to_string()});
    if start.saturating_add(limit) < items.len() {
        metadata["continue"] = json!(format!("page-{}", start + limit));
        metadata["remainingItemCount"] = json!(items.len() - start - limit);
    }
    let kind = format!("{}List", collection.kind);
    axum::Json(json!({"kind": kind, "apiVersion": collection.group_version, "metadata": metadata, "items": page})).into_response()
}

/// 403 with the Status the API server sends when RBAC does not grant the verb.
fn forbidden(collection: &Collection, plural: &str, watching: bool) -> Response {
    let group = collection.group_version.split_once('/').map_or("", |g| g.0);
    let verb = if watching { "watch" } else { "list" };
    let message = format!(
        "{plural} is forbidden: User \"system:serviceaccount:registry-gc:registry-gc\" cannot \
         {verb} resource \"{plural}\" in API group \"{group}\" at the cluster scope"
    );
    status_response(403, "Forbidden", &message)
}
