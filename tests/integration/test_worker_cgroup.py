# Workers' cgroups (docs/security.md, row 41; policy/worker.cgroup): a
# worker bound to a tenant moves itself into tenantd-workers/<slug> in each
# of the cpu, memory and pids hierarchies before it reads anything of the
# tenant's, with the limits of worker.cgroup there; a request path that
# makes the worker grow past memory (a handler's large output, which the
# worker holds before it sends it) is stopped by that cgroup's OOM killer,
# well inside the worker's own rlimits (data 256M), while the neighbour
# is served. The v1 layout, this machine's and CI's; tests/system checks
# v2 and v1 under systemd.
import os
import time

from conftest import Daemon, proc_status, wait_for
from test_neighbours import (CONTROLLERS, cgroups_of, mount_of, oom_kills,
                             read_cg)

# Below the worker's rlimits, above worker.cgroup's memory here: only the
# cgroup can stop it.
OUTPUT = 48 << 20
MEMORY = 24 << 20
BIG_SH = ("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
          f"head -c {OUTPUT} /dev/zero\n")


def write_policy(d):
    with open(os.path.join(d.policy, "worker.cgroup"), "w") as f:
        f.write("cpu_weight 50  # half the default, to tell it apart\n"
                f"memory {MEMORY >> 20}M  # below the output of big.sh\n"
                "pids 12  # the test's own\n")


def remove_cgroups(slugs):
    """The test's cgroups, once empty: they hang under the test runner's
    own, which outlives us."""
    for c in CONTROLLERS:
        for slug in slugs:
            for sub in ("tenantd-workers", "tenantd-code"):
                path = cgroups_of(os.getpid())[c]
                try:
                    os.rmdir(os.path.join(mount_of(c) + path, sub, slug))
                except OSError:
                    pass


def test_worker_cgroup_bounds_memory():
    assert all(mount_of(c) for c in CONTROLLERS), \
        "no cgroup v1 cpu, memory and pids hierarchies"
    # Slugs of our own: the runner's cgroup is shared with other daemons.
    tag = str(os.getpid() % 100000)
    acme, globex = "wcga" + tag, "wcgg" + tag
    d = Daemon()
    try:
        for slug in (acme, globex):
            d.create(slug, f"{slug}'s own page\n")
        d.write_public(acme, "../app/big.sh", BIG_SH, 0o755)
        d.write_public(acme, "../app/routes", "/big big.sh\n")
        d.ctl("limits", "set", acme, "handler_output", "64M")
        write_policy(d)
        d.start()
        for slug in (acme, globex):
            assert d.get(d.host(slug), "/").status == 200

        # Each worker of acme's is in acme's worker cgroup, everywhere.
        pids = d.wait_workers(acme)
        mine = cgroups_of(os.getpid())
        for pid in pids:
            cg = cgroups_of(pid)
            for c in CONTROLLERS:
                want = (mine[c].rstrip("/") +
                        f"/tenantd-workers/{acme}")
                assert cg[c] == want, (pid, c, cg, d.logtext()[-2000:])
            # v1's move by "0" in tasks is one thread's: there is one.
            assert os.listdir(f"/proc/{pid}/task") == [str(pid)]
        path = cgroups_of(pids[0])
        # The policy's values, as v1 names and scales them.
        assert read_cg("cpu", path["cpu"], "cpu.shares").strip() == "512"
        assert int(read_cg("memory", path["memory"],
                           "memory.limit_in_bytes")) == MEMORY
        assert read_cg("pids", path["pids"], "pids.max").strip() == "12"
        # globex's workers are in globex's, not acme's.
        for pid in d.wait_workers(globex):
            assert cgroups_of(pid)["memory"].endswith(
                f"/tenantd-workers/{globex}")

        # The memory bomb: a worker holding 48M of a handler's output in
        # a cgroup of 24M. Without the cgroup the worker, whose rlimits
        # allow 256M of heap, sends all of it (200).
        before = oom_kills(path["memory"])
        rs, _, _ = d.exchange(f"GET /big HTTP/1.1\r\nHost: {d.host(acme)}"
                              "\r\nConnection: close\r\n\r\n".encode(),
                              timeout=20, responses=1)
        got = [(r.status, len(r.body)) for r in rs]
        assert (200, OUTPUT) not in got, got
        wait_for(lambda: oom_kills(path["memory"]) > before, timeout=10,
                 what="an OOM kill in acme's worker cgroup")
        usage = int(read_cg("memory", path["memory"],
                            "memory.max_usage_in_bytes"))
        assert usage <= MEMORY, usage
        print(f"\n{acme} worker cgroup: oom kills {before} -> "
              f"{oom_kills(path['memory'])}, max usage {usage >> 20}M")

        # The neighbour is served throughout, and acme again, by a new
        # worker in the same cgroup.
        assert d.get(d.host(globex), "/").status == 200
        assert d.get(d.host(acme), "/").status == 200
        for pid in d.wait_workers(acme):
            try:
                if proc_status(pid).get("Name") != "tenantd-worker":
                    continue
                assert cgroups_of(pid)["memory"] == path["memory"]
            except OSError:
                pass                # gone meanwhile
    finally:
        d.close()
        time.sleep(0.2)
        remove_cgroups((acme, globex))


def test_worker_cgroup_policy_file():
    # No worker.cgroup (a policy directory from before it): said at start,
    # and workers serve in tenantd's own cgroup, with their rlimits.
    d = Daemon()
    try:
        d.create("acme", "acme's own page\n")
        os.unlink(os.path.join(d.policy, "worker.cgroup"))
        d.start()
        d.wait_log(r"no .*worker\.cgroup: workers run without cgroups")
        assert d.get(d.host("acme"), "/").status == 200
        for pid in d.wait_workers("acme"):
            assert "tenantd-workers" not in cgroups_of(pid)["memory"]
        d.stop()

        # A broken one fails the start, naming the file, rather than
        # leaving workers without the limits the operator wrote.
        with open(os.path.join(d.policy, "worker.cgroup"), "w") as f:
            f.write("cpu_weight 100  # why\nmemory 1M  # too small\n"
                    "pids 16  # why\n")
        d.log.close()
        d.start(wait=False)
        assert d.proc.wait(10) != 0
        d.wait_log(r"worker\.cgroup: line 2: memory: 1M is out of range")
    finally:
        d.close()
