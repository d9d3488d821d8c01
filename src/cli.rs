//! Command line: `serve`, `migrate`, `check-config`, `plan`, `run`, `registry`. Parses arguments, loads config, hands off; the
//! work itself lives in the library modules.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{ClusterProtection, Config, LogFormat};
use crate::gc::protect::{NoClusterProtection, ProtectionSource};
use crate::gc::{self, Gc, SystemClock, Trigger};
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::registry::{self, cli::RegistryArgs, cli::RegistryCommand};
use crate::store::Store;
use crate::telemetry;

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
    /// Run the daemon: receive webhooks, serve health, metrics and the API.
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
    /// Run garbage collection. Deletes only when the configuration says `gc.dry_run = false`.
    Run {
        /// Run once and exit (the daemon runs on its schedule instead).
        #[arg(long, required = true)]
        once: bool,
        /// Force a dry run whatever the configuration says.
        #[arg(long)]
        dry_run: bool,
    },
    /// Talk to a registry directly: list, resolve and remove tags (like regctl).
    Registry {
        #[command(flatten)]
        args: RegistryArgs,
        #[command(subcommand)]
        command: RegistryCommand,
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
            let store = open_store(&config).await?;
            store.close().await;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve => serve(config).await,
        Command::Plan { project, json } => {
            let (gc, _store) = open_gc(config).await?;
            let plans = gc.plan(project.as_deref()).await?;
            if json {
                let (ok, errors): (Vec<_>, Vec<_>) = plans.into_iter().partition(Result::is_ok);
                let ok: Vec<_> = ok.into_iter().filter_map(Result::ok).collect();
                let errors: Vec<String> = errors
                    .into_iter()
                    .filter_map(|e| e.err().map(|e| e.to_string()))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "plans": ok, "errors": errors })
                    )?
                );
            } else {
                print!("{}", gc::report::render(&plans));
            }
            Ok(())
        }
        Command::Run { once: _, dry_run } => {
            let (gc, store) = open_gc(config).await?;
            let run = gc.run(Trigger::Cli, dry_run.then_some(true)).await?;
            println!("{}", serde_json::to_string_pretty(&run)?);
            store.close().await;
            Ok(())
        }
        Command::Registry { args, command } => {
            let settings = if args.url.is_some() {
                args.settings()?
            } else {
                match config.registries.as_slice() {
                    [one] => one.clone(),
                    [] => anyhow::bail!("no registry: pass --url or configure [[registries]]"),
                    _ => anyhow::bail!("several [[registries]] configured: pass --url to pick one"),
                }
            };
            registry::cli::run(command, settings).await
        }
    }
}

/// The collector as configured, over a migrated store.
async fn open_gc(config: Config) -> anyhow::Result<(Gc, Store)> {
    let store = open_store(&config).await?;
    let gc = build_gc(Arc::new(config), store.clone(), Metrics::new())?;
    Ok((gc, store))
}

fn build_gc(config: Arc<Config>, store: Store, metrics: Metrics) -> anyhow::Result<Gc> {
    let protection: Arc<dyn ProtectionSource> = match config.gc.cluster_protection {
        ClusterProtection::None => Arc::new(NoClusterProtection),
    };
    Gc::new(config, store, protection, Arc::new(SystemClock), metrics)
        .context("cannot set up registry clients")
}

/// Connects and migrates.
async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database)
        .await
        .with_context(|| format!("cannot open database {}", config.database.url.redacted()))?;
    store.migrate().await.context("cannot apply migrations")?;
    Ok(store)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    if config.server.admin_token.is_none() {
        tracing::warn!(
            "no server.admin_token configured: /api/v1 is open to anyone who can reach it"
        );
    }
    if config.projects.is_empty() {
        tracing::warn!("no projects configured: every webhook will be answered 404");
    }
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        database = store.backend_name(),
        projects = config.projects.len(),
        "registry-gc serving"
    );
    let config = Arc::new(config);
    let metrics = Metrics::new();
    let gc = build_gc(config.clone(), store.clone(), metrics.clone())?;
    let mut scheduler = if config.gc.schedule.trim().is_empty() {
        tracing::warn!("gc.schedule is empty: garbage collection runs only when triggered");
        None
    } else {
        let scheduler = gc::schedule::start(gc.clone(), &config.gc.schedule)
            .await
            .context("cannot start the schedule")?;
        tracing::info!(schedule = %config.gc.schedule, dry_run = config.gc.dry_run, "garbage collection scheduled");
        Some(scheduler)
    };
    let state = AppState {
        config,
        store: store.clone(),
        metrics,
        gc,
    };
    http::serve(listener, state).await?;
    if let Some(scheduler) = scheduler.as_mut() {
        let _ = scheduler.shutdown().await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}
