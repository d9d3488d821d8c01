//! Configuration: a TOML file, then `REGISTRY_GC__SECTION__KEY` environment overrides, read as
//! written (`RawConfig`), then validated once into a `Config` whose parts are ready to use (image
//! rules compiled, registry hosts resolved), with messages naming the bad key. Never writes files;
//! never prints secrets.

mod gc;
mod project;

use std::net::SocketAddr;
use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::cluster::ClusterSettings;
use crate::gitlab::GitLabSettings;
use crate::policy::{ProjectPolicy, RetentionSettings};
use crate::registry::RegistrySettings;
use crate::secret::Secret;
pub use crate::store::{DatabaseConfig, DatabaseUrl};

pub use gc::{is_valid_schedule, ClusterProtection, GcConfig};
pub use project::ProjectConfig;
use project::RawProject;

/// The configuration as written: what the file and the environment say, before validation.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: ServerConfig,
    #[serde(default)]
    database: DatabaseConfig,
    #[serde(default)]
    log: LogConfig,
    #[serde(default)]
    gc: GcConfig,
    #[serde(default)]
    registries: Vec<RegistrySettings>,
    #[serde(default)]
    projects: Vec<RawProject>,
    #[serde(default)]
    cluster: ClusterSettings,
    #[serde(default)]
    gitlab: Option<GitLabSettings>,
}

/// The whole configuration of the daemon and the CLI, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub gc: GcConfig,
    /// Registries to read and delete from, matched to projects by host.
    pub registries: Vec<RegistrySettings>,
    pub projects: Vec<ProjectConfig>,
    /// Kubernetes cluster protection (`[cluster]`), used when `gc.cluster_protection = "kubernetes"`;
    /// kubeconfig files already folded into the cluster list.
    pub cluster: ClusterSettings,
    /// The GitLab API (`[gitlab]`): reconciliation, import, hook checks. Absent: webhooks only.
    pub gitlab: Option<GitLabSettings>,
    /// What was read, for showing the effective configuration.
    raw: RawConfig,
}

/// HTTP listener, webhook limits and admin access.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Largest webhook body accepted; larger gets 413. GitLab itself sends at most 25 MB.
    pub body_limit_bytes: usize,
    /// Bearer token for `/api/v1`; when unset the API is closed (403) unless `insecure_open_api`.
    pub admin_token: Option<Secret>,
    /// Without `admin_token`, open `/api/v1` (which can start runs) to anyone who reaches the port.
    /// Ignored when `admin_token` is set.
    pub insecure_open_api: bool,
    /// Tokens accepted for every project, e.g. the secret token of a GitLab system hook.
    pub system_hook_tokens: Vec<Secret>,
    /// How long in-flight requests may finish after SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers (idle keep-alive connections included).
    pub header_read_timeout_secs: u64,
    /// Seconds a client has to send a request's body.
    pub body_read_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            body_limit_bytes: 4 * 1024 * 1024,
            admin_token: None,
            insecure_open_api: false,
            system_hook_tokens: Vec::new(),
            shutdown_timeout_secs: 20,
            max_connections: 512,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
        }
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
        let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
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
            Figment::from(Serialized::defaults(RawConfig::default())).merge(Toml::string(text)),
        )
    }

    fn from_figment(figment: Figment) -> Result<Config, ConfigError> {
        let raw: RawConfig = figment.extract().map_err(|errors| {
            ConfigError::Invalid(errors.into_iter().map(describe_figment_error).collect())
        })?;
        Self::validate(raw)
    }

    fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
        let mut errors = Vec::new();
        if !raw.database.url.is_supported() {
            errors.push(format!(
                "database.url: {:?} must start with sqlite:// or postgres://",
                raw.database.url.redacted()
            ));
        }
        raw.server.validate(&mut errors);
        validate_database(&raw.database, &mut errors);
        let projects = validate_projects(&raw, &mut errors);
        raw.gc.validate(&mut errors);
        let cluster = raw.cluster.resolved();
        if raw.gc.cluster_protection == ClusterProtection::Kubernetes {
            cluster.validate("cluster", &mut errors);
        }
        if let Some(gitlab) = &raw.gitlab {
            gitlab.validate("gitlab", &mut errors);
        }
        for (i, registry) in raw.registries.iter().enumerate() {
            if let Err(e) = registry.validate() {
                errors.push(format!("registries[{i}]: {e}"));
            }
        }
        if !errors.is_empty() {
            return Err(ConfigError::Invalid(errors));
        }
        Ok(Config {
            server: raw.server.clone(),
            database: raw.database.clone(),
            log: raw.log.clone(),
            gc: raw.gc.clone(),
            registries: raw.registries.clone(),
            projects,
            cluster,
            gitlab: raw.gitlab.clone(),
            raw,
        })
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
            .rule_retention
            .iter()
            .map(|(rule, o)| (rule.clone(), o.apply(&default)))
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
        toml::to_string_pretty(&self.raw)
            .unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}

impl ServerConfig {
    fn validate(&self, errors: &mut Vec<String>) {
        if self.body_limit_bytes < 1024 {
            errors.push("server.body_limit_bytes: must be at least 1024".into());
        }
        if self.max_connections == 0 {
            errors.push("server.max_connections: must be at least 1".into());
        }
        if self.header_read_timeout_secs == 0 || self.body_read_timeout_secs == 0 {
            errors.push(
                "server.header_read_timeout_secs / server.body_read_timeout_secs: must be at least 1"
                    .into(),
            );
        }
    }
}

fn validate_database(db: &DatabaseConfig, errors: &mut Vec<String>) {
    if db.max_connections == 0 {
        errors.push("database.max_connections: must be at least 1".into());
    }
    if db.statement_timeout_ms == 0 || db.lock_timeout_ms == 0 {
        errors.push(
            "database.statement_timeout_ms / database.lock_timeout_ms: must be at least 1 (0 would mean no timeout)"
                .into(),
        );
    }
}

/// Every project validated, tokens present, and no project configured twice.
fn validate_projects(raw: &RawConfig, errors: &mut Vec<String>) -> Vec<ProjectConfig> {
    let has_system_tokens = !raw.server.system_hook_tokens.is_empty();
    let mut projects = Vec::new();
    for (i, project) in raw.projects.iter().enumerate() {
        let prefix = format!("projects[{i}]");
        if let Some(valid) = project.validate(&prefix, errors) {
            if valid.webhook_tokens.is_empty() && !has_system_tokens {
                errors.push(format!(
                    "{prefix}.webhook_tokens: set at least one token (or server.system_hook_tokens)"
                ));
            }
            projects.push(valid);
        }
        for (j, earlier) in raw.projects[..i].iter().enumerate() {
            let same_id = project.id().is_some() && project.id() == earlier.id();
            let same_path = matches!((project.path(), earlier.path()),
                (Some(x), Some(y)) if x.eq_ignore_ascii_case(y));
            if same_id || same_path {
                errors.push(format!("projects[{i}]: same project as projects[{j}]"));
            }
        }
    }
    projects
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
