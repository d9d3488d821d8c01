//! The `[cluster]` settings of Kubernetes cluster protection: which clusters (in-cluster and
//! kubeconfig files), namespaces, extra kinds, registry host aliases, staleness and timeouts, and
//! their validation with messages naming the key. Only data: never reads a file or a cluster.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Cluster protection settings (`[cluster]`, used when `gc.cluster_protection = "kubernetes"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// The clusters whose images are protected; what is in use in any of them is kept.
    /// Default: the cluster registry-gc runs in, named `in-cluster`.
    pub clusters: Vec<ClusterEntry>,
    /// Kubeconfig files of further clusters, each a cluster named after its file name (without
    /// extension), beside `clusters` (the Helm chart writes this list).
    pub kubeconfigs: Vec<PathBuf>,
    /// Namespaces read in every cluster; empty means all namespaces (needs a ClusterRole).
    pub namespaces: Vec<String>,
    /// Further kinds that name images (Argo Rollouts, Knative Services, ControllerRevisions).
    pub extra_kinds: Vec<ExtraKind>,
    /// Other names of a registry: another host or port, a pull-through cache or mirror prefix.
    pub aliases: Vec<HostAlias>,
    /// A kind that produced no event, bookmark or list for this long makes protection
    /// unavailable. API servers send a bookmark about every minute on a healthy watch.
    pub staleness_secs: u64,
    /// Timeout of one list page or watch request.
    pub request_timeout_ms: u64,
    /// How long a caller waits for a cluster's first list before protection counts as unavailable.
    pub sync_timeout_ms: u64,
    /// `timeoutSeconds` of each watch request (the API server ends the watch after it).
    pub watch_timeout_secs: u32,
    /// Objects per list page (`limit`).
    pub page_size: u32,
    /// Longest wait between retries after an error (doubling from a tenth of a second).
    pub retry_max_ms: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            clusters: vec![ClusterEntry::in_cluster()],
            kubeconfigs: Vec::new(),
            namespaces: Vec::new(),
            extra_kinds: Vec::new(),
            aliases: Vec::new(),
            staleness_secs: 300,
            request_timeout_ms: 30_000,
            sync_timeout_ms: 60_000,
            watch_timeout_secs: 290,
            page_size: 500,
            retry_max_ms: 30_000,
        }
    }
}

/// One cluster: the one registry-gc runs in (no `kubeconfig`), or one reached by a kubeconfig file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterEntry {
    /// Name shown in plans, logs and metric labels (`[a-z0-9-]`, unique).
    pub name: String,
    /// Kubeconfig file (e.g. mounted from a Secret); absent means in-cluster service account.
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig; absent means its current context.
    #[serde(default)]
    pub context: Option<String>,
    /// Namespaces for this cluster, instead of the shared `namespaces`.
    #[serde(default)]
    pub namespaces: Option<Vec<String>>,
}

impl ClusterEntry {
    /// The cluster registry-gc runs in, through its service account.
    pub fn in_cluster() -> Self {
        ClusterEntry {
            name: "in-cluster".into(),
            kubeconfig: None,
            context: None,
            namespaces: None,
        }
    }
}

/// A further kind to read, found by group/version/kind through API discovery.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraKind {
    /// API group (`argoproj.io`; empty for the core group).
    #[serde(default)]
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Dotted paths to a pod spec (an object with `containers`) or an image string;
    /// `name[]` steps into every element of a list: `["spec.template.spec"]`.
    pub paths: Vec<String>,
}

/// `alias` (`host[:port][/prefix]`) is another name of `canonical` (`host[:port][/prefix]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostAlias {
    pub alias: String,
    pub canonical: String,
}

impl ClusterSettings {
    /// The settings with every `kubeconfigs` file folded into `clusters`.
    pub fn resolved(&self) -> ClusterSettings {
        let mut out = self.clone();
        for path in std::mem::take(&mut out.kubeconfigs) {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let name: String = stem
                .to_ascii_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            out.clusters.push(ClusterEntry {
                name: name.trim_matches('-').to_owned(),
                kubeconfig: Some(path),
                context: None,
                namespaces: None,
            });
        }
        out
    }

    /// Staleness as a duration.
    pub fn staleness(&self) -> Duration {
        Duration::from_secs(self.staleness_secs)
    }

    /// Request timeout as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Initial sync wait as a duration.
    pub fn sync_timeout(&self) -> Duration {
        Duration::from_millis(self.sync_timeout_ms)
    }

    /// The namespaces read in `cluster` (empty: all).
    pub fn namespaces_of<'a>(&'a self, cluster: &'a ClusterEntry) -> &'a [String] {
        cluster.namespaces.as_deref().unwrap_or(&self.namespaces)
    }

    /// Every problem, each naming its key under `prefix` (e.g. `cluster`).
    pub fn validate(&self, prefix: &str, errors: &mut Vec<String>) {
        if self.clusters.is_empty() {
            errors.push(format!(
                "{prefix}.clusters: at least one cluster is required"
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, c) in self.clusters.iter().enumerate() {
            let key = format!("{prefix}.clusters[{i}]");
            if !is_label(&c.name) {
                errors.push(format!(
                    "{key}.name: {:?} must be 1-63 of [a-z0-9-]",
                    c.name
                ));
            } else if !names.insert(c.name.as_str()) {
                errors.push(format!("{key}.name: {:?} is used twice", c.name));
            }
            if c.kubeconfig.is_none() && c.context.is_some() {
                errors.push(format!("{key}.context: only meaningful with a kubeconfig"));
            }
            if let Some(namespaces) = &c.namespaces {
                check_namespaces(namespaces, &format!("{key}.namespaces"), errors);
            }
        }
        if self
            .clusters
            .iter()
            .filter(|c| c.kubeconfig.is_none())
            .count()
            > 1
        {
            errors.push(format!(
                "{prefix}.clusters: only one in-cluster entry (without kubeconfig)"
            ));
        }
        check_namespaces(&self.namespaces, &format!("{prefix}.namespaces"), errors);
        for (i, kind) in self.extra_kinds.iter().enumerate() {
            kind.validate(&format!("{prefix}.extra_kinds[{i}]"), errors);
        }
        for (i, alias) in self.aliases.iter().enumerate() {
            let key = format!("{prefix}.aliases[{i}]");
            if let Err(e) = super::alias::Alias::parse(&alias.alias, &alias.canonical) {
                errors.push(format!("{key}: {e}"));
            }
        }
        self.validate_times(prefix, errors);
    }

    fn validate_times(&self, prefix: &str, errors: &mut Vec<String>) {
        let mut positive = |key: &str, value: u64| {
            if value == 0 {
                errors.push(format!("{prefix}.{key}: must be greater than 0"));
            }
        };
        positive("staleness_secs", self.staleness_secs);
        positive("request_timeout_ms", self.request_timeout_ms);
        positive("sync_timeout_ms", self.sync_timeout_ms);
        positive("page_size", self.page_size.into());
        positive("retry_max_ms", self.retry_max_ms);
        if !(1..295).contains(&self.watch_timeout_secs) {
            errors.push(format!(
                "{prefix}.watch_timeout_secs: {} must be between 1 and 294",
                self.watch_timeout_secs
            ));
        }
    }
}

impl ExtraKind {
    fn validate(&self, key: &str, errors: &mut Vec<String>) {
        if self.version.trim().is_empty() {
            errors.push(format!("{key}.version: required (e.g. \"v1alpha1\")"));
        }
        if self.kind.trim().is_empty() {
            errors.push(format!("{key}.kind: required (e.g. \"Rollout\")"));
        }
        if self.paths.is_empty() {
            errors.push(format!(
                "{key}.paths: at least one path (e.g. \"spec.template.spec\")"
            ));
        }
        for (i, path) in self.paths.iter().enumerate() {
            if let Err(e) = super::dynamic::FieldPath::parse(path) {
                errors.push(format!("{key}.paths[{i}]: {e}"));
            }
        }
    }
}

fn check_namespaces(namespaces: &[String], key: &str, errors: &mut Vec<String>) {
    for (i, ns) in namespaces.iter().enumerate() {
        if !is_label(ns) {
            errors.push(format!("{key}[{i}]: {ns:?} is not a namespace name"));
        }
    }
}

/// A DNS label: what Kubernetes allows as a namespace name, and what we allow as a cluster name.
fn is_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(toml: &str) -> Vec<String> {
        let settings: ClusterSettings = toml::from_str(toml).expect("parses");
        let mut errors = Vec::new();
        settings.validate("cluster", &mut errors);
        errors
    }

    #[test]
    fn defaults_are_valid_and_read_the_own_cluster() {
        assert!(errors("").is_empty());
        assert_eq!(ClusterSettings::default().clusters[0].name, "in-cluster");
    }

    #[test]
    fn messages_name_the_key() {
        let found = errors(
            r#"
            namespaces = ["Shop"]
            staleness_secs = 0
            watch_timeout_secs = 300
            [[clusters]]
            name = "prod"
            [[clusters]]
            name = "prod"
            kubeconfig = "/k"
            [[extra_kinds]]
            version = "v1alpha1"
            kind = "Rollout"
            paths = ["spec..x"]
            [[aliases]]
            alias = ""
            canonical = "registry.example.com"
            "#,
        );
        let joined = found.join("\n");
        for key in [
            "cluster.namespaces[0]",
            "cluster.staleness_secs",
            "cluster.watch_timeout_secs",
            "cluster.clusters[1].name",
            "cluster.extra_kinds[0].paths[0]",
            "cluster.aliases[0]",
        ] {
            assert!(joined.contains(key), "{key} missing in {joined}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<ClusterSettings>("stalenes_secs = 3").is_err());
    }
}
