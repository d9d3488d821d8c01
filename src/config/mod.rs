//! Configuration: a TOML file, then `REGISTRY_GC__SECTION__KEY` environment overrides, then
//! validation with messages naming the bad key. Never writes files; never prints secrets.

mod gc;
mod project;
mod secret;
pub mod template;

use std::net::SocketAddr;
use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::policy::{ProjectPolicy, RetentionSettings};
use crate::registry::RegistrySettings;

pub use gc::{ClusterProtection, GcConfig};
pub use project::{ImageRule, ProjectConfig};
pub use secret::Secret;

/// The whole configuration of the daemon and the CLI.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub gc: GcConfig,
    /// Registries to read and delete from, matched to projects by host.
    #[serde(default)]
    pub registries: Vec<RegistrySettings>,
    #[serde(default)]
    pub projects: Vec<ProjectConfig>,
}

/// HTTP listener, webhook limits and admin access.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Largest webhook body accepted; larger gets 413. GitLab itself sends at most 25 MB.
    pub body_limit_bytes: usize,
    /// Bearer token for `/api/v1`; when unset the read API is open (a warning is logged).
    pub admin_token: Option<Secret>,
    /// Tokens accepted for every project, e.g. the secret token of a GitLab system hook.
    pub system_hook_tokens: Vec<Secret>,
    /// How long in-flight requests may finish after SIGTERM.
    pub shutdown_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            body_limit_bytes: 4 * 1024 * 1024,
            admin_token: None,
            system_hook_tokens: Vec::new(),
            shutdown_timeout_secs: 20,
        }
    }
}

/// Where records are kept: `sqlite://PATH` (created if missing) or `postgres://…`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub url: DatabaseUrl,
    pub max_connections: u32,
    /// How long a request waits for a connection before answering 503.
    pub acquire_timeout_ms: u64,
    /// SQLite only: how long a writer waits for a lock.
    pub sqlite_busy_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: DatabaseUrl("sqlite://registry-gc.db".into()),
            max_connections: 8,
            acquire_timeout_ms: 3000,
            sqlite_busy_timeout_ms: 2000,
        }
    }
}

/// A database URL; its password is masked whenever it is shown.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl DatabaseUrl {
    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("***"));
                u.to_string()
            }
            _ => self.0.clone(),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

/// Log output.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// `RUST_LOG`-style filter; `RUST_LOG` itself wins when set.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Human,
            filter: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// A configuration that could not be loaded; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Load(String),
    #[error("invalid configuration:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
}

impl Config {
    /// Reads the file (if given), applies `REGISTRY_GC__…` overrides, validates.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = path {
            if !path.exists() {
                return Err(ConfigError::Load(format!(
                    "config file {} not found",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed("REGISTRY_GC__").split("__"));
        Self::from_figment(figment)
    }

    /// Parses a TOML string (no environment), validates. For tests and tools.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Self::from_figment(
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(text)),
        )
    }

    fn from_figment(figment: Figment) -> Result<Config, ConfigError> {
        let mut config: Config = figment.extract().map_err(|errors| {
            ConfigError::Invalid(errors.into_iter().map(describe_figment_error).collect())
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&mut self) -> Result<(), ConfigError> {
        let mut errors = Vec::new();
        if !(self.database.url.0.starts_with("sqlite:")
            || self.database.url.0.starts_with("postgres://")
            || self.database.url.0.starts_with("postgresql://"))
        {
            errors.push(format!(
                "database.url: {:?} must start with sqlite:// or postgres://",
                self.database.url.redacted()
            ));
        }
        if self.database.max_connections == 0 {
            errors.push("database.max_connections: must be at least 1".into());
        }
        if self.server.body_limit_bytes < 1024 {
            errors.push("server.body_limit_bytes: must be at least 1024".into());
        }
        let has_system_tokens = !self.server.system_hook_tokens.is_empty();
        for (i, project) in self.projects.iter_mut().enumerate() {
            let prefix = format!("projects[{i}]");
            project.validate(&prefix, &mut errors);
            if project.webhook_tokens.is_empty() && !has_system_tokens {
                errors.push(format!(
                    "{prefix}.webhook_tokens: set at least one token (or server.system_hook_tokens)"
                ));
            }
        }
        check_unique_projects(&self.projects, &mut errors);
        self.gc.validate(&mut errors);
        for (i, registry) in self.registries.iter().enumerate() {
            if let Err(e) = registry.validate() {
                errors.push(format!("registries[{i}]: {e}"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(errors))
        }
    }

    /// The configured project GitLab sent, by id or path.
    pub fn project(&self, id: Option<i64>, path: Option<&str>) -> Option<&ProjectConfig> {
        self.projects
            .iter()
            .find(|p| p.id.is_some() && p.matches(id, path))
            .or_else(|| self.projects.iter().find(|p| p.matches(id, path)))
    }

    /// Retention settings for a project: built-in defaults, then `gc.retention`, then the project's
    /// `retention`, then each image rule's (and each repository's for untracked tags).
    pub fn project_policy(&self, project: &ProjectConfig) -> ProjectPolicy {
        let global = self.gc.retention.apply(&RetentionSettings::default());
        let default = project.retention.apply(&global);
        let per_rule = project
            .images
            .iter()
            .map(|r| (r.name.clone(), r.retention.apply(&default)))
            .collect();
        let per_repository = project
            .repository_retention
            .iter()
            .map(|(repo, o)| (repo.clone(), o.apply(&default)))
            .collect();
        ProjectPolicy {
            default,
            per_rule,
            per_repository,
        }
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}

fn check_unique_projects(projects: &[ProjectConfig], errors: &mut Vec<String>) {
    for (i, a) in projects.iter().enumerate() {
        for (j, b) in projects.iter().enumerate().skip(i + 1) {
            let same_id = a.id.is_some() && a.id == b.id;
            let same_path =
                matches!((&a.path, &b.path), (Some(x), Some(y)) if x.eq_ignore_ascii_case(y));
            if same_id || same_path {
                errors.push(format!(
                    "projects[{j}]: same project as projects[{i}] ({})",
                    a.label()
                ));
            }
        }
    }
}

fn describe_figment_error(e: figment::Error) -> String {
    let mut key = String::new();
    for part in &e.path {
        if part.parse::<usize>().is_ok() {
            key.push_str(&format!("[{part}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(part);
        }
    }
    if key.is_empty() {
        key.push_str("<root>");
    }
    let source = e
        .metadata
        .as_ref()
        .map(|m| format!(" (from {})", m.name))
        .unwrap_or_default();
    format!("{key}: {}{source}", e.kind)
}

#[cfg(test)]
mod tests;
