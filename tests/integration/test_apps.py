# Persistent apps (docs/tenant-code.md): a tenant's long-running HTTP
# server, written with Python's standard library, takes its listening
# socket from LISTEN_FDS and serves through tenantd; kill -9 of it is
# followed by a restart with backoff; it is stopped after app_idle and
# started again on demand.
import os
import time

import pytest

from conftest import Daemon, processes, wait_for
from test_admin import parse_metrics

SERVER = r'''#!/usr/bin/python3
# A persistent app: its socket comes from tenantd-run, the systemd way.
import http.server
import os
import socket

assert os.environ["LISTEN_FDS"] == "1"
assert int(os.environ["LISTEN_PID"]) == os.getpid()
count = 0


class Server(http.server.HTTPServer):
    address_family = socket.AF_UNIX     # no inet socket: no network here

    def server_bind(self):
        pass

    def server_activate(self):
        pass


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global count
        count += 1
        body = (f"app of {os.environ['TENANT']} uid {os.getuid()} "
                f"request {count} path {self.path} "
                f"host {self.headers['Host']}\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-App", "yes")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = Server(None, Handler, bind_and_activate=False)
srv.socket.close()
srv.socket = socket.socket(fileno=3)
srv.serve_forever()
'''


def install_app(d, slug):
    """A new tenant whose /app is SERVER, a persistent app."""
    d.create(slug, f"{slug}'s own page\n")
    uid, gid = d.tenant_ids(slug)
    app = os.path.join(d.tenant_dir(slug), "app")
    for name, text, mode in (
            ("routes", "/app server.py persistent\n", 0o644),
            ("server.py", SERVER, 0o755)):
        path = os.path.join(app, name)
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, uid, gid)
        os.chmod(path, mode)


@pytest.fixture
def apps():
    d = Daemon()
    try:
        for slug in ("acme", "globex"):
            install_app(d, slug)
        d.ctl("limits", "set", "acme", "app_idle", "2s")
        d.start()
        yield d
    finally:
        d.close()


def app_pids(d, slug):
    """The tenant's app processes (not its workers, nor the init that
    tenantd-run leaves in the app's PID namespace)."""
    uid = str(d.tenant_ids(slug)[0])
    workers = set(d.workers(slug))
    # A script's process is named after the script.
    return [p for p, st in processes() if p not in workers and
            st["Uid"].split()[0] == uid and st["Name"] == "server.py"]

def test_app_serves_and_persists(apps):
    r = apps.get(apps.host("acme"), "/app/x?y=1")
    assert r.status == 200, r
    uid = apps.tenant_ids("acme")[0]
    assert r.body.decode() == (f"app of acme uid {uid} request 1 path "
                               f"/app/x?y=1 host {apps.host('acme')}\n")
    assert r.headers["x-app"] == "yes"
    # The same process answers the next request.
    r = apps.get(apps.host("acme"), "/app/")
    assert b"request 2 " in r.body
    # Each tenant has its own app, as its own uid.
    r = apps.get(apps.host("globex"), "/app")
    gid = apps.tenant_ids("globex")[0]
    assert r.body.startswith(f"app of globex uid {gid} request 1".encode())
    # Other paths are still the static files.
    assert apps.get(apps.host("acme")).body == b"acme's own page\n"


def test_crashed_app_restarts_with_backoff(apps):
    assert apps.get(apps.host("acme"), "/app").status == 200
    (pid,) = app_pids(apps, "acme")
    os.kill(pid, 9)
    wait_for(lambda: not app_pids(apps, "acme"), 5, "the app gone")
    apps.wait_log(r"app acme/server.py ended after .*next start in 1s")
    # Within the backoff: 503, no start.
    r = apps.get(apps.host("acme"), "/app")
    assert r.status == 503
    # After it: started again, a fresh process.
    time.sleep(1.2)
    r = apps.get(apps.host("acme"), "/app")
    assert r.status == 200 and b"request 1 " in r.body
    assert app_pids(apps, "acme") != [pid]
    # A second crash soon after waits longer (2 s).
    os.kill(app_pids(apps, "acme")[0], 9)
    apps.wait_log(r"app acme/server.py ended after .*next start in 2s")


def test_idle_app_stops_and_starts_on_demand(apps):
    assert apps.get(apps.host("acme"), "/app").status == 200
    assert app_pids(apps, "acme")
    # app_idle is 2 s for acme: it is stopped, not counted as a crash.
    wait_for(lambda: not app_pids(apps, "acme"), 6, "the idle app stopped")
    apps.wait_log(r"app acme/server\.py \(pid \d+\): stopping: idle")
    r = apps.get(apps.host("acme"), "/app")
    assert r.status == 200 and b"request 1 " in r.body
    # globex's app (default app_idle, 5 min) was never started: no request.
    assert not app_pids(apps, "globex")


def apps_running(d):
    """tenantd_code_apps, from tenantctl metrics."""
    return parse_metrics(d.ctl("metrics").stdout)[1]["tenantd_code_apps"]


def test_app_of_tenant_without_workers_stops_on_suspend():
    """An app outlives its tenant's workers (they retire when idle after
    a second here, the app stays for app_idle, 5 min): suspending the
    tenant stops it all the same."""
    d = Daemon(workers__idle_timeout="1s")
    try:
        install_app(d, "acme")
        d.start()
        assert d.get(d.host("acme"), "/app").status == 200
        wait_for(lambda: not d.workers("acme"), 10, "acme's worker retired")
        assert app_pids(d, "acme") and apps_running(d) == 1
        d.ctl("suspend", "acme")
        wait_for(lambda: not app_pids(d, "acme"), 6, "the app stopped")
        wait_for(lambda: apps_running(d) == 0, 5, "the gauge back to 0")
        d.wait_log(r"app acme/server\.py \(pid \d+\): stopping: its tenant "
                   r"is not active")
    finally:
        d.close()
