//! The `[gc]` section: when and how the garbage collector runs, and the retention defaults every
//! project and image rule inherits from. Dry-run is the default.

use serde::{Deserialize, Serialize};

use crate::policy::RetentionOverrides;

/// Where the images in use by the cluster come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterProtection {
    /// No cluster protection: said out loud in every plan.
    #[default]
    None,
    /// The images the Kubernetes clusters of `[cluster]` use or can roll back to are kept; when a
    /// cluster cannot be read, nothing is deleted.
    Kubernetes,
}

/// Garbage-collection settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcConfig {
    /// Plan, log and record, delete nothing. Set to `false` to delete.
    pub dry_run: bool,
    /// Cron expression with seconds (`sec min hour day month weekday`); empty disables the schedule.
    pub schedule: String,
    /// A run stops starting new repositories after this many seconds; the next run continues.
    pub time_budget_secs: u64,
    /// Repositories executed at the same time.
    pub repository_concurrency: usize,
    /// Requests in flight per repository while reading tags and re-pointing them.
    pub registry_concurrency: usize,
    pub cluster_protection: ClusterProtection,
    /// Retention defaults for every project (see the policy documentation).
    pub retention: RetentionOverrides,
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            dry_run: true,
            schedule: "0 0 * * * *".into(),
            time_budget_secs: 1800,
            repository_concurrency: 4,
            registry_concurrency: 8,
            cluster_protection: ClusterProtection::None,
            retention: RetentionOverrides::default(),
        }
    }
}

impl GcConfig {
    pub fn time_budget(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.time_budget_secs)
    }

    pub(crate) fn validate(&self, errors: &mut Vec<String>) {
        if !self.schedule.trim().is_empty() && !is_valid_schedule(&self.schedule) {
            errors.push(format!(
                "gc.schedule: {:?} is not a cron expression with seconds (e.g. \"0 0 * * * *\")",
                self.schedule
            ));
        }
        if self.repository_concurrency == 0 || self.registry_concurrency == 0 {
            errors.push(
                "gc.repository_concurrency / gc.registry_concurrency: must be at least 1".into(),
            );
        }
        if self.time_budget_secs == 0 {
            errors.push("gc.time_budget_secs: must be at least 1".into());
        }
    }
}

/// Whether `cron` is a schedule tokio-cron-scheduler accepts.
pub fn is_valid_schedule(cron: &str) -> bool {
    tokio_cron_scheduler::Job::new_async(cron, |_, _| Box::pin(async {})).is_ok()
}
