//! What a run did, in numbers: per reason and outcome, bytes, duration, and what went wrong with
//! the reason nothing was deleted there. Stored as the run's JSON summary, served by the run
//! history API and counted in metrics.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A tag's fate in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TagOutcome {
    /// Removed from the registry.
    Removed,
    /// Would be removed (dry run).
    DryRun,
    /// Moved or vanished since planning, or interrupted: left alone.
    Skipped,
    /// The registry refused or failed; the tag is unchanged (or waits on the dummy for the next run).
    Failed,
    /// Not reached within the run's time budget; the next run picks it up.
    Deferred,
}

impl TagOutcome {
    pub const ALL: [TagOutcome; 5] = [
        TagOutcome::Removed,
        TagOutcome::DryRun,
        TagOutcome::Skipped,
        TagOutcome::Failed,
        TagOutcome::Deferred,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TagOutcome::Removed => "removed",
            TagOutcome::DryRun => "dry-run",
            TagOutcome::Skipped => "skipped",
            TagOutcome::Failed => "failed",
            TagOutcome::Deferred => "deferred",
        }
    }
}

/// Why a run deleted nothing in some scope (a project, a repository, or everywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The project was never heard from by webhook.
    ProjectUnknown,
    /// Several recorded projects have the configured path, and no id is configured.
    ProjectAmbiguous,
    /// No `[[registries]]` entry for the project's registry host.
    NoRegistryConfigured,
    /// The registry did not answer.
    RegistryUnreachable,
    /// Cluster protection is configured but could not be read.
    ClusterProtectionUnavailable,
    /// The registry has deletion disabled.
    DeletionDisabled,
    /// The credentials lack the delete right.
    NoDeleteRight,
    /// The registry protects the tags (protected or immutable tag rules).
    Protected,
    /// Any other registry error.
    RegistryError,
}

impl Refusal {
    /// The `reason` label of `registry_gc_gc_refusals_total`.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::ProjectUnknown => "project_unknown",
            Refusal::ProjectAmbiguous => "project_ambiguous",
            Refusal::NoRegistryConfigured => "no_registry_configured",
            Refusal::RegistryUnreachable => "registry_unreachable",
            Refusal::ClusterProtectionUnavailable => "cluster_protection_unavailable",
            Refusal::DeletionDisabled => "deletion_disabled",
            Refusal::NoDeleteRight => "no_delete_right",
            Refusal::Protected => "protected",
            Refusal::RegistryError => "registry_error",
        }
    }
}

/// One thing that went wrong, in words (no secrets), and whether it made the run delete nothing
/// somewhere. Shown as its message in the run's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError {
    pub refusal: Option<Refusal>,
    pub message: String,
}

impl RunError {
    /// Something went wrong without keeping anything back (a tag failed, a check could not run).
    pub fn note(message: impl Into<String>) -> Self {
        RunError {
            refusal: None,
            message: message.into(),
        }
    }

    /// Nothing was deleted in some scope, for `refusal`.
    pub fn refused(refusal: Refusal, message: impl Into<String>) -> Self {
        RunError {
            refusal: Some(refusal),
            message: message.into(),
        }
    }
}

impl Serialize for RunError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.message)
    }
}

/// Read back from a stored summary: the message only (refusals were counted when they happened).
impl<'de> Deserialize<'de> for RunError {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(RunError::note)
    }
}

/// The JSON summary of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub projects_planned: usize,
    /// Tags the plans wanted removed.
    pub tags_planned: usize,
    /// Tags kept, with a reason, across all plans.
    pub tags_kept: usize,
    /// Kept tags by reason code.
    #[serde(default)]
    pub kept_by_reason: BTreeMap<String, usize>,
    /// Repositories not started (time budget spent or shutting down); the next run continues.
    #[serde(default)]
    pub deferred_repositories: usize,
    /// reason code → outcome → tags.
    pub by_reason: BTreeMap<String, BTreeMap<TagOutcome, usize>>,
    /// Bytes the plans' image deletions leave unreferenced (reclaimed by the registry's GC).
    pub bytes_unreferenced: u64,
    /// Tags an interrupted earlier run left on a dummy, finished by this run.
    pub resumed: usize,
    pub duration_ms: u64,
    /// HTTP requests made to registries.
    pub registry_requests: u64,
    /// What went wrong.
    pub errors: Vec<RunError>,
}

impl RunSummary {
    /// Counts `n` tags of reason `reason` with `outcome`.
    pub fn count(&mut self, reason: &str, outcome: TagOutcome, n: usize) {
        if n > 0 {
            *self
                .by_reason
                .entry(reason.to_owned())
                .or_default()
                .entry(outcome)
                .or_default() += n;
        }
    }

    /// Tags with `outcome`, over all reasons.
    pub fn total(&self, outcome: TagOutcome) -> usize {
        self.by_reason
            .values()
            .filter_map(|m| m.get(&outcome))
            .sum()
    }

    /// Records a problem.
    pub fn error(&mut self, error: RunError) {
        self.errors.push(error);
    }

    /// Adds another summary's counts (a repository's, into the run's).
    pub fn merge(&mut self, other: RunSummary) {
        for (reason, outcomes) in other.by_reason {
            for (outcome, n) in outcomes {
                self.count(&reason, outcome, n);
            }
        }
        self.resumed += other.resumed;
        self.deferred_repositories += other.deferred_repositories;
        self.errors.extend(other.errors);
    }
}
