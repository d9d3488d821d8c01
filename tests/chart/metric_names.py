"""Every metric the alerts and the dashboard may query, with its labels: the contract with the
daemon's src/metrics.rs. `exists` says whether today's daemon exports it; the rest are planned
(issue 11) and must be added under exactly these names and labels. docs/runbooks.md lists the same."""

# name: (labels, kind, exists today)
METRICS = {
    "registry_gc_http_requests_total": ({"route", "method", "status"}, "counter", True),
    "registry_gc_http_request_duration_seconds": ({"route"}, "histogram", True),
    "registry_gc_webhook_deliveries_total": ({"event", "outcome"}, "counter", True),
    "registry_gc_database_up": (set(), "gauge", True),
    "registry_gc_gc_runs_total": ({"trigger", "status"}, "counter", True),
    "registry_gc_gc_refusals_total": ({"reason"}, "counter", True),
    "registry_gc_gc_last_run_timestamp_seconds": (set(), "gauge", True),
    "registry_gc_gc_last_duration_seconds": (set(), "gauge", True),
    "registry_gc_gc_last_bytes_unreferenced": (set(), "gauge", True),
    "registry_gc_gc_last_success_timestamp_seconds": (set(), "gauge", True),
    "registry_gc_gc_tags_removed_total": ({"reason"}, "counter", True),
    "registry_gc_gc_tags_kept": ({"reason"}, "gauge", True),
    "registry_gc_gc_deferred_repositories": (set(), "gauge", True),
    "registry_gc_gc_journal_open_entries": ({"state"}, "gauge", True),
    "registry_gc_gc_journal_oldest_open_seconds": ({"state"}, "gauge", True),
    "registry_gc_registry_requests_total": ({"registry", "method", "status_class"}, "counter", True),
    "registry_gc_registry_request_duration_seconds": ({"registry"}, "histogram", True),
    "registry_gc_registry_retries_total": ({"registry", "reason"}, "counter", True),
    "registry_gc_registry_token_fetches_total": ({"registry", "result"}, "counter", True),
    "registry_gc_project_last_delivery_timestamp_seconds": ({"project"}, "gauge", True),
    "registry_gc_project_last_plan_timestamp_seconds": ({"project"}, "gauge", True),
    "registry_gc_project_last_activity_timestamp_seconds": ({"project"}, "gauge", True),
    "registry_gc_gitlab_hook_alert_status": ({"project"}, "gauge", True),
    "registry_gc_protection_up": ({"cluster"}, "gauge", True),
    "registry_gc_reconcile_last_success_timestamp_seconds": ({"project"}, "gauge", True),
    "registry_gc_build_info": ({"version"}, "gauge", True),
    # The prometheus crate's process collector, registered without the registry_gc_ prefix.
    "process_resident_memory_bytes": (set(), "gauge", True),
    "process_cpu_seconds_total": (set(), "counter", True),
    "process_open_fds": (set(), "gauge", True),
    "process_max_fds": (set(), "gauge", True),
    "process_start_time_seconds": (set(), "gauge", True),
    # Written by Prometheus itself for every target.
    "up": (set(), "gauge", True),
}

# Labels Prometheus (and the Prometheus Operator's ServiceMonitor) attach to every series.
TARGET_LABELS = {"job", "namespace", "instance", "pod", "service", "endpoint", "container"}


def labels_of(series_name):
    """The labels a series may carry, or None if it is no known metric (histograms add suffixes)."""
    if series_name in METRICS:
        return METRICS[series_name][0] | TARGET_LABELS
    for suffix, extra in (("_bucket", {"le"}), ("_sum", set()), ("_count", set())):
        base = series_name.removesuffix(suffix)
        if base != series_name and METRICS.get(base, (None, ""))[1] == "histogram":
            return METRICS[base][0] | TARGET_LABELS | extra
    return None
