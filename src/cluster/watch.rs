//! The list-then-watch loop for one (cluster, kind, namespace): a paginated list, then a watch from
//! its resourceVersion with bookmarks, a fresh list on `410 Gone` or when the watch stays silent,
//! and capped exponential backoff after errors. Every object is reduced to its images on arrival.
//! Written on `Api::list`/`Api::watch` because bookmarks are the liveness signal and kube's
//! runtime watcher does not surface them. Must never give up: it retries until aborted.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::extract::ObjectImages;
use super::store::{Failure, KindState, ObjectKey};

/// Reduces one object to its images.
pub type Extract<K> = Arc<dyn Fn(&K) -> ObjectImages + Send + Sync>;

/// Sizes and timeouts of the loop.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub page_size: u32,
    /// Per list page and per watch start.
    pub request_timeout: Duration,
    /// A watch silent for this long is dropped for a fresh list (half the staleness).
    pub idle: Duration,
    pub watch_timeout_secs: u32,
    pub retry_max: Duration,
}

/// Why a watch ended without an error: 410 Gone or silence, so list again.
enum Ended {
    /// `heard`: the watch delivered something before it ended (else the relist waits first,
    /// so a server answering every watch with 410 at once is not hammered).
    Relist { heard: bool },
}

/// Lists and watches until the task is aborted.
pub async fn run<K>(api: Api<K>, extract: Extract<K>, state: Arc<KindState>, timing: Timing)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut backoff = Backoff::new(timing.retry_max);
    loop {
        let outcome = match list(&api, &extract, &state, &timing).await {
            Ok(version) => watch(&api, &extract, &state, &timing, version, &mut backoff).await,
            Err(failure) => Err(failure),
        };
        match outcome {
            Ok(Ended::Relist { heard: true }) => {}
            Ok(Ended::Relist { heard: false }) => tokio::time::sleep(backoff.next()).await,
            Err(failure) => {
                tracing::warn!(
                    cluster = %state.cluster,
                    kind = %state.name.resource,
                    scope = %state.scope(),
                    error = %failure.message,
                    "cannot read the cluster; retrying"
                );
                state.fail(failure);
                tokio::time::sleep(backoff.next()).await;
            }
        }
    }
}

/// A full paginated list; replaces the kind's objects and returns the list's resourceVersion.
async fn list<K>(
    api: &Api<K>,
    extract: &Extract<K>,
    state: &KindState,
    timing: &Timing,
) -> Result<String, Failure>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut objects: HashMap<ObjectKey, ObjectImages> = HashMap::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(timing.page_size);
        params.continue_token = token.take();
        let page = within(timing.request_timeout, "list", api.list(&params)).await?;
        state.touch();
        for item in &page.items {
            let found = extract(item);
            objects.insert((found.namespace.clone(), found.name.clone()), found);
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(next) => token = Some(next),
            None => {
                let version = page
                    .metadata
                    .resource_version
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| failure("the list has no resourceVersion"))?;
                state.replace(objects);
                return Ok(version);
            }
        }
    }
}

/// Watches from `version`, resuming after each server-side timeout, until a relist is needed.
async fn watch<K>(
    api: &Api<K>,
    extract: &Extract<K>,
    state: &KindState,
    timing: &Timing,
    mut version: String,
    backoff: &mut Backoff,
) -> Result<Ended, Failure>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let params = WatchParams::default().timeout(timing.watch_timeout_secs);
    loop {
        let stream = match within(
            timing.request_timeout,
            "watch",
            api.watch(&params, &version),
        )
        .await
        {
            Err(f) if f.code == Some(410) => return Ok(Ended::Relist { heard: false }),
            other => other?,
        };
        let mut stream = std::pin::pin!(stream);
        let mut heard = false;
        loop {
            let event = match tokio::time::timeout(timing.idle, stream.next()).await {
                Err(_silent) => return Ok(Ended::Relist { heard }),
                Ok(None) => break,
                Ok(Some(event)) => event.map_err(from_kube)?,
            };
            if !heard {
                heard = true;
                backoff.reset();
            }
            if let Some(ended) = apply_event(event, &mut version, extract, state, heard)? {
                return Ok(ended);
            }
        }
        // The server ended the watch (its timeoutSeconds): resume. Without a single event in it,
        // wait first, so a server that closes every watch at once is not hammered.
        if !heard {
            tokio::time::sleep(backoff.next()).await;
        }
    }
}

/// Applies one watch event to the kind's store and moves `version` on; `Some` when the watch must
/// end for a fresh list (410 Gone).
fn apply_event<K>(
    event: WatchEvent<K>,
    version: &mut String,
    extract: &Extract<K>,
    state: &KindState,
    heard: bool,
) -> Result<Option<Ended>, Failure>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    match event {
        WatchEvent::Added(object) | WatchEvent::Modified(object) => {
            if let Some(v) = object.resource_version() {
                *version = v;
            }
            state.apply(extract(&object));
        }
        WatchEvent::Deleted(object) => {
            if let Some(v) = object.resource_version() {
                *version = v;
            }
            state.remove(&(object.namespace(), object.name_any()));
        }
        WatchEvent::Bookmark(bookmark) => {
            *version = bookmark.metadata.resource_version;
            state.touch();
        }
        WatchEvent::Error(status) if status.code == 410 => {
            return Ok(Some(Ended::Relist { heard }))
        }
        WatchEvent::Error(status) => return Err(from_status(&status)),
    }
    Ok(None)
}

/// `request` within `limit`, its error described.
async fn within<T>(
    limit: Duration,
    what: &str,
    request: impl Future<Output = Result<T, kube::Error>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(limit, request).await {
        Ok(result) => result.map_err(from_kube),
        Err(_) => Err(failure(&format!(
            "{what} timed out after {}ms",
            limit.as_millis()
        ))),
    }
}

fn failure(message: &str) -> Failure {
    Failure {
        message: message.to_owned(),
        code: None,
    }
}

/// A kube error as shown to operators: an API status with its code, anything else as kube says it
/// (kube's messages name URLs and causes, never the credentials).
pub fn from_kube(error: kube::Error) -> Failure {
    match &error {
        kube::Error::Api(status) => from_status(status),
        other => failure(&other.to_string()),
    }
}

fn from_status(status: &kube::core::Status) -> Failure {
    Failure {
        message: format!("{} {}: {}", status.code, status.reason, status.message),
        code: Some(status.code),
    }
}

/// Exponential backoff from 100 ms, doubling up to a maximum.
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(max: Duration) -> Self {
        let mut backoff = Backoff {
            next: Duration::ZERO,
            max,
        };
        backoff.reset();
        backoff
    }

    /// Back to the first delay after a success.
    pub fn reset(&mut self) {
        self.next = Duration::from_millis(100).min(self.max);
    }

    /// The delay to wait now; the one after is twice as long, up to the maximum.
    pub fn next(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.max);
        now
    }
}
