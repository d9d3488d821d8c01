//! The garbage-collection run: read the registry, plan with the policy, journal, execute, record.
//! Dry-run is the default. Runs never overlap (in-process lock plus the store's GC lock). When the
//! state it needs is missing (registry unreachable, no registry configured, cluster protection
//! unavailable) it deletes nothing in that scope and says why in the run, the logs and the metrics.

mod carry;
mod execute;
mod faults;
mod images;
mod journal;
mod lease;
mod plan;
mod remove;
mod resume;
mod run;
pub mod schedule;
mod summary;
mod survey;

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use execute::{ExecError, Executor, Sibling};
pub use faults::{CrashPoint, Faults};
pub use journal::{Journal, MemoryJournal, StoreJournal};
pub use plan::ProjectPlan;
pub use remove::{remove_tags, RemovalOutcome, RemovalReport, RemovedTag};
pub use summary::{Refusal, RunError, RunSummary, TagOutcome};
pub use survey::read as read_registry;

use crate::clock::Clock;
use crate::cluster::ProtectionSource;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::registry::{RegistryClient, RegistryError};
use crate::store::{SharedStore, StoreError};

/// How long webhook delivery keys are kept for deduplication. GitLab resends from the last two days
/// of its logs; a week leaves room.
const DELIVERY_KEY_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// Why a run did not happen or stopped, or a project could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("a garbage-collection run is already in progress")]
    AlreadyRunning,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stopped at the test crash point")]
    Crashed,
    #[error("the run ended abnormally: {0}")]
    Aborted(String),
    #[error("project {0} has not been heard from by webhook yet")]
    UnknownProject(String),
    #[error("{0} (pin the project's id in the configuration)")]
    AmbiguousProject(String),
    #[error("no [[registries]] entry for registry host {0:?}")]
    NoRegistry(String),
    #[error("registry {host} is unreachable: {error}")]
    RegistryUnreachable {
        host: String,
        error: Box<RegistryError>,
    },
}

impl GcError {
    /// Why planning this project was refused, if it was.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            GcError::UnknownProject(_) => Some(Refusal::ProjectUnknown),
            GcError::AmbiguousProject(_) => Some(Refusal::ProjectAmbiguous),
            GcError::NoRegistry(_) => Some(Refusal::NoRegistryConfigured),
            GcError::RegistryUnreachable { .. } => Some(Refusal::RegistryUnreachable),
            _ => None,
        }
    }
}

impl From<ExecError> for GcError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Store(e) => GcError::Store(e),
            ExecError::Crashed => GcError::Crashed,
        }
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Schedule,
    Api,
    Cli,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Api => "api",
            Trigger::Cli => "cli",
        }
    }
}

/// The garbage collector; cheap to clone, shared by the scheduler and the API.
#[derive(Clone)]
pub struct Gc {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Config>,
    store: SharedStore,
    clients: HashMap<String, RegistryClient>,
    protection: Arc<dyn ProtectionSource>,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    running: tokio::sync::Mutex<()>,
    faults: Faults,
    /// Cancelled at shutdown: runs stop at their next safe point.
    stop: CancellationToken,
    /// The current run's stop: a child of `stop`, also cancelled when the run loses the GC lock.
    run_stop: std::sync::Mutex<CancellationToken>,
    /// Where runs started in the background go, so shutdown can wait for them.
    tasks: TaskTracker,
}

impl Gc {
    /// Builds a registry client per `[[registries]]` entry.
    pub fn new(
        config: Arc<Config>,
        store: SharedStore,
        protection: Arc<dyn ProtectionSource>,
        clock: Arc<dyn Clock>,
        metrics: Metrics,
        (stop, tasks): (CancellationToken, TaskTracker),
    ) -> Result<Gc, RegistryError> {
        let mut clients = HashMap::new();
        for settings in &config.registries {
            let observer = metrics.registries.clone();
            let client = RegistryClient::observed(settings.clone(), observer)?;
            clients.insert(settings.host(), client);
        }
        let inner = Inner {
            config,
            store,
            clients,
            protection,
            clock,
            metrics,
            running: tokio::sync::Mutex::new(()),
            faults: Faults::default(),
            run_stop: std::sync::Mutex::new(stop.child_token()),
            stop,
            tasks,
        };
        Ok(Gc {
            inner: Arc::new(inner),
        })
    }

    /// Test hook (feature `fault-injection`): make the next runs stop where a crash would hurt most.
    #[cfg(feature = "fault-injection")]
    pub fn set_crash_point(&self, point: CrashPoint) {
        self.inner.faults.set(point);
    }

    /// Starts a run in the background (on the app's task tracker); `AlreadyRunning` when one is
    /// going or the process is shutting down.
    pub fn start(&self, trigger: Trigger, dry_run: Option<bool>) -> Result<(), GcError> {
        if self.is_running() || self.inner.stop.is_cancelled() {
            return Err(GcError::AlreadyRunning);
        }
        let gc = self.clone();
        self.inner.tasks.spawn(async move {
            match gc.run_here(trigger, dry_run).await {
                Ok(run) => tracing::debug!(run_id = run.id, "run done"),
                Err(GcError::AlreadyRunning) => {
                    tracing::info!("run skipped: another is in progress")
                }
                Err(e) => tracing::error!(error = %e, trigger = trigger.as_str(), "run failed"),
            }
        });
        Ok(())
    }

    /// Whether the current run must stop at its next safe point: the process is shutting down, or
    /// the run lost the GC lock.
    fn stopping(&self) -> bool {
        self.inner.stop.is_cancelled() || self.run_stop().is_cancelled()
    }

    /// The current run's stop token.
    fn run_stop(&self) -> CancellationToken {
        self.inner.run_stop.lock().expect("run stop lock").clone()
    }

    /// Whether a run is going on in this process right now.
    pub fn is_running(&self) -> bool {
        self.inner.running.try_lock().is_err()
    }

    fn dry_run(&self, forced: Option<bool>) -> bool {
        forced.unwrap_or(self.inner.config.gc.dry_run)
    }

    fn requests_made(&self) -> u64 {
        self.inner
            .clients
            .values()
            .map(RegistryClient::requests_made)
            .sum()
    }
}
