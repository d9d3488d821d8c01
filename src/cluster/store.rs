//! One (cluster, kind, namespace) being read: the compact per-object images, whether a full list
//! has completed, when the API server was last heard from (list page, event or bookmark) and the
//! last error. Judges freshness; must never hold whole objects or decide what a run deletes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;

use super::extract::ObjectImages;
use super::kinds::KindName;

/// Bumped on every change of objects or sync state; snapshots are cached per value.
pub type Changes = Arc<watch::Sender<u64>>;

/// Objects are keyed by namespace and name.
pub type ObjectKey = (Option<String>, String);

/// Why reading failed, as shown to the operator (never a credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// The API status code, when the API server answered with one.
    pub code: Option<u16>,
}

impl Failure {
    /// 401/403: the grant is missing; protection is unavailable at once, not after staleness.
    pub fn forbidden(&self) -> bool {
        matches!(self.code, Some(401 | 403))
    }
}

/// One (cluster, kind, namespace) and what was read of it.
pub struct KindState {
    pub cluster: String,
    pub name: KindName,
    /// `None`: all namespaces.
    pub namespace: Option<String>,
    inner: Mutex<Inner>,
    changes: Changes,
}

#[derive(Default)]
struct Inner {
    objects: HashMap<ObjectKey, ObjectImages>,
    synced: bool,
    contact: Option<(Instant, DateTime<Utc>)>,
    error: Option<Failure>,
    missing: Option<String>,
}

/// The state of one (cluster, kind, namespace) at one moment, for plans, the CLI and metrics.
#[derive(Debug, Clone, Serialize)]
pub struct KindView {
    /// `resource.group` (`pods`, `cronjobs.batch`, `rollout.argoproj.io`).
    pub kind: String,
    /// `None`: all namespaces.
    pub namespace: Option<String>,
    pub objects: usize,
    /// A full list has completed.
    pub synced: bool,
    /// Last list page, event or bookmark.
    pub last_contact: Option<DateTime<Utc>>,
    /// The last error since then, if any.
    pub error: Option<String>,
    /// An optional kind the cluster does not serve (its CRD is not installed): skipped.
    pub skipped: Option<String>,
    /// Why this kind makes protection unavailable, if it does.
    pub problem: Option<String>,
}

impl KindState {
    pub fn new(cluster: &str, name: KindName, namespace: Option<String>, changes: Changes) -> Self {
        KindState {
            cluster: cluster.to_owned(),
            name,
            namespace,
            inner: Mutex::new(Inner::default()),
            changes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn changed(&self) {
        self.changes.send_modify(|generation| *generation += 1);
    }

    /// `namespace (all namespaces)` or `namespace shop`, for messages.
    pub fn scope(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("namespace {ns}"),
            None => "all namespaces".into(),
        }
    }

    /// The API server answered (a page, an event or a bookmark).
    pub fn touch(&self) {
        self.lock().contact = Some((Instant::now(), Utc::now()));
    }

    /// An object was added or modified.
    pub fn apply(&self, object: ObjectImages) {
        let key = (object.namespace.clone(), object.name.clone());
        let mut inner = self.lock();
        inner.contact = Some((Instant::now(), Utc::now()));
        if inner.objects.get(&key) != Some(&object) {
            inner.objects.insert(key, object);
            drop(inner);
            self.changed();
        }
    }

    /// An object was deleted.
    pub fn remove(&self, key: &ObjectKey) {
        let mut inner = self.lock();
        inner.contact = Some((Instant::now(), Utc::now()));
        if inner.objects.remove(key).is_some() {
            drop(inner);
            self.changed();
        }
    }

    /// A full list completed: its objects replace what was known.
    pub fn replace(&self, objects: HashMap<ObjectKey, ObjectImages>) {
        let mut inner = self.lock();
        inner.objects = objects;
        inner.synced = true;
        inner.error = None;
        inner.missing = None;
        inner.contact = Some((Instant::now(), Utc::now()));
        drop(inner);
        self.changed();
    }

    /// Reading failed; the objects read before stay until staleness says otherwise.
    pub fn fail(&self, failure: Failure) {
        self.lock().error = Some(failure);
        self.changed();
    }

    /// An optional kind is not served by the cluster: skipped (and empty) until it appears.
    pub fn mark_missing(&self, why: String) {
        let mut inner = self.lock();
        inner.objects.clear();
        inner.synced = false;
        inner.error = None;
        inner.missing = Some(why);
        drop(inner);
        self.changed();
    }

    /// Still waiting for a first list that may yet come (not synced, not refused, not skipped).
    pub fn pending(&self) -> bool {
        let inner = self.lock();
        !inner.synced
            && inner.missing.is_none()
            && !inner.error.as_ref().is_some_and(Failure::forbidden)
    }

    /// Calls `f` with every object read.
    pub fn for_each(&self, f: impl FnMut(&ObjectImages)) {
        self.lock().objects.values().for_each(f);
    }

    /// The state now, with the problem that makes protection unavailable, if any.
    pub fn view(&self, staleness: Duration) -> KindView {
        let inner = self.lock();
        let error = inner.error.as_ref().map(|e| e.message.clone());
        let since = inner.contact.map(|(at, _)| at.elapsed());
        let problem = match (&inner.missing, &inner.error) {
            (Some(_), _) => None,
            (None, Some(e)) if e.forbidden() => Some(e.message.clone()),
            _ if !inner.synced => Some(match &error {
                Some(e) => format!("not listed yet: {e}"),
                None => "initial list not finished".to_owned(),
            }),
            _ => since.filter(|s| *s > staleness).map(|since| {
                let last = error.as_ref().map(|e| format!("; last error: {e}"));
                format!(
                    "no event or bookmark for {}s (staleness {}s){}",
                    since.as_secs(),
                    staleness.as_secs(),
                    last.unwrap_or_default()
                )
            }),
        };
        KindView {
            kind: self.name.resource.clone(),
            namespace: self.namespace.clone(),
            objects: inner.objects.len(),
            synced: inner.synced,
            last_contact: inner.contact.map(|(_, at)| at),
            error,
            skipped: inner.missing.clone(),
            problem,
        }
    }
}

/// One configured cluster: its connection state and the kinds read in it.
pub struct ClusterState {
    pub name: String,
    /// Why the client could not be set up (kubeconfig unreadable, not in a cluster), if so.
    setup_error: Mutex<Option<String>>,
    pub kinds: Vec<Arc<KindState>>,
}

impl ClusterState {
    pub fn new(name: &str, kinds: Vec<Arc<KindState>>) -> Self {
        ClusterState {
            name: name.to_owned(),
            setup_error: Mutex::new(None),
            kinds,
        }
    }

    /// Records (or clears, with `None`) why the cluster cannot be connected to.
    pub fn set_setup_error(&self, error: Option<String>) {
        *self.setup_error.lock().unwrap_or_else(|p| p.into_inner()) = error;
    }

    /// Why the cluster cannot be connected to, if it cannot.
    pub fn setup_error(&self) -> Option<String> {
        self.setup_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
