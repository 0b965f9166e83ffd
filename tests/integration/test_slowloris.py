# Slow and idle clients (docs/security.md, items 50, 69): the header timeout,
# the cap on connections being read, keep-alive idling in a worker, slow bodies
# and slow readers, and the supervisor's memory after many refused heads.
import os
import select
import socket
import time

import pytest

from conftest import Daemon, parse_responses, proc_status, read_responses, \
    request_bytes, wait_for
from test_admin import parse_metrics

SUFFIX = "test.localhost"
ACME = "acme." + SUFFIX
ACME_PAGE = b"acme's own page\n"
TIMEOUT = 1.0           # header_timeout and keepalive_timeout below
SLACK = 1.0             # timer and scheduling slack on a loaded CI box
BIG = os.urandom(4 * 1024 * 1024)


def make_daemon(**overrides):
    kw = {"proxy__header_timeout": "1s", "workers__keepalive_timeout": "1s"}
    kw.update(overrides)
    d = Daemon(**kw)
    try:
        d.create("acme", ACME_PAGE.decode())
        d.write_public("acme", "big.bin", BIG)
        d.start()
        # A bound worker, so that timings below never include a spawn.
        assert d.get(ACME).body == ACME_PAGE
        d.wait_workers("acme")
    except BaseException:
        d.close()
        raise
    return d


@pytest.fixture(scope="module")
def sd():
    d = make_daemon(proxy__head_max=16000)
    try:
        yield d
    finally:
        d.close()


def wait_closed(s, deadline):
    """Read until EOF or deadline. Returns (bytes, eof, time of EOF)."""
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False, None
        r, _, _ = select.select([s], [], [], left)
        if not r:
            continue
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            b = b""
        if not b:
            return data, True, time.monotonic()
        data += b


def is_open(s):
    """True when s has neither data nor EOF waiting."""
    r, _, _ = select.select([s], [], [], 0)
    return not r


def served_quickly(d, limit=1.0):
    t0 = time.monotonic()
    r = d.get(ACME)
    took = time.monotonic() - t0
    assert r.status == 200 and r.body == ACME_PAGE
    assert took < limit, f"probe took {took:.2f} s"
    return took


def nfds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def metric(d, name):
    _, m = parse_metrics(d.ctl("metrics").stdout)
    return m[f"tenantd_{name}"]


# --- The supervisor's header timeout ---------------------------------------

def test_trickled_head_gets_408_after_the_timeout(sd):
    head = request_bytes(ACME)
    s = sd.connect()
    t0 = time.monotonic()
    try:
        data, eof, sent = b"", False, 0
        while time.monotonic() - t0 < TIMEOUT + SLACK + 1:
            if sent < len(head):
                try:
                    s.sendall(head[sent:sent + 1])
                    sent += 1
                except OSError:
                    pass
            r, _, _ = select.select([s], [], [], 0.3)
            if r:
                more, eof, _ = wait_closed(s, time.monotonic() + 2)
                data += more
                break
        took = time.monotonic() - t0
    finally:
        s.close()
    assert eof, "slow client never closed"
    assert TIMEOUT - 0.05 <= took <= TIMEOUT + SLACK, took
    assert sent < len(head)
    rs, rest = parse_responses(data)
    assert [r.status for r in rs] == [408] and rest == b""
    assert rs[0].headers["connection"] == "close"


def test_silent_connection_is_closed_without_an_answer(sd):
    s = sd.connect()
    t0 = time.monotonic()
    try:
        data, eof, t = wait_closed(s, t0 + TIMEOUT + SLACK + 1)
    finally:
        s.close()
    assert eof and data == b""
    assert TIMEOUT - 0.05 <= t - t0 <= TIMEOUT + SLACK


def test_timeout_counts_from_accept_not_from_the_last_byte(sd):
    """A byte every 0.3 s never resets the clock: the whole head must be
    in within header_timeout."""
    s = sd.connect()
    t0 = time.monotonic()
    try:
        for b in b"GET / HTTP/1.1\r\n":
            try:
                s.sendall(bytes([b]))
            except OSError:
                break
            r, _, _ = select.select([s], [], [], 0.3)
            if r:
                break
        data, eof, t = wait_closed(s, t0 + TIMEOUT + SLACK + 1)
    finally:
        s.close()
    assert eof and t - t0 <= TIMEOUT + SLACK
    assert data.startswith(b"HTTP/1.1 408 ")


def test_probe_served_while_50_slow_clients_hang(sd):
    fds_before = nfds(sd.proc.pid)
    head = request_bytes(ACME)
    slow = []
    try:
        t0 = time.monotonic()
        for i in range(50):
            s = sd.connect()
            s.sendall(head[:1])
            slow.append(s)
        # Each slow client sends one more byte every 0.3 s; between two
        # rounds a normal request is served promptly.
        for rnd in range(1, 4):
            served_quickly(sd, 1.0)
            if time.monotonic() - t0 < TIMEOUT - 0.1:
                # The probe ran while every slow client was being read.
                assert all(is_open(s) for s in slow), rnd
            time.sleep(max(0, t0 + 0.3 * rnd - time.monotonic()))
            for s in slow:
                try:
                    s.sendall(head[rnd:rnd + 1])
                except OSError:
                    pass
        # Then each of them gets its 408 and is closed.
        deadline = t0 + TIMEOUT + SLACK + 1
        for s in slow:
            data, eof, t = wait_closed(s, deadline)
            assert eof and data.startswith(b"HTTP/1.1 408 "), data
            assert t - t0 <= TIMEOUT + SLACK
    finally:
        for s in slow:
            s.close()
    served_quickly(sd, 1.0)
    # No descriptor kept for any of them.
    deadline = time.monotonic() + 2
    while nfds(sd.proc.pid) > fds_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert nfds(sd.proc.pid) <= fds_before


def test_max_reading_full_of_partial_heads_gives_the_oldest_408():
    """Heads left unfinished fill max_reading = 4: a new connection is
    still read at once, and the oldest partial head gets its 408 then, not
    after header_timeout (docs/security.md, item 50)."""
    d = make_daemon(proxy__max_reading=4, proxy__header_timeout="10s")
    slow, probes = [], []
    try:
        def trickler(reading):
            s = d.connect()
            s.sendall(b"GET / HTTP/1.1\r\nHo")
            slow.append(s)
            wait_for(lambda: metric(d, "connections_reading") == reading,
                     5, "the partial head read")
        for i in range(4):
            trickler(i + 1)
        for n in range(3):
            if n > 0:
                trickler(4)         # full again
            accepted = metric(d, "connections_accepted_total")
            p = d.connect()
            probes.append(p)
            # Accepted although four heads are being read ...
            wait_for(lambda: metric(d, "connections_accepted_total") ==
                     accepted + 1, 2, "the new connection accepted")
            # ... and the oldest of them answered 408 to make room.
            data, eof, _ = wait_closed(slow[n], time.monotonic() + 1)
            assert eof and data.startswith(b"HTTP/1.1 408 "), data
            assert all(is_open(s) for s in slow[n + 1:]), n
            t0 = time.monotonic()
            p.sendall(request_bytes(ACME, close=True))
            rs, _, _ = read_responses(p, 1, 2)
            assert [r.body for r in rs] == [ACME_PAGE]
            assert time.monotonic() - t0 < 1.0
        assert metric(d, 'connections_evicted_total{state="partial"}') == 3
        assert metric(d, 'connections_evicted_total{state="silent"}') == 0
    finally:
        for s in slow + probes:
            s.close()
        d.close()


def test_max_reading_does_not_count_connections_handed_to_workers():
    """Four idle keep-alive connections held by the worker leave room for
    new ones: only heads being read count."""
    d = make_daemon(proxy__max_reading=4)
    held = []
    try:
        for i in range(6):
            s = d.connect()
            s.sendall(request_bytes(ACME))
            rs, _, eof = read_responses(s, 1)
            assert rs[0].body == ACME_PAGE and not eof
            held.append(s)
        served_quickly(d, 1.0)
    finally:
        for s in held:
            s.close()
        d.close()


# --- Silent connections: their own budget and timeout ---------------------

def test_silent_flood_does_not_delay_real_requests():
    """docs/security.md, item 50: 64 connections that send nothing fill
    max_reading = 64. With header_timeout and first_byte_timeout far away, a
    real request is still answered at once: each new connection closes the
    oldest silent one. Without that it waits in the backlog for
    header_timeout."""
    d = make_daemon(proxy__max_reading=64, proxy__header_timeout="10s",
                    proxy__first_byte_timeout="10s")
    flood = []
    try:
        fds = nfds(d.proc.pid)
        t0 = time.monotonic()
        for rnd in range(3):
            flood += [d.connect() for _ in range(64)]
            wait_for(lambda: metric(d, "connections_reading") == 64, 5,
                     "64 silent connections read")
            for i in range(3):
                served_quickly(d, 1.0)
            wait_for(lambda: metric(
                d, 'connections_evicted_total{state="silent"}') >= 64 * rnd,
                5, "the older ones closed")
        # 64, less one for each probe that was accepted before its bytes
        # came: it closed a silent one, then left the budget.
        assert 61 <= metric(d, "connections_silent") <= 64
        # Descriptors stay within the budget however many came.
        assert nfds(d.proc.pid) <= fds + 64 + 2
        # The ones closed to make room were the oldest, without an answer.
        closed = [s for s in flood if not is_open(s)]
        assert len(closed) == metric(
            d, 'connections_evicted_total{state="silent"}')
        assert flood[:len(closed)] == closed
        for s in closed[:10]:
            data, eof, _ = wait_closed(s, time.monotonic() + 1)
            assert eof and data == b""
        assert metric(d, 'connections_evicted_total{state="partial"}') == 0
        assert metric(d, "first_byte_timeouts_total") == 0
        # Logged, summed over a second rather than a line each.
        lines = [ln for ln in d.logtext().splitlines()
                 if "connections for new ones" in ln]
        assert 1 <= len(lines) <= time.monotonic() - t0 + 1, lines
    finally:
        for s in flood:
            s.close()
        d.close()


def test_silent_connections_cannot_push_out_slow_senders():
    """max_silent = 8 under max_reading = 64: a flood of silent
    connections closes its own oldest, never a head being sent."""
    d = make_daemon(proxy__max_reading=64, proxy__max_silent=8,
                    proxy__header_timeout="10s",
                    proxy__first_byte_timeout="10s")
    slow, flood = [], []
    try:
        for i in range(8):
            s = d.connect()
            s.sendall(b"GET / HTTP/1.1\r\nHo")
            slow.append(s)
        wait_for(lambda: metric(d, "connections_reading") == 8, 5,
                 "8 heads read")
        flood = [d.connect() for _ in range(100)]
        wait_for(lambda: metric(
            d, 'connections_evicted_total{state="silent"}') == 92, 5,
            "92 silent connections closed")
        assert metric(d, "connections_silent") == 8
        assert metric(d, "connections_reading") == 16
        assert all(is_open(s) for s in slow)
        assert all(is_open(s) for s in flood[-8:])
        assert not any(is_open(s) for s in flood[:92])
        assert metric(d, 'connections_evicted_total{state="partial"}') == 0
        served_quickly(d, 1.0)
        # The slow senders finish, and are served.
        for s in slow:
            s.sendall(b"st: " + ACME.encode() + b"\r\n\r\n")
            rs, _, _ = read_responses(s, 1, 5)
            assert [r.body for r in rs] == [ACME_PAGE]
    finally:
        for s in slow + flood:
            s.close()
        d.close()


def test_first_byte_timeout_closes_silent_but_not_slow_senders():
    """A connection with nothing sent after first_byte_timeout (0.5 s) is
    closed without an answer; one whose first byte came in time has the
    rest of header_timeout (3 s) for its head, and is served."""
    d = make_daemon(proxy__header_timeout="3s",
                    proxy__first_byte_timeout="500ms")
    quiet = slow = None
    try:
        head = request_bytes(ACME, close=True)
        t0 = time.monotonic()
        quiet = d.connect()
        slow = d.connect()
        time.sleep(0.2)
        slow.sendall(head[:1])
        data, eof, t = wait_closed(quiet, t0 + 2)
        assert eof and data == b""
        assert 0.45 <= t - t0 <= 0.5 + SLACK, t - t0
        # The slow sender trickles the rest over some 1.5 s in all.
        step = 1.3 / (len(head) - 1)
        for i in range(1, len(head)):
            assert is_open(slow), i
            slow.sendall(head[i:i + 1])
            time.sleep(step)
        rs, _, eof = read_responses(slow, 1, 3)
        assert [r.body for r in rs] == [ACME_PAGE]
        assert time.monotonic() - t0 < 3
        assert metric(d, "first_byte_timeouts_total") == 1
    finally:
        for s in (quiet, slow):
            if s is not None:
                s.close()
        d.close()


# --- Idle and slow connections inside a worker -----------------------------

def test_idle_keepalive_is_closed_after_keepalive_timeout(sd):
    s = sd.connect()
    try:
        s.sendall(request_bytes(ACME))
        rs, rest, eof = read_responses(s, 1)
        assert rs[0].body == ACME_PAGE and not eof
        t0 = time.monotonic()
        data, eof, t = wait_closed(s, t0 + TIMEOUT + SLACK + 1)
    finally:
        s.close()
    assert eof and data == b"", data
    assert TIMEOUT - 0.1 <= t - t0 <= TIMEOUT + SLACK


def test_keepalive_in_use_is_not_closed(sd):
    """Requests 0.4 s apart keep the connection: the idle timer restarts
    after every response."""
    s = sd.connect()
    try:
        for i in range(5):
            s.sendall(request_bytes(ACME))
            rs, rest, eof = read_responses(s, 1)
            assert rs and rs[0].body == ACME_PAGE and not eof, i
            time.sleep(0.4)
    finally:
        s.close()


def test_partial_second_head_gets_408_from_the_worker(sd):
    s = sd.connect()
    try:
        s.sendall(request_bytes(ACME))
        rs, _, _ = read_responses(s, 1)
        assert rs[0].status == 200
        t0 = time.monotonic()
        s.sendall(b"GET / HTTP/1.1\r\nHost: ac")
        data, eof, t = wait_closed(s, t0 + TIMEOUT + SLACK + 1)
    finally:
        s.close()
    assert eof and data.startswith(b"HTTP/1.1 408 "), data
    assert t - t0 <= TIMEOUT + SLACK


def trickle_after_first(sd, data, prefix=b"", interval=0.3):
    """Serve one request, send prefix, then data one byte per interval.
    Returns (seconds until the worker closed or None, bytes of data sent,
    bytes read)."""
    s = sd.connect()
    try:
        s.sendall(request_bytes(ACME))
        rs, _, _ = read_responses(s, 1)
        assert rs[0].status == 200
        t0 = time.monotonic()
        s.sendall(prefix)
        limit = t0 + TIMEOUT + SLACK + 1
        for i in range(len(data)):
            try:
                s.sendall(data[i:i + 1])
            except OSError:
                return time.monotonic() - t0, i, b""
            r, _, _ = select.select([s], [], [], interval)
            if r:
                got, eof, t = wait_closed(s, limit)
                return (t - t0 if eof else None), i + 1, got
            if time.monotonic() > limit:
                return None, i + 1, b""
        return None, len(data), b""
    finally:
        s.close()


def test_trickled_second_head_is_cut_off_by_the_worker(sd):
    """docs/security.md, item 50 inside the worker: a later request's head must
    be complete within header_timeout too, however steadily it trickles."""
    took, sent, got = trickle_after_first(
        sd, request_bytes(ACME, headers={"X-Slow": "a" * 200}))
    assert took is not None, \
        f"still open after {sent} bytes at 0.3 s each (header_timeout 1s)"
    assert took <= TIMEOUT + SLACK
    assert got.startswith(b"HTTP/1.1 408 ")


def test_trickled_body_is_cut_off_by_the_worker(sd):
    """slowhttptest -B: a body one byte at a time may not hold a worker's
    connection forever."""
    head = request_bytes(ACME, headers={"Content-Length": "1000"})
    took, sent, got = trickle_after_first(sd, b"x" * 1000, prefix=head)
    assert took is not None, \
        f"still open after {sent} bytes at 0.3 s each (header_timeout 1s)"
    assert took <= TIMEOUT + SLACK


def test_slow_body_is_cut_off(sd):
    s = sd.connect()
    try:
        s.sendall(request_bytes(ACME, headers={"Content-Length": "100"}) +
                  b"ab")
        t0 = time.monotonic()
        data, eof, t = wait_closed(s, t0 + TIMEOUT + SLACK + 1)
    finally:
        s.close()
    assert eof and t - t0 <= TIMEOUT + SLACK
    # The body never completed: at most the answer to the request itself.
    rs, rest = parse_responses(data)
    assert all(r.status in (200, 408) for r in rs) and rest == b""


def test_slow_reader_is_cut_off_and_others_still_served(sd):
    s = sd.connect()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        s.sendall(request_bytes(ACME, "/big.bin"))
        t0 = time.monotonic()
        served_quickly(sd, 1.0)
        # Never read: the worker gives up on the stalled write.
        time.sleep(max(0, t0 + TIMEOUT + SLACK - time.monotonic()))
        data, eof, _ = wait_closed(s, time.monotonic() + 3)
    finally:
        s.close()
    assert eof
    assert len(data) < len(BIG), "the whole file went to a stalled reader"
    served_quickly(sd, 1.0)


# --- Memory stays bounded (docs/security.md, item 69) ------------------------

def oversized(sd, n, batch=30):
    big = request_bytes(ACME, headers={"X-Big": "a" * 17000})
    for start in range(0, n, batch):
        socks = []
        for i in range(min(batch, n - start)):
            s = sd.connect()
            try:
                s.sendall(big)
            except OSError:
                pass
            socks.append(s)
        for s in socks:
            rs, rest, eof = read_responses(s, None, 5)
            s.close()
            assert [r.status for r in rs] == [431] and eof, rs


def vmrss_kb(pid):
    return int(proc_status(pid)["VmRSS"].split()[0])


def test_supervisor_memory_bounded_after_oversized_heads(sd):
    pid = sd.proc.pid
    oversized(sd, 60)
    before = vmrss_kb(pid)
    fds = nfds(pid)
    oversized(sd, 300)
    after = vmrss_kb(pid)
    # 300 leaked 16 kB buffers would be 4.8 MB.
    assert after - before < 1024, f"VmRSS {before} kB -> {after} kB"
    assert nfds(pid) <= fds
    served_quickly(sd, 1.0)
