//! Connecting to one cluster: the in-cluster service account, a kubeconfig file (optionally one of
//! its contexts), or a prepared `kube::Config`. Must never log or return a credential: errors from
//! parsing a kubeconfig are reduced to what cannot quote its content.

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};

use super::settings::ClusterEntry;

/// How to reach one cluster.
pub enum Connection {
    /// The service account of the pod registry-gc runs in.
    InCluster,
    /// A kubeconfig file, and the context to use (its current one when `None`).
    Kubeconfig {
        path: PathBuf,
        context: Option<String>,
    },
    /// A configuration built by the caller (tests and tools).
    Config(Box<kube::Config>),
}

impl Connection {
    /// The connection a configured cluster asks for.
    pub fn of(entry: &ClusterEntry) -> Self {
        match &entry.kubeconfig {
            None => Connection::InCluster,
            Some(path) => Connection::Kubeconfig {
                path: path.clone(),
                context: entry.context.clone(),
            },
        }
    }

    /// A client; `connect_timeout` bounds connecting (watches are long reads, bounded elsewhere).
    pub async fn client(&self, connect_timeout: Duration) -> Result<kube::Client, String> {
        let mut config = match self {
            Connection::InCluster => kube::Config::incluster()
                .map_err(|e| format!("not running in a cluster or no service account: {e}"))?,
            Connection::Kubeconfig { path, context } => {
                let kubeconfig = Kubeconfig::read_from(path).map_err(describe)?;
                let options = KubeConfigOptions {
                    context: context.clone(),
                    ..KubeConfigOptions::default()
                };
                kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(describe)?
            }
            Connection::Config(config) => (**config).clone(),
        };
        config.connect_timeout = Some(connect_timeout);
        config.read_timeout = None;
        kube::Client::try_from(config).map_err(|e| format!("cannot build a Kubernetes client: {e}"))
    }
}

/// A kubeconfig error as shown to operators. A YAML error can quote the file, which may hold a
/// token, so only its kind is said.
fn describe(error: KubeconfigError) -> String {
    match error {
        KubeconfigError::Parse(_) => "kubeconfig: not valid kubeconfig YAML".to_owned(),
        other => format!("kubeconfig: {other}"),
    }
}
