//! `kill -9` of the real `registry-gc run` at seeded points of garbage-collection runs: right after
//! the N-th registry request reached the registry (the process never learns the answer), or after a
//! random delay (anywhere, database work included). Each killed run is followed at once by another
//! `registry-gc run`, which must start (no lockout), finish, and leave exactly the planned survivors
//! on their digests. SQLite and Postgres. `RGC_FAULT_SEED` replays another seed.

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::seed;
use super::world::GcWorld;
use crate::support::binary::{signal, Process};
use crate::support::db::both_backends;
use crate::support::fault_proxy::FaultMix;

/// Rounds of deploys, each with one killed run and the run that finishes it.
const ROUNDS: u8 = 4;

#[derive(Debug, Clone, Copy)]
enum KillPoint {
    /// Once the N-th request of the run has reached the registry, before it is answered.
    AfterRequest(u64),
    /// This long after the process started.
    AfterMillis(u64),
}

impl KillPoint {
    fn draw(rng: &mut StdRng) -> KillPoint {
        if rng.random_bool(0.75) {
            KillPoint::AfterRequest(rng.random_range(1..=60))
        } else {
            KillPoint::AfterMillis(rng.random_range(20..=700))
        }
    }
}

/// Starts `registry-gc run` and kills it at `point`; whether it died of the SIGKILL.
async fn kill_run_at(world: &GcWorld, point: KillPoint, name: &str) -> bool {
    let mut process = Process::start(world.dir.path(), name, &["run"]);
    let pid = process.pid();
    match point {
        KillPoint::AfterRequest(n) => world
            .proxy
            .trip_after(n, Box::new(move || signal(pid, "KILL"))),
        KillPoint::AfterMillis(ms) => {
            if process.wait(Duration::from_millis(ms)).await.is_none() {
                signal(pid, "KILL");
            }
        }
    }
    let status = process.wait(Duration::from_secs(30)).await;
    world.proxy.disarm();
    let status =
        status.unwrap_or_else(|| panic!("{name} neither finished nor died:\n{}", process.log()));
    status.signal() == Some(9)
}

both_backends! {
    async fn killed_runs_are_finished_by_the_next(backend: Backend) {
        let seed = seed(0x6b11_0000, backend);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut world = GcWorld::start(backend, seed, FaultMix::default()).await;
        let mut killed = 0;
        for round in 1..=ROUNDS {
            world.deploy_round(round).await;
            let expected = world.expect().await;
            let point = KillPoint::draw(&mut rng);
            let context = format!("seed {seed:#x}, round {round}, killed at {point:?}");
            let before = world.proxy.requests();
            let died = kill_run_at(&world, point, &format!("killed-{round}")).await;
            killed += usize::from(died);
            let (made, started) = (world.proxy.requests() - before, Instant::now());
            let run = world.run_binary(&format!("finish-{round}"), Duration::from_secs(30)).await;
            let finish = world.proxy.requests() - before - made;
            eprintln!("{context}: died {died} after {made} requests; the next run took {:?} and {finish} requests", started.elapsed());
            assert_eq!(run["status"], "finished", "{context}: {run}");
            world.check(&expected, &context).await;
            world.assert_settled(&context).await;
        }
        assert!(killed * 2 >= usize::from(ROUNDS), "seed {seed:#x}: only {killed} of {ROUNDS} runs were killed before they ended");
    }
}
