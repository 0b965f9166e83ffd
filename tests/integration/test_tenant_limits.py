# Limits enforced by tenantd itself (connections and workers per tenant),
# and limits changed with tenantctl while the daemon runs: they apply at
# once, to the workers already serving (docs/data-plane.md, section 4).
import socket
import time

from conftest import Daemon, read_responses, request_bytes, wait_for


def keepalive(d, slug):
    """A connection with one request served and kept open (in a worker)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(d.sock)
    s.sendall(request_bytes(d.host(slug)))
    rs, _, _ = read_responses(s, 1)
    assert rs and rs[0].status == 200
    return s


def test_connection_cap_answers_503_while_others_are_served():
    d = Daemon()
    try:
        d.create("acme", "acme\n")
        d.create("globex", "globex\n")
        d.ctl("limits", "set", "acme", "max_connections", "3")
        d.start()
        held = [keepalive(d, "acme") for _ in range(3)]
        r = d.get(d.host("acme"))
        assert r.status == 503
        assert r.headers.get("retry-after") == "1"
        # Another tenant is not affected.
        others = [keepalive(d, "globex") for _ in range(5)]
        assert d.get(d.host("globex")).status == 200
        # A slot frees when a connection closes.
        held.pop().close()
        wait_for(lambda: d.get(d.host("acme")).status == 200, 5,
                 "acme served again")
        for s in held + others:
            s.close()
    finally:
        d.close()


def test_max_workers_per_tenant():
    d = Daemon(workers__conns_per_worker="2")
    try:
        d.create("acme", "acme\n")
        d.ctl("limits", "set", "acme", "max_workers", "1")
        d.start()
        held = [keepalive(d, "acme") for _ in range(2)]
        assert len(d.workers("acme")) == 1
        # A third connection waits for room in the one worker ...
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(d.sock)
        s.sendall(request_bytes(d.host("acme"), close=True))
        time.sleep(0.3)
        assert len(d.workers("acme")) == 1
        # ... and is served when one closes.
        held.pop().close()
        rs, _, _ = read_responses(s, 1)
        assert rs and rs[0].status == 200
        assert len(d.workers("acme")) == 1
        for c in held + [s]:
            c.close()
        # Raised live: a second worker may start.
        d.ctl("limits", "set", "acme", "max_workers", "2")
        held = [keepalive(d, "acme") for _ in range(4)]
        assert len(d.workers("acme")) == 2
        for c in held:
            c.close()
    finally:
        d.close()


def burst(s, host, n):
    s.sendall(b"".join(request_bytes(host) for _ in range(n)))
    rs, _, _ = read_responses(s, n, timeout=10)
    assert len(rs) == n
    return rs


def test_rate_limit_changes_apply_to_the_running_worker():
    d = Daemon()
    try:
        d.create("acme", "acme\n")
        d.start()
        s = keepalive(d, "acme")
        pid = d.workers("acme")
        assert [r.status for r in burst(s, d.host("acme"), 50)] == [200] * 50
        d.ctl("limits", "set", "acme", "requests_per_minute", "20")
        # The worker's bucket now holds at most 20: a burst trips it.
        wait_for(lambda: any(r.status == 429 for r in
                             burst(s, d.host("acme"), 30)), 5, "429")
        rs = burst(s, d.host("acme"), 5)
        assert all(r.status == 429 for r in rs)
        assert int(rs[0].headers["retry-after"]) >= 1
        d.ctl("limits", "unset", "acme", "requests_per_minute")
        wait_for(lambda: burst(s, d.host("acme"), 1)[0].status == 200, 5,
                 "the rate restored")
        # The same worker throughout: no restart was needed.
        assert d.workers("acme") == pid
        s.close()
    finally:
        d.close()
