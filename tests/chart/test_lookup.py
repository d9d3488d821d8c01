"""The generated admin token survives upgrades: rendered against an API server that holds the
Secret from the install, the chart keeps its token instead of making a new one. The API server is
a small HTTP server on loopback answering the two requests Helm's `lookup` makes (discovery of
`/api/v1`, then the Secret), in the API server's JSON format; Helm's own client-go makes them."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import helm_python as helm
import pytest
import yaml

from conftest import IMAGE, NAMESPACE, RELEASE, merge

SECRET = f"{RELEASE}-admin-token"
KEPT = "kept-token-from-the-first-install"


class FakeApiServer(BaseHTTPRequestHandler):
    secrets = {}
    requests = []

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0]
        self.requests.append(path)
        if path == "/api/v1":
            return self.reply(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1",
                                    "resources": [{"name": "secrets", "singularName": "secret", "namespaced": True,
                                                   "kind": "Secret", "verbs": ["get", "list", "watch"]}]})
        prefix = f"/api/v1/namespaces/{NAMESPACE}/secrets/"
        if path.startswith(prefix) and path[len(prefix):] in self.secrets:
            return self.reply(200, self.secrets[path[len(prefix):]])
        self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})


@pytest.fixture()
def cluster():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApiServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeApiServer.secrets = {}
    FakeApiServer.requests = []
    kubeconfig = yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
        "users": [{"name": "test", "user": {"token": "test"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test", "namespace": NAMESPACE}}],
    })
    with helm.Config(kubeconfig_content=kubeconfig, namespace=NAMESPACE) as config:
        yield config
    server.shutdown()
    server.server_close()


def admin_token(out):
    secret = yaml.safe_load(out["registry-gc/templates/admin-token-secret.yaml"])
    return base64.b64decode(secret["data"]["admin-token"]).decode()


def test_upgrade_keeps_the_token_of_the_install(chart, cluster):
    FakeApiServer.secrets[SECRET] = {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": SECRET, "namespace": NAMESPACE},
        "data": {"admin-token": base64.b64encode(KEPT.encode()).decode()}}
    out = cluster.render(chart, merge(IMAGE), name=RELEASE, namespace=NAMESPACE, is_upgrade=True)
    assert admin_token(out) == KEPT
    assert f"/api/v1/namespaces/{NAMESPACE}/secrets/{SECRET}" in FakeApiServer.requests


def test_install_without_a_secret_generates_one(chart, cluster):
    out = cluster.render(chart, merge(IMAGE), name=RELEASE, namespace=NAMESPACE, is_install=True)
    token = admin_token(out)
    assert len(token) == 48 and token != KEPT
    assert f"/api/v1/namespaces/{NAMESPACE}/secrets/{SECRET}" in FakeApiServer.requests
