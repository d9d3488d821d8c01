//! Start-up on the real binary: a database URL's password never prints, wherever it sits in the
//! URL (through `check-config`, `migrate` and `serve`'s start-up error); and `serve` listens at
//! once while Postgres is not there yet, answers 503 until it has migrated, then turns ready.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sqlx::Executor;

use crate::daemon::{example_config, free_port, start_daemon, terminate, BIN};
use crate::support::db::{admin_connection, postgres_admin_url};

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/config/registry-gc.example.toml"
);

/// `(URL, the secret part that must never be printed)`; the server on port 9 does not answer.
const URLS: &[(&str, &str)] = &[
    ("postgres://gc:pw-Plain1@127.0.0.1:9/gc", "Plain1"),
    (
        "postgres://gc@127.0.0.1:9/gc?password=pw-Query2&sslmode=disable",
        "Query2",
    ),
    ("postgres://gc:pw#Hash3@127.0.0.1:9/gc", "Hash3"),
    ("postgres://gc:pw/Slash4@127.0.0.1:9/gc", "Slash4"),
    ("postgres://gc:pw%40Enc5@127.0.0.1:9/gc", "Enc5"),
    ("postgres://gc:pw?Q6x@127.0.0.1:9/gc", "Q6x"),
    (
        "postgresql://127.0.0.1:9/gc?user=gc&password=pw-Query7",
        "Query7",
    ),
];

fn run(args: &[&str], url: &str, extra_env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--config", EXAMPLE])
        .env("REGISTRY_GC__DATABASE__URL", url)
        .envs(extra_env.iter().copied())
        .output()
        .unwrap()
}

fn printed(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn database_passwords_never_print() {
    for (url, secret) in URLS {
        let shown = run(&["check-config"], url, &[]);
        let text = printed(&shown);
        assert!(shown.status.success(), "{url}: {text}");
        assert!(
            text.contains("***") && !text.contains(secret),
            "check-config {url}:\n{text}"
        );

        let migrate = run(&["migrate"], url, &[]);
        let text = printed(&migrate);
        assert!(!migrate.status.success(), "{url}");
        assert!(!text.contains(secret), "migrate {url}:\n{text}");
    }
    let started = Instant::now();
    let (url, secret) = URLS[1];
    let timeout = [
        ("REGISTRY_GC__DATABASE__STARTUP_TIMEOUT_SECS", "2"),
        ("REGISTRY_GC__SERVER__LISTEN", "127.0.0.1:0"),
    ];
    let serve = run(&["serve"], url, &timeout);
    let text = printed(&serve);
    assert!(
        !serve.status.success(),
        "serve must fail when the database never comes: {text}"
    );
    assert!(text.contains("startup_timeout_secs"), "{text}");
    assert!(!text.contains(secret), "serve:\n{text}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

async fn status(http: &reqwest::Client, url: &str, body: Option<&serde_json::Value>) -> u16 {
    let request = match body {
        Some(body) => http
            .post(url)
            .header("X-Gitlab-Token", "change-me-to-a-long-random-string")
            .header("X-Gitlab-Event", "Push Hook")
            .json(body),
        None => http.get(url),
    };
    request.send().await.map_or(0, |r| r.status().as_u16())
}

/// Polls `url` until it answers 200 or `within` has passed.
async fn wait_for(http: &reqwest::Client, url: &str, within: Duration) {
    let started = Instant::now();
    while status(http, url, None).await != 200 && started.elapsed() < within {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_waits_for_postgres_and_then_turns_ready() {
    let name = format!("rgc_test_late_{}", uuid::Uuid::new_v4().simple());
    let base = postgres_admin_url();
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = example_config()
        .replace("schedule = \"0 0 * * * *\"", "schedule = \"\"")
        .replace(
            "url = \"sqlite://registry-gc.db\"",
            &format!("url = \"{url}\""),
        )
        .replace("startup_timeout_secs = 120", "startup_timeout_secs = 60");
    let mut child = start_daemon(dir.path(), &config, port, &[]);
    let http = reqwest::Client::new();
    let at = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let mut push = crate::support::gitlab::push("main", &"1".repeat(40), &"2".repeat(40), &[]);
    push["project"]["path_with_namespace"] = serde_json::json!("group/app");
    wait_for(&http, &at("/healthz"), Duration::from_secs(20)).await;
    let before = (
        status(&http, &at("/healthz"), None).await,
        status(&http, &at("/readyz"), None).await,
        status(&http, &at("/webhooks/gitlab"), Some(&push)).await,
    );
    admin_connection()
        .await
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    wait_for(&http, &at("/readyz"), Duration::from_secs(30)).await;
    let after = (
        status(&http, &at("/readyz"), None).await,
        status(&http, &at("/webhooks/gitlab"), Some(&push)).await,
    );
    let exit = terminate(&mut child);
    let _ = admin_connection()
        .await
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await;
    assert_eq!(
        before,
        (200, 503, 503),
        "listening, not ready, webhooks 503 while the database is missing"
    );
    assert_eq!(
        after,
        (200, 200),
        "ready and recording once the database exists"
    );
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
}
