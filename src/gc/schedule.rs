//! The daemon's schedule: starts a run on `gc.schedule` (cron with seconds, e.g. `0 0 * * * *`
//! hourly) with tokio-cron-scheduler. Runs go on the collector's task tracker, so shutdown waits
//! for them; a tick while a run is going is skipped.

use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use super::{Gc, Trigger};

/// Starts the scheduler; keep the returned handle alive and `shutdown()` it on exit.
pub async fn start(gc: Gc, cron: &str) -> Result<JobScheduler, JobSchedulerError> {
    let scheduler = JobScheduler::new().await?;
    let job = Job::new_async(cron, move |_id, _scheduler| {
        let gc = gc.clone();
        Box::pin(async move {
            if gc.start(Trigger::Schedule, None).is_err() {
                tracing::info!("scheduled run skipped: a run is in progress or shutting down");
            }
        })
    })?;
    scheduler.add(job).await?;
    scheduler.start().await?;
    Ok(scheduler)
}
