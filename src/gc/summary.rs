//! What a run did, in numbers: per rule and outcome, bytes, duration, errors. Stored as the run's
//! JSON summary, served by the run history API and counted in metrics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A tag's fate in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
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

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Removed => "removed",
            Outcome::DryRun => "dry-run",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
            Outcome::Deferred => "deferred",
        }
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
    /// rule code → outcome → tags.
    pub by_rule: BTreeMap<String, BTreeMap<Outcome, usize>>,
    /// Bytes the plans' image deletions leave unreferenced (reclaimed by the registry's GC).
    pub bytes_unreferenced: u64,
    /// Tags an interrupted earlier run left on a dummy, finished by this run.
    pub resumed: usize,
    pub duration_ms: u64,
    /// HTTP requests made to registries.
    pub registry_requests: u64,
    /// What went wrong, in words (no secrets).
    pub errors: Vec<String>,
}

impl RunSummary {
    /// Counts `n` tags of `rule` with `outcome`.
    pub fn count(&mut self, rule: &str, outcome: Outcome, n: usize) {
        if n > 0 {
            *self
                .by_rule
                .entry(rule.to_owned())
                .or_default()
                .entry(outcome)
                .or_default() += n;
        }
    }

    /// Tags with `outcome`, over all rules.
    pub fn total(&self, outcome: Outcome) -> usize {
        self.by_rule.values().filter_map(|m| m.get(&outcome)).sum()
    }

    /// Adds another summary's counts (a repository's, into the run's).
    pub fn merge(&mut self, other: RunSummary) {
        for (rule, outcomes) in other.by_rule {
            for (outcome, n) in outcomes {
                self.count(&rule, outcome, n);
            }
        }
        self.resumed += other.resumed;
        self.errors.extend(other.errors);
    }
}
