//! The tasks behind the source: per cluster, connect (retrying), then one list-and-watch worker per
//! (kind, namespace); extra kinds are found by discovery first and skipped while their CRD is not
//! installed. Owns task wiring only; reading is `watch`'s, judging freshness is `store`'s.

use std::fmt::Debug;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{DynamicObject, GroupVersionKind};
use kube::discovery::{self, Scope};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::task::JoinSet;

use super::connect::Connection;
use super::dynamic::{self, FieldPath};
use super::extract::{Images, ObjectImages};
use super::kinds::Builtin;
use super::store::{ClusterState, KindState};
use super::watch::{self, Backoff, Extract, Timing};

/// A configured extra kind, ready to discover.
pub struct Extra {
    pub gvk: GroupVersionKind,
    pub paths: Arc<Vec<FieldPath>>,
}

/// What one worker reads.
pub enum Work {
    Builtin(Builtin),
    Extra(Arc<Extra>),
}

/// Connects to the cluster (retrying with backoff), then runs every worker until aborted.
pub async fn run_cluster(
    connection: Connection,
    cluster: Arc<ClusterState>,
    work: Vec<(Work, Arc<KindState>)>,
    timing: Timing,
) {
    let mut backoff = Backoff::new(timing.retry_max);
    let client = loop {
        match connection.client(timing.request_timeout).await {
            Ok(client) => break client,
            Err(error) => {
                tracing::warn!(cluster = %cluster.name, %error, "cannot connect to the cluster; retrying");
                cluster.set_setup_error(Some(error));
                tokio::time::sleep(backoff.next()).await;
            }
        }
    };
    cluster.set_setup_error(None);
    // Dropping the set (when this task is aborted) aborts every worker.
    let mut workers = JoinSet::new();
    for (what, state) in work {
        match what {
            Work::Builtin(kind) => spawn_builtin(&mut workers, kind, client.clone(), state, timing),
            Work::Extra(extra) => {
                workers.spawn(run_extra(client.clone(), extra, state, timing));
            }
        }
    }
    while let Some(ended) = workers.join_next().await {
        // Workers run until aborted; one that panicked leaves its kind to go stale (unavailable).
        if let Err(error) = ended {
            tracing::error!(cluster = %cluster.name, %error, "a cluster worker stopped");
        }
    }
}

fn spawn_builtin(
    set: &mut JoinSet<()>,
    kind: Builtin,
    client: Client,
    state: Arc<KindState>,
    timing: Timing,
) {
    match kind {
        Builtin::Pod => spawn_typed::<Pod>(set, client, state, timing),
        Builtin::Deployment => spawn_typed::<Deployment>(set, client, state, timing),
        Builtin::ReplicaSet => spawn_typed::<ReplicaSet>(set, client, state, timing),
        Builtin::StatefulSet => spawn_typed::<StatefulSet>(set, client, state, timing),
        Builtin::DaemonSet => spawn_typed::<DaemonSet>(set, client, state, timing),
        Builtin::Job => spawn_typed::<Job>(set, client, state, timing),
        Builtin::CronJob => spawn_typed::<CronJob>(set, client, state, timing),
        Builtin::ReplicationController => {
            spawn_typed::<ReplicationController>(set, client, state, timing)
        }
    }
}

fn spawn_typed<K>(set: &mut JoinSet<()>, client: Client, state: Arc<KindState>, timing: Timing)
where
    K: Images
        + Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    let api: Api<K> = match &state.namespace {
        Some(namespace) => Api::namespaced(client, namespace),
        None => Api::all(client),
    };
    let extract: Extract<K> = Arc::new(|object: &K| object.images());
    set.spawn(watch::run(api, extract, state, timing));
}

/// Discovers an extra kind, then lists and watches it; while the cluster does not serve it, it is
/// skipped (with a warning) and looked for again.
async fn run_extra(client: Client, extra: Arc<Extra>, state: Arc<KindState>, timing: Timing) {
    let mut backoff = Backoff::new(timing.retry_max);
    let mut warned = false;
    loop {
        let found = tokio::time::timeout(
            timing.request_timeout,
            discovery::pinned_kind(&client, &extra.gvk),
        )
        .await;
        match found {
            Ok(Ok((resource, capabilities))) => {
                let api = match (&state.namespace, capabilities.scope) {
                    (Some(ns), Scope::Namespaced) => Api::namespaced_with(client, ns, &resource),
                    _ => Api::all_with(client, &resource),
                };
                let paths = extra.paths.clone();
                let extract: Extract<DynamicObject> = Arc::new(move |object: &DynamicObject| {
                    let mut found = ObjectImages::named(object);
                    dynamic::images(&object.data, &paths, &mut found);
                    found
                });
                return watch::run(api, extract, state, timing).await;
            }
            Ok(Err(error)) if not_served(&error) => {
                if !warned {
                    tracing::warn!(cluster = %state.cluster, kind = %state.name.resource, %error,
                        "kind not served by the cluster (CRD not installed?): skipped");
                    warned = true;
                }
                state.mark_missing(format!("not served by the cluster: {error}"));
                tokio::time::sleep(timing.retry_max).await;
            }
            Ok(Err(error)) => {
                state.fail(watch::from_kube(error));
                tokio::time::sleep(backoff.next()).await;
            }
            Err(_) => {
                let message = format!(
                    "discovery timed out after {}ms",
                    timing.request_timeout.as_millis()
                );
                state.fail(super::store::Failure {
                    message,
                    code: None,
                });
                tokio::time::sleep(backoff.next()).await;
            }
        }
    }
}

/// The group/version is not served (404) or does not have the kind.
fn not_served(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code == 404,
        kube::Error::Discovery(_) => true,
        _ => false,
    }
}
