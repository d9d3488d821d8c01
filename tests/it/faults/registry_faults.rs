//! A registry behind a proxy that answers 5xx (before or after the registry acted), resets
//! connections (before or after), answers slowly, and rate-limits with `Retry-After`, seeded. Runs
//! through it may fail, refuse or leave work for later, but never delete a tag the plan keeps nor
//! change its digest; after the faulty runs, a clean run leaves exactly the planned survivors.
//! SQLite and Postgres.

use chrono::{TimeDelta, Utc};
use registry_gc::gc::Trigger;

use super::seed;
use super::world::GcWorld;
use crate::support::db::both_backends;
use crate::support::fault_proxy::FaultMix;

/// Deploy rounds, and faulty runs per round.
const ROUNDS: u8 = 1;
const FAULTY_RUNS: usize = 2;

impl GcWorld {
    /// Every survivor is still there, on its digest (planned tags may or may not be gone yet).
    async fn check_kept(&self, expected: &super::world::Expectation, context: &str) {
        let now = self.tags().await;
        for key in &expected.survivors {
            assert_eq!(
                now.get(key),
                Some(&expected.before[key]),
                "{context}: kept tag {key:?} deleted or moved"
            );
        }
    }
}

both_backends! {
    async fn a_faulty_registry_causes_no_wrong_deletion(backend: Backend) {
        let seed = seed(0x0fa1_7002, backend);
        let mut world = GcWorld::start(backend, seed, FaultMix::default()).await;
        for round in 1..=ROUNDS {
            world.deploy_round(round).await;
            let expected = world.expect().await;
            for attempt in 1..=FAULTY_RUNS {
                // Harsh first (three requests in five meet a fault), milder after.
                world.proxy.set_mix(FaultMix::hostile().scaled(2.0 / attempt as f64));
                let context = format!("seed {seed:#x}, round {round}, faulty run {attempt}");
                world.app.clock.set(Utc::now() + TimeDelta::minutes(1));
                match world.app.gc.run(Trigger::Cli, None).await {
                    Ok(run) => eprintln!("{context}: {:?}, errors: {:?}", run.status, run.error),
                    Err(e) => eprintln!("{context}: failed: {e}"),
                }
                world.check_kept(&expected, &context).await;
            }
            world.proxy.set_mix(FaultMix::default());
            world.app.clock.set(Utc::now() + TimeDelta::minutes(1));
            let context = format!("seed {seed:#x}, round {round}, clean run");
            let run = world.app.gc.run(Trigger::Cli, None).await.expect("clean run");
            assert_eq!(run.status, registry_gc::model::RunStatus::Finished, "{context}: {:?}", run.error);
            world.check(&expected, &context).await;
            world.assert_settled(&context).await;
        }
        let seen = world.proxy.faults_seen();
        eprintln!("faults injected: {seen:?}");
        for fault in ["5xx-before", "5xx-after", "reset-before", "reset-after", "429", "slow"] {
            assert!(seen.get(fault).is_some_and(|n| *n > 0), "seed {seed:#x}: no {fault} was injected: {seen:?}");
        }
    }
}
