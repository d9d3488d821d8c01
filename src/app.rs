//! The composition root: the whole daemon is built here, once, for the binary and for the tests
//! (store, metrics, registry clients, cluster protection, the collector), and its long-running parts
//! — the HTTP server, the schedule, runs started through the API, and any background work added
//! later — run under one cancellation token and stop together within `server.shutdown_timeout_secs`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{Clock, SystemClock};
use crate::cluster::{
    ClusterMetrics, KubernetesProtection, NoClusterProtection, ProtectionSource,
    UnavailableProtection,
};
use crate::config::{ClusterProtection, Config};
use crate::gc::{schedule, Gc};
use crate::gitlab::Reconciler;
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::model::RunStatus;
use crate::store::{self, SharedStore, Store};

/// What a caller may replace when building the app (tests move the clock, fake the cluster).
pub struct Wiring {
    pub clock: Arc<dyn Clock>,
    /// `None`: the source `gc.cluster_protection` names.
    pub protection: Option<Arc<dyn ProtectionSource>>,
}

impl Default for Wiring {
    fn default() -> Self {
        Wiring {
            clock: Arc::new(SystemClock),
            protection: None,
        }
    }
}

/// The built application.
pub struct App {
    pub config: Arc<Config>,
    pub store: SharedStore,
    pub metrics: Metrics,
    pub gc: Gc,
    /// Cancelled on SIGTERM (or by the owner): every task stops at its next safe point.
    pub stop: CancellationToken,
    /// Every task started on the app's behalf; shutdown waits for them.
    pub tasks: TaskTracker,
    /// Reconciliation with the GitLab API, when `[gitlab]` is configured.
    pub reconciler: Option<Reconciler>,
    /// Whether the database's migrations are applied; until then webhooks, the API and `/readyz`
    /// answer 503.
    pub schema_ready: Arc<AtomicBool>,
}

/// Connects to the database named by the configuration and applies migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<SharedStore> {
    let store = open_unmigrated(config).await?;
    store.migrate().await.context("cannot apply migrations")?;
    Ok(store)
}

/// Connects to the database (lazily for Postgres) without migrating.
async fn open_unmigrated(config: &Config) -> anyhow::Result<SharedStore> {
    let url = config.database.url.redacted();
    store::open(&config.database)
        .await
        .with_context(|| format!("cannot open database {url}"))
}

impl App {
    /// Opens and migrates the database, then builds everything over it.
    pub async fn build(config: Config, wiring: Wiring) -> anyhow::Result<App> {
        let store = open_store(&config).await?;
        let app = App::with_store(config, store, wiring)?;
        app.restore_metrics().await;
        Ok(app)
    }

    /// Gauges that describe the past, from the database: the last successful run, each project's
    /// last delivery, the journal's open entries. A database that does not answer leaves them unset.
    async fn restore_metrics(&self) {
        let restored = async {
            let runs = self.store.runs(100).await?;
            let finished = runs.iter().find(|r| r.status == RunStatus::Finished);
            if let Some(at) = finished.and_then(|r| r.finished_at) {
                self.metrics.gc.last_success(at.timestamp());
            }
            for record in self.store.projects().await? {
                if let Some(project) = self.config.project(Some(record.id), Some(&record.path)) {
                    self.metrics
                        .delivered(&project.label(), record.last_event_at.timestamp());
                }
            }
            self.gc.count_open_journal().await
        };
        if let Err(e) = restored.await {
            tracing::warn!(error = %e, "cannot restore metrics from the database");
        }
    }

    /// Builds everything over the database without migrating it yet: [`App::serve`] listens at
    /// once and migrates in the background, retrying while the database is unreachable (it often
    /// starts after the daemon in a cluster).
    pub async fn open(config: Config, wiring: Wiring) -> anyhow::Result<App> {
        let store = open_unmigrated(&config).await?;
        let app = App::with_store(config, store, wiring)?;
        app.schema_ready.store(false, Ordering::Release);
        Ok(app)
    }

    /// Builds everything over an open, migrated store.
    pub fn with_store(config: Config, store: SharedStore, wiring: Wiring) -> anyhow::Result<App> {
        let config = Arc::new(config);
        let metrics = Metrics::new();
        let protection = match wiring.protection {
            Some(p) => p,
            None => protection_source(&config, &metrics),
        };
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let gc = Gc::new(
            config.clone(),
            store.clone(),
            protection,
            wiring.clock.clone(),
            metrics.clone(),
            (stop.clone(), tasks.clone()),
        )
        .context("cannot set up registry clients")?;
        let reconciler = match config.gitlab.clone() {
            Some(settings) => Some(
                Reconciler::new(
                    settings,
                    store.clone(),
                    config.clone(),
                    wiring.clock.clone(),
                    metrics.clone(),
                )
                .context("cannot set up the GitLab client")?,
            ),
            None => None,
        };
        Ok(App {
            config,
            store,
            metrics,
            gc,
            stop,
            tasks,
            reconciler,
            schema_ready: Arc::new(AtomicBool::new(true)),
        })
    }

    /// The HTTP routes over this app.
    pub fn router(&self) -> axum::Router {
        http::router(AppState {
            config: self.config.clone(),
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            gc: self.gc.clone(),
            reconciler: self.reconciler.clone(),
            schema_ready: self.schema_ready.clone(),
        })
    }

    /// The HTTP server over this app on `listener`, with the connection cap and header-read
    /// timeout of `server.*`, until `shutdown` resolves (then open connections finish).
    pub fn http_server(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let server = &self.config.server;
        let limits = http::Limits {
            max_connections: server.max_connections,
            header_read_timeout: Duration::from_secs(server.header_read_timeout_secs),
        };
        http::serve(listener, self.router(), limits, shutdown)
    }

    /// Serves HTTP at once; migrates the database if [`App::open`] did not (retrying until
    /// `database.startup_timeout_secs`), marks runs a dead process left as interrupted, then runs
    /// the schedules, until `stop` is cancelled. Then requests in flight, the schedules and runs
    /// (which stop at their next safe point, record themselves and release the GC lock) share one
    /// deadline of `server.shutdown_timeout_secs`, and the database is closed. A database still
    /// unreachable at the start-up deadline stops the daemon with an error.
    pub async fn serve(self, listener: TcpListener) -> anyhow::Result<()> {
        let grace = Duration::from_secs(self.config.server.shutdown_timeout_secs);
        let server = tokio::spawn(self.http_server(listener, self.stop.clone().cancelled_owned()));
        let started = tokio::select! {
            started = self.start_up() => started,
            () = self.stop.cancelled() => Ok(Vec::new()),
        };
        let (mut schedules, failure) = match started {
            Ok(schedules) => (schedules, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        if failure.is_some() {
            self.stop.cancel();
        }
        self.stop.cancelled().await;
        self.tasks.close();
        let drain = async {
            let _ = server.await;
            for scheduler in &mut schedules {
                let _ = scheduler.shutdown().await;
            }
            self.tasks.wait().await;
        };
        if tokio::time::timeout(grace, drain).await.is_err() {
            tracing::warn!(
                ?grace,
                "still busy after the shutdown timeout; the next run finishes what is left"
            );
        }
        // A run still going holds connections; closing waits for them, so it is bounded too.
        if tokio::time::timeout(Duration::from_secs(2), self.store.close())
            .await
            .is_err()
        {
            tracing::warn!("database connections still in use at exit");
        }
        tracing::info!("stopped");
        failure.map_or(Ok(()), Err)
    }

    /// Migrations (if not applied yet), runs a dead process left, then the schedules.
    async fn start_up(&self) -> anyhow::Result<Vec<JobScheduler>> {
        if !self.schema_ready.load(Ordering::Acquire) {
            let deadline = Duration::from_secs(self.config.database.startup_timeout_secs);
            migrate_until(self.store.as_ref(), deadline).await?;
            self.schema_ready.store(true, Ordering::Release);
            self.restore_metrics().await;
            tracing::info!("database migrated; ready");
        }
        self.recover_abandoned_runs().await;
        let gc = self.start_schedule().await?;
        let reconciling = self.start_reconcile_schedule().await?;
        Ok(gc.into_iter().chain(reconciling).collect())
    }

    /// Runs a process that is gone left `running` are marked `interrupted` at start.
    async fn recover_abandoned_runs(&self) {
        match self.gc.recover_abandoned().await {
            Ok(0) => {}
            Ok(runs) => tracing::warn!(
                runs,
                "runs left by a process that is gone marked interrupted"
            ),
            Err(e) => tracing::warn!(error = %e, "could not check for runs a stopped process left"),
        }
    }

    async fn start_schedule(&self) -> anyhow::Result<Option<JobScheduler>> {
        let cron = self.config.gc.schedule.trim();
        if cron.is_empty() {
            tracing::warn!("gc.schedule is empty: garbage collection runs only when triggered");
            return Ok(None);
        }
        let scheduler = schedule::start(self.gc.clone(), cron)
            .await
            .context("cannot start the schedule")?;
        tracing::info!(
            schedule = cron,
            dry_run = self.config.gc.dry_run,
            "garbage collection scheduled"
        );
        Ok(Some(scheduler))
    }
}

/// What a reconciliation tick does.
#[derive(Clone, Copy)]
enum ReconcileTick {
    /// Every project (`gitlab.schedule`).
    All,
    /// The projects with a bulk push since the last look (`gitlab.bulk_push_schedule`).
    BulkPushed,
}

impl App {
    /// Reconciles with the GitLab API on `gitlab.schedule`, and watches for bulk pushes on
    /// `gitlab.bulk_push_schedule`, on the app's task tracker; a tick while a reconciliation of
    /// either kind is going is skipped.
    async fn start_reconcile_schedule(&self) -> anyhow::Result<Option<JobScheduler>> {
        let (Some(reconciler), Some(settings)) = (&self.reconciler, &self.config.gitlab) else {
            return Ok(None);
        };
        let jobs: Vec<(&str, &str, ReconcileTick)> = [
            (
                "gitlab.schedule",
                settings.schedule.trim(),
                ReconcileTick::All,
            ),
            (
                "gitlab.bulk_push_schedule",
                settings.bulk_push_schedule.trim(),
                ReconcileTick::BulkPushed,
            ),
        ]
        .into_iter()
        .filter(|(_, cron, _)| settings.any_enabled() && !cron.is_empty())
        .collect();
        if jobs.is_empty() {
            tracing::info!(
                "GitLab reconciliation not scheduled (gitlab.enabled or gitlab.schedule)"
            );
            return Ok(None);
        }
        let scheduler = JobScheduler::new()
            .await
            .context("cannot start the reconciliation schedule")?;
        let busy = Arc::new(tokio::sync::Mutex::new(()));
        for (key, cron, tick) in jobs {
            let job = self.reconcile_job(reconciler, cron, tick, busy.clone());
            scheduler.add(job.context(key)?).await.context(key)?;
            tracing::info!(schedule = cron, "{key}: GitLab reconciliation scheduled");
        }
        scheduler
            .start()
            .await
            .context("cannot start the reconciliation schedule")?;
        Ok(Some(scheduler))
    }

    fn reconcile_job(
        &self,
        reconciler: &Reconciler,
        cron: &str,
        tick: ReconcileTick,
        busy: Arc<tokio::sync::Mutex<()>>,
    ) -> Result<Job, tokio_cron_scheduler::JobSchedulerError> {
        let (reconciler, tasks, stop) = (reconciler.clone(), self.tasks.clone(), self.stop.clone());
        Job::new_async(cron, move |_id, _scheduler| {
            let (reconciler, busy, stop) = (reconciler.clone(), busy.clone(), stop.clone());
            tasks.spawn(async move {
                let Ok(_running) = busy.try_lock() else {
                    return tracing::info!("reconciliation skipped: the previous one is still going");
                };
                let work = async {
                    match tick {
                        ReconcileTick::All => reconciler.reconcile(None, false).await,
                        ReconcileTick::BulkPushed => reconciler.reconcile_bulk_pushed().await,
                    }
                };
                tokio::select! {
                    done = work => {
                        let failed = done.iter().filter(|p| p.error.is_some()).count();
                        if matches!(tick, ReconcileTick::All) || !done.is_empty() {
                            tracing::info!(projects = done.len(), failed, "reconciliation done");
                        }
                    }
                    () = stop.cancelled() => tracing::info!("reconciliation stopped by shutdown; records unchanged for the rest"),
                }
            });
            Box::pin(async {})
        })
    }
}

/// Applies migrations, retrying with backoff (0.5 s doubling up to 10 s) while the database is
/// unavailable, until `deadline` has passed. Any other failure ends it at once.
async fn migrate_until(store: &dyn Store, deadline: Duration) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    let mut wait = Duration::from_millis(500);
    loop {
        match store.migrate().await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_unavailable() && started.elapsed() < deadline => {
                let left = deadline.saturating_sub(started.elapsed());
                tracing::warn!(error = %e, retry_in = ?wait.min(left), "database not reachable yet; retrying migrations");
                tokio::time::sleep(wait.min(left)).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
            Err(e) if e.is_unavailable() => {
                return Err(e).with_context(|| {
                    format!(
                    "database not reachable within database.startup_timeout_secs ({deadline:?})"
                )
                })
            }
            Err(e) => return Err(e).context("cannot apply migrations"),
        }
    }
}

/// The cluster protection the configuration asks for. A Kubernetes source that cannot start is
/// replaced by one that is always unavailable: the daemon keeps recording, and deletes nothing.
fn protection_source(config: &Config, metrics: &Metrics) -> Arc<dyn ProtectionSource> {
    match config.gc.cluster_protection {
        ClusterProtection::None => Arc::new(NoClusterProtection),
        ClusterProtection::Kubernetes => match KubernetesProtection::start(&config.cluster) {
            Ok(source) => {
                metrics.register(Box::new(ClusterMetrics::new(&source)));
                Arc::new(source)
            }
            Err(e) => {
                tracing::error!(error = %e, "cluster protection cannot start: nothing will be deleted");
                let why = format!("cluster protection could not start: {e}");
                Arc::new(UnavailableProtection(why))
            }
        },
    }
}

/// Cancels `stop` on SIGTERM or Ctrl-C.
pub async fn cancel_on_signal(stop: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = terminate => {},
        () = stop.cancelled() => return,
    }
    tracing::info!("shutdown signal received, draining requests and stopping runs at a safe point");
    stop.cancel();
}
