# The slow thread (docs/architecture.md, "The slow thread"): ledger writes
# and storage walks run off the loop that routes every tenant, and start
# opens no ledger, however many tenants are registered.
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from datetime import datetime, timezone

from conftest import (TENANTD, Daemon, children, processes, request_bytes,
                      read_responses, wait_for)


def token(d, slug):
    return d.ctl("key", "show", slug, "api").stdout.strip()


def credits(d, slug):
    return json.loads(d.ctl("credits", "show", slug, "--json").stdout)


def put(d, slug, key, tok, timeout=10):
    body = b"1"
    raw = request_bytes(d.host(slug), f"/.tenantd/kv/{key}", method="PUT",
                        headers={"Authorization": f"Bearer {tok}",
                                 "Content-Length": str(len(body))},
                        close=True) + body
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(d.sock)
    s.sendall(raw)
    rs, _, _ = read_responses(s, 1, timeout)
    s.close()
    return rs[0].status if rs else None


def timed_get(d, slug):
    """A GET on a new connection: (status, seconds, sent at unix time)."""
    at, t = time.time(), time.monotonic()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(d.sock)
    s.sendall(request_bytes(d.host(slug), "/", close=True))
    rs, _, _ = read_responses(s, 1, 10)
    s.close()
    return (rs[0].status if rs else None), time.monotonic() - t, at


def uid_procs(uid):
    return [p for p, st in processes()
            if int(st["Uid"].split()[0]) == uid]


def test_start_opens_no_ledger_and_settles_a_crash_later():
    """With many tenants registered, tenantd binds its socket before it
    opens any billing.db (start used to open every one). A hold left open
    by a tenantd killed with its workers is still settled after the
    restart: its unspent part is available again (docs/data-plane.md)."""
    d = Daemon(workers__backoff_min="100ms")
    try:
        d.create("acme", "acme\n")
        d.ctl("limits", "set", "acme", "credit_hold", "20")
        for i in range(200):
            d.ctl("create", f"t{i:04d}")
        d.start()
        tok = token(d, "acme")
        for i in range(3):
            assert put(d, "acme", f"k{i}", tok) in (200, 201)
        assert credits(d, "acme")["held"] > 0
        uid = d.tenant_ids("acme")[0]
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        wait_for(lambda: not uid_procs(uid), 5, "workers gone")
        # The crash left the worker's hold open.
        assert credits(d, "acme")["held"] > 0

        trace = os.path.join(d.dir, "strace.out")
        st = subprocess.Popen(["strace", "-f", "-qq", "-s", "512", "-o",
                               trace, "-e", "trace=openat,open,bind",
                               TENANTD, "-d", "-c", d.conf],
                              stdout=d.log, stderr=subprocess.STDOUT)
        try:
            d.proc = st
            d.wait_ready(20)
            # The background sweep (or a first use) settles the hold.
            wait_for(lambda: credits(d, "acme")["held"] == 0, 20,
                     "the dead tenantd's hold settled")
        finally:
            for pid, _ in children(st.pid):
                os.kill(pid, signal.SIGTERM)
            st.wait(20)
            d.proc = None
        with open(trace) as f:
            lines = f.read().splitlines()
        bound = [i for i, l in enumerate(lines)
                 if "bind(" in l and d.sock in l]
        assert bound, "no bind of the proxy socket in the trace"
        early = [l for l in lines[:bound[0]] if "billing.db" in l]
        assert not early, early[:5]
        # ... and the sweep did open ledgers after it.
        assert any("billing.db" in l for l in lines[bound[0]:])
        c = credits(d, "acme")
        assert c["consistent"] is True and c["held"] == 0, c
    finally:
        d.close()


def test_a_locked_ledger_does_not_stall_routing():
    """Tenant A's billing.db write-locked (as tenantctl export does while
    it copies): A's worker waits for its credits, B's new connections are
    answered at once, and A's grant completes once the lock is gone."""
    d = Daemon()
    try:
        d.create("acme", "acme\n")
        d.create("bravo", "bravo\n")
        d.start()
        tok = token(d, "acme")
        assert timed_get(d, "bravo")[0] == 200
        assert timed_get(d, "acme")[0] == 200
        db = sqlite3.connect(os.path.join(d.tenant_dir("acme"),
                                          "billing.db"),
                             timeout=5, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        locked = time.monotonic()
        got = {}

        def a_put():
            got["status"] = put(d, "acme", "k", tok)
            got["at"] = time.monotonic()
        t = threading.Thread(target=a_put)
        t.start()
        try:
            time.sleep(0.3)     # A's worker is asking for credits
            for _ in range(5):
                status, secs, _ = timed_get(d, "bravo")
                assert status == 200
                assert secs < 1.0, f"bravo waited {secs:.2f}s"
            assert "status" not in got, "A was served without credits"
            time.sleep(max(0, 3.0 - (time.monotonic() - locked)))
            released = time.monotonic()
        finally:
            db.execute("ROLLBACK")
            db.close()
        t.join(10)
        assert got.get("status") in (200, 201), got
        assert got["at"] >= released
    finally:
        d.close()


WALK = re.compile(r"^(\S+)Z \S+ tenant acme: storage walk: \d+ bytes, "
                  r"(\d+) entries, ([0-9.]+)s$", re.M)


def test_a_storage_walk_does_not_stall_routing():
    """A walk of a tenant's 300,000 files runs on the slow thread: another
    tenant's connections made while it runs are answered without waiting
    for it."""
    d = Daemon(workers__storage_scan="1s")
    try:
        d.create("acme", "acme\n")
        d.create("bravo", "bravo\n")
        uid, gid = d.tenant_ids("acme")
        junk = os.path.join(d.tenant_dir("acme"), "public", "junk")
        os.mkdir(junk)
        for i in range(300):
            sub = os.path.join(junk, str(i))
            os.mkdir(sub)
            for j in range(1000):
                os.close(os.open(os.path.join(sub, str(j)),
                                 os.O_CREAT | os.O_WRONLY, 0o644))
        d.start()
        assert timed_get(d, "bravo")[0] == 200
        assert timed_get(d, "acme")[0] == 200      # its walks begin
        samples = []
        end = time.monotonic() + 5
        while time.monotonic() < end:
            status, secs, at = timed_get(d, "bravo")
            assert status == 200
            samples.append((at, secs))
        walks = []
        for m in WALK.finditer(d.logtext()):
            done = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
            done = done.replace(tzinfo=timezone.utc).timestamp()
            secs = float(m.group(3))
            assert int(m.group(2)) >= 300000
            walks.append((done - secs, secs))
        walks = [w for w in walks if w[1] >= 0.1]
        assert walks, "no walk of acme long enough to judge"
        # A connection made in the first half of a walk waited for none
        # of it (on the loop it would wait for the second half at least).
        judged = 0
        for start, secs in walks:
            for at, took in samples:
                if start <= at <= start + secs / 2:
                    judged += 1
                    assert took < secs / 2, (took, secs)
        assert judged >= 3, (walks, len(samples))
    finally:
        d.close()


def test_a_starting_worker_gets_the_walk_result():
    """A worker is bound with the last figure known (none yet, at the
    tenant's first start) and gets the walk's result when the slow thread
    has it: files outside the database then count against the quota."""
    d = Daemon()
    try:
        d.create("acme", "acme\n")
        d.ctl("limits", "set", "acme", "storage", "2M")
        d.write_public("acme", "big.bin", os.urandom(1536 << 10))
        d.start()
        tok = token(d, "acme")
        assert timed_get(d, "acme")[0] == 200
        d.wait_log(r"tenant acme: storage walk: \d+ bytes", 5)
        time.sleep(0.3)     # the CFG_DATA update reaches the worker
        statuses = []
        for i in range(30):
            body = json.dumps("s" * 60000).encode()
            raw = request_bytes(d.host("acme"), f"/.tenantd/kv/s{i}",
                                method="PUT",
                                headers={"Authorization": f"Bearer {tok}",
                                         "Content-Length": str(len(body))},
                                close=True) + body
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            s.connect(d.sock)
            s.sendall(raw)
            rs, _, _ = read_responses(s, 1, 10)
            s.close()
            statuses.append(rs[0].status)
            if rs[0].status == 507:
                break
        # 0.5M left of 2M: a few 60K values, nowhere near 30.
        assert statuses[-1] == 507 and len(statuses) <= 10, statuses
    finally:
        d.close()
