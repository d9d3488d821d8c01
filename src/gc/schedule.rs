//! The daemon's schedule: runs the collector on `gc.schedule` (cron with seconds, e.g.
//! `0 0 * * * *` hourly) with tokio-cron-scheduler. A tick while a run is going is skipped.

use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use super::{Gc, GcError, Trigger};

/// Starts the scheduler; keep the returned handle alive and `shutdown()` it on exit.
pub async fn start(gc: Gc, cron: &str) -> Result<JobScheduler, JobSchedulerError> {
    let scheduler = JobScheduler::new().await?;
    let job = Job::new_async(cron, move |_id, _scheduler| {
        let gc = gc.clone();
        Box::pin(async move {
            match gc.run(Trigger::Schedule, None).await {
                Ok(run) => tracing::debug!(run_id = run.id, "scheduled run done"),
                Err(GcError::AlreadyRunning) => {
                    tracing::info!("scheduled run skipped: a run is in progress")
                }
                Err(e) => tracing::error!(error = %e, "scheduled run failed"),
            }
        })
    })?;
    scheduler.add(job).await?;
    scheduler.start().await?;
    Ok(scheduler)
}

/// Whether `cron` is a schedule tokio-cron-scheduler accepts (for config validation).
pub fn is_valid(cron: &str) -> bool {
    Job::new_async(cron, |_, _| Box::pin(async {})).is_ok()
}
