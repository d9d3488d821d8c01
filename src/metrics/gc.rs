//! The garbage collector's metrics: runs by trigger and status, tags by reason and outcome, what
//! the last run kept and deferred, the journal's open entries, and the last run's gauges.

use prometheus::{Gauge, IntCounterVec, IntGauge, IntGaugeVec, Registry};

use super::{counter, gauge, gauge_vec, int_gauge};

/// Garbage-collection metrics.
#[derive(Clone)]
pub struct GcMetrics {
    runs: IntCounterVec,
    tags: IntCounterVec,
    removed: IntCounterVec,
    kept: IntGaugeVec,
    refusals: IntCounterVec,
    deferred_repositories: IntGauge,
    journal_open: IntGaugeVec,
    journal_oldest: IntGaugeVec,
    last: LastRunGauges,
}

/// The gauges that describe the last run.
#[derive(Clone)]
struct LastRunGauges {
    bytes_unreferenced: IntGauge,
    duration_seconds: Gauge,
    finished: IntGauge,
    success: IntGauge,
}

impl LastRunGauges {
    fn new(r: &Registry) -> Self {
        LastRunGauges {
            bytes_unreferenced: int_gauge(
                r,
                "gc_last_bytes_unreferenced",
                "Bytes the last run left unreferenced",
            ),
            duration_seconds: gauge(r, "gc_last_duration_seconds", "Duration of the last run"),
            finished: int_gauge(
                r,
                "gc_last_run_timestamp_seconds",
                "Unix time the last run finished",
            ),
            success: int_gauge(
                r,
                "gc_last_success_timestamp_seconds",
                "Unix time the last run finished with status finished",
            ),
        }
    }
}

/// The journal states that are still open after a run.
const OPEN_STATES: [&str; 2] = ["planned", "repointed"];

impl GcMetrics {
    pub(super) fn new(r: &Registry) -> Self {
        GcMetrics {
            runs: counter(
                r,
                "gc_runs_total",
                "Garbage-collection runs by trigger and status",
                &["trigger", "status"],
            ),
            tags: counter(
                r,
                "gc_tags_total",
                "Tags handled by garbage-collection runs, by reason and outcome",
                &["reason", "outcome"],
            ),
            removed: counter(
                r,
                "gc_tags_removed_total",
                "Tags removed from registries, by reason",
                &["reason"],
            ),
            kept: gauge_vec(
                r,
                "gc_tags_kept",
                "Tags the last run kept, by reason",
                &["reason"],
            ),
            refusals: counter(
                r,
                "gc_refusals_total",
                "Scopes where a run deleted nothing, by reason",
                &["reason"],
            ),
            deferred_repositories: int_gauge(
                r,
                "gc_deferred_repositories",
                "Repositories the last run left for the next (time budget or shutdown)",
            ),
            journal_open: gauge_vec(
                r,
                "gc_journal_open_entries",
                "Journal entries a run left open, by state",
                &["state"],
            ),
            journal_oldest: gauge_vec(
                r,
                "gc_journal_oldest_open_seconds",
                "Age of the oldest open journal entry, by state",
                &["state"],
            ),
            last: LastRunGauges::new(r),
        }
    }

    /// Counts one scope where a run deleted nothing; `reason` is from a fixed set.
    pub fn refusal(&self, reason: &str) {
        self.refusals.with_label_values(&[reason]).inc();
    }

    /// Counts a finished run and its tags by `(reason code, outcome, count)`.
    pub fn run_finished<'a>(
        &self,
        trigger: &str,
        status: &str,
        tags: impl Iterator<Item = (&'a str, &'a str, u64)>,
    ) {
        self.runs.with_label_values(&[trigger, status]).inc();
        for (reason, outcome, n) in tags {
            self.tags.with_label_values(&[reason, outcome]).inc_by(n);
            if outcome == "removed" {
                self.removed.with_label_values(&[reason]).inc_by(n);
            }
        }
    }

    /// What the last run kept, by reason code (replaces the previous run's numbers).
    pub fn kept<'a>(&self, by_reason: impl Iterator<Item = (&'a str, u64)>) {
        self.kept.reset();
        for (reason, n) in by_reason {
            self.kept
                .with_label_values(&[reason])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// The gauges of the last run.
    pub fn last_run(&self, last: LastRun) {
        let gauges = &self.last;
        gauges
            .bytes_unreferenced
            .set(i64::try_from(last.bytes_unreferenced).unwrap_or(i64::MAX));
        gauges.duration_seconds.set(last.seconds);
        gauges.finished.set(last.finished_at);
        self.deferred_repositories
            .set(i64::try_from(last.deferred_repositories).unwrap_or(i64::MAX));
        if last.succeeded {
            gauges.success.set(last.finished_at);
        }
    }

    /// When the last successful run finished (set from the database at start).
    pub fn last_success(&self, at: i64) {
        self.last.success.set(at);
    }

    /// The open journal entries: `(state, count, age of the oldest in seconds)`.
    pub fn journal(&self, open: &[(&str, usize, i64)]) {
        for state in OPEN_STATES {
            let (count, oldest) = open
                .iter()
                .find(|(s, _, _)| *s == state)
                .map_or((0, 0), |(_, n, age)| (*n, *age));
            self.journal_open
                .with_label_values(&[state])
                .set(i64::try_from(count).unwrap_or(i64::MAX));
            self.journal_oldest.with_label_values(&[state]).set(oldest);
        }
    }
}

/// The numbers of the last run.
#[derive(Debug, Clone, Copy)]
pub struct LastRun {
    pub bytes_unreferenced: u64,
    pub seconds: f64,
    pub finished_at: i64,
    pub deferred_repositories: usize,
    pub succeeded: bool,
}
