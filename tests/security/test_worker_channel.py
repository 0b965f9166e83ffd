# The worker's side of its control channel (docs/architecture.md, section
# 4): a real tenantd-worker, exec'd as tenantd spawns it, with fd 3 one end
# of a SOCK_SEQPACKET socketpair this test holds as the supervisor. Every
# message it receives is held against the schema (msg_check()) before its
# decoder reads a field; one the schema refuses ends the worker before it
# acts on anything.
import os
import re
import socket
import struct
import subprocess

from conftest import BUILD, wait_for

WORKER = os.path.join(BUILD, "worker", "tenantd-worker")


def msg_types():
    """Type numbers as the schema's table prints them (msgtable.c)."""
    out = subprocess.run([os.path.join(BUILD, "tests", "unit", "msgtable")],
                         capture_output=True, text=True, check=True).stdout
    return {m.group(1): int(m.group(2), 16) for m in
            re.finditer(r"^\| `MSG_([A-Z_]+)` \| (0x[0-9a-f]+) \|", out,
                        re.M)}


TYPES = msg_types()


def put_str(s):
    b = s.encode()
    return struct.pack("=H", len(b)) + b


def message(name, body, conn_id=0):
    return struct.pack("=IIII", TYPES[name], 16 + len(body), conn_id,
                       0) + body


def cfg_tenant(conn_id=0):
    """A CFG_TENANT as priv_bind() sends it; the worker reads no file
    before CFG_DONE, so the paths need not exist."""
    body = struct.pack("=10I", 7, 60001, 60001, 8192, 4096, 16, 0, 5000,
                       5000, 0)
    body += b"".join(put_str(s) for s in (
        "acme", "/var/lib/tenantd/tenants/acme", "/etc/tenantd/policy",
        "/var/lib/tenantd/registry.gen", "test.localhost", ""))
    return message("CFG_TENANT", body, conn_id)


def spawn():
    """The worker on fd 3 of a socketpair, and our end of it."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)

    def on_three():
        os.dup2(theirs.fileno(), 3)

    p = subprocess.Popen([WORKER, str(os.getpid())], pass_fds=[3],
                         preexec_fn=on_three, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    theirs.close()
    ours.settimeout(5)
    return p, ours


def logs(sock):
    """The worker's MSG_LOG lines until it closes the channel."""
    lines = []
    while True:
        try:
            m = sock.recv(16384)
        except (TimeoutError, ConnectionResetError):
            break
        if not m:
            break
        if struct.unpack("=I", m[:4])[0] == TYPES["LOG"]:
            n = struct.unpack("=H", m[20:22])[0]
            lines.append(m[22:22 + n].decode(errors="replace"))
    return lines


def test_schema_refusal_ends_the_worker():
    """A CFG_TENANT under a conn_id: every value in it is good, only the
    schema (conn_id 0 for configuration) refuses it. The worker says so
    and exits without taking the configuration."""
    p, sock = spawn()
    try:
        sock.send(cfg_tenant(conn_id=5))
        lines = logs(sock)
        assert p.wait(timeout=5) != 0
        assert any("malformed message" in ln for ln in lines), lines
        assert not any("acme" in ln for ln in lines), lines
    finally:
        p.kill()
        p.wait()
        sock.close()


def test_same_message_under_conn_id_zero_is_taken():
    """The control: the very same message with conn_id 0 is taken, and the
    worker waits for the rest of its configuration until the channel
    closes."""
    p, sock = spawn()
    try:
        sock.send(cfg_tenant(conn_id=0))
        sock.settimeout(1)
        try:
            m = sock.recv(16384)
        except TimeoutError:
            m = None
        assert m is None, m
        assert p.poll() is None
        sock.close()
        wait_for(lambda: p.poll() is not None, 5, "the worker to exit")
        assert p.returncode == 0
    finally:
        p.kill()
        p.wait()
