#!/usr/bin/env python3
"""Memory benchmark driver (issue 12, "Memory across runs"), started by scripts/bench-memory.sh.

Talks to a running docker-registry and a running release daemon (both on loopback) and reads the
daemon's VmRSS from /proc/<pid>/status: after idle, after DELIVERIES pipeline hooks, and after each
of RUNS garbage-collection runs. Before each run it pushes TAGS fresh images and records each with
its own finished pipeline, so that every run removes TAGS tags for real. Prints the series and a
verdict. Every wait is bounded; nothing here starts or stops a process.

    memory.py PID DAEMON_URL REGISTRY_URL [--deliveries N] [--runs N] [--tags N] [--limit-mib N]
"""

import argparse
import hashlib
import http.client
import json
import sys
import threading
import time
import urllib.parse

ADMIN = "Bearer bench-admin"
HOOK_TOKEN = "bench-token"
REPO = "group/app/app-ci"
PIPELINE_FIXTURE = "tests/fixtures/gitlab/pipeline.json"


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field}")


def rss_kib(pid):
    return status_kib(pid, "VmRSS")


class Http:
    """One keep-alive connection to a loopback URL, with a bounded timeout on every request."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                return resp.status, resp.getheaders(), resp.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """Pushes small images (one shared layer, a config of their own) with the registry API."""

    def __init__(self, url):
        self.http = Http(url)
        self.layer = b"registry-gc memory benchmark layer\n" * 64
        self.pushed_layer = False

    def blob(self, data):
        digest = sha256(data)
        status, headers, _ = self.http.request("POST", f"/v2/{REPO}/blobs/uploads/")
        assert status == 202, f"start upload: {status}"
        location = dict((k.lower(), v) for k, v in headers)["location"]
        u = urllib.parse.urlsplit(location)
        sep = "&" if u.query else "?"
        path = f"{u.path}?{u.query}{sep}digest={urllib.parse.quote(digest)}".replace("??", "?")
        length = {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))}
        status, _, body = self.http.request("PUT", path, data, length)
        assert status == 201, f"finish upload: {status} {body[:200]}"
        return digest

    def push(self, tag):
        if not self.pushed_layer:
            self.blob(self.layer)
            self.pushed_layer = True
        config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "size": len(config), "digest": self.blob(config)},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": len(self.layer), "digest": sha256(self.layer)}],
        }).encode()
        headers = {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"}
        status, _, body = self.http.request("PUT", f"/v2/{REPO}/manifests/{tag}", manifest, headers)
        assert status == 201, f"manifest {tag}: {status} {body[:200]}"


class Daemon:
    def __init__(self, url):
        self.url = url
        with open(PIPELINE_FIXTURE) as f:
            hook = json.load(f)
        hook["project"]["id"] = 42
        hook["project"]["path_with_namespace"] = "group/app"
        hook["project"]["default_branch"] = "main"
        hook["object_attributes"]["ref"] = "main"
        self.hook = hook

    def deliver(self, conn, pipeline):
        """Records one finished pipeline whose ci-commit tag is `sha_of(pipeline)`."""
        self.hook["object_attributes"]["id"] = pipeline
        self.hook["object_attributes"]["sha"] = sha_of(pipeline)
        body = json.dumps(self.hook)
        headers = {"Content-Type": "application/json", "X-Gitlab-Event": "Pipeline Hook",
                   "X-Gitlab-Token": HOOK_TOKEN, "Idempotency-Key": f"mem-{pipeline}"}
        status, _, answer = conn.request("POST", "/webhooks/gitlab", body, headers)
        assert status == 200, f"delivery {pipeline}: {status} {answer[:200]}"

    def deliver_many(self, first, count, threads=4):
        """`count` deliveries from `threads` keep-alive connections at once."""
        errors = []

        def work(k):
            conn, daemon = Http(self.url), Daemon(self.url)
            try:
                for p in range(first + k, first + count, threads):
                    daemon.deliver(conn, p)
            except Exception as e:  # reported below; a thread's exception would be lost
                errors.append(e)

        workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=900)
        if errors or any(w.is_alive() for w in workers):
            raise RuntimeError(f"deliveries failed: {errors[:3]}")

    def run(self, timeout=300):
        """Triggers a run that deletes, waits for it to end; returns its record."""
        conn = Http(self.url)
        auth = {"Authorization": ADMIN, "Content-Type": "application/json"}
        status, _, body = conn.request("POST", "/api/v1/gc/runs", b'{"dry_run": false}', auth)
        assert status == 202, f"trigger: {status} {body[:200]}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.2)
            status, _, body = conn.request("GET", "/api/v1/gc/runs?limit=1", None, auth)
            assert status == 200, f"runs: {status}"
            run = json.loads(body)["runs"][0]
            if run["status"] != "running":
                return run
        raise RuntimeError(f"run not over within {timeout} s")


def sha_of(pipeline):
    return hashlib.sha1(str(pipeline).encode()).hexdigest()


def removed(run):
    by_reason = (run.get("summary") or {}).get("by_reason") or {}
    return sum(outcomes.get("removed", 0) for outcomes in by_reason.values())


def settle(pid, seconds=2.0):
    """RSS once the daemon has been idle a moment (background frees, idle timeouts)."""
    time.sleep(seconds)
    return rss_kib(pid)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pid", type=int)
    ap.add_argument("daemon")
    ap.add_argument("registry")
    ap.add_argument("--deliveries", type=int, default=12500)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--tags", type=int, default=50)
    ap.add_argument("--limit-mib", type=float, default=30.0)
    a = ap.parse_args()
    daemon, registry = Daemon(a.daemon), Registry(a.registry)
    mib = lambda kib: kib / 1024

    idle = settle(a.pid)
    print(f"idle: {mib(idle):.1f} MiB", flush=True)
    started = time.monotonic()
    daemon.deliver_many(1, a.deliveries)
    after_hooks = settle(a.pid)
    took = time.monotonic() - started
    print(f"after {a.deliveries} deliveries ({took:.0f} s): {mib(after_hooks):.1f} MiB", flush=True)

    series = []
    next_pipeline = 10_000_000
    for n in range(1, a.runs + 1):
        pipelines = range(next_pipeline, next_pipeline + a.tags)
        next_pipeline += a.tags
        for p in pipelines:
            registry.push(sha_of(p))
        daemon.deliver_many(pipelines.start, a.tags, threads=2)
        t = time.monotonic()
        run = daemon.run()
        secs = time.monotonic() - t
        rss = settle(a.pid)
        series.append(rss)
        print(f"run {n:2}: {run['status']}, removed {removed(run)} in {secs:.1f} s, "
              f"RSS {mib(rss):.1f} MiB (heap and stacks {mib(status_kib(a.pid, 'RssAnon')):.1f})",
              flush=True)
        if run["status"] != "finished" or removed(run) != a.tags:
            print(f"run {n} did not remove the {a.tags} fresh tags: {run.get('error')}")
            return 1

    peak = max(series)
    print("series (MiB): " + " ".join(f"{mib(r):.1f}" for r in series))
    ok = mib(peak) <= a.limit_mib
    line = f"max RSS over runs {mib(peak):.1f} MiB (limit {a.limit_mib:.0f})"
    if len(series) > 5:
        growth = mib(series[-1] - series[4])
        flat = growth <= 1.0
        ok = ok and flat
        line += f"; growth run 5 -> run {len(series)}: {growth:+.1f} MiB (flat: <= +1.0)"
    print(f"{line}; verdict: {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
