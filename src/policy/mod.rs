//! Retention policy: a pure function from recorded state and a registry snapshot to a plan.
//!
//! [`plan`] judges every tag the registry listed against what webhooks recorded (`ProjectState`),
//! the cluster's images in use ([`Protections`]) and the resolved settings ([`ProjectPolicy`]),
//! and returns registry [`Action`]s plus every [`Kept`] tag, each with a typed reason.
//! It must never do I/O, read the clock or use randomness: `now` is an input, output is sorted.
//! Any doubt keeps the tag. The rules, as a user reads them, are in `docs/policy.md`.

mod action;
mod branch;
pub mod duration;
mod explain;
mod index;
mod plan;
mod reason;
mod rules;
mod settings;
mod snapshot;
mod users;
mod verdict;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};

use crate::model::ProjectState;

pub use action::{Action, Kept, Plan, TagDeletion, Totals};
pub use plan::plan;
pub use reason::{DeleteReason, KeepReason};
pub use settings::{
    KeepPatterns, PatternError, ProjectPolicy, RetentionOverrides, RetentionSettings,
    DEFAULT_KEEP_PATTERNS,
};
pub use snapshot::{ProtectionStatus, Protections, RegistrySnapshot, RepositorySnapshot, TagInfo};
pub use users::{ImageUser, ImageUsers, Usage};

/// Everything one planning run looks at. Borrowed: planning copies only what the plan returns.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// What webhooks recorded for the project.
    pub state: &'a ProjectState,
    /// The registry's tags, listed just before planning.
    pub snapshot: &'a RegistrySnapshot,
    /// Images the cluster reports in use (or [`Protections::none`]).
    pub protections: &'a Protections,
    /// The time every age and grace period is measured against.
    pub now: DateTime<Utc>,
    /// Resolved retention settings for the project.
    pub policy: &'a ProjectPolicy,
}
