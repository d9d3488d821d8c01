//! Postgres backend: for several replicas or an existing database server. Pool sizing and timeouts
//! are set here, in the constructor.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::config::DatabaseConfig;

super::queries::backend_queries!(sqlx::Postgres);

/// Connects lazily: the daemon starts (and answers `/readyz` 503) while Postgres is still down.
pub(crate) async fn connect(cfg: &DatabaseConfig) -> Result<PgPool, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(cfg.max_connections)
        .acquire_timeout(Duration::from_millis(cfg.acquire_timeout_ms))
        .connect_lazy(&cfg.url.0)?;
    Ok(pool)
}

pub(crate) async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::migrate!("migrations/postgres").run(pool).await?;
    Ok(())
}
