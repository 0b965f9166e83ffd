# The key-value API a worker serves under /.tenantd/kv/ (docs/data-plane.md,
# section 2), end to end through tenantd: CRUD, listing, the credential,
# keys that look like paths, body limits, quotas, the request rate, the
# statement deadline and credits. Real workers in their real sandbox.
import json
import os
import sqlite3
import socket
import time
import urllib.parse

import pytest

from conftest import Daemon, read_responses, request_bytes, wait_for


def token(d, slug):
    return d.ctl("key", "show", slug, "api").stdout.strip()


def req(d, slug, method, target, tok=None, body=None, headers=None,
        close=True):
    """The bytes of one API request; body is JSON-encoded unless bytes."""
    h = {}
    if tok is not None:
        h["Authorization"] = f"Bearer {tok}"
    data = b""
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h["Content-Length"] = str(len(data))
    h.update(headers or {})
    if not target.startswith("/"):
        target = "/.tenantd/kv/" + target
    return request_bytes(d.host(slug), target, method=method, headers=h,
                         close=close) + data


def api(d, slug, method, target, tok=None, body=None, headers=None):
    s = d.connect()
    try:
        s.sendall(req(d, slug, method, target, tok, body, headers))
        rs, _, _ = read_responses(s, 1, 5, head_only=method == "HEAD")
    finally:
        s.close()
    assert len(rs) == 1, f"no response to {method} {target}"
    return rs[0]


def jbody(r):
    return json.loads(r.body)


def db_open(d, slug):
    """Whether a worker of slug has its app.db open."""
    for pid in d.workers(slug):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}").endswith(
                        "/data/app.db"):
                    return True
        except OSError:
            pass
    return False


def is_error(r, status, code):
    assert r.status == status, (r.status, r.body)
    assert r.headers["content-type"] == "application/json"
    j = jbody(r)
    assert j["error"] == code and isinstance(j["message"], str), j
    return True


@pytest.fixture
def kv():
    """A daemon with acme and globex, free KV requests (credits are tested
    on their own below), and each tenant's token."""
    d = Daemon()
    try:
        for slug in ("acme", "globex"):
            d.create(slug, f"{slug}\n")
            d.ctl("limits", "set", slug, "cost_read", "0")
            d.ctl("limits", "set", slug, "cost_write", "0")
        d.start()
        d.tok = {s: token(d, s) for s in ("acme", "globex")}
        yield d
    finally:
        d.close()


def test_crud(kv):
    tok = kv.tok["acme"]
    r = api(kv, "acme", "PUT", "greeting", tok, {"hello": [1, 2.5, None]})
    assert r.status == 201 and jbody(r) == {"key": "greeting",
                                            "created": True}
    for h in ("cache-control", "x-content-type-options"):
        assert r.headers[h] in ("no-store", "nosniff")
    r = api(kv, "acme", "PUT", "greeting", tok, "bye")
    assert r.status == 200 and jbody(r) == {"key": "greeting",
                                            "created": False}
    r = api(kv, "acme", "GET", "greeting", tok)
    assert r.status == 200 and jbody(r) == {"key": "greeting",
                                            "value": "bye"}
    assert r.headers["cache-control"] == "no-store"
    h = api(kv, "acme", "HEAD", "greeting", tok)
    assert h.status == 200 and h.body == b""
    assert h.headers["content-length"] == str(len(r.body))
    # Any JSON value, stored as sent; no Content-Type needed.
    for v in [0, -1.5e10, True, None, "", [], {}, "\u00e9\U0001f600"]:
        r = api(kv, "acme", "PUT", "v", tok, json.dumps(v).encode())
        assert r.status in (200, 201)
        assert jbody(api(kv, "acme", "GET", "v", tok))["value"] == v
    r = api(kv, "acme", "DELETE", "greeting", tok)
    assert r.status == 204 and r.body == b""
    assert is_error(api(kv, "acme", "DELETE", "greeting", tok), 404,
                    "not_found")
    assert is_error(api(kv, "acme", "GET", "greeting", tok), 404,
                    "not_found")
    # Every request in the access log, like a static one.
    wait_for(lambda: "PUT /.tenantd/kv/greeting" in kv.access_log("acme"),
             5, "access log line")
    assert "status=204" in kv.access_log("acme")


def test_errors_are_json(kv):
    tok = kv.tok["acme"]
    assert is_error(api(kv, "acme", "PUT", "k", tok, b"{nope"), 400,
                    "bad_json")
    assert is_error(api(kv, "acme", "PUT", "k", tok, b"1 2"), 400,
                    "bad_json")
    assert is_error(api(kv, "acme", "PUT", "k", tok, b""), 400, "bad_json")
    r = api(kv, "acme", "POST", "k", tok, 1)
    assert is_error(r, 405, "method_not_allowed")
    assert "PUT" in r.headers["allow"]
    r = api(kv, "acme", "DELETE", "/.tenantd/kv/", tok)
    assert is_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET, HEAD"
    assert is_error(api(kv, "acme", "GET", "/.tenantd/other", tok), 404,
                    "not_found")
    assert is_error(api(kv, "acme", "GET", "/.tenantd", tok), 404,
                    "not_found")
    assert is_error(api(kv, "acme", "GET", "k?x=1", tok), 400,
                    "bad_request")
    # A PUT needs a length: chunked is refused and the connection closes.
    s = kv.connect()
    s.sendall(req(kv, "acme", "PUT", "k", tok, headers={
        "Transfer-Encoding": "chunked"}, close=False) + b"1\r\n1\r\n0\r\n\r\n")
    rs, _, eof = read_responses(s, 1, 5)
    s.close()
    assert is_error(rs[0], 411, "length_required")
    assert rs[0].headers.get("connection") == "close"


def test_reserved_prefix_is_never_a_static_file(kv):
    kv.write_public("acme", ".tenantd/kv/x", "static secret\n")
    kv.write_public("acme", ".tenantd/other", "static secret\n")
    for target in ("/.tenantd/other", "/.tenantd/kv/x"):
        r = api(kv, "acme", "GET", target, kv.tok["acme"])
        assert r.status == 404 and b"static secret" not in r.body


def test_list_and_pagination(kv):
    tok = kv.tok["acme"]
    for i in range(25):
        assert api(kv, "acme", "PUT", f"k{i:02d}", tok, i).status == 201
    api(kv, "acme", "PUT", "other", tok, "o")
    api(kv, "acme", "PUT", "k", tok, "bare")
    seen, after = [], None
    for page in range(4):
        q = "prefix=k&limit=10" + (f"&after={after}" if after else "")
        r = api(kv, "acme", "GET", "/.tenantd/kv/?" + q, tok)
        assert r.status == 200, r.body
        j = jbody(r)
        seen += [(it["key"], it["value"]) for it in j["items"]]
        after = j["next"]
        if after is None:
            break
    assert page == 2
    assert seen == [("k", "bare")] + [(f"k{i:02d}", i) for i in range(25)]
    # Without the slash, default limit, everything in key-byte order.
    j = jbody(api(kv, "acme", "GET", "/.tenantd/kv", tok))
    keys = [it["key"] for it in j["items"]]
    assert keys == sorted(keys) and len(keys) == 27 and j["next"] is None
    assert jbody(api(kv, "acme", "GET", "/.tenantd/kv?prefix=zz",
                     tok)) == {"items": [], "next": None}
    for bad in ("limit=0", "limit=1001", "limit=x", "after=", "foo=1",
                "prefix=%zz", "limit=1&limit=2"):
        assert is_error(api(kv, "acme", "GET", "/.tenantd/kv/?" + bad, tok),
                        400, "bad_request")
    r = api(kv, "acme", "GET", "/.tenantd/kv/?limit=1000", tok)
    assert r.status == 200 and len(jbody(r)["items"]) == 27


def test_auth(kv):
    tok = kv.tok["acme"]
    api(kv, "acme", "PUT", "k", tok, 1)
    for method, body in (("GET", None), ("PUT", 2), ("DELETE", None)):
        r = api(kv, "acme", method, "k", None, body)
        assert is_error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == 'Bearer realm="tenantd"'
    wrong = tok[:-1] + ("A" if tok[-1] != "A" else "B")
    for t in (wrong, kv.tok["globex"], "td1.1.x", tok + "x"):
        assert is_error(api(kv, "acme", "GET", "k", t), 401, "unauthorized")
    for h in ("Basic " + tok, "Bearer", "bearer  " + tok + " x"):
        r = api(kv, "acme", "GET", "k", headers={"Authorization": h})
        assert is_error(r, 401, "unauthorized")
    # The scheme is case-insensitive.
    r = api(kv, "acme", "GET", "k", headers={"Authorization": "bearer " + tok})
    assert r.status == 200
    # Public reads: reads need no token, writes still do.
    kv.ctl("limits", "set", "acme", "kv_public_reads", "on")
    wait_for(lambda: api(kv, "acme", "GET", "k").status == 200, 5,
             "public reads")
    assert api(kv, "acme", "GET", "/.tenantd/kv/").status == 200
    assert is_error(api(kv, "acme", "PUT", "k", None, 3), 401,
                    "unauthorized")
    assert is_error(api(kv, "acme", "DELETE", "k"), 401, "unauthorized")
    # The other tenant is untouched by acme's switch.
    assert api(kv, "globex", "GET", "k").status == 401


def test_keys_are_data_not_paths(kv):
    a, g = kv.tok["acme"], kv.tok["globex"]
    assert api(kv, "globex", "PUT", "x", g, "globex's").status == 201
    r = api(kv, "acme", "PUT", "../globex/x", a, "acme's")
    assert r.status == 201 and jbody(r)["key"] == "../globex/x"
    assert jbody(api(kv, "globex", "GET", "x", g))["value"] == "globex's"
    assert jbody(api(kv, "acme", "GET", "../globex/x", a))["value"] == \
        "acme's"
    assert is_error(api(kv, "acme", "GET", "x", a), 404, "not_found")
    # Decoded exactly once; %2F is a slash inside the key.
    assert api(kv, "acme", "PUT", "a%2Fb", a, 1).status == 201
    assert jbody(api(kv, "acme", "GET", "a/b", a))["value"] == 1
    assert api(kv, "acme", "PUT", "%2541", a, 2).status == 201
    assert jbody(api(kv, "acme", "GET", "%2541", a))["key"] == "%41"
    assert is_error(api(kv, "acme", "GET", "A", a), 404, "not_found")
    # UTF-8 in and out.
    k = urllib.parse.quote("caf\u00e9 \u20ac")
    assert api(kv, "acme", "PUT", k, a, 3).status == 201
    assert jbody(api(kv, "acme", "GET", k, a))["key"] == "caf\u00e9 \u20ac"
    for bad in ("%zz", "%4", "a%00b", "%0a", "%7f", "%c3", "%c0%af",
                "%ed%a0%80", "%C2%85", "x" * 257):
        assert is_error(api(kv, "acme", "PUT", bad, a, 1), 400, "bad_key")
    assert api(kv, "acme", "PUT", "y" * 256, a, 1).status == 201


def test_value_size_limit(kv):
    tok = kv.tok["acme"]
    limit = 64 * 1024
    # Exactly kv_max_value bytes is fine.
    body = json.dumps("v" * (limit - 2)).encode()
    assert len(body) == limit
    assert api(kv, "acme", "PUT", "big", tok, body).status == 201
    assert len(jbody(api(kv, "acme", "GET", "big", tok))["value"]) == \
        limit - 2
    # One more: 413 before a byte of the body is read, and the connection
    # ends (we send no body at all and still get the answer).
    s = kv.connect()
    s.sendall(req(kv, "acme", "PUT", "big", tok, headers={
        "Content-Length": str(limit + 1)}, close=False))
    rs, _, eof = read_responses(s, 1, 5)
    assert is_error(rs[0], 413, "too_large")
    assert rs[0].headers.get("connection") == "close"
    rs, _, eof = read_responses(s, None, 2)
    assert eof and rs == []
    s.close()


def test_keepalive_and_pipelining(kv):
    tok = kv.tok["acme"]
    s = kv.connect()
    raw = (req(kv, "acme", "PUT", "p", tok, {"n": 1}, close=False) +
           req(kv, "acme", "GET", "p", tok, close=False) +
           req(kv, "acme", "GET", "/", close=False) +
           req(kv, "acme", "PUT", "p", tok, b"[1,2]", close=False) +
           req(kv, "acme", "DELETE", "p", tok, close=False) +
           req(kv, "acme", "GET", "p", tok, close=True))
    s.sendall(raw)
    rs, _, _ = read_responses(s, 6, 5)
    s.close()
    assert [r.status for r in rs] == [201, 200, 200, 200, 204, 404]
    assert jbody(rs[1])["value"] == {"n": 1}
    assert rs[2].body == b"acme\n"
    # A body sent in pieces across reads.
    s = kv.connect()
    whole = req(kv, "acme", "PUT", "slow", tok, {"x": "y" * 5000})
    for i in range(0, len(whole), 700):
        s.sendall(whole[i:i + 700])
        time.sleep(0.01)
    rs, _, _ = read_responses(s, 1, 5)
    s.close()
    assert rs[0].status == 201


def test_entry_quota(kv):
    tok = kv.tok["acme"]
    kv.ctl("limits", "set", "acme", "kv_max_entries", "3")
    time.sleep(0.3)
    for k in ("a", "b", "c"):
        assert api(kv, "acme", "PUT", k, tok, 1).status == 201
    assert is_error(api(kv, "acme", "PUT", "d", tok, 1), 507, "entry_quota")
    assert api(kv, "acme", "PUT", "a", tok, 2).status == 200
    assert api(kv, "acme", "DELETE", "b", tok).status == 204
    assert api(kv, "acme", "PUT", "d", tok, 1).status == 201
    assert is_error(api(kv, "acme", "PUT", "e", tok, 1), 507, "entry_quota")


def test_storage_quota(kv):
    tok = kv.tok["acme"]
    kv.ctl("limits", "set", "acme", "storage", "1M")
    time.sleep(0.3)
    v = "s" * 60000
    statuses = []
    for i in range(40):
        r = api(kv, "acme", "PUT", f"s{i}", tok, v)
        statuses.append(r.status)
        if r.status == 507:
            assert is_error(r, 507, "storage_quota")
            break
    assert statuses[-1] == 507 and statuses.count(201) >= 3, statuses
    # Full is not broken: reads, overwrites in place and deletes work.
    assert api(kv, "acme", "GET", "s0", tok).status == 200
    assert api(kv, "acme", "DELETE", "s0", tok).status == 204
    # The write-ahead log counts too: the database and its log together
    # stay within the quota.
    db = os.path.join(kv.tenant_dir("acme"), "data", "app.db")
    used = sum(os.path.getsize(db + sfx) for sfx in ("", "-wal")
               if os.path.exists(db + sfx))
    assert used <= 1 << 20, used


def test_rate_limit_and_recovery(kv):
    kv.ctl("limits", "set", "acme", "requests_per_minute", "60")
    host = kv.host("acme")
    s = kv.connect()

    def burst(n, target="/"):
        s.sendall(b"".join(request_bytes(host, target) for _ in range(n)))
        rs, _, _ = read_responses(s, n, 10)
        assert len(rs) == n
        return rs

    wait_for(lambda: any(r.status == 429 for r in burst(70)), 5, "a 429")
    rs = burst(3, "/.tenantd/kv/k")
    for r in rs:
        assert is_error(r, 429, "rate_limited")
        assert 1 <= int(r.headers["retry-after"]) <= 60
    # The connection stays usable, and one token a second comes back.
    time.sleep(1.1)
    assert burst(1)[0].status == 200
    # A 429 with a small body skips the body and keeps the connection.
    s.sendall(req(kv, "acme", "PUT", "k", kv.tok["acme"], 1, close=False))
    rs, _, _ = read_responses(s, 1, 5)
    assert rs[0].status == 429 and "connection" not in rs[0].headers
    time.sleep(1.1)
    assert burst(1)[0].status == 200
    s.close()


def plant(d, slug, sql):
    """Run sql on the tenant's app.db as tenant code would (its uid), with
    no worker holding the file open."""
    d.ctl("limits", "set", slug, "db_idle", "1s")
    wait_for(lambda: not db_open(d, slug), 5, "app.db closed")
    path = os.path.join(d.tenant_dir(slug), "data", "app.db")

    def edit():
        db = sqlite3.connect(path)
        db.executescript(sql)
        db.commit()
        db.close()
    as_tenant(d, slug, edit)


def test_statement_timeout(kv):
    """The tenant owns data/app.db and may edit it: a trigger it plants
    that burns CPU (a join of a table with itself, docs/security.md, item 93;
    a recursive CTE is refused outright, below) makes every PUT run long.
    The statement deadline (common/sqlhard.c) ends it with 504, and the
    worker goes on serving the other keys."""
    tok = kv.tok["acme"]
    assert api(kv, "acme", "PUT", "before", tok, b"1").status == 201
    plant(kv, "acme", "CREATE TABLE pad (x INTEGER);"
          "WITH n(x) AS (VALUES (0) UNION ALL SELECT x + 1 FROM n "
          "WHERE x < 3000) INSERT INTO pad SELECT x FROM n;"
          "CREATE TRIGGER burn AFTER INSERT ON kv BEGIN "
          "SELECT count(*) FROM pad a, pad b, pad c; END")
    kv.ctl("limits", "set", "acme", "statement_timeout", "50ms")
    time.sleep(0.3)
    t0 = time.monotonic()
    r = api(kv, "acme", "PUT", "slow", tok, b"2")
    assert is_error(r, 504, "timeout")
    assert time.monotonic() - t0 < 3
    # Rolled back, and the store still answers.
    assert api(kv, "acme", "GET", "slow", tok).status == 404
    assert api(kv, "acme", "GET", "before", tok).status == 200


@pytest.mark.parametrize("planted", [
    # load_extension in a trigger: refused three times over (the
    # authorizer, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, and SQLite's own
    # rule against it in schema code). ATTACH cannot be written in a
    # trigger at all; the authorizer refuses it everywhere else.
    "CREATE TRIGGER ext AFTER INSERT ON kv BEGIN "
    "SELECT load_extension('/tmp/x.so'); END",
    # A view calling a function none of our statements use: only the
    # authorizer's function list stands between it and the worker.
    "CREATE TABLE sink (v TEXT);"
    "CREATE VIEW noise AS SELECT hex(randomblob(16)) AS v;"
    "CREATE TRIGGER spill AFTER INSERT ON kv BEGIN "
    "INSERT INTO sink SELECT v FROM noise; END",
    # A recursive query: none of ours is one, so the authorizer refuses
    # it before it can run.
    "CREATE TRIGGER loop AFTER INSERT ON kv BEGIN "
    "SELECT count(*) FROM (WITH RECURSIVE c(x) AS "
    "(SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c "
    "LIMIT 1000000000); END",
], ids=["load_extension", "view_function", "recursive"])
def test_planted_schema_code_is_refused(kv, planted):
    """Schema code the tenant plants in app.db runs in the worker when a
    statement of ours touches kv; the one hardened open (common/sqlhard.c,
    docs/security.md) refuses to prepare a statement that would run any
    of it. The API answers 503 and static files are still served."""
    tok = kv.tok["acme"]
    assert api(kv, "acme", "PUT", "before", tok, b"1").status == 201
    plant(kv, "acme", planted)
    r = api(kv, "acme", "PUT", "after", tok, b"2")
    assert is_error(r, 503, "unavailable")
    assert api(kv, "acme", "GET", "/").status == 200
    assert "lost worker" not in kv.logtext()
    assert "not authorized" in kv.logtext()


def test_symlinked_database_is_refused_not_fatal(kv):
    """The tenant owns data/: a symlink planted as app.db must neither be
    followed (openat2 refuses symlinks) nor make SQLite call something the
    seccomp policy kills."""
    data = os.path.join(kv.tenant_dir("acme"), "data")
    uid, gid = kv.tenant_ids("acme")
    os.symlink("/etc/passwd", os.path.join(data, "app.db"))
    os.lchown(os.path.join(data, "app.db"), uid, gid)
    r = api(kv, "acme", "GET", "k", kv.tok["acme"])
    assert is_error(r, 503, "unavailable")
    assert api(kv, "acme", "GET", "/").status == 200
    assert "lost worker" not in kv.logtext()


def as_tenant(d, slug, fn):
    """Run fn in a child with the tenant's uid and gid, as tenant code
    would (it writes data/ with that uid); its exception fails the test."""
    uid, gid = d.tenant_ids(slug)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            fn()
            code = 0
        finally:
            os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0


def tenant_maps(d, slug):
    """The files of the tenant directory a worker of slug has mapped."""
    top = d.tenant_dir(slug) + "/"
    out = []
    for pid in d.workers(slug):
        with open(f"/proc/{pid}/maps") as f:
            out += [ln.split()[-1][len(top):] for ln in f
                    if ln.split()[-1].startswith(top)]
    return out


@pytest.mark.parametrize("victim", ["app.db-shm", "app.db"])
def test_truncated_database_files_do_not_kill_the_worker(kv, victim):
    """Tenant code shares data/ with its worker and may truncate any file
    in it while the worker has the database open. A file SQLite had mapped
    would raise SIGBUS in the worker at the next request, a crash the
    tenant could repeat at will. The only file a worker maps is the WAL
    index, kept in tmp/, which no tenant code sees; so the request is
    answered (503 once the data is gone) and the worker lives
    (docs/data-plane.md, section 2)."""
    tok = kv.tok["acme"]
    for i in range(20):
        assert api(kv, "acme", "PUT", f"k{i}", tok, "x" * 1000).status == 201
    assert db_open(kv, "acme")
    assert set(tenant_maps(kv, "acme")) == {"tmp/app.db-shm"}
    workers = kv.workers("acme")
    path = os.path.join(kv.tenant_dir("acme"), "data", victim)
    # O_TRUNC, or an empty file where there was none (no -shm is made).
    as_tenant(kv, "acme", lambda: os.close(
        os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)))
    for i in range(20):
        r = api(kv, "acme", "GET", f"k{i}", tok)
        assert r.status in (200, 404, 503), (r.status, r.body)
    r = api(kv, "acme", "PUT", "after", tok, 1)
    assert r.status in (200, 201, 503), (r.status, r.body)
    assert kv.workers("acme") == workers
    assert "lost worker" not in kv.logtext()


def test_a_database_the_tenant_left_in_wal_mode_is_read(kv):
    """Tenant code may use app.db in WAL mode itself and leave frames in
    the log with their index in data/app.db-shm, which the worker never
    reads: it rebuilds its own index in tmp/ from the log, every row
    there."""
    tok = kv.tok["acme"]
    db = os.path.join(kv.tenant_dir("acme"), "data", "app.db")

    def leave_wal():
        c = sqlite3.connect(db)
        c.execute("PRAGMA journal_mode = WAL")
        c.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT "
                  "NULL, updated INTEGER NOT NULL) WITHOUT ROWID")
        c.execute("INSERT INTO kv VALUES ('old', '7', 0)")
        c.commit()
        # os._exit with the connection open: no checkpoint, and the log
        # and its index stay.
        os.truncate(db + "-shm", 0)

    as_tenant(kv, "acme", leave_wal)
    assert os.path.getsize(db + "-wal") > 0
    assert jbody(api(kv, "acme", "GET", "old", tok))["value"] == 7
    assert api(kv, "acme", "PUT", "new", tok, 8).status == 201
    assert set(tenant_maps(kv, "acme")) == {"tmp/app.db-shm"}
    assert os.path.getsize(db + "-shm") == 0
    assert "lost worker" not in kv.logtext()


def test_workers_of_a_tenant_share_the_store():
    """A tenant's workers (max_workers) each open the one app.db in WAL
    mode, at once, and share its index in tmp/: each sees at once what
    the others wrote. (A worker that opened the file after another used
    to ask to leave WAL, which needs the file alone: 503 until the first
    closed it.)"""
    d = Daemon(workers__conns_per_worker="1")
    try:
        d.create("acme", "acme\n")
        for k, v in (("cost_read", "0"), ("cost_write", "0"),
                     ("max_workers", "3")):
            d.ctl("limits", "set", "acme", k, v)
        d.start()
        tok = token(d, "acme")
        conns = []
        for i in range(3):
            s = d.connect(10)
            s.sendall(req(d, "acme", "PUT", f"w{i}", tok, i, close=False))
            rs, _, _ = read_responses(s, 1, 10)
            assert [r.status for r in rs] == [201]
            conns.append(s)
        pids = d.workers("acme")
        assert len(pids) == 3
        for i, s in enumerate(conns):
            for j in range(3):
                s.sendall(req(d, "acme", "GET", f"w{j}", tok, close=False))
                rs, _, _ = read_responses(s, 1, 10)
                # What the workers before this one just wrote, too.
                assert jbody(rs[0])["value"] == (10 + j if j < i else j)
            s.sendall(req(d, "acme", "PUT", f"w{i}", tok, 10 + i,
                          close=False))
            rs, _, _ = read_responses(s, 1, 10)
            assert [r.status for r in rs] == [200]
        for s in conns:
            s.sendall(req(d, "acme", "GET", "?prefix=w", tok, close=False))
            rs, _, _ = read_responses(s, 1, 10)
            assert [it["value"] for it in jbody(rs[0])["items"]] == \
                [10, 11, 12]
            s.close()
        for pid in pids:
            with open(f"/proc/{pid}/maps") as f:
                assert any(ln.rstrip().endswith("/tmp/app.db-shm")
                           for ln in f)
    finally:
        d.close()


def test_database_closes_when_idle_and_reopens(kv):
    tok = kv.tok["acme"]
    kv.ctl("limits", "set", "acme", "db_idle", "1s")
    time.sleep(0.3)
    assert api(kv, "acme", "PUT", "k", tok, 1).status == 201
    kv.wait_log(r"tenant acme worker \d+: kv_idle_cb: closing app.db", 5)
    assert jbody(api(kv, "acme", "GET", "k", tok))["value"] == 1
    # SQLite was never asked to delete a file (the policy has no unlink).
    data = os.listdir(os.path.join(kv.tenant_dir("acme"), "data"))
    assert "app.db" in data and "lost worker" not in kv.logtext()


def credits(d, slug):
    return json.loads(d.ctl("credits", "show", slug, "--json").stdout)


def test_credits_park_then_402_and_usage_on_stop():
    d = Daemon()
    try:
        d.create("acme", "acme\n")
        d.ctl("limits", "set", "acme", "credit_hold", "4")
        have = credits(d, "acme")["balance"]
        d.ctl("credits", "add", "acme", str(10 - have), "--note", "test")
        d.start()
        tok = token(d, "acme")
        # Pipelined writes: the first waits for the first grant, the
        # later ones for the grants that follow; all are answered.
        s = d.connect()
        s.sendall(b"".join(req(d, "acme", "PUT", f"c{i}", tok, i,
                               close=False) for i in range(8)))
        rs, _, _ = read_responses(s, 8, 10)
        assert [r.status for r in rs] == [201] * 8
        # Failures cost nothing.
        s.sendall(req(d, "acme", "GET", "missing", tok, close=False))
        rs, _, _ = read_responses(s, 1, 5)
        assert rs[0].status == 404
        # Two left: two more succeed, then the balance is dry.
        statuses = []
        for i in range(4):
            s.sendall(req(d, "acme", "GET", f"c{i}", tok, close=False))
            rs, _, _ = read_responses(s, 1, 5)
            statuses.append(rs[0].status)
        assert statuses[:2] == [200, 200]
        assert is_error(rs[0], 402, "payment_required")
        s.close()
        # Static files cost nothing and still work.
        assert d.get(d.host("acme")).status == 200
        # A stop reports what was spent before the worker exits.
        d.stop()
        assert credits(d, "acme")["balance"] == 0
    finally:
        d.close()


def test_a_request_costing_more_than_two_holds_is_served(kv):
    """A write costing more than two holds is paid (one grant covers a
    request's price); the worker is not mistaken for a hostile one."""
    kv.ctl("limits", "set", "acme", "credit_hold", "100")
    kv.ctl("limits", "set", "acme", "cost_write", "201")
    time.sleep(0.3)
    r = api(kv, "acme", "PUT", "dear", kv.tok["acme"], 1)
    assert r.status == 201, r
    assert "killing it" not in kv.logtext()
    wait_for(lambda: json.loads(kv.ctl("credits", "show", "acme",
                                       "--json").stdout)["balance"] == 799,
             5, "the write charged")


def test_the_ledger_does_not_count_against_storage(kv):
    """billing.db is tenantd's, in the jail root: however far it grows
    with usage reports, the tenant's storage quota does not shrink."""
    path = os.path.join(kv.tenant_dir("acme"), "billing.db")
    db = sqlite3.connect(path)
    db.execute("INSERT INTO txns (at, kind, amount, ref, note) VALUES "
               "(0, 'grant', 1, 'padding', ?)", ("n" * (3 << 20),))
    db.commit()
    db.close()
    assert os.path.getsize(path) > 3 << 20
    kv.ctl("limits", "set", "acme", "storage", "2M")
    kv.ctl("drain", "acme")     # a new worker, a fresh measurement
    wait_for(lambda: not kv.workers("acme"), 5, "acme's worker gone")
    r = api(kv, "acme", "PUT", "fits", kv.tok["acme"], "v" * 50000)
    assert r.status == 201, r


def test_values_stay_readable_when_the_limit_is_lowered(kv):
    tok = kv.tok["acme"]
    assert api(kv, "acme", "PUT", "big", tok, "b" * 20000).status == 201
    kv.ctl("limits", "set", "acme", "kv_max_value", "1K")
    time.sleep(0.3)
    r = api(kv, "acme", "GET", "big", tok)
    assert r.status == 200 and jbody(r)["value"] == "b" * 20000
    assert api(kv, "acme", "GET", "/.tenantd/kv/?prefix=b", tok).status \
        == 200
    assert is_error(api(kv, "acme", "PUT", "big2", tok, "b" * 2000), 413,
                    "too_large")
