# tenantctl key, credits and limits, offline: the daemon is not started.
# Keys are derived from the master and change with a rotation, the ledger
# (billing.db, root's) keeps balance == sum of its transactions and never
# goes below zero, limits come from defaults, a profile and per-tenant
# overrides, and export/import carries the ledger without handing it to
# the tenant.
import json
import os
import re
import sqlite3
import stat
import time

import pytest

from conftest import Daemon

EX_OK, EX_FAIL, EX_USAGE, EX_INVALID, EX_NOTFOUND = 0, 1, 2, 3, 4
EX_CONFLICT, EX_STATE, EX_FULL, EX_NOINIT = 5, 6, 7, 8

TOKEN = re.compile(r"td1\.([1-9][0-9]*)\.[A-Za-z0-9_-]{43}")
KEY = re.compile(r"[A-Za-z0-9_-]{43}")
LIMITS = {"requests_per_minute", "storage", "kv_max_entries", "kv_max_key",
          "kv_max_value", "statement_timeout", "max_connections",
          "max_workers", "kv_public_reads", "cost_read", "cost_write",
          "credit_hold", "db_idle", "initial_credits", "handler_timeout",
          "handler_output", "network", "app_idle", "cost_run"}


def expect(d, code, *args, stderr=None):
    r = d.ctl(*args, check=False)
    assert r.returncode == code, (
        f"tenantctl {' '.join(args)}: exit {r.returncode}, wanted {code}; "
        f"stdout={r.stdout!r} stderr={r.stderr!r}")
    if code == EX_USAGE:
        assert r.stderr.startswith("usage: "), r.stderr
    elif code != EX_OK:
        assert r.stderr.startswith("tenantctl: "), r.stderr
    if stderr is not None:
        assert re.search(stderr, r.stderr), (stderr, r.stderr)
    return r


def mode(st):
    return stat.S_IMODE(st.st_mode)


def gen(d):
    with open(os.path.join(d.state, "registry.gen"), "rb") as f:
        return f.read()


def ledger_rows(d, slug):
    """The ledger read straight from the file (read-only)."""
    path = os.path.join(d.tenant_dir(slug), "billing.db")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        bal = db.execute("SELECT balance FROM account").fetchone()[0]
        s = db.execute("SELECT coalesce(sum(amount), 0) FROM txns"
                       ).fetchone()[0]
        return bal, s
    finally:
        db.close()


@pytest.fixture
def d():
    dm = Daemon()
    try:
        dm.create("acme")
        dm.create("globex")
        yield dm
    finally:
        dm.close()


# --- keys --------------------------------------------------------------------

def test_key_show_is_stable_and_separates(d):
    tok = expect(d, EX_OK, "key", "show", "acme", "api").stdout.strip()
    assert TOKEN.fullmatch(tok), tok
    assert TOKEN.fullmatch(tok).group(1) == "1"
    assert expect(d, EX_OK, "key", "show", "acme", "api").stdout.strip() \
        == tok
    other = expect(d, EX_OK, "key", "show", "globex", "api").stdout.strip()
    assert TOKEN.fullmatch(other) and other != tok
    keys = {}
    for p in ("session", "encryption", "webhook"):
        k = expect(d, EX_OK, "key", "show", "acme", p).stdout.strip()
        assert KEY.fullmatch(k), (p, k)
        keys[p] = k
    assert len(set(keys.values()) | {tok[6:]}) == 4
    j = d.ctl_json("key", "show", "acme", "api")
    assert j == {"slug": "acme", "purpose": "api", "master": 1, "token": tok}
    expect(d, EX_INVALID, "key", "show", "acme", "root", stderr="purpose")
    expect(d, EX_NOTFOUND, "key", "show", "nosuch", "api")
    expect(d, EX_USAGE, "key", "show", "acme")
    d.ctl("delete", "globex")
    expect(d, EX_STATE, "key", "show", "globex", "api")


def test_key_rotate(d):
    old = expect(d, EX_OK, "key", "show", "acme", "api").stdout.strip()
    g = gen(d)
    before = int(time.time())
    r = expect(d, EX_OK, "key", "rotate", "--grace", "2d")
    assert "master key 2 is current" in r.stdout
    assert gen(d) != g, "the running daemon must be told"
    key2 = os.path.join(d.state, "keys", "master-2.key")
    st = os.lstat(key2)
    assert stat.S_ISREG(st.st_mode)
    assert (st.st_uid, st.st_gid, mode(st), st.st_size) == (0, 0, 0o400, 32)
    with open(os.path.join(d.state, "keys", "master-1.key"), "rb") as f1, \
            open(key2, "rb") as f2:
        assert f1.read() != f2.read()
    listed = {k["id"]: k for k in d.ctl_json("key", "list")}
    assert listed[2]["state"] == "current" and listed[2]["not_after"] == 0
    assert listed[1]["state"] == "grace"
    assert before + 2 * 86400 <= listed[1]["not_after"] <= \
        int(time.time()) + 2 * 86400
    text = expect(d, EX_OK, "key", "list").stdout
    assert re.search(r"^1\s+grace\s+\S+\s+\d{4}-\d\d-\d\dT", text, re.M), text
    assert re.search(r"^2\s+current\s+\S+\s+-$", text, re.M), text
    new = expect(d, EX_OK, "key", "show", "acme", "api").stdout.strip()
    assert TOKEN.fullmatch(new).group(1) == "2" and new != old
    # Default grace: a week.
    r = expect(d, EX_OK, "key", "rotate", "--json")
    j = json.loads(r.stdout)
    assert j["master"] == 3 and j["grace"] == 7 * 86400
    expect(d, EX_INVALID, "key", "rotate", "--grace", "soon")
    expect(d, EX_INVALID, "key", "rotate", "--grace", "-1d")
    expect(d, EX_USAGE, "key", "rotate", "--grace")
    assert "key-rotate" in d.ctl("audit").stdout


def test_key_rotate_refuses_a_key_file_it_cannot_trust(d):
    # A master-2.key left behind that is not root's 0400: not adopted.
    path = os.path.join(d.state, "keys", "master-2.key")
    with open(path, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(path, 0o644)
    expect(d, EX_FAIL, "key", "rotate", stderr="refusing")
    assert [k["id"] for k in d.ctl_json("key", "list")] == [1]
    # One left by an interrupted rotation, sound: adopted.
    os.chmod(path, 0o400)
    r = expect(d, EX_OK, "key", "rotate")
    assert "an earlier rotation left" in r.stdout


def test_key_show_refuses_a_readable_master(d):
    path = os.path.join(d.state, "keys", "master-1.key")
    os.chmod(path, 0o440)
    expect(d, EX_FAIL, "key", "show", "acme", "api", stderr="refusing")


# --- credits -----------------------------------------------------------------

def test_credits(d):
    j = d.ctl_json("credits", "show", "acme")
    assert (j["balance"], j["held"], j["available"], j["transactions"]) == (
        1000, 0, 1000, 1)
    assert j["consistent"] is True and j["check"] == "ok"
    h = d.ctl_json("credits", "history", "acme")
    assert [(t["kind"], t["amount"], t.get("note")) for t in h] == [
        ("grant", 1000, "initial credits")]

    r = expect(d, EX_OK, "credits", "add", "acme", "250", "--note", "top-up")
    assert "balance 1250" in r.stdout
    expect(d, EX_OK, "credits", "add", "acme", "-50", "--note", "refund fix")
    r = expect(d, EX_STATE, "credits", "add", "acme", "-1201")
    assert "1200" in r.stderr
    for bad in ("0", "ten", "1.5", "+-3", "", "1e3", "99999999999999999999"):
        expect(d, EX_INVALID, "credits", "add", "acme", bad)
    expect(d, EX_INVALID, "credits", "add", "acme", "5", "--note", "x" * 201)
    expect(d, EX_NOTFOUND, "credits", "add", "nosuch", "5")
    expect(d, EX_USAGE, "credits", "add", "acme")

    h = d.ctl_json("credits", "history", "acme")
    assert [(t["kind"], t["amount"]) for t in h] == [
        ("adjust", -50), ("grant", 250), ("grant", 1000)]
    assert [t["id"] for t in h] == sorted((t["id"] for t in h), reverse=True)
    assert h[0]["note"] == "refund fix"
    assert len(d.ctl_json("credits", "history", "acme", "--limit", "2")) == 2
    expect(d, EX_INVALID, "credits", "history", "acme", "--limit", "0")
    text = expect(d, EX_OK, "credits", "history", "acme").stdout
    assert text.splitlines()[1].split()[2:4] == ["adjust", "-50"], text

    j = d.ctl_json("credits", "show", "acme")
    assert (j["balance"], j["sum"], j["transactions"]) == (1200, 1200, 3)
    assert ledger_rows(d, "acme") == (1200, 1200)
    # Down to exactly zero is fine; the other tenant is untouched.
    expect(d, EX_OK, "credits", "add", "acme", "-1200")
    assert ledger_rows(d, "acme") == (0, 0)
    assert d.ctl_json("credits", "show", "globex")["balance"] == 1000
    assert "credits-add" in d.ctl("audit", "acme").stdout
    text = expect(d, EX_OK, "credits", "show", "acme").stdout
    assert re.search(r"^check\s+ok$", text, re.M), text


def test_billing_db_is_roots_alone(d):
    top = d.tenant_dir("acme")
    uid, gid = d.tenant_ids("acme")
    st = os.lstat(os.path.join(top, "billing.db"))
    assert stat.S_ISREG(st.st_mode)
    assert (st.st_uid, st.st_gid, mode(st)) == (0, 0, 0o600)
    # Its directory, the jail root: the tenant may read it, never write.
    st = os.lstat(top)
    assert (st.st_uid, st.st_gid, mode(st)) == (0, gid, 0o750)
    for name in ("billing.db-wal", "billing.db-shm", "billing.db-journal"):
        assert not os.path.exists(os.path.join(top, name))
    # As the tenant's uid: cannot open it, cannot replace it.
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            for how in (os.O_RDONLY, os.O_WRONLY):
                try:
                    os.close(os.open(os.path.join(top, "billing.db"), how))
                    code |= 1
                except PermissionError:
                    pass
            try:
                os.close(os.open(os.path.join(top, "x"),
                                 os.O_CREAT | os.O_WRONLY, 0o600))
                code |= 2
            except PermissionError:
                pass
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_credits_refuse_a_tampered_ledger(d):
    path = os.path.join(d.tenant_dir("acme"), "billing.db")
    os.chmod(path, 0o644)
    expect(d, EX_FAIL, "credits", "show", "acme", stderr="refusing")
    os.chmod(path, 0o600)
    # A hand edit that moves the balance without a transaction.
    db = sqlite3.connect(path)
    db.execute("UPDATE account SET balance = 5000")
    db.commit()
    db.close()
    r = expect(d, EX_FAIL, "credits", "show", "acme")
    assert "FAILED" in r.stdout and "not the sum" in r.stdout


def test_create_uses_the_effective_initial_credits():
    dm = Daemon(tenant_limits={"initial_credits": "25"})
    try:
        dm.create("small")
        assert dm.ctl_json("credits", "show", "small")["balance"] == 25
    finally:
        dm.close()
    dm = Daemon(tenant_limits={"initial_credits": "0"})
    try:
        dm.create("none")
        j = dm.ctl_json("credits", "show", "none")
        assert (j["balance"], j["transactions"]) == (0, 0)
    finally:
        dm.close()


# --- limits ------------------------------------------------------------------

def test_limits(d):
    j = d.ctl_json("limits", "show", "acme")
    assert set(j["limits"]) == LIMITS and j["profile"] is None
    assert j["limits"]["storage"] == {"value": "100M", "raw": 100 << 20,
                                      "source": "default"}
    assert j["limits"]["statement_timeout"]["value"] == "5s"
    assert j["limits"]["kv_public_reads"]["value"] == "off"

    g = gen(d)
    expect(d, EX_OK, "limits", "set", "acme", "storage", "1G")
    assert gen(d) != g, "the running daemon must be told"
    expect(d, EX_OK, "limits", "set", "acme", "kv_public_reads", "yes")
    expect(d, EX_OK, "limits", "set", "acme", "statement_timeout", "250ms")
    j = d.ctl_json("limits", "show", "acme")["limits"]
    assert j["storage"] == {"value": "1G", "raw": 1 << 30, "source": "tenant"}
    assert j["kv_public_reads"]["value"] == "on"
    assert j["statement_timeout"]["raw"] == 250
    assert d.ctl_json("limits", "show", "globex")["limits"]["storage"][
        "source"] == "default"

    # The profile: its values under the tenant's own overrides.
    g = gen(d)
    expect(d, EX_OK, "limits", "set", "acme", "profile", "small")
    assert gen(d) != g
    j = d.ctl_json("limits", "show", "acme")
    assert j["profile"] == "small"
    assert j["limits"]["max_workers"] == {"value": "1", "raw": 1,
                                          "source": "profile"}
    assert j["limits"]["storage"]["source"] == "tenant"
    text = expect(d, EX_OK, "limits", "show", "acme").stdout
    assert re.search(r"^profile small$", text, re.M), text
    assert re.search(r"^storage\s+1G\s+tenant$", text, re.M), text
    assert re.search(r"^max_workers\s+1\s+profile$", text, re.M), text

    expect(d, EX_OK, "limits", "unset", "acme", "storage")
    j = d.ctl_json("limits", "show", "acme")["limits"]
    assert j["storage"] == {"value": "10M", "raw": 10 << 20,
                            "source": "profile"}
    expect(d, EX_OK, "limits", "unset", "acme", "profile")
    j = d.ctl_json("limits", "show", "acme")
    assert j["profile"] is None
    assert j["limits"]["storage"]["source"] == "default"
    assert j["limits"]["statement_timeout"]["source"] == "tenant"
    audit = d.ctl("audit", "acme").stdout
    assert "limit-set" in audit and "limit-unset" in audit


def test_limits_refused(d):
    cases = [
        (EX_INVALID, ("limits", "set", "acme", "nosuch", "1"), "unknown"),
        (EX_INVALID, ("limits", "set", "acme", "storage", "1K"), "range"),
        (EX_INVALID, ("limits", "set", "acme", "storage", "lots"), "bad"),
        (EX_INVALID, ("limits", "set", "acme", "max_workers", "0"), "range"),
        (EX_INVALID, ("limits", "set", "acme", "kv_public_reads", "maybe"),
         "on or off"),
        (EX_INVALID, ("limits", "set", "acme", "statement_timeout", "2h"),
         None),
        (EX_INVALID, ("limits", "set", "acme", "profile", "../etc"),
         "profile"),
        (EX_NOTFOUND, ("limits", "set", "acme", "profile", "nosuch"),
         "no profile"),
        (EX_INVALID, ("limits", "unset", "acme", "nosuch"), "unknown"),
        (EX_NOTFOUND, ("limits", "set", "nosuch", "storage", "1G"), None),
        (EX_NOTFOUND, ("limits", "show", "nosuch"), None),
        (EX_USAGE, ("limits", "set", "acme", "storage"), None),
        (EX_USAGE, ("limits",), None),
    ]
    g = gen(d)
    for code, args, msg in cases:
        expect(d, code, *args, stderr=msg)
    assert gen(d) == g
    d.ctl("delete", "globex")
    expect(d, EX_STATE, "limits", "set", "globex", "storage", "1G")
    # A broken profile file is refused before a tenant is pointed at it.
    with open(os.path.join(d.policy, "profiles", "broken.limits"), "w") as f:
        f.write("storage 1G\n")
    expect(d, EX_INVALID, "limits", "set", "acme", "profile", "broken",
           stderr="why")


# --- export and import -------------------------------------------------------

def test_export_import_keeps_credits_and_ownership(d):
    expect(d, EX_OK, "credits", "add", "acme", "234", "--note", "carried")
    before = d.ctl_json("credits", "history", "acme")
    arc = os.path.join(d.dir, "acme.tar.gz")
    expect(d, EX_OK, "export", "acme", arc)
    d.ctl("delete", "acme")
    expect(d, EX_OK, "import", arc, "--as", "acme2")
    j = d.ctl_json("credits", "show", "acme2")
    assert (j["balance"], j["consistent"]) == (1234, True)
    assert d.ctl_json("credits", "history", "acme2") == before
    st = os.lstat(os.path.join(d.tenant_dir("acme2"), "billing.db"))
    assert (st.st_uid, st.st_gid, mode(st)) == (0, 0, 0o600)
    # To another host of the fleet (same master key), too.
    other = Daemon()
    try:
        with open(os.path.join(d.state, "keys", "master-1.key"), "rb") as f:
            key = f.read()
        with open(os.path.join(other.state, "keys", "master-1.key"),
                  "r+b") as f:
            f.write(key)
        expect(other, EX_OK, "import", arc)
        assert other.ctl_json("credits", "show", "acme")["balance"] == 1234
        st = os.lstat(os.path.join(other.tenant_dir("acme"), "billing.db"))
        assert (st.st_uid, st.st_gid, mode(st)) == (0, 0, 0o600)
    finally:
        other.close()


def _rewrite(src, dst, change):
    """Copy an export, letting change(TarInfo, data) -> (TarInfo, data) or
    a list of them alter entries."""
    import io
    import tarfile
    with tarfile.open(src, "r:gz") as tin, \
            tarfile.open(dst, "w:gz", format=tarfile.PAX_FORMAT) as tout:
        for ti in tin.getmembers():
            data = tin.extractfile(ti).read() if ti.isfile() else None
            out = change(ti, data)
            for oti, odata in (out if isinstance(out, list) else [out]):
                oti.size = len(odata) if odata is not None else 0
                tout.addfile(oti, io.BytesIO(odata) if odata is not None
                             else None)


def test_import_refuses_a_ledger_file_or_forged_rows(d):
    """The ledger travels as rows (ledger.json), never as a file: a
    billing.db or its journal in an archive is refused, and rows whose
    balance was moved by hand are refused even from a stranger."""
    import copy
    arc = os.path.join(d.dir, "acme.tar.gz")
    expect(d, EX_OK, "export", "acme", arc)
    bad = os.path.join(d.dir, "bad.tar.gz")

    def with_file(name):
        def change(ti, data):
            if ti.name != "ledger.json":
                return ti, data
            f = copy.copy(ti)
            f.name = name
            return [(ti, data), (f, b"SQLite format 3\0")]
        return change
    _rewrite(arc, bad, with_file("billing.db"))
    expect(d, EX_INVALID, "import", bad, "--as", "bad1", "--foreign",
           stderr="credit ledger as a file.*older format")
    _rewrite(arc, bad, with_file("billing.db-wal"))
    expect(d, EX_INVALID, "import", bad, "--as", "bad2", "--foreign",
           stderr="journal")

    def forged(ti, data):
        if ti.name != "ledger.json":
            return ti, data
        j = json.loads(data)
        j["balance"] = 1000000
        return ti, json.dumps(j).encode()
    _rewrite(arc, bad, forged)
    for extra in ([], ["--foreign"]):
        expect(d, EX_INVALID, "import", bad, "--as", "bad3", *extra,
               stderr=r'ledger\.json: "balance" is 1000000, but the rows '
               r"add up to \d+; nothing imported")
    assert sorted(os.listdir(os.path.join(d.state, "tenants"))) == [
        "acme", "globex"]
