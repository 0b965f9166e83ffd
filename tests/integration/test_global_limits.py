# The limits that hold for tenantd as a whole, on real processes: the
# global worker cap ([workers] max_workers) with eviction of idle workers
# of other tenants, and running out of descriptors in tenantd itself
# (security.md, item 45).
import os
import resource
import re
import threading
import time

from conftest import (Daemon, processes, read_responses, request_bytes,
                      wait_for)

CAP = 3
TENANTS = [f"ten{i}" for i in range(7)]


def worker_pids(d):
    """tenantd's live tenantd-worker children (spares, bound, draining)."""
    return [p for p, st in processes() if st.get("PPid") ==
            str(d.proc.pid) and st.get("Name") == "tenantd-worker"]


class Watch(threading.Thread):
    """Counts tenantd's workers, by its own status and by /proc, as often
    as it can until stopped; keeps the highest of each."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.d = d
        self.stop = threading.Event()
        self.most_status = self.most_procs = self.samples = 0

    def run(self):
        while not self.stop.is_set():
            j = self.d.ctl_json("status")
            self.most_status = max(self.most_status,
                                   j["workers"] + j["spares"])
            self.most_procs = max(self.most_procs, len(worker_pids(self.d)))
            self.samples += 1

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join()


def owner(d, pid):
    """The slug whose uid a worker runs as (None for a spare, still root,
    or one gone meanwhile)."""
    st = dict(processes()).get(pid)
    return st and d.uids.get(int(st["Uid"].split()[0]))


def test_global_cap_evicts_oldest_idle_and_answers_everyone():
    """[workers] max_workers = 3 with a spare, seven tenants woken one
    after another, twice round: each request is answered 200 (never 503,
    since an idle worker of another tenant can always be drained), the
    number of workers never goes past the cap, by tenantd's count or by
    /proc, and the worker drained each time is the one idle longest: the
    tenants left with workers are always the most recently served."""
    d = Daemon(workers__max_workers=str(CAP), workers__spares="1",
               workers__backoff_min="100ms")
    try:
        for slug in TENANTS:
            d.create(slug, f"page of {slug}\n")
        d.uids = {d.tenant_ids(s)[0]: s for s in TENANTS}
        d.start()
        with Watch(d) as w:
            served = []
            for rnd in range(2):
                for slug in TENANTS:
                    r = d.get(d.host(slug))
                    assert (r.status, r.body) == \
                        (200, f"page of {slug}\n".encode()), (slug, r)
                    served.append(slug)
                    # Bound workers, by tenant: at most the CAP most
                    # recent ones. One drained to make room may still be
                    # on its way out, so wait for the set to settle.
                    newest = set(served[-CAP:])

                    def settled():
                        have = {owner(d, p) for p in worker_pids(d)} - \
                            {None}
                        return have <= newest and slug in have
                    wait_for(settled, 5, f"workers of {newest} only")
        assert w.samples > 20, w.samples
        assert w.most_status <= CAP, w.most_status
        assert w.most_procs <= CAP, w.most_procs
        assert w.most_status == CAP, "the cap was never reached"
        log = d.logtext()
        assert len(re.findall(r"evicting idle worker", log)) >= \
            2 * len(TENANTS) - CAP, log
        assert " 503 " not in "".join(d.access_log(s) for s in TENANTS)
    finally:
        d.close()


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def pausing_lines(d):
    return len(re.findall(r"pausing accept", d.logtext()))


def test_out_of_descriptors_pauses_accept_and_recovers():
    """security.md item 45: tenantd's RLIMIT_NOFILE lowered under it, on a
    live daemon, to a few descriptors above what it holds; then more
    connections than that, each with a head not finished yet (so tenantd
    keeps them). accept fails with EMFILE: tenantd pauses accepting, says
    so in its log at most once a second, still answers a connection it
    holds, and once descriptors are free again accepts and answers every
    connection that waited in the backlog. Nothing crashes and the tenant
    is charged no crash for it."""
    d = Daemon(proxy__header_timeout="30s")
    try:
        d.create("acme", "acme's own page\n")
        d.start()
        assert d.get(d.host("acme")).status == 200
        (worker,) = d.wait_workers("acme")
        pid = d.proc.pid
        time.sleep(0.3)         # the spare's start settles
        room = 12
        limit = fd_count(pid) + room
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limit))
        head = request_bytes(d.host("acme"))
        cut = len(head) - 2     # all but the last CRLF
        conns = []
        for _ in range(3 * room):
            s = d.connect(10)
            s.sendall(head[:cut])
            conns.append(s)
        wait_for(lambda: fd_count(pid) >= limit - 1, 5,
                 "tenantd at its descriptor limit")
        d.wait_log(r"pausing accept", 5)
        # Pinned at the limit for 3 s: the backlog still holds connections.
        n0 = pausing_lines(d)
        t0 = time.monotonic()
        time.sleep(3)
        said = pausing_lines(d) - n0
        assert said <= time.monotonic() - t0 + 1, \
            f"{said} 'pausing accept' lines in 3 s"
        assert d.proc.poll() is None
        # A connection it holds is still served: the first was accepted.
        conns[0].sendall(head[cut:])
        rs, _, _ = read_responses(conns[0], 1, 10)
        assert [r.status for r in rs] == [200], rs
        # Every other connection, the ones that waited in the backlog
        # included, is answered once descriptors free up: each answer
        # hands one off to the worker and frees its descriptor here.
        for s in conns[1:]:
            s.sendall(head[cut:])
        for i, s in enumerate(conns[1:], 1):
            rs, _, _ = read_responses(s, 1, 10)
            assert [r.status for r in rs] == [200], (i, rs)
        for s in conns:
            s.close()
        assert d.get(d.host("acme")).status == 200
        assert d.proc.poll() is None
        assert d.workers("acme") == [worker]
        t = d.ctl_json("status", "acme")
        assert t["crashes"] == 0 and "backoff_seconds" not in t, t
    finally:
        d.close()
