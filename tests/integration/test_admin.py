# The running daemon's admin side: tenantctl status/top/restart/drain/
# reload/metrics over the admin socket, the permission check on it, and
# the loopback HTTP listener (/metrics for Prometheus, /ask for Caddy's
# on-demand TLS).
import grp
import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import (Daemon, TENANTCTL, read_responses, request_bytes,
                      wait_for)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


@pytest.fixture(scope="module")
def ad():
    port = free_port()
    d = Daemon(admin__http_listen=f"127.0.0.1:{port}",
               admin__ask_rate="1000", workers__backoff_min="200ms")
    d.port = port
    try:
        d.create("acme", "acme's own page\n")
        d.create("globex", "globex's own page\n")
        d.create("dormant", "dormant's page\n")
        d.ctl("suspend", "dormant")
        d.ctl("hostname", "add", "acme", "shop.example.org", "--active")
        d.ctl("hostname", "add", "globex", "pending.example.org")
        d.start()
        yield d
    finally:
        d.close()


def status(d, *args):
    return json.loads(d.ctl("status", *args, "--json").stdout)


def test_status_counts_what_was_served(ad):
    before = status(ad)
    for _ in range(7):
        assert ad.get(ad.host("acme")).status == 200
    assert ad.get(ad.host("acme"), "/missing").status == 404
    # Workers report their counters once a second.
    def counted():
        t = status(ad, "acme")
        return t if t["by_status"].get("200", 0) >= 7 else None
    t = wait_for(counted, 4, "acme's counters")
    assert t["by_status"].get("404", 0) >= 1
    assert t["requests"] == sum(t["by_status"].values())
    assert t["errors"] == 0 and t["status"] == "active"
    (w,) = [w for w in t["workers"] if w["state"] == "ready"]
    assert w["pid"] in ad.workers("acme")
    assert 0 < w["private_kb"] < 1024 and w["rss_kb"] > w["private_kb"]
    after = status(ad)
    assert after["pid"] == ad.proc.pid
    assert after["handoffs"] >= before["handoffs"] + 8
    assert {x["slug"] for x in after["tenants"]} >= {"acme"}
    # The text form names the same numbers.
    text = ad.ctl("status").stdout
    assert re.search(r"^acme\s+active\s+1\s+\d+\s+\d+", text, re.M), text
    one = ad.ctl("status", "acme").stdout
    assert "by status: " in one and "200=" in one


def test_status_of_an_unseen_and_an_unknown_tenant(ad):
    r = ad.ctl("status", "dormant")
    assert r.returncode == 0 and "no request since tenantd started" in \
        r.stdout
    r = ad.ctl("status", "nobody", check=False)
    assert r.returncode == 4 and 'no tenant "nobody"' in r.stderr


def test_restart_clears_a_crash_backoff(ad):
    """A tenant in crash backoff makes its next request wait for the
    backoff to end (or get 503 past start_timeout); tenantctl restart
    forgets the tally, and the next request is served at once."""
    jail = ad.tenant_dir("globex")
    os.chmod(jail, 0o777)           # the supervisor refuses to start it
    try:
        def backing_off():
            ad.get(ad.host("globex"))
            t = status(ad, "globex")
            return t if t.get("backoff_seconds", 0) > 0.6 else None
        t = wait_for(backing_off, 10, "a backoff over 0.6 s", 0.05)
        assert t["failures_in_a_row"] >= 2 and t["crashes"] >= 2, t
    finally:
        os.chmod(jail, 0o750)
    out = ad.ctl("restart", "globex").stdout
    assert "crash backoff cleared" in out
    t0 = time.monotonic()
    r = ad.get(ad.host("globex"))
    assert r.status == 200 and r.body == b"globex's own page\n"
    assert time.monotonic() - t0 < 0.4
    assert status(ad, "globex")["failures_in_a_row"] == 0


def test_drain_retires_workers_without_dropping_a_connection(ad):
    s = ad.connect()
    s.sendall(request_bytes(ad.host("acme")))
    rs, _, _ = read_responses(s, 1)
    assert rs[0].status == 200
    old = ad.wait_workers("acme")
    out = ad.ctl("drain", "acme").stdout
    assert re.match(r"drained acme: 1 workers retiring", out), out
    wait_for(lambda: not set(old) & set(ad.workers("acme")), 5,
             "the old worker to exit")
    # The keep-alive connection was handed back, not closed.
    s.sendall(request_bytes(ad.host("acme")))
    rs, _, eof = read_responses(s, 1)
    assert rs and rs[0].status == 200 and not eof
    assert not set(old) & set(ad.workers("acme"))
    s.close()


def test_reload_through_tenantctl(ad):
    out = ad.ctl("reload").stdout
    assert "reloaded" in out
    ad.wait_log(r"admin: reload")
    assert ad.get(ad.host("acme")).status == 200


METRIC = re.compile(r'^([a-z_]+)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? '
                    r'(\d+(\.\d+)?|\+Inf)$')


def parse_metrics(text):
    types, samples = {}, {}
    for ln in text.splitlines():
        if ln.startswith("# TYPE "):
            _, _, name, kind = ln.split(" ")
            types[name] = kind
        elif ln.startswith("# HELP ") or not ln:
            continue
        else:
            m = METRIC.match(ln)
            assert m, f"not a Prometheus sample: {ln!r}"
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(4))
    return types, samples


def test_metrics_are_valid_prometheus_text(ad):
    for _ in range(3):
        ad.get(ad.host("acme"))
    time.sleep(1.2)
    text = ad.ctl("metrics").stdout
    types, s = parse_metrics(text)
    for name in ("tenantd_requests_total", "tenantd_handoffs_total",
                 "tenantd_request_duration_seconds",
                 "tenantd_connections_accepted_total"):
        assert name in types, name
    assert s['tenantd_up'] == 1
    assert s['tenantd_requests_total{tenant="acme",code="200"}'] >= 3
    # Histogram buckets are cumulative and end with the count.
    b = [(k, v) for k, v in s.items() if k.startswith(
        'tenantd_request_duration_seconds_bucket{tenant="acme"')]
    vals = [v for _, v in b]
    assert vals == sorted(vals) and 'le="+Inf"' in b[-1][0]
    assert vals[-1] == s['tenantd_request_duration_seconds_count'
                         '{tenant="acme"}']
    # The same over HTTP, with the exposition content type.
    with urllib.request.urlopen(
            f"http://127.0.0.1:{ad.port}/metrics", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith(
            "text/plain; version=0.0.4")
        parse_metrics(r.read().decode())


def books(d):
    """The connection counters that must balance: accepted + handed back
    = handed off + closed + held."""
    _, s = parse_metrics(d.ctl("metrics").stdout)
    return {k: s[f"tenantd_{k}"] for k in (
        "connections_accepted_total", "handbacks_total", "handoffs_total",
        "connections_closed_total", "connections_held")}


def balance(b):
    return (b["connections_accepted_total"] + b["handbacks_total"] -
            b["handoffs_total"] - b["connections_closed_total"] -
            b["connections_held"])


def test_connection_books_close(ad):
    """Each way a connection leaves the supervisor is counted: one held
    silent, one answered by tenantd, one handed to acme and then handed
    back for globex, one the proxy closes before a full head."""
    b0 = books(ad)
    assert balance(b0) == 0
    idle = socket.socket(socket.AF_UNIX)
    idle.connect(ad.sock)
    wait_for(lambda: books(ad)["connections_held"] ==
             b0["connections_held"] + 1, 5, "the silent connection held")
    assert balance(books(ad)) == 0
    # Answered by tenantd itself, then closed.
    assert ad.get(ad.host("nobody")).status == 404
    # Two tenants over one connection: a hand-off, a hand-back, another.
    s = socket.socket(socket.AF_UNIX)
    s.connect(ad.sock)
    s.sendall(request_bytes(ad.host("acme")) +
              request_bytes(ad.host("globex"), close=True))
    got, _, _ = read_responses(s, 2)
    assert [(r.status, r.body) for r in got] == [
        (200, b"acme's own page\n"), (200, b"globex's own page\n")]
    s.close()
    # Half a head, then gone.
    s = socket.socket(socket.AF_UNIX)
    s.connect(ad.sock)
    s.sendall(b"GET / HTTP/1.1\r\nHo")
    s.close()
    idle.close()
    wait_for(lambda: books(ad)["connections_held"] ==
             b0["connections_held"], 5, "every connection let go")
    b1 = books(ad)
    d = {k: b1[k] - b0[k] for k in b0}
    assert d["connections_accepted_total"] == 4
    assert d["handbacks_total"] == 1
    assert d["handoffs_total"] == 2
    assert d["connections_closed_total"] == 3
    assert balance(b1) == 0


def ask(d, query, method="GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{d.port}/ask{query}",
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.parametrize("domain,code", [
    ("acme.test.localhost", 200),
    ("ACME.test.localhost.", 200),          # canonical form
    ("shop.example.org", 200),              # active custom domain
    ("pending.example.org", 404),           # pending custom domain
    ("dormant.test.localhost", 404),        # suspended tenant
    ("nobody.test.localhost", 404),         # no such tenant
    ("test.localhost", 404),                # apex
    ("admin.test.localhost", 404),          # admin host
    ("www.test.localhost", 404),            # reserved
    ("acme.test.localhost:443", 400),       # no port in a TLS name
    ("127.0.0.1", 400),                     # not a host name
    ("%00acme.test.localhost", 400),        # not a host name
    ("", 400),
])
def test_ask_answers_only_for_active_tenants(ad, domain, code):
    assert ask(ad, f"?domain={domain}") == code


def test_ask_refuses_other_shapes(ad):
    assert ask(ad, "") == 400
    assert ask(ad, "?name=acme.test.localhost") == 400
    assert ask(ad, "?domain=acme.test.localhost", "POST") == 405


def test_ask_follows_registry_changes_at_once(ad):
    assert ask(ad, "?domain=acme.test.localhost") == 200
    ad.ctl("suspend", "acme")
    try:
        assert ask(ad, "?domain=acme.test.localhost") == 404
    finally:
        ad.ctl("resume", "acme")
    assert ask(ad, "?domain=acme.test.localhost") == 200


def raw_admin(path, line, user=None):
    """Talk to the admin socket as root, or as another user via setpriv."""
    code = ("import socket,sys\n"
            "s=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1])\n"
            "try:\n s.sendall(sys.argv[2].encode()+b'\\n')\n"
            "except BrokenPipeError:\n pass\n"
            "print(s.recv(65536).decode())\n")
    cmd = ["/usr/bin/python3", "-c", code, path, line]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user[0]}", f"--regid={user[1]}",
               "--clear-groups" if len(user) < 3 else
               f"--groups={user[2]}"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=10)


def test_admin_socket_mode_and_peer_check():
    """root only by default (0600); with [admin] group, 0660 root:group;
    and even if the mode is loosened by hand, the peer's credentials are
    checked again: another uid gets "permission denied", a member of the
    group an answer."""
    d = Daemon()
    try:
        d.start()
        path = os.path.join(d.run, "admin.sock")
        wait_for(lambda: os.path.exists(path), 5, "the admin socket")
        st = os.stat(path)
        assert st.st_uid == 0 and st.st_gid == 0
        assert st.st_mode & 0o777 == 0o600
        r = raw_admin(path, "status", (65534, 65534))
        assert r.returncode != 0 and "Permission denied" in r.stderr
    finally:
        d.close()
    gid = grp.getgrnam("www-data").gr_gid
    d = Daemon(admin__group="www-data")
    try:
        d.start()
        path = os.path.join(d.run, "admin.sock")
        wait_for(lambda: os.path.exists(path), 5, "the admin socket")
        st = os.stat(path)
        assert (st.st_gid, st.st_mode & 0o777) == (gid, 0o660)
        os.chmod(path, 0o666)       # loosened by hand
        r = raw_admin(path, "status", (65534, 65534))
        assert '"error": "permission denied"' in r.stdout.replace(
            '":"', '": "'), r
        r = raw_admin(path, "status", (65534, 65534, gid))
        assert '"pid"' in r.stdout, r
        r = raw_admin(path, "status", (65534, gid))
        assert '"pid"' in r.stdout, r
    finally:
        d.close()


def test_admin_commands_without_a_daemon():
    d = Daemon()
    try:
        r = d.ctl("status", check=False)
        assert r.returncode == 9 and "tenantd is not running" in r.stderr
    finally:
        d.close()


def test_admin_socket_refuses_nonsense(ad):
    path = os.path.join(ad.run, "admin.sock")
    for line in ["bogus", "status a b", "restart", "status ../x",
                 "x" * 600]:
        r = raw_admin(path, line)
        assert '"error"' in r.stdout, (line, r.stdout)
    assert ad.proc.poll() is None


def test_admin_socket_caps_and_times_out_idle_connections(ad):
    """At most 64 admin connections (common/oneshot.c, shared with the
    front's listener): the 65th is closed unanswered, and each one gets 5
    seconds for its request and answer, then is closed, so an idle client
    cannot hold the socket."""
    path = os.path.join(ad.run, "admin.sock")
    idle = []
    try:
        for _ in range(64):
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            idle.append(s)
        over = socket.socket(socket.AF_UNIX)
        over.connect(path)
        over.settimeout(3)
        assert over.recv(100) == b""            # closed, no answer
        over.close()
        t0 = time.monotonic()
        for s in idle:
            s.settimeout(10)
            assert s.recv(100) == b""
        waited = time.monotonic() - t0
        assert 3 < waited < 8, waited
    finally:
        for s in idle:
            s.close()
    assert "tenantd pid" in ad.ctl("status").stdout


def test_top_draws_rates(ad):
    r = ad.ctl("top", "-n", "2", "-d", "0.2")
    assert r.returncode == 0
    assert r.stdout.count("REQ/S") == 2 and "acme" in r.stdout


def test_metric_groups_are_contiguous(ad):
    """The text format wants each metric's samples in one group under its
    own TYPE line."""
    text = ad.ctl("metrics").stdout
    seen, current = set(), None
    for ln in text.splitlines():
        if ln.startswith("# TYPE "):
            current = ln.split(" ")[2]
            assert current not in seen, f"{current} declared twice"
            seen.add(current)
        elif ln and not ln.startswith("#"):
            name = re.match(r"[a-z_]+", ln).group(0)
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert base == current or name == current, (ln, current)


def test_reload_follows_the_spare_pool_size():
    d = Daemon()            # spares = 1
    try:
        d.start()
        spares = lambda: [p for p, u in __import__("conftest").children(
            d.proc.pid) if u == 0]
        wait_for(lambda: len(spares()) == 1, 5, "one spare")
        conf = open(d.conf).read().replace("spares = 1", "spares = 3")
        open(d.conf, "w").write(conf)
        assert "reloaded" in d.ctl("reload").stdout
        wait_for(lambda: len(spares()) == 3, 5, "three spares")
        open(d.conf, "w").write(conf.replace("spares = 3", "spares = 0"))
        d.ctl("reload")
        wait_for(lambda: len(spares()) == 0, 5, "no spare")
        assert "lost worker" not in d.logtext()
    finally:
        d.close()


def test_reload_refuses_a_missing_worker_binary():
    d = Daemon(workers__spares=0)
    try:
        d.create("acme", "acme's own page\n")
        d.start()
        conf = open(d.conf).read()
        bad = conf.replace("worker = ", "worker = /nonexistent/")
        open(d.conf, "w").write(bad)
        r = d.ctl("reload", check=False)
        assert r.returncode == 10 and re.search(
            r"rejected.*:\n  \[paths\] worker: /nonexistent/", r.stdout), r
        d.wait_log(r"reload: \[paths\] worker /nonexistent/.*keeping")
        # Workers still start from the binary that exists.
        assert d.get(d.host("acme")).status == 200
    finally:
        d.close()


def test_admin_group_member_uses_tenantctl_without_root():
    gid = grp.getgrnam("www-data").gr_gid
    d = Daemon(admin__group="www-data")
    try:
        d.create("acme", "acme's own page\n")
        d.start()
        wait_for(lambda: os.path.exists(os.path.join(d.run, "admin.sock")),
                 5, "the admin socket")
        os.chmod(d.conf, 0o644)
        as_member = ["setpriv", "--reuid=65534", f"--regid={gid}",
                     "--clear-groups", TENANTCTL, "-c", d.conf]
        r = subprocess.run(as_member + ["status"], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 0 and "tenantd pid" in r.stdout, r
        # Not for the registry, though.
        r = subprocess.run(as_member + ["list"], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 1 and "must be run as root" in r.stderr
        # And nobody else.
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                            "--clear-groups", TENANTCTL, "-c", d.conf,
                            "status"], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 1 and "Permission denied" in r.stderr, r
    finally:
        d.close()


@pytest.mark.parametrize("mode", ["group", "root"])
def test_tenant_commands_root_or_group(mode):
    """[admin] tenant_commands = root: a member of the [admin] group may
    still read status but not restart or drain a tenant; root may. The
    default, group, lets the member do both."""
    gid = grp.getgrnam("www-data").gr_gid
    d = Daemon(admin__group="www-data", admin__tenant_commands=mode)
    try:
        d.create("acme", "acme's own page\n")
        d.start()
        path = os.path.join(d.run, "admin.sock")
        wait_for(lambda: os.path.exists(path), 5, "the admin socket")
        member = (65534, gid)
        assert '"pid"' in raw_admin(path, "status", member).stdout
        for cmd in ("restart acme", "drain acme"):
            out = raw_admin(path, cmd, member).stdout
            if mode == "root":
                assert "permission denied" in out, out
                assert '"ok"' not in out, out
            else:
                assert '"ok":true' in out.replace(" ", ""), out
            out = raw_admin(path, cmd).stdout
            assert '"ok":true' in out.replace(" ", ""), out
        if mode == "root":
            d.wait_log(r"restart acme refused to uid 65534")
    finally:
        d.close()


def test_tenant_commands_rejects_other_values():
    """A typo is refused, not read as "group" (tenantctl reads the same
    configuration and refuses it first)."""
    for bad in ("nobody", "Root", ""):
        with pytest.raises(AssertionError, match="tenant_commands"):
            Daemon(admin__tenant_commands=bad)
