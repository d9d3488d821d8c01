//! Command line: `serve`, `migrate`, `check-config`, `plan`, `run`, `registry`. Parses arguments,
//! loads the configuration, builds the app through `app.rs` and prints results; the work itself
//! lives in the library modules.

mod registry;
mod report;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::app::{self, App, Wiring};
use crate::config::{Config, LogFormat};
use crate::gc::Trigger;
use crate::telemetry;
use registry::{RegistryArgs, RegistryCommand};

/// registry-gc keeps GitLab container registries clean. It records, from GitLab webhooks, which
/// image tags belong to which branch, commit and pipeline, and removes stale ones safely.
#[derive(Debug, Parser)]
#[command(name = "registry-gc", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML). Environment overrides: REGISTRY_GC__SECTION__KEY.
    #[arg(
        long,
        short,
        global = true,
        env = "REGISTRY_GC_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,

    /// Log format; overrides `log.format`.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: receive webhooks, serve health, metrics and the API, run the schedule.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Validate the configuration and print the effective values (secrets redacted).
    CheckConfig,
    /// Show what a garbage-collection run would do now, with the reason for every tag. Changes nothing.
    Plan {
        /// Only this project (path or id).
        #[arg(long)]
        project: Option<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run garbage collection once and exit. Deletes only when the configuration says
    /// `gc.dry_run = false`.
    Run {
        /// Accepted for compatibility: `run` always runs once (the daemon runs on its schedule).
        #[arg(long, hide = true)]
        once: bool,
        /// Force a dry run whatever the configuration says.
        #[arg(long)]
        dry_run: bool,
    },
    /// Bring the records up to date from the GitLab API (`[gitlab]`): branches deleted, merge
    /// requests merged or closed, pipelines, when webhooks were lost. Never deletes anything.
    Reconcile {
        /// Only this project (path or id).
        #[arg(long)]
        project: Option<String>,
        /// Show what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Adopt a project: record its pipelines (and refs, merge requests) of a recent window from the
    /// GitLab API, so its existing registry tags are tracked and explained instead of untracked.
    Import {
        /// The project (path or id).
        #[arg(long)]
        project: String,
        /// How far back (`90d`, `12w`).
        #[arg(long, default_value = "90d")]
        since: String,
        /// Show what would be recorded; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// What the configured Kubernetes clusters use, as cluster protection sees it.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Talk to a registry directly: list, resolve and remove tags (like regctl).
    Registry {
        #[command(flatten)]
        args: RegistryArgs,
        #[command(subcommand)]
        command: RegistryCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Every image in use per cluster, with the objects that use it: check this before turning
    /// deletion on.
    Images {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(format) = cli.log_format {
        config.log.format = format;
    }
    telemetry::init(config.log.format, &config.log.filter);
    match cli.command {
        Command::CheckConfig => {
            print!("{}", config.to_redacted_toml());
            Ok(())
        }
        Command::Migrate => {
            let store = app::open_store(&config).await?;
            store.close().await;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve => serve(config).await,
        Command::Plan { project, json } => plan(config, project.as_deref(), json).await,
        Command::Run { once: _, dry_run } => {
            let app = App::build(config, Wiring::default()).await?;
            // SIGTERM stops the run at a safe point; it records itself and releases the lock.
            tokio::spawn(app::cancel_on_signal(app.stop.clone()));
            let run = app.gc.run(Trigger::Cli, dry_run.then_some(true)).await?;
            println!("{}", serde_json::to_string_pretty(&run)?);
            app.store.close().await;
            Ok(())
        }
        Command::Reconcile { project, dry_run } => {
            reconcile(config, project.as_deref(), dry_run).await
        }
        Command::Import {
            project,
            since,
            dry_run,
        } => import(config, &project, &since, dry_run).await,
        Command::Cluster {
            command: ClusterCommand::Images { json },
        } => {
            let out = crate::cluster::images_command(&config.cluster, json)
                .await
                .map_err(anyhow::Error::msg)?;
            print!("{out}");
            Ok(())
        }
        Command::Registry { args, command } => registry::run(&config, args, command).await,
    }
}

async fn reconcile(config: Config, project: Option<&str>, dry_run: bool) -> anyhow::Result<()> {
    let app = App::build(config, Wiring::default()).await?;
    let reconciler = app
        .reconciler
        .as_ref()
        .context("no [gitlab] section configured")?;
    let done = reconciler.reconcile(project, dry_run).await;
    println!("{}", serde_json::to_string_pretty(&done)?);
    app.store.close().await;
    match done.iter().filter(|p| p.error.is_some()).count() {
        0 => Ok(()),
        n => anyhow::bail!("{n} project(s) could not be reconciled; their records are unchanged"),
    }
}

async fn import(config: Config, project: &str, since: &str, dry_run: bool) -> anyhow::Result<()> {
    let since =
        crate::policy::duration::parse(since).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let app = App::build(config, Wiring::default()).await?;
    let reconciler = app
        .reconciler
        .as_ref()
        .context("no [gitlab] section configured")?;
    let done = reconciler
        .import(project, since, dry_run)
        .await
        .map_err(anyhow::Error::msg)?;
    println!("{}", serde_json::to_string_pretty(&done)?);
    app.store.close().await;
    Ok(())
}

async fn plan(config: Config, project: Option<&str>, json: bool) -> anyhow::Result<()> {
    let app = App::build(config, Wiring::default()).await?;
    let plans = app.gc.plan(project).await?;
    if json {
        let mut ok = Vec::new();
        let mut errors = Vec::new();
        for plan in plans {
            match plan {
                Ok(p) => ok.push(p),
                Err(e) => errors.push(e.to_string()),
            }
        }
        let out = serde_json::json!({ "plans": ok, "errors": errors });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", report::render(&plans));
    }
    app.store.close().await;
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    match (&config.server.admin_token, config.server.insecure_open_api) {
        (Some(_), _) => {}
        (None, true) => tracing::warn!(
            "server.insecure_open_api = true and no server.admin_token: /api/v1, which can start \
             runs that delete, is open to anyone who can reach the port"
        ),
        (None, false) => tracing::warn!(
            "no server.admin_token configured: /api/v1 answers 403 to everyone (set a token, or \
             server.insecure_open_api = true on a trusted network)"
        ),
    }
    if config.projects.is_empty() {
        tracing::warn!("no projects configured: every webhook will be answered 404");
    }
    let listen = config.server.listen;
    let app = App::open(config, Wiring::default()).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        database = app.store.backend_name(),
        projects = app.config.projects.len(),
        "registry-gc serving"
    );
    tokio::spawn(app::cancel_on_signal(app.stop.clone()));
    app.serve(listener).await
}
