//! Benchmark of tag removal against a running registry (started by `scripts/bench-registry.sh`).
//! Removes `repos × tags` tags (half sharing digests with kept tags) three ways and prints the ratios:
//! the client's batch removal, a bare loop of the minimal requests, and the old per-tag method (sampled).

use bytes::Bytes;
use registry_gc::registry::manifest::{build_image_manifest, ACCEPT_ALL, DOCKER_MANIFEST};
use registry_gc::registry::{Digest, Format, RegistryClient, RegistrySettings};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

struct Opts {
    url: String,
    repos: usize,
    tags: usize,
    images: usize,
    concurrency: usize,
    sample: usize,
    bare_first: bool,
    /// Where to write `NAME:TAG` lines of one more seeded repository, for the seeds' shell method.
    seed_list: Option<String>,
}

fn opts() -> Opts {
    let mut o = Opts {
        url: String::new(),
        repos: 10,
        tags: 500,
        images: 25,
        concurrency: 8,
        sample: 200,
        bare_first: false,
        seed_list: None,
    };
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--bare-first") {
        o.bare_first = true;
        args.remove(i);
    }
    for pair in args.chunks(2) {
        let v = pair.get(1).cloned().unwrap_or_default();
        let n = || v.parse::<usize>().expect("number");
        match pair[0].as_str() {
            "--url" => o.url = v.clone(),
            "--repos" => o.repos = n(),
            "--tags" => o.tags = n(),
            "--concurrency" => o.concurrency = n(),
            "--sample" => o.sample = n(),
            "--seed-list" => o.seed_list = Some(v.clone()),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(!o.url.is_empty(), "--url is required");
    o
}

/// One seeded repository: tags to remove (with digests) and kept tags (with digests).
struct Seeded {
    repo: String,
    remove: Vec<(String, Digest)>,
    keep: Vec<(String, Digest)>,
}

/// Pushes `images` images with a kept tag each and `images` without, then `tags` removable tags:
/// the first half on kept images (siblings share their digest), the rest on images nobody keeps.
async fn seed(client: &RegistryClient, repo: &str, tags: usize, images: usize) -> Seeded {
    let layer = Bytes::from(vec![7u8; 1024]);
    let mut manifests = Vec::new();
    let mut keep = Vec::new();
    for i in 0..2 * images {
        let config = Bytes::from(format!(
            "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"n\":\"{repo}-{i}\"}}"
        ));
        let tag = (i < images).then(|| format!("keep-{i:03}"));
        let (d, _) = client
            .push_image(
                repo,
                tag.as_deref(),
                Format::Docker,
                config,
                std::slice::from_ref(&layer),
            )
            .await
            .expect("push");
        let bytes = client
            .fetch_manifest(repo, d.as_str())
            .await
            .expect("fetch")
            .expect("exists")
            .bytes;
        if let Some(t) = tag {
            keep.push((t, d.clone()));
        }
        manifests.push((d, bytes));
    }
    let mut set = JoinSet::new();
    let mut remove = Vec::new();
    for j in 0..tags {
        let idx = if j < tags / 2 {
            j % images
        } else {
            images + j % images
        };
        let (d, bytes) = manifests[idx].clone();
        let (c, r, t) = (client.clone(), repo.to_owned(), format!("rm-{j:04}"));
        remove.push((t.clone(), d));
        set.spawn(async move {
            c.put_manifest(&r, &t, DOCKER_MANIFEST, bytes)
                .await
                .expect("tag")
        });
    }
    while set.join_next().await.is_some() {}
    Seeded {
        repo: repo.to_owned(),
        remove,
        keep,
    }
}

async fn seed_all(client: &RegistryClient, phase: &str, o: &Opts, repos: usize) -> Vec<Seeded> {
    let mut out = Vec::new();
    for r in 0..repos {
        out.push(seed(client, &format!("bench/{phase}-{r}"), o.tags, o.images).await);
    }
    out
}

/// Kept tags must still resolve to their digests and removed tags must be gone.
async fn check(client: &RegistryClient, seeded: &[Seeded]) {
    for s in seeded {
        let listed: std::collections::HashSet<String> = client
            .list_tags(&s.repo)
            .await
            .unwrap()
            .into_iter()
            .collect();
        assert!(
            s.remove.iter().all(|(t, _)| !listed.contains(t)),
            "{}: a removed tag is still listed",
            s.repo
        );
        for (t, d) in &s.keep {
            assert_eq!(
                client.resolve(&s.repo, t).await.unwrap().as_ref(),
                Some(d),
                "{}:{t} changed",
                s.repo
            );
        }
    }
}

/// The client's batch removal, all repositories at once under one concurrency limit.
async fn run_new(client: &RegistryClient, seeded: &[Seeded]) -> (Duration, u64, usize) {
    let before = client.requests_made();
    let start = Instant::now();
    let mut set = JoinSet::new();
    for s in seeded {
        let (c, repo, plan) = (client.clone(), s.repo.clone(), s.remove.clone());
        set.spawn(async move {
            registry_gc::gc::remove_tags(&c, &repo, &plan, &[])
                .await
                .expect("remove")
                .removed()
        });
    }
    let mut removed = 0;
    while let Some(n) = set.join_next().await {
        removed += n.expect("task");
    }
    (start.elapsed(), client.requests_made() - before, removed)
}

/// Plain reqwest loop with only the minimal requests: HEAD + PUT per tag, one DELETE per repository.
async fn run_bare(
    client: &RegistryClient,
    base: &str,
    seeded: &[Seeded],
    concurrency: usize,
) -> (Duration, u64) {
    let mut dummies = Vec::new();
    for s in seeded {
        let cfg = Bytes::from(format!("{{\"bare\":\"{}\"}}", s.repo));
        let len = cfg.len() as u64;
        let d = client.upload_blob(&s.repo, cfg).await.unwrap();
        let (_, body) = build_image_manifest(Format::Docker, (d, len), &[]);
        dummies.push((Digest::of(&body), Bytes::from(body)));
    }
    let http = reqwest::Client::new();
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut set = JoinSet::new();
    // Interleave repositories (tag j of every repository in turn), as the batch client's
    // concurrent per-repository batches do, so ordering does not favour either side.
    for j in 0..seeded.iter().map(|s| s.remove.len()).max().unwrap_or(0) {
        for (s, (_, body)) in seeded.iter().zip(&dummies) {
            let Some((tag, _)) = s.remove.get(j) else {
                continue;
            };
            let url = format!("{base}/v2/{}/manifests/{tag}", s.repo);
            let (http, sem, count, body) = (http.clone(), sem.clone(), count.clone(), body.clone());
            set.spawn(async move {
                let _p = sem.acquire().await.unwrap();
                http.head(&url)
                    .header("accept", ACCEPT_ALL)
                    .send()
                    .await
                    .unwrap();
                http.put(&url)
                    .header("content-type", DOCKER_MANIFEST)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                count.fetch_add(2, Ordering::Relaxed);
            });
        }
    }
    while set.join_next().await.is_some() {}
    for (s, (digest, _)) in seeded.iter().zip(&dummies) {
        let r = http
            .delete(format!("{base}/v2/{}/manifests/{digest}", s.repo))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        count.fetch_add(1, Ordering::Relaxed);
    }
    (start.elapsed(), count.load(Ordering::Relaxed))
}

/// The old per-tag method, sequential: upload the (fixed) dummy, PUT it to the tag, HEAD, DELETE.
async fn run_old(base: &str, seeded: &Seeded, sample: usize) -> Duration {
    let http = reqwest::Client::new();
    let cfg = Bytes::from_static(b"{\n  \"config\": {}\n}");
    let cfg_digest = Digest::of(&cfg);
    let (_, body) =
        build_image_manifest(Format::Docker, (cfg_digest.clone(), cfg.len() as u64), &[]);
    let repo = &seeded.repo;
    let start = Instant::now();
    for (tag, _) in seeded.remove.iter().take(sample) {
        let r = http
            .post(format!("{base}/v2/{repo}/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        let loc = reqwest::Url::parse(base)
            .unwrap()
            .join(r.headers()["location"].to_str().unwrap())
            .unwrap();
        let mut put = loc.clone();
        put.query_pairs_mut()
            .append_pair("digest", cfg_digest.as_str());
        http.put(put).body(cfg.clone()).send().await.unwrap();
        let url = format!("{base}/v2/{repo}/manifests/{tag}");
        http.put(&url)
            .header("content-type", DOCKER_MANIFEST)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let h = http
            .head(&url)
            .header("accept", ACCEPT_ALL)
            .send()
            .await
            .unwrap();
        let digest = h.headers()["docker-content-digest"]
            .to_str()
            .unwrap()
            .to_owned();
        let d = http
            .delete(format!("{base}/v2/{repo}/manifests/{digest}"))
            .send()
            .await
            .unwrap();
        assert_eq!(d.status(), 202);
    }
    start.elapsed()
}

#[tokio::main]
async fn main() {
    let o = opts();
    let mut settings = RegistrySettings::new(o.url.parse().expect("url"));
    settings.max_concurrency = o.concurrency;
    let client = RegistryClient::new(settings).expect("client");
    let total = o.repos * o.tags;
    eprintln!(
        "seeding {} repositories x {} tags (+{} kept tags each)...",
        o.repos, o.tags, o.images
    );
    let new_repos = seed_all(&client, "new", &o, o.repos).await;
    let bare_repos = seed_all(&client, "bare", &o, o.repos).await;
    let old_repo = seed_all(&client, "old", &o, 1).await.remove(0);
    if let Some(path) = &o.seed_list {
        let shell = seed_all(&client, "seed-method", &o, 1).await.remove(0);
        let lines: String = shell
            .remove
            .iter()
            .map(|(t, _)| format!("{}:{t}\n", shell.repo))
            .collect();
        std::fs::write(path, lines).expect("write the seed list");
    }

    let mut bare = None;
    if o.bare_first {
        bare = Some(run_bare(&client, &o.url, &bare_repos, o.concurrency).await);
    }
    let (t_new, req_new, removed) = run_new(&client, &new_repos).await;
    check(&client, &new_repos).await;
    let (t_bare, req_bare) = match bare {
        Some(b) => b,
        None => run_bare(&client, &o.url, &bare_repos, o.concurrency).await,
    };
    check(&client, &bare_repos).await;
    let sample = o.sample.min(o.tags);
    let t_old = run_old(&o.url, &old_repo, sample).await;
    let old_per_tag = t_old.as_secs_f64() / sample as f64;
    let old_total = old_per_tag * total as f64;

    println!(
        "tags removed (batch client): {removed} of {total} in {} repositories, concurrency {}",
        o.repos, o.concurrency
    );
    println!(
        "batch client : {:8.3} s  {:8.0} tags/s  {:.3} requests/tag",
        t_new.as_secs_f64(),
        removed as f64 / t_new.as_secs_f64(),
        req_new as f64 / removed as f64
    );
    println!(
        "bare loop (b): {:8.3} s  {:8.0} tags/s  {:.3} requests/tag",
        t_bare.as_secs_f64(),
        total as f64 / t_bare.as_secs_f64(),
        req_bare as f64 / total as f64
    );
    println!("old way  (a) : {:8.3} ms/tag sequential, measured on {sample} tags, extrapolated to {total}: {:.1} s", old_per_tag * 1000.0, old_total);
    println!(
        "ratio old/batch (target >= 50x): {:.1}x",
        old_total / t_new.as_secs_f64()
    );
    println!(
        "ratio batch/bare time (target <= 1.5x): {:.2}x",
        t_new.as_secs_f64() / t_bare.as_secs_f64()
    );
    println!(
        "requests per removed tag (target <= 2.1): {:.3}",
        req_new as f64 / removed as f64
    );
    // For scripts/bench-registry.sh, which times the seeds' shell method against this.
    println!(
        "batch client ms/tag: {:.4}",
        t_new.as_secs_f64() * 1000.0 / removed as f64
    );
}
