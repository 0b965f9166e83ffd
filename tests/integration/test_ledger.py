# The credit ledger through the whole path: workers spend from holds that
# tenantd grants, report what they spent, and tenantd writes it to the
# tenant's billing.db. Concurrency against a small balance, and kill -9 of
# workers and of tenantd in the middle of a stream of debits
# (docs/data-plane.md, section 3).
import json
import os
import re
import signal
import socket
import threading
import time

import pytest

from conftest import Daemon, read_responses, request_bytes, wait_for

COMMITTED = re.compile(r"ledger: tenant (\S+) hold (\d+) report (\d+): "
                       r"(\d+) credits committed")


def token(d, slug):
    return d.ctl("key", "show", slug, "api").stdout.strip()


def credits(d, slug):
    return json.loads(d.ctl("credits", "show", slug, "--json").stdout)


def history(d, slug):
    return json.loads(d.ctl("credits", "history", slug, "--limit", "100000",
                            "--json").stdout)


def put(d, slug, key, tok, value=1, timeout=5):
    """One PUT on its own connection: the status, or None if the
    connection failed (a worker killed under it)."""
    body = json.dumps(value).encode()
    raw = request_bytes(d.host(slug), f"/.tenantd/kv/{key}", method="PUT",
                        headers={"Authorization": f"Bearer {tok}",
                                 "Content-Length": str(len(body))},
                        close=True) + body
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(d.sock)
        s.sendall(raw)
        rs, _, _ = read_responses(s, 1, timeout)
        s.close()
    except OSError:
        return None
    return rs[0].status if rs else None


def set_balance(d, slug, amount):
    have = credits(d, slug)["balance"]
    if have != amount:
        d.ctl("credits", "add", slug, str(amount - have), "--note", "test")
    assert credits(d, slug)["balance"] == amount


def settled(d, slug, want_spent, start):
    """The reports have reached the ledger: balance = start - spent."""
    wait_for(lambda: credits(d, slug)["balance"] == start - want_spent, 10,
             f"{want_spent} credits in the ledger")


def test_concurrent_debits_never_go_negative():
    d = Daemon()
    try:
        d.create("acme", "acme\n")
        d.ctl("limits", "set", "acme", "credit_hold", "8")
        set_balance(d, "acme", 30)
        d.start()
        tok = token(d, "acme")
        results = []
        lock = threading.Lock()

        def one(i):
            st = put(d, "acme", f"k{i}", tok)
            with lock:
                results.append(st)

        threads = [threading.Thread(target=one, args=(i,))
                   for i in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        ok = sum(1 for r in results if r in (200, 201))
        assert len(results) == 100
        assert ok + results.count(402) == 100, results
        assert 0 < ok <= 30
        # Every success is charged once, and nothing else is.
        settled(d, "acme", ok, 30)
        c = credits(d, "acme")
        assert c["balance"] >= 0
        assert c["balance"] == c["sum"]
        assert c["consistent"] is True
        # What is left is not spendable by a request costing more.
        usage = [t for t in history(d, "acme") if t["kind"] == "usage"]
        assert -sum(t["amount"] for t in usage) == ok
    finally:
        d.close()


def stream(d, slug, tok, stop, out):
    """PUTs until stop is set; out counts the successes and failures."""
    i = 0
    while not stop.is_set():
        st = put(d, slug, f"s{i % 50}", tok, value=i, timeout=3)
        out[st in (200, 201)] += 1
        i += 1


def committed_reports(d, slug):
    return {(int(h), int(r)): int(u)
            for s, h, r, u in COMMITTED.findall(d.logtext()) if s == slug}


def uid_procs(uid):
    """Processes running as uid, whoever their parent is now."""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.stat(f"/proc/{p}").st_uid == uid:
                    out.append(int(p))
            except OSError:
                pass
    return out


def check_ledger(d, slug, start, ok, over=0):
    """The invariant, every acknowledged report present, and no debit
    beyond the requests that succeeded, but for `over` (what killed
    workers held and are charged for in full)."""
    c = credits(d, slug)
    assert c["consistent"] is True and c["balance"] == c["sum"], c
    assert c["balance"] >= 0
    usage = {t["ref"]: -t["amount"] for t in history(d, slug)
             if t["kind"] == "usage"}
    acked = committed_reports(d, slug)
    assert acked, "no report was acknowledged"
    for (h, r), units in acked.items():
        assert usage.get(f"h{h}.{r}") == units, (h, r, units)
    spent = start - c["balance"]
    assert spent == sum(usage.values())
    assert spent <= ok + over
    return spent


def streaming_daemon(start, **conf):
    """A started daemon with acme holding `start` credits in holds of 20,
    and acme's token."""
    d = Daemon(workers__backoff_min="100ms", **conf)
    try:
        d.create("acme", "acme\n")
        d.ctl("limits", "set", "acme", "credit_hold", "20")
        set_balance(d, "acme", start)
        d.start()
        return d, token(d, "acme")
    except BaseException:
        d.close()
        raise


def test_kill_9_workers_mid_stream():
    # Killed after the crash window: a kill is not a crash loop to back
    # off from, so the stream goes on.
    start = 100000
    d, tok = streaming_daemon(start, workers__crash_window="100ms")
    try:
        stop = threading.Event()
        out = {True: 0, False: 0}
        t = threading.Thread(target=stream, args=(d, "acme", tok, stop, out))
        t.start()
        kills = 0
        try:
            for _ in range(6):
                wait_for(lambda: out[True] >= 20 * (kills + 1), 20,
                         "requests served")
                for pid in d.workers("acme"):
                    os.kill(pid, signal.SIGKILL)
                    kills += 1
                time.sleep(0.3)
        finally:
            stop.set()
            t.join(30)
        assert kills >= 6
        # The last reports arrive within a second or so.
        time.sleep(1.5)
        # A killed worker is charged its hold's whole unreported part: at
        # most the 4 x 20 tenantd lets it hold unreported and one more
        # grant of at most 2 x 20 (on_credit_want()).
        spent = check_ledger(d, "acme", start, out[True],
                             over=kills * 6 * 20)
        # Every request served was charged, whoever was killed.
        assert spent >= out[True]
    finally:
        d.close()


def test_a_crashed_worker_is_charged_what_it_served():
    """Usage is reported once a second: a worker killed before its report
    is charged the part of its hold it never reported, so crashing a
    worker (a tenant can make its own crash) is no way to spend credits
    unbilled. A worker that exits cleanly reported all it spent, and the
    rest of its hold is free again."""
    start, hold = 1000, 50
    d = Daemon()
    try:
        d.create("acme", "acme\n")
        d.ctl("limits", "set", "acme", "credit_hold", str(hold))
        set_balance(d, "acme", start)
        d.start()
        tok = token(d, "acme")
        for i in range(10):
            assert put(d, "acme", f"k{i}", tok) in (200, 201)
        (pid,) = d.workers("acme")
        os.kill(pid, signal.SIGKILL)
        d.wait_log(rf"lost worker: tenant acme pid {pid} ", 5)
        wait_for(lambda: credits(d, "acme")["held"] == 0, 5, "hold closed")
        c = credits(d, "acme")
        assert c["consistent"] is True and c["balance"] == c["sum"], c
        spent = start - c["balance"]
        assert spent == -sum(t["amount"] for t in history(d, "acme")
                             if t["kind"] == "usage")
        # Every request it served, and no more than it was granted.
        assert 10 <= spent <= hold
        # A clean exit (suspended: the worker drains and exits 0) is
        # charged exactly what it served.
        for i in range(5):
            assert put(d, "acme", f"c{i}", tok) in (200, 201)
        d.ctl("suspend", "acme")
        wait_for(lambda: not d.workers("acme"), 10, "workers gone")
        wait_for(lambda: credits(d, "acme")["held"] == 0, 5, "hold closed")
        assert start - credits(d, "acme")["balance"] == spent + 5
    finally:
        d.close()


def test_kill_9_tenantd_mid_stream():
    start = 100000
    d, tok = streaming_daemon(start)
    try:
        total_ok = 0
        for _ in range(4):
            stop = threading.Event()
            out = {True: 0, False: 0}
            t = threading.Thread(target=stream,
                                 args=(d, "acme", tok, stop, out))
            t.start()
            try:
                wait_for(lambda: out[True] >= 30, 20, "requests served")
                time.sleep(1.2)     # at least one report on disk
                d.proc.send_signal(signal.SIGKILL)
                d.proc.wait()
            finally:
                stop.set()
                t.join(30)
            total_ok += out[True]
            # Workers die with tenantd; the next one closes their holds.
            wait_for(lambda: not uid_procs(d.tenant_ids("acme")[0]), 5,
                     "workers gone")
            d.start()
        spent = check_ledger(d, "acme", start, total_ok)
        # No hold of a dead tenantd stays open.
        assert credits(d, "acme")["held"] == 0
        assert spent > 0
    finally:
        d.close()


def test_billing_db_is_out_of_the_tenants_reach(daemon):
    td = daemon
    td.create("acme", "acme\n")
    path = os.path.join(td.tenant_dir("acme"), "billing.db")
    st = os.stat(path)
    assert st.st_uid == 0 and (st.st_mode & 0o077) == 0
    top = os.stat(td.tenant_dir("acme"))
    assert top.st_uid == 0 and not top.st_mode & 0o022
