# Keys with a running daemon: a worker holds neither the master key nor a
# usable token, and a master rotation keeps old tokens working for the
# grace period only (docs/data-plane.md, section 1).
import base64
import json
import os
import re
import socket
import time

from conftest import Daemon, read_responses, request_bytes, wait_for


def api(d, slug, method, key, tok=None, body=None):
    headers = {}
    if tok is not None:
        headers["Authorization"] = f"Bearer {tok}"
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Length"] = str(len(data))
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(d.sock)
    s.sendall(request_bytes(d.host(slug), f"/.tenantd/kv/{key}",
                            method=method, headers=headers, close=True) + data)
    rs, _, _ = read_responses(s, 1)
    s.close()
    return rs[0]


def token(d, slug):
    return d.ctl("key", "show", slug, "api").stdout.strip()


def memory_of(pid):
    """Every readable mapping of a process, concatenated."""
    out = []
    with open(f"/proc/{pid}/maps") as maps, \
            open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) r", line)
            if not m or "[vvar]" in line or "[vsyscall]" in line:
                continue
            lo, hi = int(m.group(1), 16), int(m.group(2), 16)
            try:
                mem.seek(lo)
                out.append(mem.read(hi - lo))
            except OSError:
                pass
    return b"".join(out)


def test_worker_memory_holds_no_master_key_and_no_token():
    d = Daemon()
    try:
        d.create("acme", "acme\n")
        d.start()
        tok = token(d, "acme")
        assert api(d, "acme", "PUT", "x", tok, 1).status == 201
        assert api(d, "acme", "GET", "x", tok).status == 200
        with open(os.path.join(d.state, "keys", "master-1.key"), "rb") as f:
            master = f.read()
        raw = base64.urlsafe_b64decode(tok.split(".")[2] + "=")
        assert len(master) == 32 and len(raw) == 32
        pids = d.workers("acme")
        assert pids
        for pid in pids:
            mem = memory_of(pid)
            assert len(mem) > 100000
            assert master not in mem
            assert raw not in mem
            assert tok.encode() not in mem
        # tenantd itself read the master to derive acme's keys, and wiped
        # every copy after use.
        mem = memory_of(d.proc.pid)
        assert master not in mem and raw not in mem
    finally:
        d.close()


def test_rotation_with_grace():
    d = Daemon()
    try:
        d.create("acme", "acme\n")
        d.start()
        old = token(d, "acme")
        assert old.startswith("td1.1.")
        assert api(d, "acme", "PUT", "a", old, 1).status == 201
        pid = d.workers("acme")
        d.ctl("key", "rotate", "--grace", "3s")
        new = token(d, "acme")
        assert new.startswith("td1.2.") and new != old
        assert os.stat(os.path.join(d.state, "keys",
                                    "master-2.key")).st_mode & 0o777 == 0o400
        # The worker is replaced (the next request starts a new one); both
        # tokens work in the grace period.
        wait_for(lambda: not set(d.workers("acme")) & set(pid), 5,
                 "the old worker gone")
        assert api(d, "acme", "PUT", "b", new, 2).status == 201
        assert api(d, "acme", "PUT", "c", old, 3).status in (200, 201)
        # After the grace, the old one is refused, by the same worker.
        time.sleep(3.2)
        r = api(d, "acme", "PUT", "d", old, 4)
        assert r.status == 401
        assert json.loads(r.body)["error"] == "unauthorized"
        assert api(d, "acme", "GET", "c", new).status == 200
    finally:
        d.close()
