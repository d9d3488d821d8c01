//! The real `registry-gc` binary, as the README runs it: starts on the embedded SQLite default,
//! answers `/readyz`, stops cleanly on SIGTERM; `check-config` validates and redacts.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_registry-gc");

pub(crate) fn example_config() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/registry-gc.example.toml"
    ))
    .unwrap()
}

/// Starts `registry-gc serve` in `dir` with `config` listening on `port`; stderr is piped.
pub(crate) fn start_daemon(
    dir: &std::path::Path,
    config: &str,
    port: u16,
    args: &[&str],
) -> std::process::Child {
    let config = config.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    std::fs::write(dir.join("registry-gc.toml"), config).unwrap();
    Command::new(BIN)
        .args(["serve", "--config", "registry-gc.toml"])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// SIGTERM, then up to 10 s for the process to exit (killed after that: `None`).
pub(crate) fn terminate(child: &mut std::process::Child) -> Option<std::process::ExitStatus> {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn serves_on_sqlite_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // No scheduled run may fire during the test: it would reach for the example's registry.
    let config = example_config().replace("schedule = \"0 0 * * * *\"", "schedule = \"\"");
    let mut child = start_daemon(dir.path(), &config, port, &["--log-format", "json"]);
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let started = Instant::now();
    let mut answered = false;
    // The daemon listens at once and answers 503 until its migrations are applied.
    while started.elapsed() < Duration::from_secs(20) {
        if let Ok(r) = reqwest::get(&ready).await {
            answered = r.status() == 200;
            if answered {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let db_created = dir.path().join("registry-gc.db").exists();
    let status = terminate(&mut child);
    let mut log = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(answered, "/readyz did not answer 200; log:\n{log}");
    assert!(db_created, "the SQLite database file was not created");
    assert!(
        status.is_some_and(|s| s.success()),
        "no clean exit after SIGTERM: {status:?}\n{log}"
    );
    assert!(
        log.lines().all(|l| l.starts_with('{')),
        "JSON logs expected:\n{log}"
    );
    assert!(
        !log.contains("change-me-to-a-long-random-string"),
        "a secret reached the log"
    );
}

#[tokio::test]
async fn the_schedule_starts_runs() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Every second; the registry is a closed loopback port, so runs delete nothing and say why.
    let config = example_config()
        .replace("registry.example.com", "127.0.0.1:9")
        .replace("schedule = \"0 0 * * * *\"", "schedule = \"* * * * * *\"")
        .replace(
            "[server]\n",
            "[server]\nadmin_token = \"schedule-test-admin\"\n",
        );
    let mut child = start_daemon(dir.path(), &config, port, &[]);
    let runs_url = format!("http://127.0.0.1:{port}/api/v1/gc/runs");
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut scheduled = Vec::new();
    while started.elapsed() < Duration::from_secs(15) && scheduled.is_empty() {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let request = http.get(&runs_url).bearer_auth("schedule-test-admin");
        let Ok(response) = request.send().await else {
            continue;
        };
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        scheduled = body["runs"]
            .as_array()
            .map(|runs| {
                runs.iter()
                    .filter(|r| r["trigger"] == "schedule")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
    }
    let status = terminate(&mut child);
    assert!(!scheduled.is_empty(), "no scheduled run within 15 s");
    assert_eq!(
        scheduled[0]["dry_run"], true,
        "the example configuration is a dry run"
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "no clean exit after SIGTERM with the scheduler running: {status:?}"
    );
}

#[test]
fn check_config_redacts_and_names_bad_keys() {
    let out = Command::new(BIN)
        .args([
            "check-config",
            "--config",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/config/registry-gc.example.toml"
            ),
        ])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown.contains("[redacted]") && !shown.contains("change-me-to-a-long-random-string"),
        "{shown}"
    );

    let out = Command::new(BIN)
        .args([
            "check-config",
            "--config",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/config/registry-gc.example.toml"
            ),
        ])
        .env("REGISTRY_GC__SERVER__BODY_LIMIT_BYTES", "12")
        .env("REGISTRY_GC__DATABASE__URL", "mysql://nope")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("server.body_limit_bytes") && err.contains("database.url"),
        "{err}"
    );

    let out = Command::new(BIN)
        .args(["check-config", "--config", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}
