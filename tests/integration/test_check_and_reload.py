# "tenantd -n" (what the unit's ExecReload= runs first) reads every file a
# start or a reload reads, and "tenantctl reload" says what applied, what
# waits for a restart and what was refused, with an exit status to match
# (docs/operations.md).
import json
import os
import re
import subprocess

import pytest

from conftest import Daemon, TENANTD

EX_REJECTED = 10
EX_RESTART = 11


@pytest.fixture
def d():
    d = Daemon()
    try:
        d.create("acme", "acme's own page\n")
        yield d
    finally:
        d.close()


def check(d):
    return subprocess.run([TENANTD, "-n", "-c", d.conf],
                          capture_output=True, text=True, timeout=30)


def edit(path, text, mode="a"):
    """Change a file; returns a function that puts it back."""
    old = open(path).read() if os.path.exists(path) else None

    def restore():
        if old is None:
            os.unlink(path)
        else:
            with open(path, "w") as f:
                f.write(old)
    with open(path, mode) as f:
        f.write(text)
    return restore


# Each: the file (in the policy directory), what is appended, the line the
# error names. tenant.limits has its harness line last, so one more is the
# last line + 1.
def limits_breaks(d):
    tl = os.path.join(d.policy, "tenant.limits")
    n = len(open(tl).read().splitlines()) + 1
    prof = os.path.join(d.policy, "profiles", "small.limits")
    pn = len(open(prof).read().splitlines()) + 1
    return [
        (tl, "no_such_limit 5  # why\n", n, "unknown limit"),
        (tl, "requests_per_minute 5  # why\n", n, "set twice"),
        (prof, "kv_max_value unlimited  # why\n", pn, "bad value"),
        # A profile no tenant uses yet: the next one to use it would break.
        (os.path.join(d.policy, "profiles", "unused.limits"),
         "max_workers 0  # why\n", 1, "out of range"),
    ]


def test_check_refuses_a_broken_tenant_limits_or_profile(d):
    assert check(d).returncode == 0, check(d).stderr
    for path, bad, line, why in limits_breaks(d):
        restore = edit(path, bad)
        r = check(d)
        restore()
        assert r.returncode != 0, (path, r)
        assert f"{path}: line {line}: " in r.stderr and why in r.stderr, \
            (path, r.stderr)
    assert check(d).returncode == 0


def test_reload_refuses_a_broken_tenant_limits_or_profile(d):
    d.start()
    for path, bad, line, why in limits_breaks(d):
        restore = edit(path, bad)
        r = d.ctl("reload", check=False)
        restore()
        assert r.returncode == EX_REJECTED, (path, r)
        assert "rejected" in r.stdout and f"{path}: line {line}: " in \
            r.stdout and why in r.stdout, (path, r.stdout)
    r = d.ctl("reload", "--json")
    assert json.loads(r.stdout) == {"applied": [], "restart": [],
                                    "rejected": []}
    assert d.get(d.host("acme")).status == 200


def test_check_refuses_missing_tenant_code_files(d):
    for name in ("tenant-code.mounts", "tenant-code.limits",
                 "tenant-code.cgroup", "tenant-code.seccomp"):
        path = os.path.join(d.policy, name)
        os.rename(path, path + ".away")
        r = check(d)
        os.rename(path + ".away", path)
        assert r.returncode != 0 and f"{path}: missing" in r.stderr, \
            (name, r)


def test_check_and_reload_refuse_a_master_key_others_can_read(d):
    keys = os.path.join(d.state, "keys")
    key = os.path.join(keys, sorted(os.listdir(keys))[0])
    d.start()
    os.chmod(key, 0o644)
    try:
        r = check(d)
        assert r.returncode != 0 and key in r.stderr and "0400" in r.stderr
        r = d.ctl("reload", check=False)
        assert r.returncode == EX_REJECTED and key in r.stdout, r
    finally:
        os.chmod(key, 0o400)
    assert check(d).returncode == 0


def test_check_refuses_a_config_file_others_can_write(d):
    os.chmod(d.conf, 0o664)
    r = check(d)
    os.chmod(d.conf, 0o644)
    assert r.returncode != 0 and d.conf in r.stderr and "0664" in r.stderr
    os.chown(d.conf, 1, 0)
    r = check(d)
    os.chown(d.conf, 0, 0)
    assert r.returncode != 0 and "owner uid 1" in r.stderr


def set_key(d, key, old, new):
    conf = open(d.conf).read()
    assert f"{key} = {old}\n" in conf
    with open(d.conf, "w") as f:
        f.write(conf.replace(f"{key} = {old}\n", f"{key} = {new}\n"))


def test_reload_says_suffix_needs_a_restart_and_fails(d):
    d.start()
    set_key(d, "suffix", d.suffix, "other.localhost")
    r = d.ctl("reload", check=False)
    assert r.returncode == EX_RESTART, r
    assert re.search(r"after systemctl restart tenantd:\n  \[hosts\] suffix: "
                     + re.escape(d.suffix) + r" -> other\.localhost\n",
                     r.stdout), r.stdout
    j = json.loads(d.ctl("reload", "--json", check=False).stdout)
    assert j["restart"] == [{"key": "[hosts] suffix", "old": d.suffix,
                             "new": "other.localhost"}]
    # Still served under the suffix that runs.
    assert d.get(d.host("acme")).status == 200


def test_reload_applies_a_live_key_and_succeeds(d):
    d.start()
    set_key(d, "spares", "1", "2")
    r = d.ctl("reload")
    assert r.stdout == ("applied:\n  [workers] spares: 1 -> 2\n"
                        "tenantd reloaded its configuration and policy\n")
    d.wait_log(r"reload: \[workers\] spares applied: 1 -> 2")
