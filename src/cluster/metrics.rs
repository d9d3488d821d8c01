//! Cluster protection metrics, computed from the source's snapshot at scrape time: per cluster
//! `up`, last sync time, images in use; per cluster and kind `up` and unparsable references.
//! Label values are configured cluster names and kind names only; never an image or an error.

use std::collections::BTreeMap;
use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntGaugeVec, Opts, Registry};

use super::source::{KubernetesProtection, Shared};

/// The metrics of one [`KubernetesProtection`]; register once into the daemon's registry.
pub struct ClusterMetrics {
    shared: Arc<Shared>,
    up: IntGaugeVec,
    last_sync: IntGaugeVec,
    images: IntGaugeVec,
    kind_up: IntGaugeVec,
    unparsable: IntGaugeVec,
}

impl ClusterMetrics {
    /// Metrics reading `source`'s state (they keep the state alive, not the workers).
    pub fn new(source: &KubernetesProtection) -> Self {
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            IntGaugeVec::new(Opts::new(name, help), labels).expect("static definition")
        };
        ClusterMetrics {
            shared: source.shared(),
            up: gauge(
                "protection_up",
                "1 when every kind of the cluster is listed and fresh",
                &["cluster"],
            ),
            last_sync: gauge(
                "protection_last_sync_timestamp_seconds",
                "Unix time every kind of the cluster was last heard from (list, event or bookmark)",
                &["cluster"],
            ),
            images: gauge(
                "protection_images_in_use",
                "Distinct images (tags and digests) the cluster uses",
                &["cluster"],
            ),
            kind_up: gauge(
                "protection_kind_up",
                "1 when the kind is listed and fresh in every namespace read (skipped kinds count as up)",
                &["cluster", "kind"],
            ),
            unparsable: gauge(
                "protection_unparsable_references",
                "Image references or imageIDs that cannot be parsed (never matched)",
                &["cluster", "kind"],
            ),
        }
    }

    /// Registers into the daemon's registry (which adds the `registry_gc_` prefix).
    pub fn register(self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self))
    }

    fn all(&self) -> [&IntGaugeVec; 5] {
        [
            &self.up,
            &self.last_sync,
            &self.images,
            &self.kind_up,
            &self.unparsable,
        ]
    }

    fn refresh(&self) {
        let snapshot = self.shared.snapshot();
        for (status, index) in snapshot.clusters.iter().zip(snapshot.index.iter()) {
            let cluster = status.name.as_str();
            self.up.with_label_values(&[cluster]).set(status.up.into());
            let last = status.last_sync.map_or(0, |t| t.timestamp());
            self.last_sync.with_label_values(&[cluster]).set(last);
            self.images
                .with_label_values(&[cluster])
                .set(index.images.len() as i64);
            // Several namespaces: a kind is up only if it is up in every one.
            let mut kinds: BTreeMap<&str, bool> = BTreeMap::new();
            for kind in &status.kinds {
                *kinds.entry(kind.kind.as_str()).or_insert(true) &= kind.problem.is_none();
            }
            for (kind, up) in kinds {
                let labels = [cluster, kind];
                self.kind_up.with_label_values(&labels).set(up.into());
                let count = index.unparsable_by_kind.get(kind).copied().unwrap_or(0);
                self.unparsable.with_label_values(&labels).set(count as i64);
            }
        }
    }
}

impl Collector for ClusterMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.all().into_iter().flat_map(|g| g.desc()).collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.refresh();
        self.all().into_iter().flat_map(|g| g.collect()).collect()
    }
}
