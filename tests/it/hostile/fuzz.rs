//! A seeded webhook fuzzer that stays in the suite: the recorded GitLab bodies, mutated (fields
//! dropped, wrong types, huge strings, NUL bytes, unicode, numbers out of range, deep nesting,
//! odd timestamps and SHAs, cut or spliced bytes), delivered over HTTP with the project's token.
//! Every answer must be a 2xx or 4xx (a 503 only as documented, and rarely), never a dropped
//! connection; every delivery answered `recorded` must be in the database afterwards.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sqlx::Connection;

use super::hostile_toml;
use crate::support::app::{TestApp, TOKEN};
use crate::support::db::both_backends;
use crate::support::gitlab::{self, sha, zeros};

const SEED: u64 = 0x5eed_0010;
const DELIVERIES: usize = 400;

/// The recorded fixtures, made about the configured project, with their event header.
fn originals() -> Vec<(&'static str, Value)> {
    vec![
        (
            "Push Hook",
            gitlab::push("main", &sha(1), &sha(2), &[sha(2)]),
        ),
        (
            "Push Hook",
            gitlab::push("topic", &zeros(), &sha(3), &[sha(3)]),
        ),
        ("Tag Push Hook", gitlab::tag_push("v1.2.3", &sha(4))),
        (
            "Merge Request Hook",
            gitlab::merge_request(7, "topic", "opened", "open", "2026-11-20 10:00:00 UTC"),
        ),
        (
            "Pipeline Hook",
            gitlab::pipeline(501, "main", &sha(2), "success", false, None),
        ),
        (
            "Pipeline Hook",
            gitlab::pipeline(502, "topic", &sha(3), "running", false, Some(7)),
        ),
    ]
}

const NASTY: &[&str] = &[
    "é",
    "😀",
    "\u{202e}gnp.exe",
    "e\u{301}",
    "\u{200b}",
    "\u{fffd}",
    "日本語",
    "\0",
    "a\0b",
    "../../etc/passwd",
    "%00",
    "refs/heads/",
    "refs/tags/\u{1F600}",
    "",
    " ",
    "-5000-01-01 00:00:00 +0000",
    "+10000-01-01 00:00:00 +0000",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-02-30 10:00:00 UTC",
    "aaaaaaaé",
    "running\0",
    "null",
    "{}",
];

fn random_text(rng: &mut StdRng, lengths: std::ops::Range<usize>) -> String {
    let len = rng.random_range(lengths);
    (0..len)
        .map(|_| match rng.random_range(0..10) {
            0 => char::from_u32(rng.random_range(0x80..0x2_0000)).unwrap_or('?'),
            1 => '\0',
            _ => char::from(rng.random_range(b' '..b'~')),
        })
        .collect()
}

fn random_value(rng: &mut StdRng, current: &Value) -> Value {
    match rng.random_range(0..12) {
        0 => Value::Null,
        1 => json!(rng.random_bool(0.5)),
        2 => [
            json!(u64::MAX),
            json!(i64::MIN),
            json!(-1),
            json!(0),
            json!(1e308),
            json!(1.5),
            json!(1u64 << 63),
        ][rng.random_range(0..7)]
        .clone(),
        3 => json!([current.clone()]),
        4 => json!({ "nested": current.clone() }),
        5 => json!(random_text(rng, 1000..30_000)),
        6 => json!(NASTY[rng.random_range(0..NASTY.len())]),
        7 => {
            let len = [39, 40, 41, 63, 64, 65][rng.random_range(0..6)];
            json!(random_text(rng, len..len + 1))
        }
        8 => json!("ABCDEF0123".repeat(4)),
        9 => (0..rng.random_range(100..200)).fold(current.clone(), |v, _| json!([v])),
        10 => match current.as_str() {
            Some(s) => {
                let at = s
                    .char_indices()
                    .map(|(i, _)| i)
                    .nth(rng.random_range(0..=s.chars().count().max(1) - 1))
                    .unwrap_or(0);
                json!(format!(
                    "{}{}{}",
                    &s[..at],
                    NASTY[rng.random_range(0..NASTY.len())],
                    &s[at..]
                ))
            }
            None => json!(current.to_string()),
        },
        _ => json!(random_text(rng, 0..64)),
    }
}

/// Every path (object keys and array indexes) in `value`.
fn paths(value: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    let children: Vec<(Value, &Value)> = match value {
        Value::Object(m) => m.iter().map(|(k, v)| (json!(k), v)).collect(),
        Value::Array(a) => a.iter().enumerate().map(|(i, v)| (json!(i), v)).collect(),
        _ => return,
    };
    for (key, child) in children {
        prefix.push(key);
        out.push(prefix.clone());
        paths(child, prefix, out);
        prefix.pop();
    }
}

/// Something that looks like a commit SHA and is not: a multi-byte character across byte 8 (what
/// `$CI_COMMIT_SHORT_SHA` once cut), one character short or long, upper case, a NUL, an emoji.
fn hostile_sha(rng: &mut StdRng) -> Value {
    let hex: String = (0..40)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect();
    json!(match rng.random_range(0..6) {
        0 => format!("{}é{}", &hex[..7], &hex[9..]),
        1 => hex[..39].to_owned(),
        2 => format!("{hex}0"),
        3 => hex.to_uppercase(),
        4 => format!("{}\0{}", &hex[..20], &hex[21..]),
        _ => format!("{}😀", &hex[..36]),
    })
}

/// Whether the value at `path` is a 40-character hex string (a commit SHA).
fn is_sha_at(body: &Value, path: &[Value]) -> bool {
    let value = path.iter().fold(body, |v, key| match key {
        Value::String(k) => &v[k.as_str()],
        k => &v[k.as_u64().unwrap_or(0) as usize],
    });
    value
        .as_str()
        .is_some_and(|s| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// One mutation at one random place (a commit SHA one time in five): drop the field or replace
/// its value.
fn mutate(rng: &mut StdRng, body: &mut Value) {
    let mut all = Vec::new();
    paths(body, &mut Vec::new(), &mut all);
    let shas: Vec<&Vec<Value>> = all.iter().filter(|p| is_sha_at(body, p)).collect();
    if rng.random_bool(0.3) && !shas.is_empty() {
        let path = shas[rng.random_range(0..shas.len())].clone();
        let (last, parents) = path.split_last().expect("non-empty");
        let parent = parents.iter().fold(&mut *body, |v, key| match key {
            Value::String(k) => &mut v[k.as_str()],
            k => &mut v[k.as_u64().unwrap_or(0) as usize],
        });
        match last {
            Value::String(k) => parent[k.as_str()] = hostile_sha(rng),
            k => parent[k.as_u64().unwrap_or(0) as usize] = hostile_sha(rng),
        }
        return;
    }
    let path = &all[rng.random_range(0..all.len())];
    let (last, parents) = path.split_last().expect("non-empty");
    let mut parent = &mut *body;
    for key in parents {
        parent = match key {
            Value::String(k) => &mut parent[k.as_str()],
            k => &mut parent[k.as_u64().unwrap() as usize],
        };
    }
    match (parent, last) {
        (Value::Object(m), Value::String(k)) if rng.random_bool(0.25) => drop(m.remove(k)),
        (Value::Object(m), Value::String(k)) => {
            let new = random_value(rng, &m[k]);
            m.insert(k.clone(), new);
        }
        (Value::Array(a), i) => {
            let i = i.as_u64().unwrap() as usize;
            a[i] = random_value(rng, &a[i]);
        }
        _ => {}
    }
}

/// A body's bytes, sometimes cut or spliced at a random byte (invalid UTF-8 and JSON included).
fn bytes_of(rng: &mut StdRng, body: &Value) -> Vec<u8> {
    let mut bytes = body.to_string().into_bytes();
    match rng.random_range(0..20) {
        0 => bytes.truncate(rng.random_range(0..bytes.len())),
        1 => {
            let at = rng.random_range(0..bytes.len());
            bytes.splice(at..at, [0xff, 0xc3, 0x00, b'"']);
        }
        _ => {}
    }
    bytes
}

async fn recorded_keys(app: &TestApp) -> Vec<String> {
    let url = &app.db.config.url.0;
    let sql = "SELECT key FROM deliveries";
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
    }
}

both_backends! {
    async fn mutated_real_payloads_never_get_a_5xx(backend: Backend) {
        let app = TestApp::spawn_with(backend, &hostile_toml("", "")).await;
        let mut rng = StdRng::seed_from_u64(SEED);
        let originals = originals();
        let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
        let mut recorded = Vec::new();
        for i in 0..DELIVERIES {
            let (event, original) = &originals[rng.random_range(0..originals.len())];
            let mut body = original.clone();
            for _ in 0..rng.random_range(1..=3) {
                mutate(&mut rng, &mut body);
            }
            let key = format!("fuzz-{i}");
            let response = app.http.post(app.url("/webhooks/gitlab"))
                .header("Content-Type", "application/json")
                .header("X-Gitlab-Event", *event)
                .header("X-Gitlab-Token", TOKEN)
                .header("Idempotency-Key", &key)
                .body(bytes_of(&mut rng, &body))
                .send().await
                .unwrap_or_else(|e| panic!("delivery {i} (seed {SEED:#x}): no answer: {e}"));
            let status = response.status().as_u16();
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            assert!(status < 500 || status == 503, "delivery {i} (seed {SEED:#x}): {status} {answer}\n{body}");
            if status == 200 && answer["status"] == "recorded" {
                recorded.push(format!("idem:{key}"));
            }
            *statuses.entry(status).or_default() += 1;
        }
        let unavailable = statuses.get(&503).copied().unwrap_or(0);
        assert!(unavailable * 50 <= DELIVERIES, "503 is for outages, not for input: {statuses:?}");
        assert!(recorded.len() * 10 >= DELIVERIES, "the fuzzer must reach the store: {statuses:?}");
        assert!(statuses.get(&400).copied().unwrap_or(0) * 4 >= DELIVERIES, "{statuses:?}");
        let stored = recorded_keys(&app).await;
        for key in &recorded {
            assert!(stored.contains(key), "{key} was answered `recorded` but is not in the database");
        }
    }
}
