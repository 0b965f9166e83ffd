# Each request reaches its own tenant's worker, and only that worker.
import time

from conftest import request_bytes, read_responses


def test_each_tenant_gets_its_own_content(td):
    r = td.get(td.host("acme"))
    assert r.status == 200 and r.body == b"acme's own page\n"
    r = td.get(td.host("globex"))
    assert r.status == 200 and r.body == b"globex's own page\n"


def test_served_by_a_worker_running_as_the_tenant(td):
    td.get(td.host("acme"))
    uid, gid = td.tenant_ids("acme")
    (pid,) = td.wait_workers("acme")
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    assert f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}" in status
    assert f"Gid:\t{gid}\t{gid}\t{gid}\t{gid}" in status


def test_unknown_tenant_is_404(td):
    r = td.get(td.host("nobody"))
    assert r.status == 404
    assert r.headers["connection"] == "close"


def test_keepalive_switches_tenant_sequentially(td):
    s = td.connect()
    s.sendall(request_bytes(td.host("acme"), headers={"Cookie": "c=acme"}))
    rs, _, _ = read_responses(s, 1)
    assert rs[0].body == b"acme's own page\n"
    s.sendall(request_bytes(td.host("globex"), headers={"Cookie": "c=g1"}))
    rs, _, _ = read_responses(s, 1)
    assert rs[0].body == b"globex's own page\n"
    s.close()
    time.sleep(0.1)
    assert "globex" not in td.access_log("acme")
    assert "host=globex" in td.access_log("globex")


def test_keepalive_switches_tenant_pipelined(td):
    raw = (request_bytes(td.host("acme"), "/?n=1") +
           request_bytes(td.host("globex"), "/?n=2") +
           request_bytes(td.host("acme"), "/?n=3", close=True))
    rs, _, eof = td.exchange(raw, responses=3)
    assert [r.body for r in rs] == [b"acme's own page\n",
                                    b"globex's own page\n",
                                    b"acme's own page\n"]
    time.sleep(0.1)
    acme, globex = td.access_log("acme"), td.access_log("globex")
    assert "n=2" not in acme and "globex" not in acme
    assert "n=1" not in globex and "n=3" not in globex
