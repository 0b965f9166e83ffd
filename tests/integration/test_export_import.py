# tenantctl export / import: a tenant as one archive, moved between hosts
# (two Daemons, each with its own state directory and uid range), restored
# under another slug, and every hostile archive refused before anything is
# created. docs/security.md, items 7 (device nodes, setuid bits, links out of
# the tree in an archive extracted by root) and 8 (links planted for a
# root-side operation). Root trusts nothing a tenant wrote (docs/security.md):
# the ledger is rebuilt from validated rows, hostnames arrive pending, and only
# an archive whose MAC this fleet's master key verifies is taken at its word.
import gzip
import io
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import stat
import subprocess
import tarfile
import tempfile

import pytest

from conftest import TENANTCTL, Daemon, children, wait_for

EX_OK, EX_FAIL, EX_USAGE, EX_INVALID, EX_NOTFOUND = 0, 1, 2, 3, 4
EX_CONFLICT, EX_STATE, EX_FULL, EX_NOINIT = 5, 6, 7, 8

META = "tenantd-export.json"
LEDGER = "ledger.json"
MAC = "tenantd-export.mac"
SUBDIRS = ("public", "data", "uploads", "logs", "tmp")


def expect(d, code, *args, stderr=None, input=None):
    """Run tenantctl (bytes in, bytes out), insist on its exit code and a
    pattern in stderr."""
    r = subprocess.run([TENANTCTL, "-c", d.conf, *args], capture_output=True,
                       input=input, timeout=60)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == code, (
        f"tenantctl {' '.join(map(str, args))}: exit {r.returncode}, wanted "
        f"{code}; stderr={err!r}")
    if code == EX_USAGE:
        assert err.startswith("usage: tenantctl"), err
    elif code != EX_OK:
        assert err.startswith("tenantctl: "), err
    if stderr is not None:
        assert re.search(stderr, err), (stderr, err)
    return r


def same_fleet(a, b):
    """b gets a's master key: two hosts of one fleet (docs/operations.md)."""
    name = "master-1.key"
    with open(os.path.join(a.state, "keys", name), "rb") as f:
        key = f.read()
    with open(os.path.join(b.state, "keys", name), "r+b") as f:
        f.write(key)


@pytest.fixture
def two():
    """Two hosts of one fleet: a and b, each initialised, not started,
    sharing the master key."""
    a = Daemon()
    try:
        b = Daemon()
    except BaseException:
        a.close()
        raise
    try:
        same_fleet(a, b)
        yield a, b
    finally:
        b.close()
        a.close()


@pytest.fixture
def strangers():
    """Two hosts of different fleets: each its own master key."""
    a = Daemon()
    try:
        b = Daemon()
    except BaseException:
        a.close()
        raise
    try:
        yield a, b
    finally:
        b.close()
        a.close()


def credits(d, slug):
    return json.loads(d.ctl("credits", "show", slug, "--json").stdout)


def history(d, slug):
    return json.loads(d.ctl("credits", "history", slug, "--limit", "100000",
                            "--json").stdout)


# --- what a tree looks like ------------------------------------------------

def tree(root, uid):
    """rel path -> (kind, mode, owner, content or link target). Never
    follows a symlink. owner: "tenant" for uid, "root" for 0."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            # The ledger is rebuilt, not copied: compared by its books.
            if rel == "tenant.json" or rel.startswith("billing.db"):
                continue
            st = os.lstat(p)
            owner = ({uid: "tenant", 0: "root"}.get(st.st_uid, st.st_uid),
                     {uid: "tenant", 0: "root"}.get(st.st_gid, st.st_gid))
            m = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", None, owner, os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", m, owner, None)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    out[rel] = ("file", m, owner, f.read(), int(st.st_mtime))
            else:
                out[rel] = ("other", m, owner, None)
    return out


def populate(d, slug):
    """A tenant tree with a bit of everything an app leaves behind."""
    uid, gid = d.tenant_ids(slug)
    root = d.tenant_dir(slug)

    def put(rel, data, mode=0o644, owner=(uid, gid)):
        p = os.path.join(root, rel)
        with open(p, "wb") as f:
            f.write(data)
        os.chown(p, *owner)
        os.chmod(p, mode)
        os.utime(p, (1700000000, 1700000000))

    def mkdir(rel, mode=0o755, owner=(uid, gid)):
        p = os.path.join(root, rel)
        os.mkdir(p)
        os.chown(p, *owner)
        os.chmod(p, mode)

    def link(rel, target, owner=(uid, gid)):
        p = os.path.join(root, rel)
        os.symlink(target, p)
        os.lchown(p, *owner)

    put("public/index.html", f"<h1>{slug}'s own page</h1>\n".encode())
    mkdir("public/css")
    put("public/css/site.css", b"body { color: #333 }\n", 0o640)
    put("public/empty.txt", b"", 0o600)
    put("public/caf\u00e9 men\u00fc.txt", b"non-ASCII name\n")
    put(os.fsdecode(b"public/not-utf8-\xff\xfe.bin"), b"bytes name\n")
    put("public/blob.bin", bytes(range(256)) * 4096 + b"\0tail", 0o600)
    put("data/app.db", os.urandom(70000), 0o600)
    put("data/run.sh", b"#!/bin/sh\necho hi\n", 0o750)
    mkdir("data/deep")
    mkdir("data/deep/er", 0o700)
    put("data/deep/er/leaf", b"leaf\n", 0o400)
    mkdir("data/readonly", 0o500)
    mkdir("data/sticky", 0o1777)
    link("public/home.html", "index.html")
    link("public/styles", "css")
    link("public/db", "../data/app.db")
    link("public/dangling", "nothing-here")
    # Root-owned parts of the tree (as an operator might leave them).
    mkdir("public/static", 0o755, owner=(0, 0))
    put("public/static/robots.txt", b"User-agent: *\n", 0o644, owner=(0, 0))
    put("logs/access.log", b"one line\n", 0o640, owner=(uid, gid))
    return tree(root, uid)


def state(d):
    """Everything an import could leave behind."""
    tdir = os.path.join(d.state, "tenants")
    with open(os.path.join(d.state, "registry.gen"), "rb") as f:
        gen = f.read()
    return (json.dumps(d.ctl_json("list"), sort_keys=True),
            json.dumps(d.ctl_json("hostname", "list"), sort_keys=True),
            sorted(os.listdir(tdir)), gen, d.ctl("audit").stdout)


def read_archive(path):
    """(metadata, {name: TarInfo}, raw decompressed bytes). The ledger's
    rows and the MAC are the second and the last entry."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:4] == b"\x28\xb5\x2f\xfd":
        raw = subprocess.run(["zstd", "-dc"], input=raw, capture_output=True,
                             check=True).stdout
    elif raw[:2] == b"\x1f\x8b":
        import gzip
        raw = gzip.decompress(raw)
    tf = tarfile.open(fileobj=io.BytesIO(raw))
    members = tf.getmembers()
    assert members[0].name == META, members[0].name
    assert members[-1].name == MAC, members[-1].name
    assert [m.name for m in members].count(LEDGER) in (0, 1)
    if LEDGER in [m.name for m in members]:
        assert members[1].name == LEDGER
    meta = json.loads(tf.extractfile(members[0]).read())
    return meta, {m.name.rstrip("/"): m for m in members[1:]}, raw


# --- round trips -------------------------------------------------------------

def test_round_trip_on_one_host_under_another_slug(daemon):
    d = daemon
    d.create("acme")
    before = populate(d, "acme")
    d.ctl("hostname", "add", "acme", "shop.example.org", "--active")
    d.ctl("hostname", "add", "acme", "www.acme-shop.example", "--active")
    d.ctl("hostname", "add", "acme", "new.example.net")
    d.ctl("credits", "add", "acme", "5000", "--note", "top-up: caf\u00e9")
    d.ctl("credits", "add", "acme", "-1234")
    books = (dict(credits(d, "acme"), slug="acme2"), history(d, "acme"))
    old_uid, old_gid = d.tenant_ids("acme")
    arc = os.path.join(d.dir, "acme.tar.gz")
    r = expect(d, EX_OK, "export", "acme", arc)
    assert b"exported tenant acme" in r.stdout
    assert stat.S_IMODE(os.stat(arc).st_mode) == 0o600
    meta, members, _ = read_archive(arc)
    assert meta["format"] == "tenantd-export" and meta["version"] == 1
    assert (meta["slug"], meta["status"]) == ("acme", "active")
    assert (meta["uid"], meta["gid"]) == (old_uid, old_gid)
    assert meta["manifest"]["slug"] == "acme"
    assert {(h["hostname"], h["status"]) for h in meta["hostnames"]} == {
        ("shop.example.org", "active"), ("www.acme-shop.example", "active"),
        ("new.example.net", "pending")}
    assert meta["skipped"] == []
    assert "tenant.json" not in members
    # The ledger as rows, never as a file.
    assert "billing.db" not in members and LEDGER in members
    assert members["public/index.html"].uname == "tenant"
    assert members["public/static"].uname == "root"

    # The slug is still taken, and so are its hostnames: refused, and why.
    expect(d, EX_CONFLICT, "import", arc, stderr=r'"acme" already exists')
    expect(d, EX_CONFLICT, "import", arc, "--as", "acme2",
           stderr=r"new\.example\.net already belongs to tenant \"acme\"")
    # Deleting acme frees its hostnames (its slug stays tombstoned).
    d.ctl("delete", "acme")
    expect(d, EX_CONFLICT, "import", arc,
           stderr=r"belonged to a deleted tenant")
    r = expect(d, EX_OK, "import", arc, "--as", "acme2")
    assert b"imported tenant acme2 (exported as acme):" in r.stdout
    for h in (b"shop.example.org", b"www.acme-shop.example",
              b"new.example.net"):
        assert (b"custom hostname " + h + b" is pending: check that it is "
                b"the tenant's, then \"tenantctl hostname activate acme2 " +
                h + b'"') in r.stdout, r.stdout
    # The books, rebuilt: the same balance and the same history.
    assert (credits(d, "acme2"), history(d, "acme2")) == books
    st = os.lstat(os.path.join(d.tenant_dir("acme2"), "billing.db"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o600)

    new_uid, new_gid = d.tenant_ids("acme2")
    assert new_uid not in (old_uid, 0) and new_gid not in (old_gid, 0)
    after = tree(d.tenant_dir("acme2"), new_uid)
    assert after == before
    # The jail root and manifest are import's own, as provisioned.
    st = os.lstat(d.tenant_dir("acme2"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (
        0, new_gid, 0o750)
    man = os.path.join(d.tenant_dir("acme2"), "tenant.json")
    st = os.lstat(man)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (
        0, new_gid, 0o640)
    with open(man) as f:
        m = json.load(f)
    assert (m["slug"], m["uid"], m["gid"]) == ("acme2", new_uid, new_gid)
    assert m["host"] == d.host("acme2")
    # Pending, whatever the archive said: the operator activates them.
    hosts = {(h["hostname"], h["status"])
             for h in d.ctl_json("show", "acme2")["hostnames"]}
    assert hosts == {("shop.example.org", "pending"),
                     ("www.acme-shop.example", "pending"),
                     ("new.example.net", "pending")}
    assert d.ctl_json("show", "acme2")["status"] == "active"
    audit = d.ctl("audit", "acme2").stdout
    assert re.search(r"\bimport\b.*exported as acme", audit), audit
    # No temporary directory left behind.
    assert sorted(os.listdir(os.path.join(d.state, "tenants"))) == [
        "acme", "acme2"]


def test_move_to_another_host_and_serve_it(two):
    a, b = two
    a.create("acme")
    before = populate(a, "acme")
    a.ctl("hostname", "add", "acme", "shop.example.org", "--active")
    a.ctl("hostname", "add", "acme", "later.example.org")
    a.create("other")
    arc = os.path.join(a.dir, "acme.tar.zst")
    expect(a, EX_OK, "export", "acme", arc)
    with open(arc, "rb") as f:
        assert f.read(4) == b"\x28\xb5\x2f\xfd"     # zstd, by the name

    # Host b already has tenants of its own: new uid, same slug.
    b.create("globex", "globex's page\n")
    r = expect(b, EX_OK, "import", arc, "--json")
    out = json.loads(r.stdout)
    assert out["slug"] == "acme" and out["exported_as"] == "acme"
    uid, gid = b.tenant_ids("acme")
    assert uid != a.tenant_ids("acme")[0]
    assert tree(b.tenant_dir("acme"), uid) == before
    assert {(h["hostname"], h["status"])
            for h in b.ctl_json("hostname", "list")} == {
        ("shop.example.org", "pending"), ("later.example.org", "pending")}
    assert out["verified"] is True and out["status"] == "active"
    b.ctl("hostname", "activate", "acme", "shop.example.org")

    # The supervisor's jail checks pass: it binds a worker and serves.
    b.start()
    r = b.get(b.host("acme"))
    assert r.status == 200 and r.body == b"<h1>acme's own page</h1>\n"
    r = b.get(b.host("acme"), "/css/site.css")
    assert r.status == 200 and r.body == b"body { color: #333 }\n"
    r = b.get("shop.example.org", "/static/robots.txt")
    assert r.status == 200 and r.body == b"User-agent: *\n"
    assert b.get("later.example.org").status != 200     # still pending
    assert b.get(b.host("globex")).body == b"globex's page\n"
    assert b.wait_workers("acme")       # workers run as the new uid


def test_tenant_without_hostnames_via_stdout_and_stdin(two):
    a, b = two
    a.create("plain", "plain page\n")
    r = expect(a, EX_OK, "export", "plain", "-")
    assert r.stdout[:2] == b"\x1f\x8b"          # gzip on a pipe
    assert b"exported tenant plain to standard output" in r.stderr
    r = expect(b, EX_OK, "import", "-", "--as", "simple", input=r.stdout)
    assert b"0 custom hostnames" in r.stdout
    uid, _ = b.tenant_ids("simple")
    assert tree(b.tenant_dir("simple"), uid) == tree(a.tenant_dir("plain"),
                                                     a.tenant_ids("plain")[0])
    assert b.ctl_json("show", "simple")["hostnames"] == []
    assert sorted(os.listdir(os.path.join(b.state, "tenants"))) == ["simple"]


def test_suspended_tenant_stays_suspended(two):
    a, b = two
    a.create("sleepy", "zzz\n")
    a.ctl("suspend", "sleepy")
    arc = os.path.join(a.dir, "s.tgz")
    expect(a, EX_OK, "export", "sleepy", arc)
    expect(b, EX_OK, "import", arc)
    assert b.ctl_json("show", "sleepy")["status"] == "suspended"


def test_missing_standard_directories_are_recreated(daemon):
    d = daemon
    arc = os.path.join(d.dir, "x.tgz")
    make_archive(arc, meta(), [d_("public"), f_("public/index.html", b"hi")])
    expect(d, EX_OK, "import", arc, "--foreign")
    uid, gid = d.tenant_ids("acme")
    for sub in SUBDIRS:
        st = os.lstat(os.path.join(d.tenant_dir("acme"), sub))
        assert stat.S_ISDIR(st.st_mode) and (st.st_uid, st.st_gid) == (
            uid, gid)


# --- export: what it refuses and what it never reads -------------------------

def test_export_errors(daemon):
    d = daemon
    d.create("acme")
    arc = os.path.join(d.dir, "exists.tgz")
    with open(arc, "wb") as f:
        f.write(b"precious backup")
    expect(d, EX_CONFLICT, "export", "acme", arc, stderr=r"--force")
    with open(arc, "rb") as f:
        assert f.read() == b"precious backup"
    # A dangling symlink named FILE is there too; it is never followed.
    lnk = os.path.join(d.dir, "lnk.tgz")
    os.symlink(os.path.join(d.dir, "target-of-link"), lnk)
    expect(d, EX_CONFLICT, "export", "acme", lnk)
    expect(d, EX_OK, "export", "acme", lnk, "--force")
    assert os.path.isfile(lnk) and not os.path.islink(lnk)
    assert not os.path.exists(os.path.join(d.dir, "target-of-link"))
    expect(d, EX_OK, "export", "acme", arc, "--force")
    assert read_archive(arc)[0]["slug"] == "acme"
    expect(d, EX_NOTFOUND, "export", "nosuch", arc + "2")
    expect(d, EX_FAIL, "export", "acme", os.path.join(d.dir, "no/dir/x.tgz"))
    expect(d, EX_USAGE, "export", "acme")
    expect(d, EX_USAGE, "export", "acme", arc, "--bogus")
    expect(d, EX_USAGE, "import")
    d.ctl("delete", "acme")
    expect(d, EX_STATE, "export", "acme", arc + "3")
    # Failed exports leave no temporary file next to FILE.
    assert not [n for n in os.listdir(d.dir) if ".tmp-" in n]


def test_export_never_follows_what_the_tenant_planted(two):
    a, b = two
    a.create("acme", "page\n")
    uid, gid = a.tenant_ids("acme")
    root = a.tenant_dir("acme")
    pub = os.path.join(root, "public")
    secret = os.path.join(a.dir, "secret")        # outside the tree, root's
    with open(secret, "wb") as f:
        f.write(b"TOP-SECRET-" + os.urandom(8).hex().encode())
    os.chmod(secret, 0o600)
    with open(secret, "rb") as f:
        secret_bytes = f.read()
    with open("/etc/shadow", "rb") as f:
        shadow = f.read().split(b"\n")[0]

    def plant(name, target):
        os.symlink(target, os.path.join(pub, name))
        os.lchown(os.path.join(pub, name), uid, gid)

    plant("x", "/etc/shadow")
    plant("etc", "/etc")
    plant("up", "../../other")
    plant("s1", "..")                  # inside: public/.. is the tree root
    plant("s2", "s1/..")               # looks inside, is tenants/
    plant("loop", "loop")
    os.link(secret, os.path.join(pub, "h"))           # root-owned, 2 links
    os.mkfifo(os.path.join(pub, "fifo"))
    os.chown(os.path.join(pub, "fifo"), uid, gid)
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(pub, "sock"))
    os.chown(os.path.join(pub, "sock"), uid, gid)
    foreign = os.path.join(pub, "foreign.txt")
    with open(foreign, "w") as f:
        f.write("someone else's\n")
    os.chown(foreign, uid + 500, gid + 500)
    suid = os.path.join(pub, "suid")
    with open(suid, "w") as f:
        f.write("#!/bin/sh\n")
    os.chown(suid, uid, gid)
    os.chmod(suid, 0o6755)

    arc = os.path.join(a.dir, "acme.tgz")
    r = expect(a, EX_OK, "export", "acme", arc)
    s.close()
    err = r.stderr.decode()
    meta, members, raw = read_archive(arc)
    skipped = {e["path"]: e["reason"] for e in meta["skipped"]}
    for name in ("x", "etc", "up", "s2", "loop", "h", "fifo", "sock",
                 "foreign.txt"):
        assert "public/" + name not in members, name
        assert "public/" + name in skipped, (name, skipped)
        assert f"public/{name}:" in err, (name, err)
    assert re.search(r"absolute", skipped["public/x"])
    assert re.search(r"leaving", skipped["public/s2"])
    assert re.search(r"hard link", skipped["public/h"])
    assert re.search(r"FIFO", skipped["public/fifo"])
    assert re.search(r"socket", skipped["public/sock"])
    assert re.search(r"owned by uid", skipped["public/foreign.txt"])
    assert members["public/s1"].linkname == ".."
    # What was never to be read is nowhere in the archive.
    assert secret_bytes not in raw
    assert shadow not in raw
    # The setuid file is exported, its bits dropped, and said so.
    assert stat.S_IMODE(members["public/suid"].mode) == 0o755
    assert "public/suid: setuid/setgid bit dropped" in err
    # And what export wrote, import takes.
    expect(b, EX_OK, "import", arc)
    st = os.lstat(os.path.join(b.tenant_dir("acme"), "public", "suid"))
    assert stat.S_IMODE(st.st_mode) == 0o755


# --- hard links and the storage quota ---------------------------------------

MIB = 1 << 20


def linked_tenant(d, slug, links=300):
    """A 1 MiB file of random bytes with `links` more names, in two
    directories: what a handler can make in a moment."""
    uid, gid = d.tenant_ids(slug)
    root = d.tenant_dir(slug)
    data = os.urandom(MIB)
    first = os.path.join(root, "data", "big.bin")
    with open(first, "wb") as f:
        f.write(data)
    os.chown(first, uid, gid)
    os.makedirs(os.path.join(root, "public", "many"))
    os.chown(os.path.join(root, "public", "many"), uid, gid)
    names = ["data/big.bin"]
    for i in range(links):
        rel = f"public/many/l{i:03d}" if i % 2 else f"data/l{i:03d}"
        os.link(first, os.path.join(root, rel))
        names.append(rel)
    return data, sorted(names)


def test_hard_links_exported_once_and_imported_as_links(two):
    a, b = two
    a.create("acme")
    data, names = linked_tenant(a, "acme")
    before = tree(a.tenant_dir("acme"), a.tenant_ids("acme")[0])
    arc = os.path.join(a.dir, "acme.tgz")
    expect(a, EX_OK, "export", "acme", arc)
    # The data once: 301 names of 1 MiB are about 1 MiB, not 301.
    assert os.path.getsize(arc) < MIB + 64 * 1024, os.path.getsize(arc)
    _, members, _ = read_archive(arc)
    first = names[0]        # "data/big.bin" sorts first, is written first
    assert first == "data/big.bin"
    assert members[first].isreg() and members[first].size == MIB
    for n in names[1:]:
        assert members[n].islnk() and members[n].linkname == first, n
        assert members[n].size == 0

    # Imported as one inode with its 301 names, the content intact.
    expect(b, EX_OK, "import", arc)
    uid, gid = b.tenant_ids("acme")
    root = b.tenant_dir("acme")
    st0 = os.lstat(os.path.join(root, first))
    assert st0.st_nlink == len(names) == 301
    assert (st0.st_uid, st0.st_gid) == (uid, gid)
    for n in names:
        st = os.lstat(os.path.join(root, n))
        assert (st.st_dev, st.st_ino) == (st0.st_dev, st0.st_ino), n
    with open(os.path.join(root, names[-1]), "rb") as f:
        assert f.read() == data
    assert tree(root, uid) == before


def test_export_over_the_storage_quota_refused(daemon):
    d = daemon
    d.create("acme")
    d.ctl("limits", "set", "acme", "storage", "2M")
    uid, gid = d.tenant_ids("acme")
    # Counted once: 301 names of 1 MiB fit in 2M.
    linked_tenant(d, "acme")
    arc = os.path.join(d.dir, "acme.tgz")
    expect(d, EX_OK, "export", "acme", arc)
    os.unlink(arc)
    # 3 MiB of the tenant's own do not: refused before anything is
    # written, with the tenant, the size and the quota.
    big = os.path.join(d.tenant_dir("acme"), "uploads", "more.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(2 * MIB))
    os.chown(big, uid, gid)
    before = sorted(os.listdir(d.dir))
    r = expect(d, EX_FAIL, "export", "acme", arc,
               stderr=r'tenant "acme": (\d+) bytes of file data, more than '
                      r'its storage quota of 2M \(2097152 bytes\); nothing '
                      r'written .*limits set acme storage')
    total = int(re.search(rb"(\d+) bytes of file data", r.stderr).group(1))
    assert 3 * MIB < total < 3 * MIB + 4096, total    # and index.html
    assert not os.path.exists(arc)
    assert sorted(os.listdir(d.dir)) == before        # no temporary file
    r = expect(d, EX_FAIL, "export", "acme", "-", stderr=r"storage quota")
    assert r.stdout == b""
    # A sparse file costs the quota what it uses, but the archive what it
    # says: 1 TiB of holes is refused, at once.
    os.unlink(big)
    with open(big, "wb") as f:
        f.truncate(1 << 40)
    expect(d, EX_FAIL, "export", "acme", arc, stderr=r"storage quota")
    assert not os.path.exists(arc)
    # Raised, it goes.
    os.unlink(big)
    d.ctl("limits", "set", "acme", "storage", "1G")
    expect(d, EX_OK, "export", "acme", arc)


def test_file_grown_during_the_export_stops_it(daemon):
    """The walk's total was within the quota; then the tenant grows a file
    that is not read yet. The archive stops at the quota, not at however
    much the tenant writes."""
    d = daemon
    # packaging/deps.sh installs strace: its absence is a broken setup.
    assert shutil.which("strace"), "strace missing: run packaging/deps.sh"
    d.create("acme")
    d.ctl("limits", "set", "acme", "storage", "1M")
    uid, gid = d.tenant_ids("acme")
    pub = os.path.join(d.tenant_dir("acme"), "public")
    slow, later = os.path.join(pub, "a.bin"), os.path.join(pub, "b.bin")
    for p, n in ((slow, 512 * 1024), (later, 4096)):
        with open(p, "wb") as f:
            f.write(os.urandom(n))
        os.chown(p, uid, gid)
    arc = os.path.join(d.dir, "acme.tgz")
    # Each read(2) waits 0.2 s: a.bin (8 reads) is read for over a second.
    p = subprocess.Popen(["strace", "-qq", "-o", "/dev/null", "-e",
                          "inject=read:delay_exit=200000", TENANTCTL, "-c",
                          d.conf, "export", "acme", arc],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def reading_a():
            for pid, _ in children(p.pid):
                try:
                    fds = os.listdir(f"/proc/{pid}/fd")
                except OSError:
                    continue
                for fd in fds:
                    try:
                        if os.readlink(f"/proc/{pid}/fd/{fd}") == slow:
                            return True
                    except OSError:
                        pass
            return p.poll() is not None
        wait_for(reading_a, timeout=30, what="export reading a.bin")
        with open(later, "ab") as f:
            f.write(os.urandom(2 * MIB))
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == EX_FAIL, err
    assert re.search(rb'tenant "acme": its files grew during the export: at '
                     rb"least \d+ bytes of file data, more than its storage "
                     rb"quota of 1M", err), err
    assert not os.path.exists(arc)


# --- hostile archives ----------------------------------------------------------

TUID, TGID = 400001, 400001


def meta(**kw):
    m = {"format": "tenantd-export", "version": 1, "slug": "acme",
         "status": "active", "created": 1700000000, "uid": TUID,
         "gid": TGID, "hostnames": [], "manifest": None, "skipped": []}
    m.update(kw)
    return m


def _ti(name, type_, mode, uid=TUID, gid=TGID, **kw):
    ti = tarfile.TarInfo(name)
    ti.type = type_
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.mtime = 1700000000
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti


def d_(name, mode=0o700, **kw):
    return (_ti(name, tarfile.DIRTYPE, mode, **kw), None)


def f_(name, data=b"x", mode=0o644, **kw):
    ti = _ti(name, tarfile.REGTYPE, mode, **kw)
    ti.size = len(data)
    return (ti, data)


def l_(name, target, **kw):
    return (_ti(name, tarfile.SYMTYPE, 0o777, linkname=target, **kw), None)


def h_(name, target, **kw):
    return (_ti(name, tarfile.LNKTYPE, 0o644, linkname=target, **kw), None)


def raw_(ti):
    return (ti, None)


BASE = [d_(s) for s in SUBDIRS]


def make_archive(path, m, entries, with_base=False, first=None, ledger=None):
    """A pax tar.gz with the metadata m (dict, bytes, or None) first, then
    ledger (dict or bytes) as ledger.json if given. No MAC: a stranger's."""
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        if first is not None:
            tf.addfile(first[0], io.BytesIO(first[1]))
        if m is not None:
            data = m if isinstance(m, bytes) else json.dumps(m).encode()
            ti = _ti(META, tarfile.REGTYPE, 0o600, uid=0, gid=0)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        if ledger is not None:
            data = (ledger if isinstance(ledger, bytes) else
                    json.dumps(ledger).encode())
            ti = _ti(LEDGER, tarfile.REGTYPE, 0o600, uid=0, gid=0)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        for ti, data in (BASE if with_base else []) + entries:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)


HOSTILE = {
    "char device": ([raw_(_ti("public/null", tarfile.CHRTYPE, 0o666,
                              devmajor=1, devminor=3))], r"device node"),
    "block device": ([raw_(_ti("data/sda", tarfile.BLKTYPE, 0o660,
                               devmajor=8, devminor=0))], r"device node"),
    "fifo": ([raw_(_ti("tmp/fifo", tarfile.FIFOTYPE, 0o600))], r"FIFO"),
    "setuid file": ([f_("public/sh", b"#!/bin/sh\n", 0o4755)],
                    r"setuid or setgid"),
    "setgid dir": ([d_("public/g", 0o2755)], r"setuid or setgid"),
    "absolute path": ([f_("/etc/cron.d/evil")], r"absolute path"),
    "dotdot path": ([f_("public/../../evil")], r'"\.\." component'),
    "leading dotdot": ([f_("../evil")], r'"\.\." component'),
    "dot path": ([f_("./public/x")], r'"\." component'),
    "double slash": ([f_("public//x")], r"empty path component"),
    "symlink to /etc/passwd": ([l_("public/pw", "/etc/passwd")],
                               r"symlink to an absolute path"),
    "symlink to ../../other": ([l_("public/o", "../../other")],
                               r"symlink leaving the tenant's directory"),
    "symlink chain out": ([l_("public/s1", ".."), l_("public/s2", "s1/..")],
                          r"entry \"public/s2\".*leaving"),
    "symlink chain defined later": ([l_("public/s2", "s1/../x"),
                                     l_("public/s1", "../..")],
                                    r"leaving"),
    "symlink loop": ([l_("public/a", "b"), l_("public/b", "a")],
                     r"loop"),
    "hardlink to /etc/passwd": ([h_("public/pw", "/etc/passwd")],
                                r"hard link to an absolute path"),
    "hardlink out by dotdot": ([h_("public/pw", "../../etc/passwd")],
                               r'hard link to a "\.\." component'),
    "hardlink to a later entry": ([h_("public/a", "public/b"),
                                   f_("public/b")],
                                  r"hard link to something"),
    "hardlink to a directory": ([h_("public/a", "data")],
                                r"hard link to something"),
    "hardlink to /etc/shadow": ([h_("public/sh", "/etc/shadow")],
                                r"hard link to an absolute path"),
    "hardlink to ../ outside": ([h_("public/o", "../outside")],
                                r'hard link to a "\.\." component'),
    "hardlink to a hard link": ([f_("public/a"), h_("public/b", "public/a"),
                                 h_("public/c", "public/b")],
                                r'"public/c": a hard link to something'),
    "hardlink through a symlink": ([l_("public/s", "../data"), f_("data/x"),
                                    h_("public/h", "public/s/x")],
                                   r'"public/h": a hard link to something'),
    "hardlink to the ledger": ([f_("billing.db", b"x", 0o600, uid=0, gid=0),
                                h_("public/l", "billing.db")],
                               r'"billing\.db": the credit ledger as a '
                               r"file: an archive of the older format"),
    "hardlink to a root file": ([f_("public/r", b"x", uid=0, gid=0),
                                 h_("public/l", "public/r")],
                                r"a hard link to a file owned by root"),
    "file through a symlink dir (classic)": (
        [l_("public/l", "/etc"), f_("public/l/cron.daily")],
        r"through the symlink public/l|absolute"),
    "file through an inside symlink dir": (
        [l_("public/l", "../data"), f_("public/l/x")],
        r"entry \"public/l/x\": a path through the symlink public/l"),
    "dir through a symlink": (
        [l_("public/l", "."), d_("public/l/sub")],
        r"through the symlink public/l"),
    "foreign owner": ([f_("public/x", uid=12345)], r"owned by uid 12345"),
    "foreign group": ([f_("public/x", gid=54321)], r"group 54321"),
    "same path twice": ([f_("public/x"), f_("public/x")], r"appears twice"),
    "parent missing": ([f_("public/nodir/x")], r"parent is not a directory"),
    "parent is a file": ([f_("public/x"), f_("public/x/y")],
                         r"parent is not a directory"),
    "manifest in the archive": ([f_("tenant.json", b"{}", uid=0)],
                                r"the manifest"),
    "second metadata": ([f_(META, b"{}", uid=0)], r"second metadata"),
    "public is a symlink": ([l_("public", "data")],
                            r"standard directories"),
    "oversized entry": ([raw_(_ti("data/huge", tarfile.REGTYPE, 0o600,
                                  size=1 << 60))],
                        r"bytes, more than the \d+ bytes free"),
}


@pytest.fixture
def host():
    """One host with a tenant of its own, to show nothing else moves."""
    d = Daemon()
    try:
        d.create("globex", "globex\n")
        yield d
    finally:
        d.close()


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archive_refused_nothing_created(host, case):
    d = host
    entries, msg = HOSTILE[case]
    arc = os.path.join(d.dir, "evil.tgz")
    base = not any(ti.name.rstrip("/") == "public" for ti, _ in entries)
    make_archive(arc, meta(), entries, with_base=base)
    before = state(d)
    links = [os.lstat(p).st_nlink for p in ("/etc/shadow", "/etc/passwd")]
    code = EX_FAIL if case == "oversized entry" else EX_INVALID
    r = expect(d, code, "import", arc, stderr=msg)
    assert b"nothing imported" in r.stderr
    assert state(d) == before
    assert [os.lstat(p).st_nlink for p in ("/etc/shadow", "/etc/passwd")] == \
        links
    assert not os.path.exists(os.path.join(d.state, "outside"))
    assert not os.path.exists("/etc/cron.d/evil")
    assert not os.path.exists(os.path.join(d.state, "evil"))


BAD_META = {
    "missing metadata": (None, r"not a tenantd export"),
    "not JSON": (b"{nope", r"malformed .*not valid JSON"),
    "not an object": (b"[1]", r"not a JSON object"),
    "wrong format": (meta(format="tar"), r"\"format\""),
    "newer version": (meta(version=2), r"newer tenantd"),
    "no slug": ({k: v for k, v in meta().items() if k != "slug"},
                r"\"slug\""),
    "bad slug": (meta(slug="Bad_Slug"), r"\"slug\""),
    "uid 0": (meta(uid=0), r"\"uid\""),
    "bad status": (meta(status="deleted"), r"\"status\""),
    "hostnames not a list": (meta(hostnames="a.example"), r"\"hostnames\""),
    "hostname without status": (meta(hostnames=[{"hostname": "a.example"}]),
                                r"hostname without"),
    "hostname twice": (meta(hostnames=[
        {"hostname": "a.example", "status": "active"},
        {"hostname": "a.example", "status": "pending"}]), r"listed twice"),
    "duplicate keys": (b'{"format": "tenantd-export", "version": 1, '
                       b'"version": 1}', r"not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD_META))
def test_malformed_metadata_refused(host, case):
    d = host
    m, msg = BAD_META[case]
    arc = os.path.join(d.dir, "bad.tgz")
    make_archive(arc, m, [f_("public/x")], with_base=True)
    before = state(d)
    expect(d, EX_INVALID, "import", arc, stderr=msg)
    assert state(d) == before


def test_metadata_not_first_refused(host):
    d = host
    arc = os.path.join(d.dir, "late.tgz")
    make_archive(arc, meta(), [], with_base=True, first=f_("public/x"))
    before = state(d)
    expect(d, EX_INVALID, "import", arc, stderr=r"not a tenantd export")
    assert state(d) == before


def test_garbage_and_truncated_archives_refused(host):
    d = host
    before = state(d)
    junk = os.path.join(d.dir, "junk.tgz")
    with open(junk, "wb") as f:
        f.write(os.urandom(4096))
    expect(d, EX_INVALID, "import", junk)
    d.ctl("create", "acme")
    populate(d, "acme")
    good = os.path.join(d.dir, "good.tgz")
    expect(d, EX_OK, "export", "acme", good)
    d.ctl("delete", "acme", "--purge")
    before = state(d)
    with open(good, "rb") as f:
        data = f.read()
    cut = os.path.join(d.dir, "cut.tgz")
    with open(cut, "wb") as f:
        f.write(data[:len(data) * 2 // 3])
    expect(d, EX_INVALID, "import", cut, "--as", "acme2")
    assert state(d) == before
    expect(d, EX_FAIL, "import", os.path.join(d.dir, "absent.tgz"))


def test_slug_conflicts_refused_nothing_created(host):
    d = host
    arc = os.path.join(d.dir, "ok.tgz")
    make_archive(arc, meta(), [f_("public/index.html", b"hi")],
                 with_base=True)
    before = state(d)
    expect(d, EX_CONFLICT, "import", arc, "--foreign", "--as", "admin",
           stderr=r"reserved")
    expect(d, EX_CONFLICT, "import", arc, "--foreign", "--as", "globex",
           stderr=r"already exists")
    expect(d, EX_INVALID, "import", arc, "--foreign", "--as", "Bad_Slug",
           stderr=r"invalid slug")
    make_archive(arc, meta(slug="www"), [], with_base=True)
    expect(d, EX_CONFLICT, "import", arc, "--foreign", stderr=r"reserved")
    assert state(d) == before
    # A tombstone: acme existed here once.
    d.ctl("create", "acme")
    d.ctl("delete", "acme", "--purge")
    make_archive(arc, meta(), [], with_base=True)
    before = state(d)
    expect(d, EX_CONFLICT, "import", arc, "--foreign",
           stderr=r"belonged to a deleted tenant")
    # A stray directory with the slug's name.
    os.mkdir(os.path.join(d.state, "tenants", "stray"))
    before = state(d)
    expect(d, EX_CONFLICT, "import", arc, "--foreign", "--as", "stray",
           stderr=r"tenants/stray already exists")
    assert state(d) == before


def test_hostnames_taken_or_invalid_here(host):
    d = host
    d.ctl("hostname", "add", "globex", "shop.example.org")
    arc = os.path.join(d.dir, "h.tgz")
    make_archive(arc, meta(hostnames=[
        {"hostname": "free.example.org", "status": "active"},
        {"hostname": "shop.example.org", "status": "active"}]), [],
        with_base=True)
    before = state(d)
    expect(d, EX_CONFLICT, "import", arc, "--foreign",
           stderr=r"shop\.example\.org already belongs to tenant \"globex\"")
    assert state(d) == before
    # Under this host's suffix: not a custom domain here.
    make_archive(arc, meta(hostnames=[
        {"hostname": "x." + d.suffix, "status": "active"}]), [],
        with_base=True)
    expect(d, EX_INVALID, "import", arc, "--foreign", stderr=r"under the tenant suffix")
    assert state(d) == before
    # --no-hostnames imports the tenant alone.
    make_archive(arc, meta(hostnames=[
        {"hostname": "shop.example.org", "status": "active"}]), [],
        with_base=True)
    expect(d, EX_OK, "import", arc, "--foreign", "--no-hostnames")
    assert d.ctl_json("show", "acme")["hostnames"] == []
    assert [h["tenant"] for h in d.ctl_json("hostname", "list")] == [
        "globex"]


@pytest.mark.parametrize("name", ["evil\x1b]0;owned\x07\x1b[2J.example",
                                  "bad host.example", "Shop.Example.org",
                                  "shop.example.org.", "shop.example.org:80",
                                  "192.0.2.1", ""])
def test_malformed_hostnames_refused_never_echoed(host, name):
    """Export only writes canonical hostnames from the registry; anything
    else is refused as malformed metadata, with or without --no-hostnames,
    and its bytes never reach the operator's terminal."""
    d = host
    arc = os.path.join(d.dir, "h.tgz")
    make_archive(arc, meta(hostnames=[{"hostname": name,
                                       "status": "active"}]), [],
                 with_base=True)
    before = state(d)
    for extra in ([], ["--no-hostnames"]):
        r = expect(d, EX_INVALID, "import", arc, *extra,
                   stderr=r"malformed tenantd-export\.json: a hostname")
        assert b"\x1b" not in r.stderr and b"\x07" not in r.stderr
        assert state(d) == before


def test_registration_failure_after_extraction_leaves_nothing():
    """Room for exactly one tenant: the import extracts, then cannot
    register; the temporary directory goes and nothing is registered."""
    lo = random.randrange(300000, 3900000, 1000)
    d = Daemon(tenants__uid_min=lo, tenants__uid_max=lo)
    try:
        d.create("first")
        arc = os.path.join(d.dir, "x.tgz")
        make_archive(arc, meta(), [f_("public/index.html", b"hi")],
                     with_base=True)
        before = state(d)
        expect(d, EX_FULL, "import", arc, "--foreign", stderr=r"nothing imported")
        assert state(d) == before
    finally:
        d.close()


# --- failures half-way, by fault injection (strace -e inject) ----------------

def under_strace(d, fault, *args):
    # packaging/deps.sh installs strace: its absence is a broken setup.
    assert shutil.which("strace"), "strace missing: run packaging/deps.sh"
    r = subprocess.run(["strace", "-qq", "-o", "/dev/null", "-e", fault,
                        TENANTCTL, "-c", d.conf, *args],
                       capture_output=True, text=True, timeout=60)
    return r


def exported(d):
    d.create("acme")
    populate(d, "acme")
    d.ctl("hostname", "add", "acme", "shop.example.org", "--active")
    arc = os.path.join(d.dir, "acme.tgz")
    expect(d, EX_OK, "export", "acme", arc)
    d.ctl("delete", "acme")
    return arc


def test_extraction_failure_removes_the_temporary_directory(daemon):
    d = daemon
    arc = exported(d)
    before = state(d)
    # libarchive's third mkdir (of "public") fails: nothing is registered.
    r = under_strace(d, "inject=mkdir:error=ENOSPC:when=3", "import", arc,
                     "--as", "acme2")
    assert r.returncode == EX_FAIL, r.stderr
    assert re.search(r"extracting: .*nothing imported", r.stderr), r.stderr
    assert state(d) == before
    expect(d, EX_OK, "import", arc, "--as", "acme2")


@pytest.mark.parametrize("fault", [
    "inject=renameat2:error=EIO",           # the rename into place
    "inject=fchownat:error=EIO:when=4",     # re-mapping ownership
])
def test_failure_after_registration_rolls_back(daemon, fault):
    d = daemon
    arc = exported(d)
    r = under_strace(d, fault, "import", arc, "--as", "acme2")
    assert r.returncode == EX_FAIL, r.stderr
    assert re.search(r"failed after it was registered.*deleted again.*"
                     r"tombstoned.*--as", r.stderr), r.stderr
    # Not half-imported: deleted, no directory, no hostnames, said why.
    assert d.ctl_json("show", "acme2")["status"] == "deleted"
    assert sorted(os.listdir(os.path.join(d.state, "tenants"))) == ["acme"]
    assert d.ctl_json("hostname", "list") == []
    assert re.search(r"import-failed\s+acme2", d.ctl("audit").stdout)
    # The archive itself is fine: another slug takes it.
    expect(d, EX_OK, "import", arc, "--as", "acme3")
    assert [h["hostname"] for h in d.ctl_json("hostname", "list")] == [
        "shop.example.org"]


@pytest.mark.parametrize("evil_entries", [
    [f_("public/index.html", b"hi"), l_("public/l", "../../../../etc")],
    # The same entries, other bytes: the digest of pass 2 tells.
    [f_("public/index.html", b"ho"), l_("public/l", "index.html")],
], ids=["link", "data"])
def test_archive_rewritten_between_check_and_extraction(daemon, evil_entries):
    """Whoever can write FILE (a customer's upload) may change it after it
    was checked: the extraction must notice, not trust the first read."""
    d = daemon
    # packaging/deps.sh installs strace: its absence is a broken setup.
    assert shutil.which("strace"), "strace missing: run packaging/deps.sh"
    arc = os.path.join(d.dir, "swap.tgz")
    evil = os.path.join(d.dir, "evil.tgz")
    make_archive(arc, meta(), [f_("public/index.html", b"hi"),
                               l_("public/l", "index.html")], with_base=True)
    make_archive(evil, meta(), evil_entries, with_base=True)
    with open(evil, "rb") as f:
        evil_bytes = f.read()
    before = state(d)
    tdir = os.path.join(d.state, "tenants")
    # Every fchown waits a second: the first after the check is the
    # temporary directory's, which shows the check is over.
    p = subprocess.Popen(["strace", "-qq", "-o", "/dev/null", "-e",
                          "inject=fchown:delay_enter=1000000", TENANTCTL,
                          "-c", d.conf, "import", arc,
                          "--foreign"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        wait_for(lambda: [n for n in os.listdir(tdir)
                          if n.startswith(".import-")] or p.poll() is not None,
                 timeout=30, what="the temporary directory")
        with open(arc, "r+b") as f:         # same inode, new bytes
            f.write(evil_bytes)
            f.truncate()
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == EX_FAIL, (out, err)
    assert "the archive changed between checking and extracting" in err
    assert state(d) == before



# --- the MAC: only this fleet's archives are taken at their word -------------

def rewrite_gz(src, dst, change):
    """The archive src with change(raw tar bytes) applied, gzipped again."""
    with open(src, "rb") as f:
        raw = gzip.decompress(f.read())
    with open(dst, "wb") as f:
        f.write(gzip.compress(change(raw)))


def test_tampered_byte_refused_unless_foreign_then_suspended(daemon):
    d = daemon
    d.create("acme", "the real page\n")
    d.ctl("hostname", "add", "acme", "shop.example.org", "--active")
    arc = os.path.join(d.dir, "acme.tgz")
    expect(d, EX_OK, "export", "acme", arc)
    d.ctl("delete", "acme")
    # One byte of one file's data, the tar stream otherwise intact.
    bad = os.path.join(d.dir, "bad.tgz")
    rewrite_gz(arc, bad, lambda raw: raw.replace(b"the real page",
                                                 b"the reel page", 1))
    before = state(d)
    expect(d, EX_INVALID, "import", bad, "--as", "acme2",
           stderr=r"not an export of this fleet: its MAC does not match its "
           r"contents; nothing imported \(an archive from elsewhere needs "
           r"--foreign")
    assert state(d) == before
    # The MAC entry taken away: refused just the same.
    nomac = os.path.join(d.dir, "nomac.tgz")

    def drop_mac(raw):
        out = io.BytesIO()
        with tarfile.open(fileobj=io.BytesIO(raw)) as tin, \
                tarfile.open(fileobj=out, mode="w",
                             format=tarfile.PAX_FORMAT) as tout:
            for m in tin.getmembers():
                if m.name != MAC:
                    tout.addfile(m, tin.extractfile(m) if m.isreg()
                                 else None)
        return out.getvalue()
    rewrite_gz(arc, nomac, drop_mac)
    expect(d, EX_INVALID, "import", nomac, "--as", "acme2",
           stderr=r"not an export of this fleet: it has no MAC")
    assert state(d) == before
    # With --foreign: in, but suspended, audited as foreign, names pending.
    r = expect(d, EX_OK, "import", bad, "--as", "acme2", "--foreign",
               "--json")
    out = json.loads(r.stdout)
    assert (out["status"], out["verified"]) == ("suspended", False)
    assert out["hostnames"] == [{"hostname": "shop.example.org",
                                 "status": "pending"}]
    assert d.ctl_json("show", "acme2")["status"] == "suspended"
    assert re.search(r"import-foreign\s+acme2.*unverified: its MAC does not "
                     r"match", d.ctl("audit").stdout)
    # The untampered archive verifies and keeps its status.
    expect(d, EX_OK, "import", arc, "--as", "acme3", "--no-hostnames")
    assert d.ctl_json("show", "acme3")["status"] == "active"
    assert re.search(r"\bimport\s+acme3", d.ctl("audit").stdout)


def test_archive_of_another_fleet_needs_foreign(strangers):
    a, b = strangers
    a.create("acme", "hi\n")
    a.ctl("hostname", "add", "acme", "shop.example.org", "--active")
    arc = os.path.join(a.dir, "acme.tgz")
    expect(a, EX_OK, "export", "acme", arc)
    before = state(b)
    expect(b, EX_INVALID, "import", arc,
           stderr=r"not an export of this fleet: its MAC does not match")
    assert state(b) == before
    r = expect(b, EX_OK, "import", arc, "--foreign")
    assert b"imported tenant acme (exported as acme), foreign, suspended" \
        in r.stdout
    assert b.ctl_json("show", "acme")["status"] == "suspended"
    assert [(h["hostname"], h["status"]) for h in
            b.ctl_json("hostname", "list")] == [("shop.example.org",
                                                   "pending")]
    assert re.search(r"import-foreign\s+acme", b.ctl("audit").stdout)
    # Its books came along, rebuilt, as they were.
    assert credits(b, "acme")["balance"] == credits(a, "acme")["balance"]
    assert history(b, "acme") == history(a, "acme")


# --- the ledger's rows: each validated, nothing registered otherwise ---------

def row(i, amount, kind=None, ref=None, note=None, at=1700000000, **kw):
    r = {"id": i, "at": at, "kind": kind or ("grant" if amount > 0 else
                                            "adjust"),
         "amount": amount, "ref": ref, "note": note}
    r.update(kw)
    return r


def books(rows, balance=None):
    if balance is None:
        balance = sum(r["amount"] for r in rows if isinstance(r, dict) and
                      isinstance(r.get("amount"), int))
    return {"format": "tenantd-ledger", "version": 1, "balance": balance,
            "txns": rows}


BAD_LEDGER = {
    "amount overflows int64": (
        b'{"format": "tenantd-ledger", "version": 1, "balance": 1, '
        b'"txns": [{"id": 1, "at": 1700000000, "kind": "grant", '
        b'"amount": 9223372036854775808}]}',
        r"ledger\.json: not valid JSON \(line 1: too big integer"),
    "amount above 10^15": (
        books([row(1, 10), row(2, 10**16)]),
        r"ledger\.json: row 2: \"amount\" is not a non-zero integer within"),
    "rows adding past int64": (
        books([row(i, 10**15) for i in range(1, 9300)], balance=1),
        r"ledger\.json: row 9224: the balance overflows"),
    "duplicate reference": (
        books([row(1, 100), row(2, -5, "usage", ref="h1.1"),
               row(3, -5, "usage", ref="h1.2"),
               row(4, -5, "usage", ref="h1.1")]),
        r"ledger\.json: row 4: \"ref\" h1\.1 is already the reference of "
        r"row 2"),
    "balance disagrees": (
        books([row(1, 100), row(2, -30)], balance=1000000),
        r"ledger\.json: \"balance\" is 1000000, but the rows add up to 70"),
    "balance below zero on the way": (
        books([row(1, -30), row(2, 100)]),
        r"ledger\.json: row 1: the balance goes below zero"),
    "amount as a string": (
        books([row(1, 100), row(2, "5", kind="grant")], balance=100),
        r"ledger\.json: row 2: \"amount\" is not a non-zero integer"),
    "id as a float": (
        books([row(1.5, 100)]), r"ledger\.json: row 1: \"id\" is not an "
        r"integer"),
    "kind unknown": (
        books([row(1, 100, kind="gift")]),
        r"ledger\.json: row 1: \"kind\" is not"),
    "grant that removes": (
        books([row(1, 100), row(2, -5, kind="grant")]),
        r"ledger\.json: row 2: \"amount\" has the wrong sign"),
    "usage that adds": (
        books([row(1, 5, kind="usage", ref="h1.1")]),
        r"ledger\.json: row 1: \"amount\" has the wrong sign"),
    "ids not rising": (
        books([row(2, 100), row(1, 100)]),
        r"ledger\.json: row 2: \"id\" is not above"),
    "time in the future": (
        books([row(1, 100, at=4102444800)]),
        r"ledger\.json: row 1: \"at\" is not a time"),
    "an SQL field": (
        books([row(1, 100, sql="DROP TABLE txns")]),
        r"ledger\.json: row 1: a field that is not"),
    "escape in a note": (
        books([row(1, 100, note="\x1b[2Jowned")]),
        r"ledger\.json: row 1: \"note\" .*control characters"),
    "reference with a quote": (
        books([row(1, 100), row(2, -1, "usage", ref="h1.1'--")]),
        r"ledger\.json: row 2: \"ref\" is not"),
    "txns not a list": (
        {"format": "tenantd-ledger", "version": 1, "balance": 0,
         "txns": {"1": 5}}, r"ledger\.json: \"txns\" is not an array"),
}


@pytest.mark.parametrize("case", sorted(BAD_LEDGER))
def test_ledger_rows_validated_nothing_registered(host, case):
    d = host
    ledger, msg = BAD_LEDGER[case]
    arc = os.path.join(d.dir, "l.tgz")
    make_archive(arc, meta(), [f_("public/index.html", b"hi")],
                 with_base=True, ledger=ledger)
    before = state(d)
    r = expect(d, EX_INVALID, "import", arc, "--foreign", stderr=msg)
    assert b"nothing imported" in r.stderr and b"\x1b" not in r.stderr
    assert state(d) == before


def test_ledger_rows_rebuilt_into_a_new_ledger(host):
    d = host
    rows = [row(1, 500, note="initial credits"),
            row(7, -40, "usage", ref="h3.1", at=1700000100),
            row(9, -60, "adjust", note="refund reversed")]
    arc = os.path.join(d.dir, "l.tgz")
    make_archive(arc, meta(), [], with_base=True, ledger=books(rows))
    expect(d, EX_OK, "import", arc, "--foreign")
    c = credits(d, "acme")
    assert (c["balance"], c["held"]) == (400, 0)
    got = [(h["id"], h["at"], h["kind"], h["amount"], h["ref"] or None,
            h["note"] or None) for h in history(d, "acme")]
    assert got == [(r["id"], r["at"], r["kind"], r["amount"], r["ref"],
                    r["note"]) for r in reversed(rows)]


def test_old_format_billing_db_refused_never_opened(host):
    """An archive of the format before (billing.db as a file): its SQL is
    never run. This one's trigger is named like a table and would, if the
    file were ever opened and written, create a file as root."""
    import sqlite3
    d = host
    db = os.path.join(d.dir, "evil.db")
    proof = os.path.join(d.dir, "pwned")
    con = sqlite3.connect(db)
    con.executescript(f"""
        CREATE TABLE account (id INTEGER PRIMARY KEY, balance INTEGER,
                              created INTEGER);
        CREATE TABLE txns (id INTEGER PRIMARY KEY, at INTEGER, kind TEXT,
                           amount INTEGER, ref TEXT UNIQUE, note TEXT);
        CREATE TABLE holds (id INTEGER PRIMARY KEY, at INTEGER, owner TEXT,
                            amount INTEGER, used INTEGER, open INTEGER);
        CREATE TRIGGER holds AFTER UPDATE ON holds BEGIN
            SELECT writefile('{proof}', 'x'); END;
        INSERT INTO account VALUES (1, 999999999, 0);
        INSERT INTO holds VALUES (1, 0, 'w', 0, 0, 1);
        PRAGMA user_version = 1;
    """)
    con.close()
    with open(db, "rb") as f:
        data = f.read()
    arc = os.path.join(d.dir, "old.tgz")
    make_archive(arc, meta(), [f_("billing.db", data, 0o600, uid=0, gid=0)],
                 with_base=True)
    before = state(d)
    for extra in ([], ["--foreign"]):
        expect(d, EX_INVALID, "import", arc, *extra,
               stderr=r'entry "billing\.db": the credit ledger as a file: an '
               r"archive of the older format, which import no longer reads "
               r"\(export the tenant again with this version of tenantctl\)")
        assert state(d) == before
    assert not os.path.exists(proof)
