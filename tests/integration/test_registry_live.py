# tenantctl changes reach a running daemon on the very next request: on new
# connections, and on keep-alive connections a worker already holds.
import mmap
import os
import sqlite3
import time

import pytest

from conftest import Daemon, read_responses, request_bytes, wait_for

SHOP = "shop.example.org"


@pytest.fixture
def live():
    """acme and globex, started; a short start throttle so a tenant that
    comes back is not made to wait the default second."""
    d = Daemon(workers__backoff_min="100ms")
    try:
        d.create("acme", "acme's own page\n")
        d.create("globex", "globex's own page\n")
        d.start()
        yield d
    finally:
        d.close()




def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_gen(d):
    with open(os.path.join(d.state, "registry.gen"), "rb") as f:
        data = f.read()
    return int.from_bytes(data[8:16], "little")


def tenant_id(d, slug):
    db = sqlite3.connect(os.path.join(d.state, "registry.db"))
    try:
        (tid,) = db.execute("SELECT id FROM tenants WHERE slug = ?",
                            (slug,)).fetchone()
    finally:
        db.close()
    return tid


def slot_offset(d, slug):
    """Where the tenant's generation slot is (common/gen.c)."""
    return 4096 + 8 * tenant_id(d, slug)


def read_slot(d, slug):
    with open(os.path.join(d.state, "registry.gen.tenants"), "rb") as f:
        f.seek(slot_offset(d, slug))
        return int.from_bytes(f.read(8).ljust(8, b"\0"), "little")


def bump_slot(d, slug):
    """What tenantctl does first for a change to the tenant: its slot
    moves, and the global counter only after."""
    path = os.path.join(d.state, "registry.gen.tenants")
    off = slot_offset(d, slug)
    with open(path, "r+b") as f:
        with mmap.mmap(f.fileno(), 0) as m:
            v = int.from_bytes(m[off:off + 8], "little") + 1
            m[off:off + 8] = v.to_bytes(8, "little")


def keepalive(d, host, path="/"):
    """A connection that has been served one request and stays open."""
    s = d.connect()
    s.sendall(request_bytes(host, path))
    rs, _, eof = read_responses(s, 1)
    assert len(rs) == 1 and not eof, rs
    assert "close" not in rs[0].headers.get("connection", "")
    return s, rs[0]


def next_on(s, host, path="/", timeout=5):
    """The next request on an open connection: (responses, eof)."""
    try:
        s.sendall(request_bytes(host, path))
    except (BrokenPipeError, ConnectionResetError):
        return [], True
    rs, rest, eof = read_responses(s, 1, timeout)
    if rs and "close" in rs[0].headers.get("connection", ""):
        _, _, eof = read_responses(s, None, 1)
    return rs, eof


def assert_unavailable(r, head=False):
    assert r.status == 503, r
    assert int(r.headers["retry-after"]) > 0
    assert r.headers["connection"] == "close"
    assert r.body == (b"" if head else b"503 Service Unavailable\n")


def assert_not_found(r):
    assert r.status == 404, r
    assert r.headers["connection"] == "close"
    assert r.body == b"404 Not Found\n"


def test_suspend_then_resume(live):
    d = live
    assert d.get(d.host("acme")).body == b"acme's own page\n"
    (pid,) = d.wait_workers("acme")
    d.ctl("suspend", "acme")
    assert_unavailable(d.get(d.host("acme")))
    assert_unavailable(d.get(d.host("acme"), "/index.html", method="HEAD"),
                       head=True)
    assert d.get(d.host("globex")).body == b"globex's own page\n"
    # Nothing of a suspended tenant keeps running.
    wait_for(lambda: not alive(pid), 3, "the suspended tenant's worker")
    assert d.workers("acme") == []
    d.ctl("resume", "acme")
    r = d.get(d.host("acme"))
    assert r.status == 200 and r.body == b"acme's own page\n"


def test_suspend_applies_to_an_idle_keepalive_connection(live):
    # The connection was served and is idle in acme's worker. After the
    # suspend, its next request must not be served by acme: the worker hands
    # it back (503), or, if the drain got there first, the idle connection
    # was closed without a byte (a client retries that on a new connection).
    d = live
    s, r = keepalive(d, d.host("acme"))
    assert r.body == b"acme's own page\n"
    d.ctl("suspend", "acme")
    rs, eof = next_on(s, d.host("acme"))
    s.close()
    if rs:
        assert len(rs) == 1
        assert_unavailable(rs[0])
    assert eof
    assert_unavailable(d.get(d.host("acme")))
    d.ctl("resume", "acme")
    s, r = keepalive(d, d.host("acme"))
    assert r.status == 200 and r.body == b"acme's own page\n"
    s.close()


def test_suspend_answers_requests_on_connections_a_draining_worker_holds(live):
    # The next request on a held keep-alive connection has started to arrive
    # when the suspend is made, so the (now draining) worker still holds the
    # connection when that request completes. It hands it back and the
    # supervisor must answer it: 503 with Retry-After, every time.
    d = live
    rounds, lost = 15, []
    for i in range(rounds):
        s, r = keepalive(d, d.host("acme"), f"/?round={i}")
        assert r.status == 200
        s.sendall(b"GET /?n=2 HTTP/1.1\r\n")
        drained = d.logtext().count("tenant acme is suspended: draining")
        d.ctl("suspend", "acme")
        assert_unavailable(d.get(d.host("acme")))
        wait_for(lambda: d.logtext().count(
            "tenant acme is suspended: draining") > drained, 3,
            "the suspended tenant's worker to drain")
        s.sendall(f"Host: {d.host('acme')}\r\n\r\n".encode())
        rs, _, eof = read_responses(s, None, 5)
        s.close()
        if not rs:
            lost.append(i)
        else:
            assert len(rs) == 1 and eof, rs
            assert_unavailable(rs[0])
        d.ctl("resume", "acme")
    assert lost == [], (f"{len(lost)} of {rounds} requests were dropped "
                        f"without a response (rounds {lost})")


def test_delete_is_404_and_the_worker_goes_away(live):
    d = live
    assert d.get(d.host("acme")).status == 200
    (pid,) = d.wait_workers("acme")
    d.ctl("delete", "acme")
    assert_not_found(d.get(d.host("acme")))
    wait_for(lambda: not alive(pid), 3, "the deleted tenant's worker")
    assert d.workers("acme") == []
    assert_not_found(d.get(d.host("acme"), "/index.html"))
    assert d.get(d.host("globex")).body == b"globex's own page\n"
    # Purging the directory of a deleted tenant does not bring it back.
    d.ctl("delete", "acme", "--purge")
    assert_not_found(d.get(d.host("acme")))
    assert d.workers("acme") == []


def test_delete_applies_to_an_idle_keepalive_connection(live):
    d = live
    s, r = keepalive(d, d.host("acme"))
    d.ctl("delete", "acme")
    rs, eof = next_on(s, d.host("acme"))
    s.close()
    if rs:
        assert len(rs) == 1
        assert_not_found(rs[0])
    assert eof
    assert_not_found(d.get(d.host("acme")))


def test_a_new_tenant_is_served_at_once_despite_an_earlier_404(live):
    # The route cache holds negative answers too; a create must clear them.
    d = live
    assert_not_found(d.get(d.host("initech")))
    assert_not_found(d.get(d.host("initech")))
    d.create("initech", "initech's own page\n")
    r = d.get(d.host("initech"))
    assert r.status == 200 and r.body == b"initech's own page\n"


def test_custom_hostname_pending_active_removed(live):
    d = live
    d.ctl("hostname", "add", "acme", SHOP)
    assert_not_found(d.get(SHOP))              # pending: not served
    d.get(d.host("acme"))                      # acme's worker is running
    assert_not_found(d.get(SHOP))
    d.ctl("hostname", "activate", "acme", SHOP)
    r = d.get(SHOP)
    assert r.status == 200 and r.body == b"acme's own page\n"
    r = d.get("Shop.Example.ORG.:443")
    assert r.status == 200 and r.body == b"acme's own page\n"

    s, r = keepalive(d, SHOP)
    assert r.body == b"acme's own page\n"
    d.ctl("hostname", "remove", "acme", SHOP)
    rs, eof = next_on(s, SHOP)
    s.close()
    assert len(rs) == 1, rs
    assert_not_found(rs[0])
    assert eof
    assert_not_found(d.get(SHOP))
    # The tenant itself is untouched.
    assert d.get(d.host("acme")).body == b"acme's own page\n"
    time.sleep(0.05)
    assert "host=shop.example.org" in d.access_log("acme")
    n = d.access_log("acme").count("host=shop.example.org")
    assert n == 3, d.access_log("acme")


def test_hostname_moved_to_another_tenant(live):
    d = live
    d.ctl("hostname", "add", "acme", SHOP, "--active")
    s, r = keepalive(d, SHOP)
    assert r.body == b"acme's own page\n"
    # globex's worker holds one too, and would send SHOP to acme.
    g, r = keepalive(d, d.host("globex"))
    assert r.body == b"globex's own page\n"
    before = {t: worker_status(d, t)[0]["generation"]
              for t in ("acme", "globex")}
    d.ctl("hostname", "remove", "acme", SHOP)
    d.ctl("hostname", "add", "globex", SHOP, "--active")
    # The very next request, on the connection acme's worker holds.
    rs, eof = next_on(s, SHOP)
    assert len(rs) == 1 and not eof, rs
    assert rs[0].status == 200 and rs[0].body == b"globex's own page\n"
    rs, eof = next_on(s, SHOP, "/?again")
    s.close()
    assert rs[0].body == b"globex's own page\n"
    # And on the one globex's worker holds: its own name now.
    rs, eof = next_on(g, SHOP, "/?held-by-globex")
    g.close()
    assert len(rs) == 1 and not eof, rs
    assert rs[0].status == 200 and rs[0].body == b"globex's own page\n"
    r = d.get(SHOP)
    assert r.status == 200 and r.body == b"globex's own page\n"
    assert d.get(d.host("acme")).body == b"acme's own page\n"
    time.sleep(0.05)
    assert d.access_log("acme").count(f"host={SHOP}") == 1
    assert d.access_log("globex").count(f"host={SHOP}") == 4
    # Each command moved the slot of the tenant it changed, once, and
    # that tenant's worker was told.
    for slug in ("acme", "globex"):
        (w,) = worker_status(d, slug)
        assert w["generation"] == read_slot(d, slug) == before[slug] + 1, \
            (slug, before, w)


def test_a_slot_moved_before_the_global_counter(live):
    """tenantctl moves a tenant's slot before the global counter. A request
    in between finds acme's worker stale: the supervisor must bring that
    worker up to date there and then, not route the connection back to it
    until the hop limit answers 503."""
    d = live
    s, r = keepalive(d, d.host("acme"))
    (w,) = worker_status(d, "acme")
    gen = read_gen(d)
    bump_slot(d, "acme")
    rs, eof = next_on(s, d.host("acme"))
    s.close()
    assert len(rs) == 1 and not eof, rs
    assert rs[0].status == 200 and rs[0].body == b"acme's own page\n", rs
    assert read_gen(d) == gen
    (now,) = worker_status(d, "acme")
    assert now["pid"] == w["pid"], (w, now)
    assert now["generation"] == read_slot(d, "acme") == w["generation"] + 1
    assert now["generation_updates"] == w["generation_updates"] + 1
    d.wait_log(r"registry changed \(slot\)")


def test_a_state_directory_from_before_the_slots():
    """A state directory with only the global counter (registry.gen): the
    daemon makes the slot file, and a change applies on the very next
    request on a held keep-alive connection."""
    d = Daemon(workers__backoff_min="100ms")
    try:
        d.create("acme", "acme's own page\n")
        os.unlink(os.path.join(d.state, "registry.gen.tenants"))
        d.start()
        s, r = keepalive(d, d.host("acme"))
        assert r.body == b"acme's own page\n"
        d.ctl("suspend", "acme")
        rs, eof = next_on(s, d.host("acme"))
        s.close()
        if rs:
            assert len(rs) == 1
            assert_unavailable(rs[0])
        assert eof
        st = os.stat(os.path.join(d.state, "registry.gen.tenants"))
        assert st.st_uid == 0 and st.st_mode & 0o777 == 0o644
    finally:
        d.close()


def test_generation_changes_on_each_change_and_the_daemon_follows(live):
    d = live
    d.get(d.host("acme"))
    changes = [
        ("suspend", "acme"), ("resume", "acme"),
        ("hostname", "add", "acme", SHOP),
        ("hostname", "activate", "acme", SHOP),
        ("hostname", "remove", "acme", SHOP),
        ("create", "initech"), ("delete", "initech"),
    ]
    for args in changes:
        before = read_gen(d)
        d.ctl(*args)
        gen = read_gen(d)
        assert gen == before + 1, (args, before, gen)
        # Picked up even with no request to trigger it.
        d.wait_log(rf"registry changed \(\w+\), generation {gen}\b", 3)
    for args in (("list",), ("show", "acme"), ("audit",)):
        before = read_gen(d)
        d.ctl(*args)
        assert read_gen(d) == before, args
    # The one size a tenantd from before the per-tenant slots maps.
    assert os.path.getsize(os.path.join(d.state, "registry.gen")) == 4096
    assert d.get(d.host("acme")).body == b"acme's own page\n"


# The most custom hostnames one tenant may have (HOST_TENANT_MAX, host.h).
HOST_TENANT_MAX = 10000


def worker_status(d, slug):
    """The tenant's workers as tenantctl status --json shows them."""
    return d.ctl_json("status", slug)["workers"]


def test_ten_thousand_names_on_one_tenant(live):
    """The most names a tenant may have: added in one batch while its
    worker runs, then after a restart; the first, a middle and the last
    are served, the worker is never killed, and one more is refused."""
    d = live
    names = [f"h{i:05d}.example.org" for i in range(HOST_TENANT_MAX)]
    path = os.path.join(d.dir, "names.txt")
    with open(path, "w") as f:
        f.write("\n".join(names) + "\n")
    assert d.get(d.host("acme")).body == b"acme's own page\n"
    (pid,) = [w["pid"] for w in worker_status(d, "acme")]
    t0 = time.monotonic()
    r = d.ctl("hostname", "add", "acme", "--from", path, "--active")
    added = time.monotonic() - t0
    assert f"added {HOST_TENANT_MAX} hostnames to acme" in r.stdout
    # The running worker gets the whole list and keeps serving.
    for name in (names[0], names[HOST_TENANT_MAX // 2], names[-1]):
        r = d.get(name)
        assert r.status == 200 and r.body == b"acme's own page\n", (name, r)
    assert [w["pid"] for w in worker_status(d, "acme")] == [pid]
    assert worker_status(d, "acme")[0]["host_lists"] == 2

    d.ctl("restart", "acme")
    wait_for(lambda: not alive(pid), what="the old worker's exit")
    for name in (names[0], names[HOST_TENANT_MAX // 2], names[-1]):
        r = d.get(name)
        assert r.status == 200 and r.body == b"acme's own page\n", (name, r)
    st = d.ctl_json("status", "acme")
    assert st["crashes"] == 0 and st["failures_in_a_row"] == 0, st
    (w,) = st["workers"]
    assert w["state"] == "ready" and w["host_lists"] == 1, w
    assert "cannot update hosts" not in d.logtext()
    print(f"{HOST_TENANT_MAX} names added in {added:.2f}s")

    # One more is refused by tenantctl, naming the tenant and the cap,
    # one at a time or in a batch, and nothing is added.
    r = d.ctl("hostname", "add", "acme", "one-more.example.org", "--active",
              check=False)
    assert r.returncode == 7, r
    assert "acme" in r.stderr and str(HOST_TENANT_MAX) in r.stderr, r.stderr
    with open(path, "w") as f:
        f.write("one-more.example.org\n")
    r = d.ctl("hostname", "add", "acme", "--from", path, "--active",
              check=False)
    assert r.returncode == 7, r
    assert "acme" in r.stderr and str(HOST_TENANT_MAX) in r.stderr, r.stderr
    assert d.get("one-more.example.org").status == 404
    # Another tenant is not held to acme's count.
    d.ctl("hostname", "add", "globex", "one-more.example.org", "--active")
    assert d.get("one-more.example.org").body == b"globex's own page\n"


def test_a_change_to_one_tenant_sends_nothing_to_another(live):
    """acme's names and limits change: acme's worker gets a new list and
    its tenant's new generation, globex's worker gets no message at all
    (not even a generation) and serves on undisturbed."""
    d = live
    d.ctl("hostname", "add", "globex", "g.example.org", "--active")
    assert d.get("g.example.org").body == b"globex's own page\n"
    assert d.get(d.host("acme")).body == b"acme's own page\n"
    (g,) = worker_status(d, "globex")
    (a,) = worker_status(d, "acme")
    assert g["host_lists"] == 1 and a["host_lists"] == 1, (g, a)
    s, r = keepalive(d, "g.example.org")
    told = ("pid", "host_lists", "hosts_generation", "generation",
            "generation_updates")

    for i, args in enumerate([("add", "acme", SHOP, "--active"),
                              ("remove", "acme", SHOP),
                              ("add", "acme", SHOP)]):
        gen = read_gen(d) + 1
        d.ctl("hostname", *args)
        d.wait_log(rf"registry changed \(\w+\), generation {gen}\b", 3)
        wait_for(lambda: worker_status(d, "acme")[0]["host_lists"] == i + 2,
                 what="acme's new host list")
        (now,) = worker_status(d, "globex")
        assert [now[k] for k in told] == [g[k] for k in told], \
            (args, g, now)
        # acme's worker was told its tenant's slot, once per change.
        (w,) = worker_status(d, "acme")
        assert w["generation"] == read_slot(d, "acme"), w
        assert w["generation_updates"] == a["generation_updates"] + i + 1
    # A change that is not to hostnames sends acme no list either.
    d.ctl("limits", "set", "acme", "max_workers", "3")
    d.wait_log(rf"registry changed \(\w+\), generation {read_gen(d)}\b", 3)
    wait_for(lambda: worker_status(d, "acme")[0]["generation"] ==
             read_slot(d, "acme"), what="acme's new generation")
    assert worker_status(d, "acme")[0]["host_lists"] == 4
    (now,) = worker_status(d, "globex")
    assert [now[k] for k in told] == [g[k] for k in told], (g, now)
    # globex's worker is current: the keep-alive connection it holds is
    # served there, not handed back.
    rs, eof = next_on(s, "g.example.org")
    s.close()
    assert len(rs) == 1 and not eof and rs[0].status == 200, rs
    assert worker_status(d, "globex")[0]["pid"] == g["pid"]
    assert d.ctl_json("status", "globex")["handbacks"] == 0
    assert d.get(SHOP).status == 404       # pending again


def test_a_hand_edited_name_a_worker_would_refuse_is_left_out(live):
    """A name the schema lets in by hand but the classifier never routes
    as a custom domain (one under the suffix) is not sent: a worker takes
    a host list whole or dies, and must not die of a registry edit."""
    d = live
    d.ctl("hostname", "add", "acme", SHOP, "--active")
    assert d.get(SHOP).body == b"acme's own page\n"
    (w,) = worker_status(d, "acme")
    db = sqlite3.connect(os.path.join(d.state, "registry.db"))
    db.execute("INSERT INTO hostnames (hostname, tenant_id, status, created) "
               "SELECT 'x.acme.test.localhost', id, 'active', 0 "
               "FROM tenants WHERE slug = 'acme'")
    db.commit()
    db.close()
    # The data_version safety net sends acme's workers the new list.
    wait_for(lambda: worker_status(d, "acme")[0]["host_lists"] == 2,
             what="acme's new host list")
    d.wait_log(r"tenant acme: hostname x\.acme\.test\.localhost in the "
               r"registry is not a custom domain here \(invalid\)")
    r = d.get(SHOP)
    assert r.status == 200 and r.body == b"acme's own page\n", r
    assert worker_status(d, "acme")[0]["pid"] == w["pid"]
    assert alive(w["pid"])
    # A fresh worker binds with it too.
    d.ctl("restart", "acme")
    r = d.get(SHOP)
    assert r.status == 200 and r.body == b"acme's own page\n", r
    assert d.ctl_json("status", "acme")["crashes"] == 0
