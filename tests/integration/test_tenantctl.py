# tenantctl, the operator's tool: exit codes, messages, the directory it
# provisions, the registry it keeps, and what it refuses. Real binaries, real
# files; the daemon is not started here (test_registry_live.py does that).
import grp
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile

import pytest

from conftest import BUILD, Daemon, POLICY, TENANTCTL, TENANTD, WORKER, wait_for

EX_OK, EX_FAIL, EX_USAGE, EX_INVALID, EX_NOTFOUND = 0, 1, 2, 3, 4
EX_CONFLICT, EX_STATE, EX_FULL, EX_NOINIT = 5, 6, 7, 8

TENANT_KEYS = {"slug", "status", "uid", "gid", "created", "updated", "host",
               "directory"}
HOST_KEYS = {"hostname", "tenant", "status", "created"}
SUBDIRS = ("public", "data", "uploads", "logs", "tmp", "app")


def ctl(d, *args):
    return d.ctl(*args, check=False)


def expect(d, code, *args, stderr=None):
    """Run tenantctl, insist on its exit code and (a pattern in) stderr."""
    r = ctl(d, *args)
    assert r.returncode == code, (
        f"tenantctl {' '.join(args)}: exit {r.returncode}, wanted {code}; "
        f"stdout={r.stdout!r} stderr={r.stderr!r}")
    if code != EX_OK:
        assert r.stderr.startswith("tenantctl: "), r.stderr
        assert r.stdout == "", r.stdout
    if stderr is not None:
        assert re.search(stderr, r.stderr), (stderr, r.stderr)
    return r


def slugs(d):
    return [t["slug"] for t in d.ctl_json("list")]


def mode(st):
    return stat.S_IMODE(st.st_mode)


def in_nss(uid):
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        pass
    try:
        grp.getgrgid(uid)
        return True
    except KeyError:
        return False


def read_gen(d):
    with open(os.path.join(d.state, "registry.gen"), "rb") as f:
        data = f.read()
    assert data[:8] == b"TNTDGEN1"
    return int.from_bytes(data[8:16], "little")


# --- init ------------------------------------------------------------------

def test_init_is_idempotent_and_never_rewrites_key_registry_or_config(daemon):
    d = daemon
    key = os.path.join(d.state, "keys", "master-1.key")
    st = os.lstat(key)
    assert stat.S_ISREG(st.st_mode) and mode(st) == 0o400
    assert (st.st_uid, st.st_gid) == (0, 0) and st.st_size == 32
    assert mode(os.stat(os.path.join(d.state, "keys"))) == 0o700
    assert mode(os.stat(os.path.join(d.state, "tenants"))) == 0o711
    assert mode(os.stat(os.path.join(d.state, "registry.db"))) == 0o600
    with open(key, "rb") as f:
        secret = f.read()
    assert secret != bytes(32)

    d.create("acme")
    d.ctl("hostname", "add", "acme", "shop.example.org")
    tenants, hosts = d.ctl_json("list"), d.ctl_json("hostname", "list")
    audit, gen = d.ctl("audit").stdout, read_gen(d)
    reg_ino = os.stat(os.path.join(d.state, "registry.db")).st_ino
    with open(d.conf, "rb") as f:
        conf = f.read()
    conf_mtime = os.stat(d.conf).st_mtime_ns

    for _ in range(2):
        r = d.ctl("init")
        assert "created master key" not in r.stdout
        assert "wrote" not in r.stdout
        assert "initialised" in r.stdout

    st2 = os.lstat(key)
    assert (st2.st_ino, mode(st2), st2.st_uid, st2.st_gid) == \
        (st.st_ino, 0o400, 0, 0)
    with open(key, "rb") as f:
        assert f.read() == secret
    assert os.stat(os.path.join(d.state, "registry.db")).st_ino == reg_ino
    assert d.ctl_json("list") == tenants
    assert d.ctl_json("hostname", "list") == hosts
    assert d.ctl("audit").stdout == audit
    assert read_gen(d) == gen
    with open(d.conf, "rb") as f:
        assert f.read() == conf
    assert os.stat(d.conf).st_mtime_ns == conf_mtime


def build_defaults():
    """The built-in paths this build was configured with."""
    out = {}
    with open(os.path.join(BUILD, "config-paths.h")) as f:
        for m in re.finditer(r'#define TENANTD_(\w+) "([^"]*)"', f.read()):
            out[m.group(1)] = m.group(2)
    return out


def deepest_existing(path):
    while not os.path.isdir(path):
        path = os.path.dirname(path)
    return path


# init with no config file writes one from the built-in defaults, and those
# defaults point at the system's own state directory. It runs in a private
# mount namespace whose writes to those places land on a throwaway overlay.
NS_SCRIPT = r'''
set -e
scratch=$1 conf=$2 state=$3 policy_dir=$4 worker_dst=$5 policy_src=$6
worker=$7 tenantctl=$8 tenantd=$9
shift 9
mount -t tmpfs tmpfs "$scratch"
i=0
for t in "$@"; do
    i=$((i + 1))
    mkdir "$scratch/u$i" "$scratch/w$i"
    mount -t overlay overlay \
        -o "lowerdir=$t,upperdir=$scratch/u$i,workdir=$scratch/w$i" "$t"
done
# What packaging installs: the parent of the state directory, the policy
# files and the worker binary at their configured places.
mkdir -p "$(dirname "$state")" "$policy_dir" "$(dirname "$worker_dst")"
cp "$policy_src"/*.seccomp "$policy_src"/*.limits "$policy_src"/tenant-code.* \
    "$policy_src"/worker.cgroup "$policy_dir/"
cp "$worker" "$worker_dst"
set +e
echo "== init"
"$tenantctl" -c "$conf" init 2>&1
echo "== rc $?"
echo "== check"
"$tenantd" -n -c "$conf" 2>&1
echo "== rc $?"
echo "== key"
stat -c '%a %u %g %s' "$state/keys/master-1.key"
'''


def test_init_writes_a_config_that_tenantd_accepts():
    defs = build_defaults()
    state, policy_dir = defs["STATE_DIR"], defs["POLICY_DIR"]
    worker_dst = defs["WORKER_PATH"]
    existed = os.path.exists(os.path.join(state, "registry.db"))
    top = tempfile.mkdtemp(prefix="tenantd-test-init-")
    try:
        scratch = os.path.join(top, "scratch")
        os.mkdir(scratch)
        conf = os.path.join(top, "etc", "tenantd.conf")
        targets = set()
        for p in (os.path.dirname(state), policy_dir,
                  os.path.dirname(worker_dst)):
            t = deepest_existing(p)
            assert t != "/", f"{p}: no directory to overlay below /"
            targets.add(t)
        # An overlay on a directory covers everything below it.
        targets = sorted(t for t in targets if not any(
            t != o and t.startswith(o.rstrip("/") + "/") for o in targets))
        for t in targets:
            assert not top.startswith(t.rstrip("/") + "/"), t
        r = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             NS_SCRIPT, "sh", scratch, conf, state, policy_dir, worker_dst,
             POLICY, WORKER, TENANTCTL, TENANTD, *targets],
            capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        out = dict(re.findall(r"^== (\w+)\n(.*?)(?=^== \w+\n|\Z)",
                              r.stdout, re.M | re.S))
        init, check = out["init"], out["check"]
        assert f"wrote {conf}\n" in init, r.stdout
        assert "created master key" in init, r.stdout
        assert check == f"configuration OK ({conf})\n== rc 0\n", r.stdout
        assert out["key"].strip() == "400 0 0 32", r.stdout
        assert re.findall(r"^== rc (\d+)$", r.stdout, re.M) == ["0", "0"], \
            r.stdout

        # The file is root's, documents every key, and reads back to itself.
        st = os.stat(conf)
        assert st.st_uid == 0 and mode(st) & 0o022 == 0
        with open(conf) as f:
            text = f.read()
        assert f"state_dir = {state}\n" in text
        dump = subprocess.run([TENANTD, "-D", "-c", conf], capture_output=True,
                              text=True, timeout=10)
        assert dump.returncode == 0, dump.stderr
        assert dump.stdout == text
        lines = text.splitlines()
        keys = [i for i, l in enumerate(lines) if re.match(r"^\w+ = ", l)]
        assert len(keys) >= 25
        for i in keys:
            assert lines[i - 1].startswith("# "), lines[i]
        # Nothing leaked out of the namespace.
        assert os.path.exists(os.path.join(state, "registry.db")) == existed
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_commands_need_an_initialised_state_dir(daemon):
    d = daemon
    shutil.rmtree(d.state)
    for args in (("list",), ("show", "acme"), ("create", "acme"),
                 ("suspend", "acme"), ("delete", "acme"), ("audit",),
                 ("hostname", "list"),
                 ("hostname", "add", "acme", "shop.example.org")):
        expect(d, EX_NOINIT, *args, stderr=r"not initialised; run "
               r"\"tenantctl init\"")
    assert not os.path.exists(d.state)


def test_non_root_is_refused(daemon):
    d = daemon
    d.create("acme")
    before = d.ctl("audit").stdout
    for args in (("list",), ("create", "globex"), ("suspend", "acme"),
                 ("delete", "acme", "--purge"), ("init",)):
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                            "--clear-groups", TENANTCTL, "-c", d.conf, *args],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == EX_FAIL, (args, r)
        assert "must be run as root" in r.stderr, r.stderr
        assert r.stdout == ""
    assert d.ctl("audit").stdout == before
    assert slugs(d) == ["acme"]
    assert d.ctl_json("show", "acme")["status"] == "active"
    assert os.path.isdir(d.tenant_dir("acme"))


def test_usage_errors_exit_2(daemon):
    for args in ((), ("frobnicate",), ("create",), ("create", "a1", "b2"),
                 ("delete", "acme", "--force"), ("hostname",),
                 ("hostname", "add", "acme")):
        r = ctl(daemon, *args)
        assert r.returncode == EX_USAGE, (args, r)
        assert r.stderr.startswith("usage: tenantctl"), r.stderr


# --- create ----------------------------------------------------------------

@pytest.mark.parametrize("slug,why", [
    ("ab", "shorter than 3"),
    ("a" * 64, "longer than 63"),
    ("Acme", "only a-z, 0-9"),
    ("ACME", "only a-z, 0-9"),
    ("ac_me", "only a-z, 0-9"),
    ("ac.me", "only a-z, 0-9"),
    ("ac me", "only a-z, 0-9"),
    ("acm\u00e9", "only a-z, 0-9"),
    ("-acme", "must not start or end with '-'"),
    ("acme-", "must not start or end with '-'"),
    ("xn--acme", "'--' in the third and fourth place"),
    ("ab--cd", "'--' in the third and fourth place"),
    ("", "shorter than 3"),
])
def test_create_refuses_invalid_slugs(daemon, slug, why):
    d = daemon
    r = expect(d, EX_INVALID, "create", slug,
               stderr=re.escape(f'invalid slug "{slug}": ') + re.escape(why))
    assert r.stderr.count("\n") == 1
    assert slugs(d) == []
    assert sorted(os.listdir(os.path.join(d.state, "tenants"))) == []


@pytest.mark.parametrize("slug", ["www", "admin", "api", "mail", "root",
                                  "tenantd", "mta-sts"])
def test_create_refuses_reserved_names(daemon, slug):
    d = daemon
    expect(d, EX_CONFLICT, "create", slug,
           stderr=re.escape(f'"{slug}": reserved for the platform'))
    assert slugs(d) == []
    assert not os.path.lexists(d.tenant_dir(slug))


def test_create_accepts_the_edges_of_the_rules(daemon):
    d = daemon
    ok = ["abc", "a" * 63, "123", "a-b", "a--b", "abc--d", "www2", "x-n--a"]
    for s in ok:
        r = expect(daemon, EX_OK, "create", s)
        assert r.stdout.startswith(f"created tenant {s}: uid ")
    assert slugs(d) == sorted(ok)


def test_create_provisions_the_directory_layout_exactly(daemon):
    d = daemon
    r = d.ctl("create", "acme", "--json")
    out = json.loads(r.stdout)
    uid, gid = out["uid"], out["gid"]
    assert out == {"slug": "acme", "uid": uid, "gid": gid,
                   "host": "acme.test.localhost"}
    top = d.tenant_dir("acme")
    st = os.lstat(top)
    assert stat.S_ISDIR(st.st_mode)
    assert (st.st_uid, st.st_gid, mode(st)) == (0, gid, 0o750)
    assert sorted(os.listdir(top)) == sorted(
        SUBDIRS + ("tenant.json", "billing.db"))
    # The credit ledger: root's alone, never the tenant's (no WAL left).
    st = os.lstat(os.path.join(top, "billing.db"))
    assert stat.S_ISREG(st.st_mode)
    assert (st.st_uid, st.st_gid, mode(st)) == (0, 0, 0o600)
    for sub in SUBDIRS:
        st = os.lstat(os.path.join(top, sub))
        assert stat.S_ISDIR(st.st_mode), sub
        assert (st.st_uid, st.st_gid, mode(st)) == (uid, gid, 0o700), sub
    st = os.lstat(os.path.join(top, "tenant.json"))
    assert stat.S_ISREG(st.st_mode)
    assert (st.st_uid, st.st_gid, mode(st)) == (0, gid, 0o640)
    with open(os.path.join(top, "tenant.json")) as f:
        man = json.load(f)
    assert man["slug"] == "acme" and man["uid"] == uid and man["gid"] == gid
    assert man["host"] == "acme.test.localhost"
    assert os.listdir(os.path.join(top, "public")) == ["index.html"]
    st = os.lstat(os.path.join(top, "public", "index.html"))
    assert stat.S_ISREG(st.st_mode) and (st.st_uid, st.st_gid) == (uid, gid)
    assert mode(st) & 0o007 == 0
    with open(os.path.join(top, "public", "index.html")) as f:
        assert "acme" in f.read()
    for sub in SUBDIRS[1:]:
        assert os.listdir(os.path.join(top, sub)) == []
    # Built under a temporary name and renamed: nothing else is left.
    assert os.listdir(os.path.join(d.state, "tenants")) == ["acme"]


def test_uids_are_unique_in_range_and_never_reused(daemon):
    d = daemon
    names = ["acme", "globex", "initech", "umbrella", "hooli"]
    for s in names:
        d.create(s)
    conf = {}
    with open(d.conf) as f:
        for line in f:
            k, _, v = line.partition(" = ")
            conf[k.strip()] = v.strip()
    lo, hi = int(conf["uid_min"]), int(conf["uid_max"])
    ids = [d.tenant_ids(s) for s in names]
    uids = [u for u, _ in ids]
    assert len(set(uids)) == len(uids)
    assert len({g for _, g in ids}) == len(ids)
    for uid, gid in ids:
        assert lo <= uid <= hi and lo <= gid <= hi
        assert not in_nss(uid) and not in_nss(gid)
        assert uid != 0 and gid != 0
    # A deleted tenant keeps its ids: the next tenant gets new ones.
    d.ctl("delete", "hooli", "--purge")
    d.create("stark")
    uid = d.tenant_ids("stark")[0]
    assert uid not in uids and uid > max(uids)


def test_uids_known_to_the_system_are_skipped():
    # A range that starts on a uid or gid the host already uses.
    known = sorted({p.pw_uid for p in pwd.getpwall()} |
                   {g.gr_gid for g in grp.getgrall()})
    known = [u for u in known if 1000 <= u < 4000000000]
    assert known, "no uid >= 1000 in the passwd or group database"
    lo = known[0]
    d = Daemon(tenants__uid_min=lo, tenants__uid_max=lo + 100)
    try:
        d.create("acme")
        d.create("globex")
        free = [u for u in range(lo, lo + 101) if not in_nss(u)]
        assert d.tenant_ids("acme") == (free[0], free[0])
        assert d.tenant_ids("globex") == (free[1], free[1])
    finally:
        d.close()


def test_uid_range_full_exits_7():
    base = 4000000000 - 10
    d = Daemon(tenants__uid_min=base, tenants__uid_max=base + 1)
    try:
        d.create("acme")
        d.create("globex")
        expect(d, EX_FULL, "create", "initech",
               stderr=rf"no free uid in {base}\.\.{base + 1}")
        assert slugs(d) == ["acme", "globex"]
        assert not os.path.lexists(d.tenant_dir("initech"))
    finally:
        d.close()


def test_duplicate_create_is_a_conflict(daemon):
    d = daemon
    d.create("acme")
    before = d.ctl_json("show", "acme")
    r = expect(d, EX_CONFLICT, "create", "acme")
    assert d.ctl_json("show", "acme") == before
    assert os.listdir(os.path.join(d.state, "tenants")) == ["acme"]
    # The message names the real conflict; it must not tell the operator
    # to move a live tenant's directory away.
    assert "move it away" not in r.stderr, r.stderr
    assert 'tenant "acme" already exists' in r.stderr, r.stderr


def test_create_refuses_a_directory_that_is_no_tenant(daemon):
    d = daemon
    os.mkdir(d.tenant_dir("acme"))
    expect(d, EX_CONFLICT, "create", "acme", stderr=r"already exists but is "
           r"no tenant")
    assert slugs(d) == []


# --- list / show -----------------------------------------------------------

def test_list_and_show_text_and_json(daemon):
    d = daemon
    r = d.ctl("list")
    assert r.stdout == 'no tenants; create one with "tenantctl create SLUG"\n'
    assert d.ctl_json("list") == []
    d.create("globex")
    d.create("acme")
    d.ctl("suspend", "globex")
    d.ctl("hostname", "add", "acme", "shop.example.org", "--active")
    d.ctl("hostname", "add", "acme", "www.acme.example")

    ts = d.ctl_json("list")
    assert [t["slug"] for t in ts] == ["acme", "globex"]
    for t in ts:
        assert set(t) == TENANT_KEYS
        assert t["host"] == f"{t['slug']}.test.localhost"
        assert t["directory"] == d.tenant_dir(t["slug"])
        assert isinstance(t["uid"], int) and isinstance(t["created"], int)
        assert t["created"] <= t["updated"]
    assert [t["status"] for t in ts] == ["active", "suspended"]

    text = d.ctl("list").stdout.splitlines()
    assert text[0].split() == ["SLUG", "STATUS", "UID", "CREATED",
                               "CUSTOM-HOSTS"]
    rows = [l.split() for l in text[1:]]
    assert [(r[0], r[1], int(r[2]), int(r[4])) for r in rows] == [
        ("acme", "active", ts[0]["uid"], 2),
        ("globex", "suspended", ts[1]["uid"], 0)]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", rows[0][3])

    one = d.ctl_json("show", "acme")
    assert set(one) == TENANT_KEYS | {"hostnames"}
    assert {k: one[k] for k in TENANT_KEYS} == ts[0]
    assert [h["hostname"] for h in one["hostnames"]] == \
        ["shop.example.org", "www.acme.example"]
    for h in one["hostnames"]:
        assert set(h) == HOST_KEYS and h["tenant"] == "acme"
    assert [h["status"] for h in one["hostnames"]] == ["active", "pending"]

    text = d.ctl("show", "acme").stdout
    for k in ("slug", "status", "uid", "gid", "host", "directory"):
        assert re.search(rf"^{k} +{re.escape(str(one[k]))}$", text, re.M), k
    tail = text.split("\nhostnames:\n")[1].splitlines()
    assert tail[0].split() == ["HOSTNAME", "TENANT", "STATUS"]
    assert [l.split() for l in tail[1:]] == [
        ["shop.example.org", "acme", "active"],
        ["www.acme.example", "acme", "pending"]]
    assert "(none)" in d.ctl("show", "globex").stdout
    expect(d, EX_NOTFOUND, "show", "initech", stderr=r'no tenant "initech"')


# --- suspend / resume / delete --------------------------------------------

def test_suspend_and_resume(daemon):
    d = daemon
    d.create("acme")
    r = expect(d, EX_OK, "suspend", "acme")
    assert "suspended acme" in r.stdout
    assert d.ctl_json("show", "acme")["status"] == "suspended"
    expect(d, EX_OK, "suspend", "acme")            # idempotent
    assert d.ctl_json("show", "acme")["status"] == "suspended"
    r = expect(d, EX_OK, "resume", "acme")
    assert r.stdout == "resumed acme\n"
    expect(d, EX_OK, "resume", "acme")             # idempotent
    assert d.ctl_json("show", "acme")["status"] == "active"
    # A repeat changes nothing, so it is not audited twice.
    actions = [l.split()[1] for l in d.ctl("audit", "acme").stdout.split("\n")
               if l]
    assert actions == ["create", "suspend", "resume"]
    expect(d, EX_NOTFOUND, "suspend", "globex", stderr=r'no tenant "globex"')
    expect(d, EX_NOTFOUND, "resume", "globex", stderr=r'no tenant "globex"')
    # The directory is kept while suspended.
    assert os.path.isdir(os.path.join(d.tenant_dir("acme"), "public"))


def test_delete_tombstones_the_slug_forever(daemon):
    d = daemon
    d.create("acme")
    d.ctl("hostname", "add", "acme", "shop.example.org", "--active")
    uid = d.tenant_ids("acme")[0]
    r = expect(d, EX_OK, "delete", "acme")
    assert "never reissued" in r.stdout
    t = d.ctl_json("show", "acme")
    assert t["status"] == "deleted" and t["uid"] == uid
    assert t["hostnames"] == []          # its hostnames are released
    assert os.path.isdir(d.tenant_dir("acme"))     # kept without --purge
    expect(d, EX_STATE, "delete", "acme", stderr=r"already deleted")
    expect(d, EX_STATE, "suspend", "acme", stderr=r"is deleted")
    expect(d, EX_STATE, "resume", "acme", stderr=r"is deleted")
    expect(d, EX_STATE, "hostname", "add", "acme", "shop.example.org",
           stderr=r"is deleted")
    expect(d, EX_CONFLICT, "create", "acme")
    # Even once the directory is gone.
    expect(d, EX_OK, "delete", "acme", "--purge")
    assert not os.path.lexists(d.tenant_dir("acme"))
    expect(d, EX_CONFLICT, "create", "acme",
           stderr=r'"acme" belonged to a deleted tenant; slugs are never '
                  r'reissued')
    assert d.ctl_json("show", "acme")["status"] == "deleted"
    expect(d, EX_NOTFOUND, "delete", "globex", stderr=r'no tenant "globex"')
    # The hostname it had is free for another tenant.
    d.create("globex")
    d.ctl("hostname", "add", "globex", "shop.example.org")


def test_recreating_a_deleted_unpurged_tenant_says_why(daemon):
    # The directory of a deleted tenant is kept until --purge; the refusal
    # must still name the real reason, not call it a stray directory.
    d = daemon
    d.create("acme")
    d.ctl("delete", "acme")
    r = expect(d, EX_CONFLICT, "create", "acme")
    assert "move it away" not in r.stderr, r.stderr
    assert re.search(r'"acme" belonged to a deleted tenant; slugs are never '
                     r'reissued', r.stderr), r.stderr


def test_delete_purge_removes_the_directory(daemon):
    d = daemon
    d.create("acme")
    d.create("globex")
    d.write_public("acme", "deep/er/page.html", "x")
    r = expect(d, EX_OK, "delete", "acme", "--purge")
    assert "purged tenants/acme" in r.stdout
    assert os.listdir(os.path.join(d.state, "tenants")) == ["globex"]
    assert os.path.isfile(os.path.join(d.tenant_dir("globex"), "public",
                                       "index.html"))


def test_purge_does_not_follow_links_planted_by_the_tenant(daemon):
    d = daemon
    d.create("acme")
    d.create("globex")
    uid, gid = d.tenant_ids("acme")
    top = d.tenant_dir("acme")
    # Things outside the tenant's tree the tenant would like root to remove.
    outside = os.path.join(d.dir, "outside")
    os.makedirs(os.path.join(outside, "victim"))
    secret = os.path.join(outside, "secret.txt")
    canary = os.path.join(outside, "victim", "canary.txt")
    for p in (secret, canary):
        with open(p, "w") as f:
            f.write("still here\n")
    globex_index = os.path.join(d.tenant_dir("globex"), "public",
                                "index.html")

    def plant(link, target):
        os.symlink(target, link)
        os.lchown(link, uid, gid)

    plant(os.path.join(top, "public", "evil"), secret)
    plant(os.path.join(top, "data", "x"), os.path.join(outside, "victim"))
    plant(os.path.join(top, "data", "up"), "../../../outside")
    plant(os.path.join(top, "uploads", "other"),
          os.path.join(d.tenant_dir("globex"), "public"))
    os.link(secret, os.path.join(top, "tmp", "hard"))
    os.mkfifo(os.path.join(top, "tmp", "fifo"))
    os.makedirs(os.path.join(top, "uploads", "a", "b", "c"))
    plant(os.path.join(top, "uploads", "a", "b", "c", "loop"),
          os.path.join(top, "uploads"))

    expect(d, EX_OK, "delete", "acme", "--purge")
    assert not os.path.lexists(top)
    assert os.listdir(os.path.join(d.state, "tenants")) == ["globex"]
    for p in (secret, canary):
        with open(p) as f:
            assert f.read() == "still here\n", p
    assert os.stat(secret).st_nlink == 1
    assert sorted(os.listdir(outside)) == ["secret.txt", "victim"]
    assert os.listdir(os.path.join(outside, "victim")) == ["canary.txt"]
    assert os.path.isfile(globex_index)


# --- custom hostnames ------------------------------------------------------

def hostnames(d, slug=None):
    args = ("hostname", "list") + ((slug,) if slug else ())
    return {h["hostname"]: (h["tenant"], h["status"])
            for h in d.ctl_json(*args)}


def test_hostname_add_is_canonical_and_pending_by_default(daemon):
    d = daemon
    d.create("acme")
    r = expect(d, EX_OK, "hostname", "add", "acme", "Shop.Example.ORG.")
    assert "added shop.example.org to acme as pending" in r.stdout
    assert hostnames(d) == {"shop.example.org": ("acme", "pending")}
    # The same name in any spelling is the same name.
    for spelling in ("shop.example.org", "SHOP.EXAMPLE.ORG",
                     "shop.example.org."):
        expect(d, EX_CONFLICT, "hostname", "add", "acme", spelling,
               stderr=r"shop\.example\.org is already registered")
    expect(d, EX_OK, "hostname", "add", "acme", "www.Acme.example",
           "--active")
    assert hostnames(d) == {"shop.example.org": ("acme", "pending"),
                            "www.acme.example": ("acme", "active")}


@pytest.mark.parametrize("host,why", [
    ("shop.test.localhost", "under the tenant suffix"),
    ("a.b.test.localhost", "under the tenant suffix"),
    ("ACME.Test.Localhost.", "under the tenant suffix"),
    ("test.localhost", "under the tenant suffix"),
    ("admin.test.localhost", "under the tenant suffix"),
    ("shop.example.org:8080", "no port"),
    ("shop.example.org:", "no port"),
    ("192.0.2.1", "no IP address"),
    ("[2001:db8::1]", "no IP address"),
    ("10.1", "no IP address"),
    ("localhost", "single label|cannot be a custom domain"),
    ("shop", "single label|cannot be a custom domain"),
    ("shop..example.org", "invalid hostname"),
    ("-shop.example.org", "invalid hostname"),
    ("shop_1.example.org", "invalid hostname"),
    ("*.example.org", "invalid hostname"),
    ("sh\u00f6p.example.org", "invalid hostname"),
    ("", "invalid hostname"),
])
def test_hostname_add_refuses(daemon, host, why):
    d = daemon
    d.create("acme")
    expect(d, EX_INVALID, "hostname", "add", "acme", host, stderr=why)
    assert hostnames(d) == {}


def test_hostname_equal_to_the_admin_host_is_refused():
    # An admin host outside the suffix, so only the admin rule can refuse it.
    d = Daemon(admin="admin.example.net")
    try:
        d.create("acme")
        expect(d, EX_INVALID, "hostname", "add", "acme", "Admin.Example.NET.",
               stderr=r"admin\.example\.net cannot be a custom domain "
                      r"\(admin\)")
        assert hostnames(d) == {}
        # Names next to it are ordinary custom domains.
        expect(d, EX_OK, "hostname", "add", "acme", "shop.example.net")
    finally:
        d.close()


def test_hostname_conflicts_activate_remove_list(daemon):
    d = daemon
    d.create("acme")
    d.create("globex")
    d.ctl("hostname", "add", "acme", "shop.example.org")
    expect(d, EX_CONFLICT, "hostname", "add", "globex", "shop.example.org",
           "--active", stderr=r"already registered")
    expect(d, EX_NOTFOUND, "hostname", "add", "initech", "x.example.org",
           stderr=r'no tenant "initech"')
    # Only the owner can activate or remove it.
    expect(d, EX_NOTFOUND, "hostname", "activate", "globex",
           "shop.example.org", stderr=r"not a hostname of globex")
    expect(d, EX_NOTFOUND, "hostname", "remove", "globex", "shop.example.org",
           stderr=r"not a hostname of globex")
    assert hostnames(d) == {"shop.example.org": ("acme", "pending")}
    r = expect(d, EX_OK, "hostname", "activate", "acme", "SHOP.example.org")
    assert r.stdout == "activated shop.example.org for acme\n"
    assert hostnames(d) == {"shop.example.org": ("acme", "active")}
    d.ctl("hostname", "add", "globex", "www.globex.example")
    assert hostnames(d, "globex") == {"www.globex.example":
                                      ("globex", "pending")}
    text = d.ctl("hostname", "list").stdout.splitlines()
    assert text[0].split() == ["HOSTNAME", "TENANT", "STATUS"]
    assert [l.split() for l in text[1:]] == [
        ["shop.example.org", "acme", "active"],
        ["www.globex.example", "globex", "pending"]]
    expect(d, EX_NOTFOUND, "hostname", "remove", "acme", "nope.example.org",
           stderr=r"nope\.example\.org is not a hostname of acme")
    r = expect(d, EX_OK, "hostname", "remove", "acme", "shop.example.org.")
    assert r.stdout == "removed shop.example.org for acme\n"
    assert hostnames(d) == {"www.globex.example": ("globex", "pending")}
    expect(d, EX_NOTFOUND, "hostname", "remove", "acme", "shop.example.org")
    # Free again: another tenant may take it.
    d.ctl("hostname", "add", "globex", "shop.example.org", "--active")
    assert hostnames(d)["shop.example.org"] == ("globex", "active")
    assert d.ctl("hostname", "list", "acme").stdout == "no custom hostnames\n"
    expect(d, EX_NOTFOUND, "hostname", "list", "initech")


def deep_tree(top, levels, uid, gid):
    """A chain of directories `levels` deep under top, each with a file,
    made by descriptor (the whole path is far longer than PATH_MAX)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(levels):
            os.mkdir("level-of-a-deep-tree", 0o700, dir_fd=fd)
            nfd = os.open("level-of-a-deep-tree", os.O_RDONLY |
                          os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.chown(nfd, uid, gid)
            os.close(fd)
            fd = nfd
            if i % 100 == 0:
                f = os.open("f", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
                os.write(f, b"data")
                os.close(f)
                os.symlink("/etc", "etc", dir_fd=fd)
    finally:
        os.close(fd)


def test_purge_removes_a_tree_of_any_depth(daemon):
    """A tenant can make a tree far deeper than any recursion limit; purge
    removes all of it, never following a link, and says "purged" only then."""
    d = daemon
    d.create("acme")
    d.create("globex")
    uid, gid = d.tenant_ids("acme")
    tdir = os.path.join(d.state, "tenants")
    try:
        deep_tree(os.path.join(d.tenant_dir("acme"), "data"), 2000, uid, gid)
        r = expect(d, EX_OK, "delete", "acme", "--purge")
        assert "purged tenants/acme" in r.stdout
        assert os.listdir(tdir) == ["globex"]
        assert os.path.isdir("/etc") and os.path.isfile("/etc/passwd")
    finally:
        # shutil.rmtree (the fixture's) recurses: what a failure left
        # goes with rm(1), which does not.
        for n in os.listdir(tdir):
            subprocess.run(["rm", "-rf", "--one-file-system",
                            os.path.join(tdir, n)], check=False)


def test_interrupted_purge_is_reported_and_finished(daemon):
    """A purge that fails half-way leaves tenants/.purge-SLUG-*: it is not
    called purged, and the next purge (of it or of any tenant) finishes it
    and says so."""
    d = daemon
    assert shutil.which("strace"), "strace missing: run packaging/deps.sh"
    tdir = os.path.join(d.state, "tenants")
    for slug in ("acme", "globex", "initech"):
        d.create(slug)
        uid, gid = d.tenant_ids(slug)
        deep_tree(os.path.join(d.tenant_dir(slug), "data"), 300, uid, gid)
    d.ctl("delete", "initech")

    def broken_purge(slug):
        r = subprocess.run(["strace", "-qq", "-o", "/dev/null", "-e",
                            "inject=unlinkat:error=EIO:when=50",
                            TENANTCTL, "-c", d.conf, "delete", slug,
                            "--purge"], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == EX_FAIL, (r.stdout, r.stderr)
        assert "purged" not in r.stdout, r.stdout
        assert re.search(r"tenants/\.purge-%s-[0-9a-f]{12}: .* at depth \d+: "
                         r"Input/output error; not purged" % slug,
                         r.stderr), r.stderr
        left = [n for n in os.listdir(tdir) if n.startswith(".purge-")]
        assert len(left) == 1 and left[0].startswith(f".purge-{slug}-")
        return left[0]

    # Purging it again finishes it, and only then says purged.
    left = broken_purge("acme")
    r = expect(d, EX_OK, "delete", "acme", "--purge")
    assert (f"finished an interrupted purge: removed tenants/{left}\n"
            "purged tenants/acme\n") in r.stdout, r.stdout
    assert sorted(os.listdir(tdir)) == ["globex", "initech"]
    # Purging another tenant finishes it too.
    left = broken_purge("globex")
    r = expect(d, EX_OK, "delete", "initech", "--purge")
    assert f"finished an interrupted purge: removed tenants/{left}" in r.stdout
    assert "purged tenants/initech" in r.stdout
    assert os.listdir(tdir) == []
    audit = d.ctl("audit", "globex").stdout
    assert re.search(r"purge\s+globex\s+tenants/\.purge-globex-[0-9a-f]{12}, "
                     r"left by an interrupted purge", audit), audit


def test_purge_going_up_checks_where_it_came_from(daemon):
    """A worker still draining in the tree can move the directory purge
    is emptying. Going back up through ".." then leads elsewhere: purge
    must notice and start again, not take that place for where it was
    (three levels up from there is tenants/ itself, with other tenants)."""
    d = daemon
    assert shutil.which("strace"), "strace missing: run packaging/deps.sh"
    d.create("acme")
    d.create("globex")
    top = d.tenant_dir("acme")
    os.unlink(os.path.join(top, "public", "index.html"))
    os.makedirs(os.path.join(top, "data", "a", "b"))
    with open(os.path.join(top, "data", "a", "b", "f"), "w") as f:
        f.write("x")
    tdir = os.path.join(d.state, "tenants")
    # Every openat() of ".." waits 2 s: the first is on the way up from b.
    p = subprocess.Popen(["strace", "-qq", "-o", "/dev/null", "-P", "..",
                          "-e", "trace=openat", "-e",
                          "inject=openat:delay_enter=2000000", TENANTCTL,
                          "-c", d.conf, "delete", "acme", "--purge"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        def emptied_b():
            for n in os.listdir(tdir):
                b = os.path.join(tdir, n, "data", "a", "b")
                if n.startswith(".purge-acme-") and os.path.isdir(b) and \
                        not os.path.exists(os.path.join(b, "f")):
                    return b
            return p.poll() is not None
        b = wait_for(emptied_b, timeout=30, what="purge to empty a/b")
        assert b is not True, p.communicate()
        os.rename(b, os.path.join(os.path.dirname(os.path.dirname(b)), "b2"))
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == EX_OK, (out, err)
    assert "purged tenants/acme" in out
    assert os.listdir(tdir) == ["globex"]
    assert os.path.isfile(os.path.join(d.tenant_dir("globex"), "public",
                                       "index.html"))


def test_purge_does_not_enter_a_mount_point(daemon):
    """Another file system mounted inside a tenant's tree (an operator's
    bind mount) is not the tenant's: purge stops there, and removes none
    of its files."""
    d = daemon
    d.create("acme")
    d.ctl("delete", "acme")
    mnt = os.path.join(d.tenant_dir("acme"), "data", "mnt")
    os.makedirs(os.path.join(mnt))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt],
                   check=True)
    try:
        with open(os.path.join(mnt, "keep.txt"), "w") as f:
            f.write("not the tenant's\n")
        r = expect(d, EX_FAIL, "delete", "acme", "--purge",
                   stderr=r"at depth 2: Device or resource busy; not purged")
        left = [n for n in os.listdir(os.path.join(d.state, "tenants"))
                if n.startswith(".purge-acme-")]
        assert len(left) == 1
        keep = os.path.join(d.state, "tenants", left[0], "data", "mnt",
                            "keep.txt")
        with open(keep) as f:
            assert f.read() == "not the tenant's\n"
    finally:
        subprocess.run(["umount", "-l", mnt], check=False)
        for n in os.listdir(os.path.join(d.state, "tenants")):
            if n.startswith(".purge-acme-"):
                subprocess.run(["umount", "-l", os.path.join(
                    d.state, "tenants", n, "data", "mnt")], check=False)
    # Unmounted, the next purge finishes it.
    r = expect(d, EX_OK, "delete", "acme", "--purge")
    assert "finished an interrupted purge" in r.stdout
    assert os.listdir(os.path.join(d.state, "tenants")) == []


# --- audit and the generation ---------------------------------------------

def test_audit_records_every_change_with_its_actor(daemon):
    d = daemon
    d.create("acme")
    d.create("globex")
    uid = d.tenant_ids("acme")[0]
    d.ctl("suspend", "acme")
    d.ctl("resume", "acme")
    d.ctl("hostname", "add", "acme", "shop.example.org")
    d.ctl("hostname", "activate", "acme", "shop.example.org")
    d.ctl("hostname", "add", "acme", "www.acme.example", "--active")
    d.ctl("hostname", "remove", "acme", "www.acme.example")
    r = subprocess.run([TENANTCTL, "-c", d.conf, "delete", "acme", "--purge"],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, SUDO_USER="alice"))
    assert r.returncode == 0, r.stderr
    # Refusals and reads change nothing and are not logged.
    ctl(d, "create", "acme")
    ctl(d, "create", "www")
    d.ctl("list")
    d.ctl("show", "globex")

    lines = d.ctl("audit").stdout.splitlines()
    rows = [re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)  (\S+) +(\S+) +"
                     r"(.*?) *(tenantctl uid=.*)$", l) for l in lines]
    assert all(rows), lines
    got = [(m.group(2), m.group(3), m.group(4), m.group(5)) for m in rows]
    root = "tenantctl uid=0(root)"
    assert got == [
        ("create", "acme", f"uid={uid} gid={uid}", root),
        ("create", "globex", f"uid={uid + 1} gid={uid + 1}", root),
        ("suspend", "acme", "", root),
        ("resume", "acme", "", root),
        ("hostname-add", "acme", "shop.example.org", root),
        ("hostname-activate", "acme", "shop.example.org", root),
        ("hostname-add-active", "acme", "www.acme.example", root),
        ("hostname-remove", "acme", "www.acme.example", root),
        ("delete", "acme", "", root + " sudo=alice"),
        ("purge", "acme", "", root + " sudo=alice"),
    ]
    only = d.ctl("audit", "globex").stdout.splitlines()
    assert len(only) == 1 and " create " in only[0]


def test_generation_bumps_on_every_change_and_only_then(daemon):
    d = daemon
    gen = read_gen(d)

    def step(*args, bump=True):
        nonlocal gen
        r = ctl(d, *args)
        now = read_gen(d)
        if bump:
            assert r.returncode == 0, r.stderr
            assert now > gen, args
        else:
            assert now == gen, args
        gen = now

    step("create", "acme")
    step("create", "globex")
    step("suspend", "acme")
    step("resume", "acme")
    step("hostname", "add", "acme", "shop.example.org")
    step("hostname", "activate", "acme", "shop.example.org")
    step("hostname", "remove", "acme", "shop.example.org")
    step("hostname", "add", "globex", "shop.example.org", "--active")
    step("delete", "acme")
    step("list", bump=False)
    step("show", "globex", bump=False)
    step("audit", bump=False)
    step("hostname", "list", bump=False)
    step("create", "globex", bump=False)          # exists
    step("create", "Bad", bump=False)             # invalid
    step("suspend", "initech", bump=False)        # not found
    step("hostname", "add", "globex", "x.test.localhost", bump=False)
