//! The listener against clients that never authenticate, on the real binary: half-open and
//! slow-header connections are capped and closed after the header-read timeout (the daemon's file
//! descriptors stay bounded and it recovers), and user input reaches the log only cut to a bound.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::daemon::{example_config, free_port, start_daemon, terminate};

const CAP: usize = 8;

/// The example configuration with no schedule and each `(line, replacement)` applied.
fn config(changes: &[(&str, &str)]) -> String {
    let mut text = example_config();
    for (line, new) in [("schedule = \"0 0 * * * *\"", "schedule = \"\"")]
        .iter()
        .chain(changes)
    {
        assert!(
            text.contains(line),
            "the example configuration has no {line:?}"
        );
        text = text.replace(line, new);
    }
    text
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

async fn wait_ready(port: u16) {
    let url = format!("http://127.0.0.1:{port}/readyz");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if reqwest::get(&url).await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the daemon did not get ready");
}

/// Whether the server closed `stream` (EOF or reset) within `within`.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(within, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// A slow client: one header byte every 300 ms never finishes its headers; `true` once the server
/// has cut it off.
async fn dribble(mut slow: TcpStream) -> bool {
    let endless_header = b"GET /healthz HTTP/1.1\r\nX-Slow: "
        .iter()
        .chain([b'a'; 200].iter());
    for byte in endless_header {
        if slow.write_all(&[*byte]).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_cannot_exhaust_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cap = format!("max_connections = {CAP}");
    let config = config(&[
        ("max_connections = 512", &cap),
        (
            "header_read_timeout_secs = 10",
            "header_read_timeout_secs = 1",
        ),
    ]);
    let mut child = start_daemon(dir.path(), &config, port, &[]);
    wait_ready(port).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let baseline = open_fds(child.id());
    let mut idle = Vec::new();
    for _ in 0..150 {
        idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = open_fds(child.id());
    let slow = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let closed_first = closed_by_server(&mut idle[0], Duration::from_secs(4)).await;
    drop(idle);
    let slow_cut = tokio::time::timeout(Duration::from_secs(30), dribble(slow))
        .await
        .unwrap_or(false);
    let answered = tokio::time::timeout(
        Duration::from_secs(10),
        reqwest::get(format!("http://127.0.0.1:{port}/healthz")),
    )
    .await;
    let after = open_fds(child.id());
    let status = terminate(&mut child);
    assert!(
        during <= baseline + CAP + 4,
        "150 idle connections took {} descriptors (cap {CAP})",
        during - baseline
    );
    assert!(
        closed_first,
        "an idle connection was not closed after the header-read timeout"
    );
    assert!(
        slow_cut,
        "a client sending headers byte by byte was never cut off"
    );
    assert!(
        answered.is_ok_and(|r| r.is_ok_and(|r| r.status() == 200)),
        "no recovery"
    );
    assert!(
        after <= baseline + 2,
        "descriptors not given back: {baseline} → {after}"
    );
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_input_reaches_the_log_cut_to_a_bound() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = start_daemon(dir.path(), &config(&[]), port, &["--log-format", "json"]);
    wait_ready(port).await;
    let huge = "x".repeat(60_000);
    // A daemon blocked on its own log output must fail the test, not hang it.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let webhook = format!("http://127.0.0.1:{port}/webhooks/gitlab");
    let bodies = [
        serde_json::json!({"object_kind": huge, "project": {"id": 7, "path_with_namespace": huge}}),
        serde_json::json!({"object_kind": "push", "project": {"path_with_namespace": huge}}),
    ];
    for body in &bodies {
        for token in [None, Some("change-me-to-a-long-random-string")] {
            let mut request = http
                .post(&webhook)
                .header("X-Gitlab-Event", &huge[..6000])
                .json(body);
            if let Some(token) = token {
                request = request.header("X-Gitlab-Token", token);
            }
            let status = request.send().await.unwrap().status();
            assert!(status.is_client_error(), "{status}");
        }
    }
    terminate(&mut child);
    let mut log = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(
        log.contains("not accepted for its project"),
        "{}",
        &log[..log.len().min(3000)]
    );
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 2000, "a log line of {longest} bytes");
    assert!(!log.contains(&huge[..1000]), "user input logged in full");
}
