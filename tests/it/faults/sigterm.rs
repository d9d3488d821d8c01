//! SIGTERM to the real `registry-gc serve` while a run started through the API is deleting, with
//! the registry answering slowly: the daemon exits within `server.shutdown_timeout_secs`, the run is
//! recorded `interrupted`, the GC lock is free, and the next run finishes the work, leaving exactly
//! the planned survivors. Before that, a `registry-gc run` killed with -9 is marked interrupted by
//! the daemon as it starts. SQLite and Postgres.

use std::time::{Duration, Instant};

use super::seed;
use super::world::GcWorld;
use crate::support::app::ADMIN;
use crate::support::binary::{free_port, signal, Process};
use crate::support::db::both_backends;
use crate::support::fault_proxy::FaultMix;

const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

/// Waits (at most 20 s) for `/readyz` of the daemon on `port` to answer 200.
async fn wait_ready(port: u16, daemon: &Process) {
    let url = format!("http://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if reqwest::get(&url).await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the daemon never became ready:\n{}", daemon.log());
}

/// Waits (at most 10 s) until the killed process's GC lock is gone: on Postgres its session ends
/// a moment after the process, when the server reads the closed socket.
async fn wait_lock_free(world: &GcWorld) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(lock) = world
            .store()
            .try_gc_lock(Duration::from_secs(30))
            .await
            .unwrap()
        {
            lock.release().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the GC lock of the killed process was never freed");
}

/// Waits (at most 10 s) for the daemon, which marks runs of dead processes as it starts, to have
/// marked the killed run `interrupted`.
async fn wait_interrupted(world: &GcWorld, daemon: &Process) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut runs = Vec::new();
    while Instant::now() < deadline {
        runs = world.store().runs(10).await.unwrap();
        if runs[0].status == registry_gc::model::RunStatus::Interrupted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the killed run was not marked interrupted: {:?}\n{}",
        runs[0],
        daemon.log()
    );
}

/// Waits (at most 20 s) until the run has changed something in the registry.
async fn wait_deleting(world: &GcWorld, daemon: &Process) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let methods = world.proxy.methods_forwarded();
        if methods.contains_key("PUT") || methods.contains_key("DELETE") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the run never started deleting:\n{}", daemon.log());
}

both_backends! {
    async fn sigterm_stops_a_run_at_a_safe_point(backend: Backend) {
        let mut world = GcWorld::start(backend, seed(0x5167_0000, backend), FaultMix::default()).await;
        world.deploy_round(1).await;
        world.deploy_round(2).await;
        let expected = world.expect().await;
        let port = free_port();
        let timeout = SHUTDOWN_TIMEOUT.as_secs();
        world.write_config(&format!("listen = \"127.0.0.1:{port}\"\nshutdown_timeout_secs = {timeout}"));
        // A run killed while reading the registry first: the daemon marks it interrupted at start.
        let mut killed = Process::start(world.dir.path(), "killed", &["run"]);
        let pid = killed.pid();
        world.proxy.trip_after(3, Box::new(move || signal(pid, "KILL")));
        assert!(killed.wait(Duration::from_secs(30)).await.is_some_and(|s| !s.success()), "{}", killed.log());
        wait_lock_free(&world).await;
        let mut daemon = Process::start(world.dir.path(), "serve", &["serve"]);
        wait_ready(port, &daemon).await;
        wait_interrupted(&world, &daemon).await;
        // A slow registry: the run is still deleting when the signal comes.
        world.proxy.set_mix(FaultMix { latency: Duration::from_millis(300), ..FaultMix::default() });
        let started = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/api/v1/gc/runs"))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({ "dry_run": false }))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 202);
        wait_deleting(&world, &daemon).await;

        let signalled = Instant::now();
        daemon.terminate();
        let status = daemon.wait(SHUTDOWN_TIMEOUT + Duration::from_secs(5)).await;
        let took = signalled.elapsed();
        let log = daemon.log();
        assert!(status.is_some_and(|s| s.success()), "no clean exit after SIGTERM: {status:?}\n{log}");
        assert!(took <= SHUTDOWN_TIMEOUT + Duration::from_millis(500), "took {took:?} to stop\n{log}");

        let runs = world.store().runs(10).await.unwrap();
        assert_eq!(runs[0].status, registry_gc::model::RunStatus::Interrupted, "{:?}\n{log}", runs[0]);
        let lock = world.store().try_gc_lock(Duration::from_secs(30)).await.unwrap();
        lock.expect("the GC lock is free after the daemon stopped").release().await;

        world.proxy.set_mix(FaultMix::default());
        let run = world.run_binary("after-sigterm", Duration::from_secs(30)).await;
        assert_eq!(run["status"], "finished", "{run}");
        world.check(&expected, "after SIGTERM").await;
        world.assert_settled("after SIGTERM").await;
        eprintln!("stopped {took:?} after SIGTERM; the run had {} tags to remove", expected.removed);
    }
}
