//! The Kubernetes protection source: starts the workers of every configured cluster, waits (up to
//! the sync timeout after start) for their first lists, and answers with a `ClusterImages`
//! snapshot or the policy's `Protections`, cheaply enough to re-check before every repository.
//! Never answers "available" for a cluster or kind that is not listed and fresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use kube::api::GroupVersionKind;
use tokio::sync::watch as channel;
use tokio::task::AbortHandle;

use super::alias::{Alias, Aliases};
use super::connect::Connection;
use super::dynamic::FieldPath;
use super::images::{self, ClusterImages, ClusterIndex};
use super::kinds::{Builtin, KindName};
use super::protection::ProtectionSource;
use super::settings::ClusterSettings;
use super::store::{Changes, ClusterState, KindState};
use super::watch::Timing;
use super::workers::{run_cluster, Extra, Work};
use crate::policy::Protections;

/// Images in use in the configured clusters, kept current by list-and-watch workers.
/// The workers stop when this is dropped.
pub struct KubernetesProtection {
    shared: Arc<Shared>,
    tasks: Vec<AbortHandle>,
}

/// What the source and its metrics read.
pub(crate) struct Shared {
    staleness: Duration,
    sync_deadline: Instant,
    aliases: Aliases,
    clusters: Vec<Arc<ClusterState>>,
    changes: Changes,
    /// The last index and the change generation it was built at.
    cache: Mutex<Option<(u64, Arc<Vec<ClusterIndex>>)>>,
}

impl KubernetesProtection {
    /// Validates `settings` and starts reading every cluster. Needs a Tokio runtime.
    pub fn start(settings: &ClusterSettings) -> Result<Self, String> {
        Self::start_with(settings, HashMap::new())
    }

    /// Like [`Self::start`], with the connection of some clusters (by name) given by the caller.
    pub fn start_with(
        settings: &ClusterSettings,
        mut connections: HashMap<String, Connection>,
    ) -> Result<Self, String> {
        let mut errors = Vec::new();
        settings.validate("cluster", &mut errors);
        if !errors.is_empty() {
            return Err(errors.join("; "));
        }
        let aliases = settings
            .aliases
            .iter()
            .map(|a| Alias::parse(&a.alias, &a.canonical))
            .collect::<Result<Vec<_>, _>>()?;
        let extras = extras(settings)?;
        let changes: Changes = Arc::new(channel::channel(0).0);
        let timing = Timing {
            page_size: settings.page_size,
            request_timeout: settings.request_timeout(),
            idle: settings.staleness() / 2,
            watch_timeout_secs: settings.watch_timeout_secs,
            retry_max: Duration::from_millis(settings.retry_max_ms),
        };
        let (mut clusters, mut tasks) = (Vec::new(), Vec::new());
        for entry in &settings.clusters {
            let scopes: Vec<Option<String>> = match settings.namespaces_of(entry) {
                [] => vec![None],
                namespaces => namespaces.iter().cloned().map(Some).collect(),
            };
            let work = plan_work(&entry.name, &scopes, &extras, &changes);
            let kinds = work.iter().map(|(_, state)| state.clone()).collect();
            let cluster = Arc::new(ClusterState::new(&entry.name, kinds));
            let connection = connections
                .remove(&entry.name)
                .unwrap_or_else(|| Connection::of(entry));
            let task = tokio::spawn(run_cluster(connection, cluster.clone(), work, timing));
            tasks.push(task.abort_handle());
            clusters.push(cluster);
        }
        let shared = Shared {
            staleness: settings.staleness(),
            sync_deadline: Instant::now() + settings.sync_timeout(),
            aliases: Aliases::new(aliases),
            clusters,
            changes,
            cache: Mutex::new(None),
        };
        Ok(KubernetesProtection {
            shared: Arc::new(shared),
            tasks,
        })
    }

    /// The snapshot now, after waiting (only until the sync timeout after start) for first lists.
    pub async fn images(&self) -> ClusterImages {
        self.wait_for_first_lists().await;
        self.shared.snapshot()
    }

    /// Protections for the registry at `host`; see [`ClusterImages::protections_for`].
    pub async fn protections_for(&self, host: &str) -> Protections {
        self.images().await.protections_for(host)
    }

    /// The snapshot now, without waiting (for metrics and status pages).
    pub fn snapshot_now(&self) -> ClusterImages {
        self.shared.snapshot()
    }

    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    async fn wait_for_first_lists(&self) {
        let mut changed = self.shared.changes.subscribe();
        loop {
            let pending = self
                .shared
                .clusters
                .iter()
                .flat_map(|c| &c.kinds)
                .any(|k| k.pending());
            let left = self
                .shared
                .sync_deadline
                .saturating_duration_since(Instant::now());
            if !pending || left.is_zero() {
                return;
            }
            match tokio::time::timeout(left, changed.changed()).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
    }
}

impl Drop for KubernetesProtection {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[async_trait::async_trait]
impl ProtectionSource for KubernetesProtection {
    /// Every registry host at once (the trait has no host); the GC should prefer
    /// [`KubernetesProtection::protections_for`] with each project's registry host.
    async fn protections(&self) -> Protections {
        self.images().await.protections_anywhere()
    }

    async fn protections_for(&self, host: &str) -> Protections {
        self.images().await.protections_for(host)
    }
}

impl Shared {
    /// The snapshot now: the cached index if nothing changed since, the health recomputed.
    pub(crate) fn snapshot(&self) -> ClusterImages {
        let generation = *self.changes.borrow();
        let index = {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            match &*cache {
                Some((built_at, index)) if *built_at == generation => index.clone(),
                _ => {
                    let index = Arc::new(images::index(&self.clusters, &self.aliases));
                    *cache = Some((generation, index.clone()));
                    index
                }
            }
        };
        ClusterImages {
            taken_at: Utc::now(),
            clusters: self
                .clusters
                .iter()
                .map(|c| images::status(c, self.staleness))
                .collect(),
            index,
        }
    }
}

/// One kind state and its work per (kind, namespace scope).
fn plan_work(
    cluster: &str,
    scopes: &[Option<String>],
    extras: &[(KindName, Arc<Extra>)],
    changes: &Changes,
) -> Vec<(Work, Arc<KindState>)> {
    let mut work = Vec::new();
    for scope in scopes {
        let state = |name: KindName| {
            Arc::new(KindState::new(
                cluster,
                name,
                scope.clone(),
                changes.clone(),
            ))
        };
        for kind in Builtin::ALL {
            work.push((Work::Builtin(kind), state(KindName::builtin(kind))));
        }
        for (name, extra) in extras {
            work.push((Work::Extra(extra.clone()), state(name.clone())));
        }
    }
    work
}

fn extras(settings: &ClusterSettings) -> Result<Vec<(KindName, Arc<Extra>)>, String> {
    settings
        .extra_kinds
        .iter()
        .map(|k| {
            let paths = k
                .paths
                .iter()
                .map(|p| FieldPath::parse(p))
                .collect::<Result<_, _>>()?;
            let extra = Extra {
                gvk: GroupVersionKind::gvk(&k.group, &k.version, &k.kind),
                paths: Arc::new(paths),
            };
            Ok((KindName::extra(&k.group, &k.kind), Arc::new(extra)))
        })
        .collect()
}
