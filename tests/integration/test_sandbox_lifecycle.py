# Kept sandboxes (docs/tenant-code.md, section 4) end with their tenant:
# tenantd drops a tenant's mount and network namespaces when the tenant is
# suspended or deleted, also when no worker of the tenant is left (they
# retire when idle, the sandbox does not), and a run that was still
# building when that happened does not bring them back. What tenantd
# holds is read from its /proc fd table.
import os
import threading
import time

from conftest import RUNNER, Daemon, wait_for
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


def test_idle_tenant_suspended_loses_its_sandbox():
    d = daemon()
    try:
        d.start()
        assert kept(d) == 0
        assert tmp(d, "acme", "a1") == []
        assert tmp(d, "acme", "a2") == ["a1"]
        assert len(namespaces_held(d)) == 2 and kept(d) == 1
        wait_for(lambda: not d.workers("acme"), timeout=10,
                 what="acme's worker retired")
        d.ctl("suspend", "acme")
        wait_for(lambda: namespaces_held(d) == [], timeout=5,
                 what="acme's sandbox dropped")
        assert kept(d) == 0
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
