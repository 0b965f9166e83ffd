# Kept sandboxes (docs/tenant-code.md, section 4) end with their tenant:
# tenantd drops a tenant's mount and network namespaces when the tenant is
# suspended or deleted, also when no worker of the tenant is left (they
# retire when idle, the sandbox does not), and a run that was still
# building when that happened does not bring them back. What tenantd
# holds is read from its /proc fd table.
import ast
import os
import shutil
import signal
import tempfile
import threading
import time

import pytest

from conftest import RUNNER, Daemon, proc_status, spare_runs, wait_for
from test_admin import parse_metrics

TMP_SH = ("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
          "cat /tmp/seen 2>/dev/null\n"
          "echo \"$QUERY_STRING\" >> /tmp/seen\n")


def write_app(d, slug, name, text, mode=0o755):
    return d.write_public(slug, os.path.join("..", "app", name), text, mode)


def namespaces_held(d):
    """The mount and network namespaces tenantd holds open."""
    out = []
    for fd in os.listdir(f"/proc/{d.proc.pid}/fd"):
        try:
            link = os.readlink(f"/proc/{d.proc.pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith(("mnt:", "net:")):
            out.append(link)
    return sorted(out)


def tmp(d, slug, q):
    """What acme's earlier runs left in its /tmp (then this run adds q)."""
    rs, _, _ = d.exchange(f"GET /tmp?{q} HTTP/1.1\r\nHost: {d.host(slug)}"
                          "\r\nConnection: close\r\n\r\n".encode(),
                          timeout=10, responses=1)
    assert rs and rs[0].status == 200, (rs, d.logtext()[-2000:])
    return rs[0].body.decode().split()


def resume(d):
    d.ctl("resume", "acme")
    wait_for(lambda: d.get(d.host("acme"), "/").status == 200,
             what="acme resumed")


def daemon():
    d = Daemon(workers__idle_timeout="1s")
    d.create("acme", "acme\n")
    write_app(d, "acme", "tmp.sh", TMP_SH)
    write_app(d, "acme", "routes", "/tmp tmp.sh\n", 0o644)
    return d


def kept(d):
    """tenantd_code_sandboxes, from tenantctl metrics."""
    return parse_metrics(d.ctl("metrics").stdout)[1]["tenantd_code_sandboxes"]


def spares(d):
    """tenantd_code_spares, from tenantctl metrics."""
    return parse_metrics(d.ctl("metrics").stdout)[1]["tenantd_code_spares"]


def test_idle_tenant_suspended_loses_its_sandbox():
    d = daemon()
    try:
        d.start()
        assert kept(d) == 0
        assert tmp(d, "acme", "a1") == []
        assert tmp(d, "acme", "a2") == ["a1"]
        assert len(namespaces_held(d)) == 2 and kept(d) == 1
        # The run for acme's next request, ready and waiting.
        wait_for(lambda: len(spare_runs(d)) == 2, what="acme's spare run")
        assert spares(d) == 1
        wait_for(lambda: not d.workers("acme"), timeout=10,
                 what="acme's worker retired")
        d.ctl("suspend", "acme")
        wait_for(lambda: namespaces_held(d) == [], timeout=5,
                 what="acme's sandbox dropped")
        wait_for(lambda: not spare_runs(d), what="acme's spare killed")
        assert kept(d) == 0 and spares(d) == 0
        resume(d)
        assert tmp(d, "acme", "a3") == []
    finally:
        d.close()


def test_idle_tenant_deleted_loses_its_sandbox():
    d = daemon()
    try:
        d.start()
        assert tmp(d, "acme", "a1") == []
        wait_for(lambda: not d.workers("acme"), timeout=10,
                 what="acme's worker retired")
        assert len(namespaces_held(d)) == 2
        d.ctl("delete", "acme")
        wait_for(lambda: namespaces_held(d) == [], timeout=5,
                 what="acme's sandbox dropped")
    finally:
        d.close()


def test_report_after_suspend_is_not_kept():
    """The run's tenantd-run starts a second late (a wrapper that sleeps,
    then execs it): acme is suspended while the run is on its way, and the
    sandbox it then reports is closed, not kept."""
    d = daemon()
    slow = os.path.join(d.dir, "slow-runner")
    with open(slow, "w") as f:
        f.write(f"#!/bin/sh\nsleep 1\nexec {RUNNER}\n")
    os.chmod(slow, 0o755)
    with open(d.conf) as f:
        conf = f.read()
    assert f"runner = {RUNNER}" in conf
    with open(d.conf, "w") as f:
        f.write(conf.replace(f"runner = {RUNNER}", f"runner = {slow}"))
    try:
        d.start()
        got = []
        th = threading.Thread(target=lambda: got.append(tmp(d, "acme", "a1")))
        th.start()
        time.sleep(0.3)             # spawned, not yet built
        d.ctl("suspend", "acme")
        d.wait_log("tenant acme is suspended")
        th.join(15)
        assert got == [[]], got
        time.sleep(0.3)
        assert namespaces_held(d) == []
        resume(d)
        assert tmp(d, "acme", "a2") == []
    finally:
        d.close()


def test_idle_sandbox_is_dropped():
    """[workers] sandbox_idle: a tenant whose code has not run for that
    long holds no namespace in tenantd any more, and its next run builds
    a new sandbox (an empty /tmp)."""
    d = Daemon(workers__sandbox_idle="2s")
    try:
        d.create("acme", "acme\n")
        write_app(d, "acme", "tmp.sh", TMP_SH)
        write_app(d, "acme", "routes", "/tmp tmp.sh\n", 0o644)
        d.start()
        assert tmp(d, "acme", "a1") == []
        assert len(namespaces_held(d)) == 2
        # Used again within the idle time: kept.
        time.sleep(1)
        assert tmp(d, "acme", "a2") == ["a1"]
        wait_for(lambda: namespaces_held(d) == [], timeout=6,
                 what="the idle sandbox dropped")
        # The spare run goes with it: nothing of acme's is left.
        wait_for(lambda: not spare_runs(d), timeout=3,
                 what="the idle spare killed")
        assert spares(d) == 0
        assert tmp(d, "acme", "a3") == []
    finally:
        d.close()


def test_tenant_with_network_keeps_its_mount_namespace_only():
    """network on: the host's network, so tenantd keeps the tenant's mount
    namespace alone, and the next run joins it."""
    d = daemon()
    try:
        d.ctl("limits", "set", "acme", "network", "on")
        d.start()
        assert tmp(d, "acme", "n1") == []
        assert [n[:4] for n in namespaces_held(d)] == ["mnt:"]
        assert tmp(d, "acme", "n2") == ["n1"]
    finally:
        d.close()


# A runner that writes down the descriptors it was exec'd with, then is
# tenantd-run: Python opens nothing of its own before this runs.
FD_RUNNER = """#!/usr/bin/python3 -I
import os
fds = {}
for n in os.listdir("/proc/self/fd"):
    try:
        fds[int(n)] = os.readlink(f"/proc/self/fd/{n}")
    except OSError:
        pass                        # listdir's own, closed by now
out = os.open(%r, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC)
os.write(out, (repr(fds) + "\\n").encode())
os.close(out)
os.execv(%r, ["tenantd-run"])
"""


@pytest.mark.parametrize("network", ["off", "on"])
def test_run_starts_with_exactly_its_fds(network):
    """Each tenantd-run starts with /dev/null on 0 and 1, the pipe tenantd
    reads on 2, the spec socket on 3 and, once a sandbox is kept, its
    mount namespace on 5 and (network off) its network namespace on 6:
    nothing else (supervisor/spawner.c, docs/architecture.md)."""
    d = daemon()
    log = os.path.join(d.dir, "runner-fds")
    wrapper = os.path.join(d.dir, "fd-runner")
    with open(wrapper, "w") as f:
        f.write(FD_RUNNER % (log, RUNNER))
    os.chmod(wrapper, 0o755)
    with open(d.conf) as f:
        conf = f.read()
    assert f"runner = {RUNNER}" in conf
    with open(d.conf, "w") as f:
        f.write(conf.replace(f"runner = {RUNNER}", f"runner = {wrapper}"))

    def records():
        try:
            with open(log) as f:
                return [ast.literal_eval(ln) for ln in f]
        except FileNotFoundError:
            return []
    try:
        if network == "on":
            d.ctl("limits", "set", "acme", "network", "on")
        d.start()
        assert tmp(d, "acme", "f1") == []
        assert tmp(d, "acme", "f2") == ["f1"]
        # The spare made after the sandbox was kept gets it.
        wait_for(lambda: any(5 in r for r in records()),
                 what="a run spawned with the kept sandbox")
        recs = records()
    finally:
        d.close()
    held = [0, 1, 2, 3, 5, 6] if network == "off" else [0, 1, 2, 3, 5]
    assert any(sorted(r) == [0, 1, 2, 3] for r in recs), recs
    for r in recs:
        assert sorted(r) in ([0, 1, 2, 3], held), recs
        assert r[0] == r[1] == "/dev/null", recs
        assert r[2].startswith("pipe:") and r[3].startswith("socket:"), recs
        assert r.get(5, "mnt:").startswith("mnt:"), recs
        assert r.get(6, "net:").startswith("net:"), recs


CAT_SH = ("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
          "cat \"$GREETING\"\n")


def test_spare_not_taken_after_its_sandbox_or_policy_changed():
    """A spare run is prepared before its request, so tenantd looks again
    before it takes one: a host file its sandbox binds, replaced by rename
    since (as /etc/resolv.conf is), and a policy reload each make the next
    request run in a new one, which sees the change."""
    d = Daemon()
    # Short: a policy file's words are at most 47 bytes.
    share = tempfile.mkdtemp(prefix="td-", dir="/var/tmp")
    greeting = os.path.join(share, "greeting")
    with open(greeting, "w") as f:
        f.write("v1\n")
    mounts = os.path.join(d.policy, "tenant-code.mounts")
    with open(mounts, "a") as f:
        f.write(f"ro {greeting}  # a host file, bound as itself\n")
    try:
        d.create("acme", "acme\n")
        write_app(d, "acme", "cat.sh",
                  CAT_SH.replace('"$GREETING"', greeting))
        write_app(d, "acme", "routes", "/cat cat.sh\n", 0o644)
        d.start()

        def cat():
            r = d.get(d.host("acme"), "/cat")
            assert r.status == 200, (r, d.logtext()[-2000:])
            return r.body.decode().strip()
        assert cat() == "v1"
        wait_for(lambda: spares(d) == 1, what="acme's spare run")
        before = spare_runs(d)
        with open(greeting + ".new", "w") as f:
            f.write("v2\n")
        os.rename(greeting + ".new", greeting)
        assert cat() == "v2"
        assert not before & spare_runs(d)
        # A reload: the spare made before it is not taken either (the
        # policy files are read when a run starts).
        wait_for(lambda: spares(d) == 1, what="acme's next spare run")
        before = spare_runs(d)
        os.kill(d.proc.pid, signal.SIGHUP)
        d.wait_log("reload: policy re-read")
        wait_for(lambda: not before & spare_runs(d),
                 what="the spare made before the reload killed")
        assert cat() == "v2"
    finally:
        d.close()
        shutil.rmtree(share)


def test_spare_dead_while_waiting_is_replaced():
    """A spare that died while it waited (the OOM killer takes tenant code
    first) cannot take the request: tenantd starts another at once and the
    request is served. Its tenantd-run is stopped here so that tenantd
    has not yet seen the death when the request comes."""
    d = daemon()
    try:
        d.start()
        assert tmp(d, "acme", "a1") == []
        assert tmp(d, "acme", "a2") == ["a1"]

        def spare_pair():
            # One snapshot; a spare replaced meanwhile (its sandbox seen
            # to change under a loaded machine) is looked for again.
            runs = spare_runs(d)
            try:
                parent = [p for p in runs
                          if int(proc_status(p)["PPid"]) == d.proc.pid]
            except FileNotFoundError:
                return None
            if len(runs) != 2 or len(parent) != 1:
                return None
            return parent[0], [p for p in runs if p != parent[0]][0]

        parent, child = wait_for(spare_pair, what="acme's spare run")
        os.kill(parent, signal.SIGSTOP)
        os.kill(child, signal.SIGKILL)
        # Dead (a zombie its stopped parent cannot reap): its end of the
        # spec channel is closed.
        wait_for(lambda: proc_status(child)["State"].startswith("Z"),
                 what="the spare's child dead")
        assert tmp(d, "acme", "a3") == ["a1", "a2"]
        wait_for(lambda: not os.path.exists(f"/proc/{parent}"),
                 what="the dead spare's tenantd-run killed")
    finally:
        d.close()
