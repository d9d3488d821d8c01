//! Command line: `serve`, `migrate`, `check-config`. Parses arguments, loads config, hands off; the
//! work itself lives in the library modules.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{Config, LogFormat};
use crate::http::{self, AppState};
use crate::metrics::Metrics;
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
    }
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
    let state = AppState {
        config: Arc::new(config),
        store: store.clone(),
        metrics: Metrics::new(),
    };
    http::serve(listener, state).await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}
