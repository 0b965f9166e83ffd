# Live workers of a running daemon, seen from the host through /proc: the
# state the sandbox left them in, the descriptors they hold while the
# supervisor holds many others, and how they die (docs/security.md,
# section 2, A, B and E).
import os
import signal
import time

import pytest

from conftest import (WORKER, Daemon, children, proc_status, request_bytes,
                      wait_for)
from probelib import (alive, policy_limits, proc_fds, proc_limits,
                      proc_stat, resolve)


def worker_state_ok(d, slug, pid):
    """Assert everything /proc shows about one bound worker."""
    uid, gid = d.tenant_ids(slug)
    st = proc_status(pid)
    assert st["Name"] == "tenantd-worker"
    assert st["Uid"].split() == [str(uid)] * 4
    assert st["Gid"].split() == [str(gid)] * 4
    assert st["Groups"] == ""
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[cap], 16) == 0, f"{cap} {st[cap]}"
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2"
    assert st["Seccomp_filters"] == "1"
    jail = d.tenant_dir(slug)
    assert os.readlink(f"/proc/{pid}/root") == jail
    assert os.readlink(f"/proc/{pid}/cwd") == jail
    want = policy_limits()
    # fsize is lowered to the tenant's storage quota (100M by default) plus
    # 64M for a write-ahead log (test_limits.py checks the rule).
    want["fsize"] = min(want["fsize"], (100 << 20) + (64 << 20))
    got = proc_limits(pid)
    for name, value in want.items():
        assert got[name] == (value, value), name
    # docs/security.md, item 12: no environment, nothing in argv but the
    # supervisor pid.
    with open(f"/proc/{pid}/environ", "rb") as f:
        assert f.read() == b""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0") == [
            b"tenantd-worker", str(d.proc.pid).encode(), b""]
    # docs/security.md, item 25: its own session, no controlling terminal.
    s = proc_stat(pid)
    assert s[4] == str(d.proc.pid)
    assert s[6] == str(pid) and s[5] == str(pid), "not a session leader"
    assert s[7] == "0" and s[8] == "-1", "has a controlling tty"


def worker_fds_ok(d, slug, pid, conns=None):
    """docs/security.md, items 1-2: exactly 0-2 on /dev/null, the channel,
    public/ and logs/access.log, the event loop's epoll fd if it has one, plus
    per client connection its socket and at most the one file under public/
    being sent on it. Returns the number of connections (checked if
    given)."""
    fds = proc_fds(pid)
    jail = d.tenant_dir(slug)
    public = os.path.join(jail, "public")
    assert {fds.get(0), fds.get(1), fds.get(2)} == {"/dev/null"}, fds
    assert fds.get(3, "").startswith("socket:"), fds
    rest = [v for k, v in fds.items() if k > 3]
    socks = [v for v in rest if v.startswith("socket:")]
    files = [v for v in rest if v.startswith(public + os.sep)]
    fixed = sorted(v for v in rest if v not in socks and v not in files)
    # The event loop's epoll set, if libev runs its epoll backend.
    if "anon_inode:[eventpoll]" in fixed:
        fixed.remove("anon_inode:[eventpoll]")
    assert fixed == sorted([public, os.path.join(jail, "logs",
                                                 "access.log")]), fds
    assert len(files) <= len(socks), fds
    if conns is not None:
        assert len(socks) == conns, fds
    return len(socks)


def spare_fds_ok(pid):
    """An unbound spare (still root) holds 0-2 on /dev/null and its channel,
    nothing else."""
    fds = proc_fds(pid)
    assert sorted(fds) == [0, 1, 2, 3], fds
    assert {fds[0], fds[1], fds[2]} == {"/dev/null"}, fds
    assert fds[3].startswith("socket:"), fds


def spares(d):
    """Unbound workers. A child still between posix_spawn's clone and its
    execve shares the supervisor's descriptor table for a moment, so only
    those already running the worker binary count."""
    out = []
    for pid, uid in children(d.proc.pid):
        try:
            if uid == 0 and os.readlink(f"/proc/{pid}/exe") == WORKER:
                out.append(pid)
        except FileNotFoundError:
            pass
    return out


def test_live_worker_state(td):
    """docs/security.md, items 3, 12-18, 25 and the rlimits of section 2 E:
    a worker serving acme runs as acme's uid and gid in every slot, with no
    groups, no capability in any set, no_new_privs, seccomp filter mode,
    chroot and cwd in its directory, the policy's rlimits, no environment,
    its own session and no tty."""
    assert td.get(td.host("acme")).status == 200
    (pid,) = td.wait_workers("acme")
    worker_state_ok(td, "acme", pid)
    worker_fds_ok(td, "acme", pid, 0)
    sp = spares(td)
    assert sp, "no spare worker"
    for pid in sp:
        spare_fds_ok(pid)
        s = proc_stat(pid)
        assert s[6] == str(pid) and s[7] == "0" and s[8] == "-1"


def test_worker_fds_while_supervisor_holds_connections():
    """docs/security.md, items 1-2: while the supervisor holds many connections
    (heads still being read, and idle keep-alive ones another tenant's worker
    owns), acme's workers, started again and again from spares exec'd in
    the meantime, hold only their own descriptors and one per connection
    they serve; spares hold nothing but their channel."""
    d = Daemon(proxy__header_timeout="600s", workers__spares="2",
               workers__keepalive_timeout="600s",
               workers__backoff_min="100ms", workers__crash_window="100ms")
    held = []
    try:
        d.create("acme", "acme's own page\n")
        d.create("globex", "globex's own page\n")
        d.start()
        for i in range(25):
            s = d.connect()
            s.sendall(b"GET / HTTP/1.1\r\nHost: " +
                      d.host("globex").encode() + b"\r\nX-Slow: ")
            held.append(s)
        for i in range(25):
            s = d.connect()
            s.sendall(request_bytes(d.host("globex"), f"/?held={i}"))
            held.append(s)
        time.sleep(0.2)
        sup_fds = len(proc_fds(d.proc.pid))
        assert sup_fds >= 25, f"supervisor holds only {sup_fds} fds"
        last = None
        for i in range(20):
            c = d.connect()
            # A body announced but not sent: the worker holds the
            # connection while we look.
            c.sendall(request_bytes(d.host("acme"), f"/?round={i}",
                                    headers={"Content-Length": "5"}))
            deadline = time.monotonic() + 5
            while True:
                pids = [p for p in d.workers("acme") if p != last]
                if pids and sum(v.startswith("socket:") for v in
                                proc_fds(pids[0]).values()) == 2:
                    break
                assert time.monotonic() < deadline, \
                    f"round {i}: no acme worker with the connection"
                time.sleep(0.02)
            (pid,) = pids
            worker_state_ok(d, "acme", pid)
            worker_fds_ok(d, "acme", pid, 1)
            for sp in spares(d):
                spare_fds_ok(sp)
            assert sum(worker_fds_ok(d, "globex", gw)
                       for gw in d.workers("globex")) == 25
            c.sendall(b"12345")
            c.settimeout(5)
            assert c.recv(4096).startswith(b"HTTP/1.1 200 ")
            c.close()
            # Make the next round start a new worker from a spare.
            time.sleep(0.15)
            os.kill(pid, signal.SIGKILL)
            d.wait_log(f"lost worker: tenant acme pid {pid} ")
            last = pid
    finally:
        for s in held:
            s.close()
        d.close()


def test_supervisor_sigkill_takes_every_worker(td):
    """docs/security.md, item 18: SIGKILL the supervisor (no chance to clean
    up): every worker, bound or spare, is gone within a second. The workers are
    stopped first, so none can leave on noticing its channel closed: only
    the parent-death signal, armed again after the uid change (which clears
    it), can take them."""
    assert td.get(td.host("acme")).status == 200
    assert td.get(td.host("globex")).status == 200
    td.wait_workers("acme")
    td.wait_workers("globex")
    kids = [(pid, proc_stat(pid)[22]) for pid, _ in children(td.proc.pid)]
    uids = {uid for _, uid in children(td.proc.pid)}
    assert len(kids) >= 3 and 0 in uids, "want bound workers and a spare"
    try:
        for pid, _ in kids:
            os.kill(pid, signal.SIGSTOP)
        td.proc.kill()
        td.proc.wait()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            left = [pid for pid, start in kids if alive(pid, start)]
            if not left:
                return
            time.sleep(0.01)
        pytest.fail(f"still alive 1 s after the supervisor died: {left}")
    finally:
        for pid, start in kids:
            if alive(pid, start):
                os.kill(pid, signal.SIGKILL)


def core_files(top):
    out = []
    for dirpath, _, files in os.walk(top):
        out += [os.path.join(dirpath, f) for f in files
                if f.startswith("core")]
    return out


def test_worker_segv_no_core_and_logged(td):
    """docs/security.md, item 11: a worker killed by SIGSEGV leaves no core
    file in its jail, the supervisor logs the loss, and the tenant is served
    again."""
    assert td.get(td.host("acme")).status == 200
    (pid,) = td.wait_workers("acme")
    os.kill(pid, signal.SIGSEGV)
    td.wait_log(rf"lost worker: tenant acme pid {pid} .*signal "
                rf"{int(signal.SIGSEGV)}")
    assert core_files(td.tenant_dir("acme")) == []
    assert core_files(td.dir) == []
    r = td.get(td.host("acme"))
    assert r.status == 200 and b"acme" in r.body


def idle_in(pid, name, native):
    """True once pid sleeps in the syscall called name (/proc/PID/syscall
    gives the number of the call it is blocked in)."""
    with open(f"/proc/{pid}/syscall") as f:
        words = f.read().split()
    return (proc_stat(pid)[3] == "S" and words[0].isdigit() and
            native.get(int(words[0])) == name)


def served_by_same_worker(d, slug, pid, start):
    """The worker is still the one it was, the tenant is served, and the
    supervisor lost no worker meanwhile."""
    assert alive(pid, start), f"worker {pid} died"
    r = d.get(d.host(slug))
    assert r.status == 200 and slug.encode() in r.body
    assert d.workers(slug) == [pid]
    assert "lost worker" not in d.logtext()


def test_worker_survives_stop_and_continue(td):
    """A worker stopped while it sleeps in poll() (a debugger, SIGSTOP, a
    job-control stop) resumes through restart_syscall, which the kernel
    makes in its place: the worker's allowlist must hold it, or every
    continue is a seccomp kill (docs/security.md). Several rounds, each
    from the idle poll, and the worker serves after each."""
    assert td.get(td.host("acme")).status == 200
    (pid,) = td.wait_workers("acme")
    start = proc_stat(pid)[22]
    _, native = resolve()
    for i in range(6):
        wait_for(lambda: idle_in(pid, "poll", native),
                 what=f"round {i}: worker idle in poll")
        os.kill(pid, signal.SIGSTOP)
        wait_for(lambda: proc_stat(pid)[3] == "T",
                 what=f"round {i}: worker stopped")
        os.kill(pid, signal.SIGCONT)
        wait_for(lambda: proc_stat(pid)[3] != "T",
                 what=f"round {i}: worker continued")
        # The restarted poll runs at once on continue; give a kill the
        # time to land before looking.
        time.sleep(0.1)
        served_by_same_worker(td, "acme", pid, start)


def cgroup2_mount():
    """Where the unified (v2) hierarchy is mounted read-write: at
    /sys/fs/cgroup on a unified boot, under it (unified/) on a hybrid one."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            pre = pre.split()
            if post.split()[0] == "cgroup2" and "rw" in pre[5].split(","):
                return pre[4]
    return None


def cg_wait(cg, frozen):
    def done():
        with open(os.path.join(cg, "cgroup.events")) as f:
            return f"frozen {frozen}\n" in f.read()
    wait_for(done, what=f"{cg}: frozen {frozen}")


def test_worker_survives_cgroup_freeze_and_thaw(td):
    """The cgroup v2 freezer (systemctl freeze and thaw) takes a task out
    of its syscall as a stop does: thawed, it restarts through
    restart_syscall. A worker moved into a fresh child cgroup is frozen
    and thawed several times and serves after each."""
    mnt = cgroup2_mount()
    # This machine and CI mount the unified hierarchy read-write.
    assert mnt, "no cgroup2 hierarchy mounted read-write"
    assert td.get(td.host("acme")).status == 200
    (pid,) = td.wait_workers("acme")
    start = proc_stat(pid)[22]
    _, native = resolve()
    with open(f"/proc/{pid}/cgroup") as f:
        home = [line.rstrip("\n").split(":", 2)[2] for line in f
                if line.startswith("0::")][0]
    cg = os.path.join(mnt, f"tenantd-test-freeze-{os.getpid()}")
    os.mkdir(cg)
    try:
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(pid))
        for i in range(4):
            wait_for(lambda: idle_in(pid, "poll", native),
                     what=f"round {i}: worker idle in poll")
            with open(os.path.join(cg, "cgroup.freeze"), "w") as f:
                f.write("1")
            cg_wait(cg, 1)
            with open(os.path.join(cg, "cgroup.freeze"), "w") as f:
                f.write("0")
            cg_wait(cg, 0)
            time.sleep(0.1)
            served_by_same_worker(td, "acme", pid, start)
    finally:
        with open(os.path.join(cg, "cgroup.freeze"), "w") as f:
            f.write("0")
        if alive(pid, start):
            with open(os.path.join(mnt + home, "cgroup.procs"), "w") as f:
                f.write(str(pid))
        os.rmdir(cg)
