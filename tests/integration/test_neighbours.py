# Noisy neighbours (docs/tenant-code.md, section 4): all of a tenant's
# handlers share one cgroup per controller (policy/tenant-code.cgroup), and
# each tenant's sandbox is built once and joined by its runs, so acme
# running a fork bomb, a memory bomb and a disk filler at once leaves
# globex's handlers answering about as fast as alone, and every process of
# acme's stays inside acme's cgroups until its runs are killed.
import os
import threading
import time

from conftest import (SRC, Daemon, proc_status, processes, spare_runs,
                      wait_for)

HELLO_SH = "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhello\\n'\n"

# The bombs, shared with tests/system's virtual machine.
BOMBS = os.path.join(SRC, "tests", "bombs")

CONTROLLERS = ("cpu", "memory", "pids")
SAMPLES = 200


def write_app(d, slug, name, content, mode=0o755):
    return d.write_public(slug, os.path.join("..", "app", name), content,
                          mode)


def get_ms(d, slug, path):
    t0 = time.monotonic()
    r = d.get(d.host(slug), path)
    ms = (time.monotonic() - t0) * 1000
    assert r.status == 200, (r.status, r.body, d.logtext()[-2000:])
    return ms


def p50(samples):
    return sorted(samples)[len(samples) // 2]


def p99(samples):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * 0.99))]


def cgroups_of(pid):
    """controller -> cgroup path of pid, in the v1 hierarchies."""
    out = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(","):
                if c in CONTROLLERS:
                    out[c] = path
    return out


def exiting(pid):
    """PF_EXITING in the flags of /proc/pid/stat (the ninth field)."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[6]) & 0x4 != 0


def mount_of(ctrl):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype, _, opts = post.split()[:3]
            if fstype == "cgroup" and ctrl in opts.split(","):
                return pre.split()[4]
    return None


def read_cg(ctrl, path, name):
    with open(os.path.join(mount_of(ctrl) + path, name)) as f:
        return f.read()


def oom_kills(path):
    # memory.oom_control's oom_kill counts the kills inside this cgroup.
    for line in read_cg("memory", path, "memory.oom_control").splitlines():
        k, _, v = line.partition(" ")
        if k == "oom_kill":
            return int(v)
    return 0


def tenant_procs(d, uid):
    """acme's processes other than its workers and its spare run: its
    handlers. By name, not by a list of workers taken before: a spare
    worker bound to acme meanwhile is not a handler."""
    spare = spare_runs(d)
    return [p for p, st in processes()
            if int(st["Uid"].split()[0]) == uid and p not in spare and
            st.get("Name") != "tenantd-worker"]


def test_neighbours_contained():
    # The layout this machine and CI have; cgroup v2 is handled by
    # tenantd-run but not exercised here.
    assert all(mount_of(c) for c in CONTROLLERS), \
        "no cgroup v1 cpu, memory and pids hierarchies"
    d = Daemon()
    stop = threading.Event()
    threads = []
    try:
        for slug in ("acme", "globex"):
            d.create(slug, f"{slug}'s own page\n")
        write_app(d, "globex", "hello.sh", HELLO_SH)
        write_app(d, "globex", "routes", "/hello hello.sh\n", 0o644)
        for name in ("fork.py", "mem.py", "disk.py"):
            with open(os.path.join(BOMBS, name)) as f:
                write_app(d, "acme", name, f.read())
        write_app(d, "acme", "routes",
                  "/fork fork.py\n/mem mem.py\n/disk disk.py\n", 0o644)
        d.ctl("limits", "set", "acme", "handler_timeout", "5000")
        d.start()
        acme_uid = d.tenant_ids("acme")[0]

        for _ in range(5):          # warm the page cache, build the sandbox
            get_ms(d, "globex", "/hello")
        base = [get_ms(d, "globex", "/hello") for _ in range(SAMPLES)]

        # Each bomb re-triggered as soon as its last run ended (504 at the
        # 5s handler_timeout, 502 when it died), for the whole window.
        def hammer(path):
            while not stop.is_set():
                try:
                    d.exchange(f"GET {path} HTTP/1.1\r\nHost: "
                               f"{d.host('acme')}\r\nConnection: close"
                               "\r\n\r\n".encode(), timeout=10,
                               responses=1)
                except OSError:
                    pass
        # The memory bomb first: once the fork bomb holds acme's nproc, no
        # other acme handler can start until its run is killed.
        for path in ("/mem", "/disk", "/fork"):
            t = threading.Thread(target=hammer, args=(path,), daemon=True)
            t.start()
            threads.append(t)
            time.sleep(0.3)

        # The spinners are up and where they belong.
        wait_for(lambda: len(tenant_procs(d, acme_uid)) >= 30, timeout=10,
                 what="acme's fork bomb")
        acme_cg = None
        for pid in tenant_procs(d, acme_uid):
            try:
                cg = cgroups_of(pid)
                # A task already exiting (PF_EXITING: the OOM killer's
                # victim, an init reaping its namespace) shows "/" in
                # every v1 hierarchy (proc_cgroup_show()): not an escape.
                if exiting(pid):
                    continue
            except OSError:
                continue            # gone meanwhile
            for c in CONTROLLERS:
                assert cg[c].endswith("/acme") and "tenantd" in cg[c], \
                    (pid, cg, proc_status(pid).get("Name"))
            acme_cg = acme_cg or cg
        assert acme_cg is not None
        oom_before = oom_kills(acme_cg["memory"])

        loaded = [get_ms(d, "globex", "/hello") for _ in range(SAMPLES)]
        b99, l99 = p99(base), p99(loaded)
        print(f"\nglobex handler p50: baseline {p50(base):.1f} ms, with "
              f"acme's bombs {p50(loaded):.1f} ms")
        print(f"globex handler p99: baseline {b99:.1f} ms, with acme's "
              f"bombs {l99:.1f} ms, ratio {l99 / b99:.2f}")

        # The memory bomb was stopped inside acme: the OOM killer acted in
        # acme's memory cgroup (counted there), or malloc failed.
        log = os.path.join(d.tenant_dir("acme"), "logs", "handler.log")

        def mem_stopped():
            with open(log, errors="replace") as f:
                text = f.read()
            return (oom_kills(acme_cg["memory"]) > 0 or
                    "MemoryError" in text)
        wait_for(mem_stopped, timeout=10, what="the memory bomb stopped")
        print(f"acme oom kills: {oom_before} -> "
              f"{oom_kills(acme_cg['memory'])}")
        assert int(read_cg("memory", acme_cg["memory"],
                           "memory.max_usage_in_bytes")) <= 512 << 20

        # Loose on purpose, and why: p99 of SAMPLES is their second
        # largest, and on two cores kept busy by acme's cgroup, each
        # wake-up of a globex request in its own handler may wait out a
        # scheduler tick of acme's: fair sharing, which the 25 ms allow
        # for (measured with spare runs and cpu_idle: 3.2-5.3 ms alone,
        # 6.6-10.7 beside the bombs, 1.45-3.0x, 2.1 in the median run;
        # docs/performance.md).
        # Without the kept sandboxes and the cgroups, acme's bombs took
        # globex's p99 to 100-180 ms, which this fails. The figures go to
        # the benchmark report (tests/bench/run.sh, section 7).
        assert l99 <= 2 * b99 + 25, (b99, l99)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
        try:
            if d.proc is not None and d.proc.poll() is None:
                uid = d.tenant_ids("acme")[0]
                # Nothing of acme's outlives its runs (handler_timeout,
                # then tenantd kills the run and its PID namespace).
                wait_for(lambda: not tenant_procs(d, uid), timeout=15,
                         what="acme's handlers gone")
                data = os.path.join(d.tenant_dir("acme"), "data")
                for name in os.listdir(data):
                    os.unlink(os.path.join(data, name))
                assert os.listdir(data) == []
        finally:
            d.close()
    for c in CONTROLLERS:
        assert read_cg(c, acme_cg[c], "cgroup.procs").strip() == "", c
