# tenantd-run, attacked from inside: handlers in sh and python3, written
# into a real tenant's app/ (made by tenantctl), run through the runner
# exactly as the supervisor spawns it (MSG_RUN_SPEC on fd 3, then
# MSG_RUN_GO with the handler's stdio, no environment), then asked to do
# what tenant code must not (docs/security.md, section 2,
# "Tenant code"). Needs root, like CI.
import ctypes
import errno
import fcntl
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import types

import pytest

from conftest import BUILD, POLICY, SRC, Daemon, proc_status, wait_for

RUN = os.path.join(BUILD, "runner", "tenantd-run")
EXIT_SETUP, EXIT_EXEC = 125, 127
PY = "#!/usr/bin/python3\n"
SH = "#!/bin/sh\n"
UNISTD = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
X86_64 = os.uname().machine == "x86_64"


def msg_type(name):
    """The number of a message type, as the schema's table prints it
    (tests/unit/msgtable.c)."""
    out = subprocess.run([os.path.join(BUILD, "tests", "unit", "msgtable")],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"^\| `%s` \| (0x[0-9a-f]+) \|" % name, out, re.M)
    return int(m.group(1), 16)


def put_str(s):
    """proto.c msg_put_str: u16 length, then the bytes."""
    b = s.encode()
    return struct.pack("=H", len(b)) + b


def message(name, body, flags=0):
    return struct.pack("=IIII", msg_type(name), 16 + len(body), 0,
                       flags) + body


def run_spec(uid, gid, network, root, policy, slug, handler, env, flags=0,
             stamp=""):
    """The two messages of a run, (MSG_RUN_SPEC, MSG_RUN_GO)."""
    body = struct.pack("=III", uid, gid, network)
    body += b"".join(put_str(s) for s in (root, policy, slug, stamp))
    go = put_str(handler) + struct.pack("=I", len(env))
    go += b"".join(put_str(e) for e in env)
    return (message("MSG_RUN_SPEC", body, flags), message("MSG_RUN_GO", go))


def launch(messages, fd4, ns=(), go=True, spec_fd=None):
    """Start tenantd-run as the supervisor does: the spec on fd 3 (with
    spec_fd riding on it, if given), the namespace fds ns on 5 and 6,
    /dev/null on 0 and 1 (stderr is kept to see its reasons), no
    environment; then, unless go is false, MSG_RUN_GO with fd4. Returns
    (process, our end of the spec channel)."""
    spec, gomsg = messages
    spec_here, spec_there = socket.socketpair(socket.AF_UNIX,
                                              socket.SOCK_SEQPACKET)
    if spec_fd is None:
        spec_here.send(spec)
    else:
        socket.send_fds(spec_here, [spec], [spec_fd])
    # A small exec'd step puts them on 3, 5 and 6 (pass_fds cannot).
    fds = {3: spec_there.fileno()}
    fds.update({5 + i: fd for i, fd in enumerate(ns)})
    move = ("import os, sys; fds = %r\n"
            "for to, fd in fds.items(): os.dup2(fd, to)\n"
            "os.execv(sys.argv[1], sys.argv[1:])" % fds)
    p = subprocess.Popen([sys.executable, "-c", move, RUN],
                         pass_fds=list(fds.values()), env={},
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    spec_there.close()
    if go:
        socket.send_fds(spec_here, [gomsg], [fd4.fileno()])
    return p, spec_here


def sandbox_reports(chan):
    """The MSG_RUN_SANDBOX messages a finished run sent back on fd 3:
    [(namespace type, stamp, fd)]."""
    out = []
    chan.setblocking(False)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(chan, 65536, 1)
        except (BlockingIOError, ConnectionResetError):
            break
        if not msg:
            break
        assert struct.unpack("=I", msg[:4])[0] == msg_type("MSG_RUN_SANDBOX")
        nstype, n = struct.unpack("=IH", msg[16:22])
        out.append((nstype, msg[22:22 + n].decode(), fds[0]))
    return out


def spawn(message, stdin=b"", on_start=None, timeout=30, ns=(),
          reports=None):
    """launch() with a stream socket on fd 4, the handler's stdio. With
    reports, a list, the sandbox the run reported is appended to it.
    Returns (handler stdout, exit status, runner stderr)."""
    io_here, io_there = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    p, spec_here = launch(message, io_there, ns)
    io_there.close()
    try:
        io_here.settimeout(timeout)
        try:
            io_here.sendall(stdin)
            io_here.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if on_start is not None:
            on_start(p, io_here)
        out = b""
        while True:
            try:
                b = io_here.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            out += b
        _, err = p.communicate(timeout=timeout)
        if reports is not None:
            reports.extend(sandbox_reports(spec_here))
        return out, p.returncode, err.decode(errors="replace")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        io_here.close()
        spec_here.close()


def wait_ready(sock):
    """Read the handler's stdout until its "ready" line."""
    line = b""
    while not line.endswith(b"ready\n"):
        b = sock.recv(100)
        assert b, "the handler ended before it was ready"
        line += b


def tenant_pids(uid):
    """Processes whose real uid is the tenant's, wherever they are."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if proc_status(pid)["Uid"].split()[0] == str(uid):
                found.append(int(pid))
        except OSError:
            continue
    return found


class Tenant:
    def __init__(self, daemon, slug):
        self.daemon = daemon
        self.slug = slug
        self.dir = daemon.tenant_dir(slug)
        self.uid, self.gid = daemon.tenant_ids(slug)

    def write_app(self, name, text, mode=0o755, owner=None):
        path = os.path.join(self.dir, "app", name)
        with open(path, "w") as f:
            f.write(text)
        uid, gid = owner or (self.uid, self.gid)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
        return path

    def spec(self, handler, env=(), network=0, uid=None, root=None,
             policy=None, slug=None, flags=0, stamp=""):
        return run_spec(self.uid if uid is None else uid, self.gid,
                        network, root or self.dir,
                        policy or self.daemon.policy, slug or self.slug,
                        handler, list(env), flags, stamp)

    def run(self, code, env=("PATH=/usr/bin:/bin",), stdin=b"", network=0,
            name="handler", **kw):
        """Run code as a handler; returns (stdout, status, stderr)."""
        self.write_app(name, code)
        return spawn(self.spec(name, env, network), stdin, **kw)

    def py(self, body, **kw):
        """A python3 handler; its stdout parsed as one repr() literal."""
        out, rc, err = self.run(PY + body, **kw)
        assert rc == 0, (rc, err, self.log())
        import ast
        return ast.literal_eval(out.decode())

    def log(self):
        try:
            with open(os.path.join(self.dir, "logs", "handler.log")) as f:
                return f.read()
        except FileNotFoundError:
            return ""


@pytest.fixture(scope="module")
def env():
    d = Daemon()
    try:
        d.create("acme")
        d.create("globex", "globex's secret page\n")
        yield types.SimpleNamespace(daemon=d, t=Tenant(d, "acme"),
                                    other=Tenant(d, "globex"))
    finally:
        d.close()


# Helpers the python handlers import by text: raw syscalls with errno.
LIBC = """
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sysc(nr, *args):
    args = [ctypes.c_long(a) for a in args]
    r = libc.syscall(ctypes.c_long(nr), *args)
    return errno.errorcode.get(ctypes.get_errno(), "?") if r == -1 else r
"""


def test_env_and_stdio_round_trip(env):
    """The spec's environment and nothing else (dash adds PWD, which shows
    the handler starts in /tenant/app); stdin in, stdout out."""
    out, rc, err = env.t.run(SH + "exec /usr/bin/env\n",
                             env=["PATH=/usr/bin:/bin", "FOO=a=b c",
                                  "HTTP_X_Y=1", "_u=", "Z9="])
    assert rc == 0, err
    assert sorted(out.decode().splitlines()) == sorted(
        ["PATH=/usr/bin:/bin", "FOO=a=b c", "HTTP_X_Y=1", "_u=", "Z9=",
         "PWD=/tenant/app"])
    data = bytes(range(256)) * 1000
    out, rc, err = env.t.run(PY + "import sys\nd = sys.stdin.buffer.read()\n"
                             "sys.stdout.buffer.write(d[::-1])\n",
                             stdin=data)
    assert rc == 0 and out == data[::-1], err


def test_exit_status_is_the_handlers(env):
    assert env.t.run(SH + "exit 7\n")[1] == 7
    assert env.t.run(SH + "kill -SEGV $$\n")[1] == 128 + signal.SIGSEGV
    assert env.t.run(PY + "import ctypes\nctypes.string_at(0)\n")[1] == \
        128 + signal.SIGSEGV


def test_identity_and_no_capabilities(env):
    """docs/security.md, items 13-17: tenant uid/gid everywhere, no groups, no
    capability in any set, NNP on, nothing regained by asking."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    r = env.t.py(LIBC + f"""
import socket
hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
data = (ctypes.c_uint32 * 6)()
assert libc.capget(hdr, data) == 0
bounding = [libc.prctl(23, c, 0, 0, 0) for c in range({last} + 1)]
ambient = [libc.prctl(47, 1, c, 0, 0) for c in range({last} + 1)]
tries = {{}}
for name, fn in [("setuid0", lambda: os.setuid(0)),
                 ("setgid0", lambda: os.setgid(0)),
                 ("setgroups", lambda: os.setgroups([0])),
                 ("chown", lambda: os.chown("/tenant/data", 0, 0)),
                 ("sethostname", lambda: socket.sethostname("x"))]:
    try:
        fn()
        tries[name] = "done"
    except OSError as e:
        tries[name] = errno.errorcode[e.errno]
print(repr(dict(res=(os.getresuid(), os.getresgid()),
                groups=os.getgroups(), caps=list(data),
                bounding=sorted(set(bounding)), ambient=sorted(set(ambient)),
                nnp=libc.prctl(39, 0, 0, 0, 0),
                host=socket.gethostname(), tries=tries)))
""")
    uid, gid = env.t.uid, env.t.gid
    assert r["res"] == ((uid,) * 3, (gid,) * 3)
    assert r["groups"] == []
    assert r["caps"] == [0] * 6
    assert r["bounding"] == [0] and r["ambient"] == [0]
    assert r["nnp"] == 1
    assert r["host"] == "tenant"
    assert r["tries"] == {"setuid0": "EPERM", "setgid0": "EPERM",
                          "setgroups": "EPERM", "chown": "EPERM",
                          "sethostname": "EPERM"}


def test_setuid_root_binary_gains_nothing(env):
    """docs/security.md, item 17: a setuid-root copy of id(1) in app/ (placed
    by root) runs with the tenant's euid: app/ is nosuid and NNP is set."""
    env.t.write_app("suid-id", "", owner=(0, 0))
    shutil.copy("/usr/bin/id", os.path.join(env.t.dir, "app", "suid-id"))
    os.chmod(os.path.join(env.t.dir, "app", "suid-id"), 0o4755)
    try:
        out, rc, err = env.t.run(SH + "/tenant/app/suid-id -u\n"
                                 "/tenant/app/suid-id -g\n")
        assert rc == 0, err
        assert out.split() == [str(env.t.uid).encode(),
                               str(env.t.gid).encode()]
    finally:
        os.unlink(os.path.join(env.t.dir, "app", "suid-id"))


def test_filesystem_view(env):
    """docs/security.md, items 1, 5-7: what exists and what is writable
    inside."""
    globex = os.path.join(env.other.dir, "public", "index.html")
    r = env.t.py(LIBC + f"""
def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
def write(p):
    return attempt(lambda: open(p, "w").write("x"))
def flags(p):
    f = os.statvfs(p).f_flag
    return sorted(n for n, b in [("ro", 1), ("nosuid", 2), ("nodev", 4),
                                 ("noexec", 8)] if f & b)
found = []
for top, dirs, files in os.walk("/"):
    if top == "/":
        dirs[:] = [d for d in dirs if d != "usr"]
    found += [os.path.join(top, n) for n in dirs + files
              if n in ("billing.db", "tenant.json")]
print(repr(dict(
    root=sorted(os.listdir("/")), dev=sorted(os.listdir("/dev")),
    tenant=sorted(os.listdir("/tenant")),
    app=open("/tenant/app/handler").read(12),
    writes={{p: write(p) for p in [
        "/tenant/data/f", "/tenant/uploads/f", "/tenant/logs/f", "/tmp/f",
        "/tenant/public/f", "/tenant/app/f", "/usr/f", "/etc/f", "/f",
        "/dev/f", "/dev/null"]}},
    urandom=len(open("/dev/urandom", "rb").read(16)),
    proc=attempt(lambda: os.stat("/proc")),
    self_fd=attempt(lambda: os.stat("/proc/self/fd/0")),
    other=attempt(lambda: open({globex!r}).read()),
    mine=attempt(lambda: open({env.t.dir!r} + "/billing.db").read()),
    found=found,
    flags={{p: flags(p) for p in ["/", "/usr", "/etc/ssl", "/tmp", "/dev/null",
                                 "/tenant/app", "/tenant/public",
                                 "/tenant/data", "/tenant/logs",
                                 "/tenant/uploads"]}},
)))
""")
    assert r["root"] == ["bin", "dev", "etc", "lib", "lib64", "sbin",
                         "tenant", "tmp", "usr"]
    assert r["dev"] == ["null", "urandom", "zero"]
    assert r["tenant"] == ["app", "data", "logs", "public", "uploads"]
    assert r["app"] == PY[:12]
    assert r["writes"] == {
        "/tenant/data/f": "ok", "/tenant/uploads/f": "ok",
        "/tenant/logs/f": "ok", "/tmp/f": "ok", "/dev/null": "ok",
        "/tenant/public/f": "EROFS", "/tenant/app/f": "EROFS",
        "/usr/f": "EROFS", "/etc/f": "EROFS", "/f": "EROFS",
        "/dev/f": "EROFS"}
    assert r["urandom"] == 16
    assert r["proc"] == r["self_fd"] == "ENOENT"
    assert r["other"] == r["mine"] == "ENOENT"
    assert r["found"] == []
    ro = ["nodev", "nosuid", "ro"]
    ro_noexec = ["nodev", "noexec", "nosuid", "ro"]
    rw = ["nodev", "noexec", "nosuid"]
    assert r["flags"] == {
        "/": ro_noexec, "/usr": ro, "/etc/ssl": ro, "/tmp": rw,
        "/dev/null": ["noexec", "nosuid", "ro"], "/tenant/app": ro,
        "/tenant/public": ro_noexec, "/tenant/data": rw,
        "/tenant/logs": rw, "/tenant/uploads": rw}
    # What the handler wrote is the tenant's, in its own directory.
    st = os.stat(os.path.join(env.t.dir, "data", "f"))
    assert (st.st_uid, st.st_gid) == (env.t.uid, env.t.gid)


def test_tmp_is_private_and_capped(env):
    """docs/security.md, items 41, 43: /tmp takes 16M (tenant-code.mounts),
    then ENOSPC; it is not the host's /tmp and is gone after the run."""
    marker = f"/tmp/tenantd-runner-{os.getpid()}"
    open(marker, "w").close()
    try:
        r = env.t.py(f"""
import errno, os
n = 0
try:
    with open("/tmp/fill", "wb") as f:
        while n < 64 << 20:
            f.write(b"x" * 65536)
            f.flush()
            n += 65536
    e = "none"
except OSError as x:
    e = errno.errorcode[x.errno]
print(repr(dict(n=n, e=e, host=os.path.exists({marker!r}))))
""")
    finally:
        os.unlink(marker)
    assert r["e"] == "ENOSPC" and r["n"] <= 16 << 20, r
    assert not r["host"]
    assert env.t.py("import os\nprint(repr(os.listdir('/tmp')))\n") == []


def test_no_exec_from_writable_places(env):
    """Files the handler writes cannot be run: data/ and /tmp are
    noexec; app/ is where handlers live and it is read-only."""
    r = env.t.py("""
import errno, os, subprocess
res = {}
for d in ["/tenant/data", "/tmp"]:
    p = d + "/x.sh"
    with open(p, "w") as f:
        f.write("#!/bin/sh\\necho ran\\n")
    os.chmod(p, 0o755)
    try:
        res[d] = subprocess.run([p], capture_output=True).stdout
    except OSError as e:
        res[d] = errno.errorcode[e.errno]
print(repr(res))
""")
    assert r == {"/tenant/data": "EACCES", "/tmp": "EACCES"}


def test_rlimits_from_the_policy(env):
    r = env.t.py("""
import resource as r
print(repr({n: r.getrlimit(getattr(r, "RLIMIT_" + n.upper()))
            for n in ["core", "nproc", "nofile", "fsize", "as", "cpu",
                      "stack", "memlock", "msgqueue"]}))
""")
    want = {"core": 0, "nproc": 64, "nofile": 256, "fsize": 100 << 20,
            "as": 1 << 30, "cpu": 10, "stack": 8 << 20, "memlock": 0,
            "msgqueue": 0}
    assert r == {k: (v, v) for k, v in want.items()}


def denied_syscalls():
    """(name, number, errno) of every rule in tenant-code.seccomp."""
    nrs = {}
    with open(UNISTD) as f:
        for line in f:
            m = re.match(r"#define __NR_(\w+)\s+(\d+)", line)
            if m:
                nrs[m.group(1)] = int(m.group(2))
    out = []
    with open(os.path.join(POLICY, "tenant-code.seccomp")) as f:
        for line in f:
            w = line.split("#", 1)[0].split()
            if len(w) == 3:
                out.append((w[0], nrs[w[0]], w[2]))
    return out


@pytest.mark.skipif(not X86_64, reason="syscall numbers of x86_64 (CI)")
def test_every_denied_syscall_fails_with_its_errno(env):
    """docs/security.md, items 26-29: each call the deny list names answers its
    errno (zero arguments: where the kernel itself would answer, it answers
    something else, e.g. 0 for unshare(0) or ptrace(TRACEME))."""
    calls = denied_syscalls()
    assert len(calls) > 40
    r = env.t.py(LIBC + f"""
print(repr({{name: sysc(nr, 0, 0, 0, 0, 0, 0) for name, nr, _ in {calls!r}}}))
""")
    assert r == {name: want for name, _, want in calls}


@pytest.mark.skipif(not X86_64, reason="syscall numbers of x86_64 (CI)")
def test_namespaces_and_mounts_refused(env):
    """docs/security.md, item 27: clone with a CLONE_NEW* flag, unshare, mount
    fail; a plain fork and a thread still work (interpreters need them)."""
    r = env.t.py(LIBC + """
import threading
SIGCHLD, NEWUSER, NEWNET, NEWNS = 17, 0x10000000, 0x40000000, 0x20000
res = {}
for name, flags in [("user", NEWUSER), ("net", NEWNET), ("ns", NEWNS),
                    ("user-high", NEWUSER | (1 << 32))]:
    res["clone-" + name] = sysc(56, flags | SIGCHLD, 0, 0, 0, 0)
    if isinstance(res["clone-" + name], int) and res["clone-" + name] == 0:
        os._exit(0)
res["unshare-user"] = sysc(272, NEWUSER)
res["mount"] = sysc(165, 0, 0, 0, 0, 0)
pid = os.fork()
if pid == 0:
    os._exit(3)
res["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
t = threading.Thread(target=lambda: res.setdefault("thread", "ran"))
t.start()
t.join()
print(repr(res))
""")
    assert r.pop("fork") == 3 and r.pop("thread") == "ran"
    assert r == {"clone-user": "EPERM", "clone-net": "EPERM",
                 "clone-ns": "EPERM", "clone-user-high": "EPERM",
                 "unshare-user": "EPERM", "mount": "EPERM"}


SOCKETS = """
import socket
def sock(fam, typ=socket.SOCK_STREAM):
    try:
        socket.socket(fam, typ).close()
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
def conn(fam, addr):
    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(3)
        s.connect(addr)
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))
"""


@pytest.fixture
def listeners():
    """A TCP port on 127.0.0.1 and an abstract Unix socket, outside."""
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    ab = socket.socket(socket.AF_UNIX)
    name = f"tenantd-runner-test-{os.getpid()}"
    ab.bind("\0" + name)
    ab.listen(8)
    yield types.SimpleNamespace(port=tcp.getsockname()[1], abstract=name)
    tcp.close()
    ab.close()


@pytest.mark.parametrize("network", [0, 1])
def test_network(env, listeners, network):
    """docs/security.md, items 10, 30: without the network no socket but
    AF_UNIX, nothing reachable, not even the host's abstract sockets (own
    network namespace); with it AF_INET/AF_INET6 reach the host, other families
    still fail. Socket families are compared as 32-bit ints (docs/security.md,
    item 24)."""
    r = env.t.py(LIBC + SOCKETS + f"""
print(repr(dict(
    inet=sock(socket.AF_INET), inet6=sock(socket.AF_INET6),
    udp=sock(socket.AF_INET, socket.SOCK_DGRAM),
    netlink=sock(socket.AF_NETLINK, socket.SOCK_RAW),
    packet=sock(socket.AF_PACKET, socket.SOCK_RAW),
    vsock=sock(40), unix=sock(socket.AF_UNIX),
    inet_high=sysc(41, (1 << 32) | socket.AF_INET, 1, 0),
    tcp=conn(socket.AF_INET, ("127.0.0.1", {listeners.port})),
    abstract=conn(socket.AF_UNIX, "\\0{listeners.abstract}"),
)))
""", network=network)
    assert r.pop("unix") == "ok"
    assert r.pop("netlink") == r.pop("packet") == r.pop("vsock") == "EPERM"
    abstract = r.pop("abstract")
    if network:
        assert r.pop("inet_high") >= 0
        assert r == {"inet": "ok", "inet6": "ok", "udp": "ok", "tcp": "ok"}
    else:
        assert r == {"inet": "EPERM", "inet6": "EPERM", "udp": "EPERM",
                     "inet_high": "EPERM", "tcp": "EPERM"}
        assert abstract == "ECONNREFUSED"


SOCKETPAIRS = """
import socket
def pair(fam, typ=socket.SOCK_STREAM):
    try:
        for s in socket.socketpair(fam, typ):
            s.close()
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
"""


@pytest.mark.parametrize("network", [0, 1])
def test_socketpair_families(env, network):
    """docs/security.md, item 30: socketpair() answers to the family rule of
    socket(): it runs the family's own create routine (TIPC implements it), so
    only AF_UNIX passes the filter (and AF_INET, AF_INET6 with the
    network, which the kernel then refuses itself). Compared as 32-bit
    ints, like socket's."""
    r = env.t.py(LIBC + SOCKETPAIRS + """
sv = (ctypes.c_int * 2)()
print(repr(dict(
    unix=pair(socket.AF_UNIX), unix_dgram=pair(socket.AF_UNIX,
                                               socket.SOCK_DGRAM),
    tipc=pair(30, socket.SOCK_DGRAM), inet=pair(socket.AF_INET),
    inet6=pair(socket.AF_INET6), netlink=pair(socket.AF_NETLINK),
    vsock=pair(40),
    tipc_high=sysc(53, (1 << 32) | 30, socket.SOCK_DGRAM, 0,
                   ctypes.addressof(sv)),
)))
""", network=network)
    assert r.pop("unix") == r.pop("unix_dgram") == "ok"
    inet = errno.errorcode[errno.EOPNOTSUPP] if network else "EPERM"
    assert r == dict(tipc="EPERM", tipc_high="EPERM", netlink="EPERM",
                     vsock="EPERM", inet=inet, inet6=inet)


def test_signals_and_ptrace_stay_inside(env):
    """docs/security.md, items 34-35: the handler's PID namespace holds only
    its own processes (it is pid 2, the runner's init is 1); kill(-1) reaches
    none outside; ptrace of
    anything is refused by the filter."""
    victim = subprocess.Popen(["sleep", "30"],
                              preexec_fn=lambda: os.setresuid(env.t.uid,
                                                              env.t.uid,
                                                              env.t.uid))
    try:
        r = env.t.py(LIBC + f"""
import signal
res = dict(pid=os.getpid(), ppid=os.getppid())
try:
    os.kill({victim.pid}, 0)
    res["victim"] = "visible"
except OSError as e:
    res["victim"] = errno.errorcode[e.errno]
res["ptrace_attach"] = sysc(101, 16, {victim.pid}, 0, 0)
res["ptrace_traceme"] = sysc(101, 0, 0, 0, 0)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
res["kill_all"] = sysc(62, -1, 9)
print(repr(res))
""")
        assert r["pid"] == 2 and r["ppid"] == 1
        assert r["victim"] == "ESRCH"
        assert r["ptrace_attach"] == r["ptrace_traceme"] == "EPERM"
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


# A SIGSYS handler in python: it reports on stdout and exits 3 (stderr is
# handler.log). Python runs it after the C-level handler returns, which a
# trapped call allows and a killed one does not.
SIGSYS_HANDLER = """
import os, signal, time
def on_sigsys(sig, frame):
    os.write(1, b"trapped\\n")
    os._exit(3)
signal.signal(signal.SIGSYS, on_sigsys)
"""


@pytest.mark.skipif(not X86_64, reason="i386 and x32 entry points are "
                    "x86_64 things (CI is x86_64)")
@pytest.mark.parametrize("how", ["x32", "int80"])
def test_foreign_architectures_killed(env, how):
    """docs/security.md, items 21-22: the x32 bit and i386 int 0x80 kill the
    handler (SIGSYS), not an ENOSYS it could shrug off, and not a trap either:
    the handler installs a SIGSYS handler of its own first, which a filter
    answering SECCOMP_RET_TRAP would run (it prints "trapped")."""
    code = LIBC + SIGSYS_HANDLER + {
        "x32": "print(sysc(0x40000000 | 39))\n",
        "int80": """
import mmap
m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE |
              mmap.PROT_EXEC)
m.write(b"\\xb8\\x14\\x00\\x00\\x00\\xcd\\x80\\xc3")  # getpid; int 0x80
f = ctypes.CFUNCTYPE(ctypes.c_long)(
    ctypes.addressof(ctypes.c_char.from_buffer(m)))
print(f())
""",
    }[how]
    out, rc, err = env.t.run(PY + code)
    assert b"trapped" not in out, "the filter trapped instead of killing"
    assert rc == 128 + signal.SIGSYS, (out, rc, err)
    assert out == b""


def test_sigsys_handler_of_tenant_code_runs(env):
    """The control for the test above: the same handler, sent a SIGSYS it
    can catch, prints "trapped" and exits 3."""
    out, rc, err = env.t.run(PY + SIGSYS_HANDLER +
                             "os.kill(os.getpid(), signal.SIGSYS)\n"
                             "time.sleep(5)\n")
    assert (out, rc) == (b"trapped\n", 3), (out, rc, err)


def wait_no_tenant_procs(uid, timeout=5):
    wait_for(lambda: not tenant_pids(uid), timeout,
             f"the processes of uid {uid} to be gone: {tenant_pids(uid)}")


def test_background_process_dies_with_the_handler(env):
    """No process outlives its run: the handler is its namespace's init."""
    t0 = time.monotonic()
    out, rc, err = env.t.run(SH + "/usr/bin/sleep 1000 &\n"
                             "/usr/bin/setsid /usr/bin/sleep 1000 &\n"
                             "echo started\n")
    assert rc == 0 and out == b"started\n", err
    assert time.monotonic() - t0 < 10
    assert tenant_pids(env.t.uid) == []


def test_fork_bomb_stops_at_nproc(env):
    """docs/security.md, item 40: forks stop at RLIMIT_NPROC (64, every process
    of the uid), the handler still finishes, and every child dies with it."""
    r = env.t.py("""
import errno, os, time
n, e = 0, None
while n < 1000:
    try:
        pid = os.fork()
    except OSError as x:
        e = errno.errorcode[x.errno]
        break
    if pid == 0:
        time.sleep(100)
        os._exit(0)
    n += 1
print(repr((n, e)))
""")
    n, e = r
    assert e == "EAGAIN" and 40 < n < 64, r
    wait_no_tenant_procs(env.t.uid)


def test_killing_the_runner_kills_everything(env):
    """The supervisor's timeout: SIGKILL to tenantd-run, and the handler
    and all it started are gone too (parent-death signal, PID 1)."""
    def kill_when_ready(p, sock):
        wait_ready(sock)
        assert len(tenant_pids(env.t.uid)) >= 3
        p.kill()

    t0 = time.monotonic()
    out, rc, err = env.t.run(SH + "/usr/bin/sleep 1000 &\n"
                             "/usr/bin/sleep 1000 &\necho ready\n"
                             "/usr/bin/sleep 1000\n",
                             on_start=kill_when_ready)
    assert rc == -signal.SIGKILL
    assert time.monotonic() - t0 < 10
    wait_no_tenant_procs(env.t.uid)


def test_stderr_goes_to_handler_log(env):
    out, rc, err = env.t.run(SH + "echo to-the-log >&2\n")
    assert rc == 0 and "to-the-log" in env.t.log()
    st = os.stat(os.path.join(env.t.dir, "logs", "handler.log"))
    assert (st.st_uid, st.st_mode & 0o777) == (env.t.uid, 0o600)


FORGED = "tenantd[1]: tenant globex: FORGED \033[31mred"

# What fd 2 is, and a forged line written to it.
STDERR_IS = """
import os, stat, sys
null, st = os.stat("/dev/null"), os.fstat(2)
sys.stderr.write(%r + "\\n")
sys.stderr.flush()
r = dict(null=stat.S_ISCHR(st.st_mode) and st.st_rdev == null.st_rdev)
""" % FORGED


@pytest.fixture
def handler_log(env):
    """Make the tenant's handler.log something else, as the tenant could;
    a regular file again afterwards."""
    path = os.path.join(env.t.dir, "logs", "handler.log")

    def clear():
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
        elif os.path.lexists(path):
            os.unlink(path)

    def plant(what):
        clear()
        if what == "directory":
            os.mkdir(path)
        elif what == "fifo":
            os.mkfifo(path)
        elif what == "symlink":
            os.symlink("/tenant/data/elsewhere", path)
        else:
            open(path, "w").close()
            os.chmod(path, 0)
        os.chown(path, env.t.uid, env.t.gid, follow_symlinks=False)

    yield plant
    clear()


UNUSABLE_LOGS = ["directory", "fifo", "mode000", "symlink"]


@pytest.mark.parametrize("what", UNUSABLE_LOGS)
def test_unusable_handler_log_gives_dev_null(env, handler_log, what):
    """A handler.log that is not a regular file the tenant can write: the
    program's stderr is /dev/null, never tenantd-run's own (which is
    tenantd's), and tenantd-run says why, once."""
    handler_log(what)
    out, rc, err = env.t.run(PY + STDERR_IS + "print(repr(r))\n")
    assert rc == 0, err
    assert out == b"{'null': True}\n", (out, err)
    assert "FORGED" not in err and "\033" not in err, err
    assert err.count("/tenant/logs/handler.log") == 1, err
    assert "stderr goes to /dev/null" in err, err


def test_unusable_handler_log_app_gets_dev_null(env, handler_log,
                                                app_listener):
    """The same for a persistent app."""
    handler_log("directory")
    env.t.write_app("app", PY + STDERR_IS + """
import socket
conn, _ = socket.socket(fileno=3).accept()
conn.sendall(repr(r).encode())
conn.close()
""")
    p, chan = launch(env.t.spec("app", ["PATH=/usr/bin:/bin"],
                                flags=PERSISTENT), app_listener.sock)
    try:
        assert ask(app_listener.path, b"") == b"{'null': True}"
        _, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
    finally:
        stop(p, chan)
    err = err.decode(errors="replace")
    assert "FORGED" not in err and "\033" not in err, err
    assert err.count("/tenant/logs/handler.log") == 1, err


def test_missing_handler_is_127(env):
    out, rc, err = spawn(env.t.spec("no-such-handler"))
    assert rc == EXIT_EXEC
    assert "no-such-handler" in env.t.log()


@pytest.fixture
def planted(env):
    """Swap one of the tenant's directories for something else, then put
    it back."""
    moved = []

    def plant(name, how):
        path = os.path.join(env.t.dir, name)
        os.rename(path, path + ".real")
        moved.append(path)
        how(path)
    yield plant
    for path in moved:
        if os.path.islink(path) or os.path.isfile(path):
            os.unlink(path)
        elif os.path.isdir(path):
            os.rmdir(path)
        os.rename(path + ".real", path)


@pytest.mark.parametrize("name,how", [
    ("data", "symlink-etc"), ("logs", "symlink-other"),
    ("app", "symlink-other"), ("uploads", "root-dir"),
    ("public", "file")])
def test_planted_tenant_dir_refused(env, planted, name, how):
    """docs/security.md, item 8: a tenant directory the tenant swapped for a
    symlink (to /etc, or to another tenant's), or one not the tenant's: the
    runner refuses before the handler runs, and mounts nothing through it."""
    def symlink_to(target):
        return lambda p: os.symlink(target, p)

    def root_dir(p):
        os.mkdir(p, 0o755)

    def a_file(p):
        open(p, "w").close()
        os.chown(p, env.t.uid, env.t.gid)

    env.t.write_app("handler", SH + "echo ran\n")
    planted(name, {"symlink-etc": symlink_to("/etc"),
                   "symlink-other": symlink_to(os.path.join(env.other.dir,
                                                            name)),
                   "root-dir": root_dir, "file": a_file}[how])
    out, rc, err = spawn(env.t.spec("handler"))
    assert rc == EXIT_SETUP and out == b"", err
    assert name in err


BAD_SPECS = {
    "uid-0": dict(uid=0),
    "handler-dotdot": dict(handler="../handler"),
    "handler-slash": dict(handler="a/b"),
    "handler-dot": dict(handler=".hidden"),
    "handler-empty": dict(handler=""),
    "handler-long": dict(handler="h" * 65),
    "env-no-equals": dict(env=["FOO"]),
    "env-bad-name": dict(env=["1FOO=x"]),
    "env-dash": dict(env=["FO-O=x"]),
    # The rule tenantd applies (common/runarg.c); tenantd-run once let
    # control bytes in a value through.
    "env-newline-value": dict(env=["FOO=a\nforged"]),
    "env-escape-value": dict(env=["FOO=\x1b[31mred"]),
    "network-2": dict(network=2),
    "root-relative": dict(root="state/tenants/acme"),
    "root-other-slug": dict(slug="globex"),
    "root-not-jail": dict(root="/tmp", slug="tmp"),
    "policy-relative": dict(policy="policy"),
}


@pytest.mark.parametrize("what", sorted(BAD_SPECS))
def test_bad_spec_refused(env, what):
    kw = dict(BAD_SPECS[what])
    env.t.write_app("handler", SH + "echo ran\n")
    spec = env.t.spec(kw.pop("handler", "handler"), **kw)
    out, rc, err = spawn(spec)
    assert rc == EXIT_SETUP and out == b"", err
    assert re.match(r"<4>\S", err), err  # a line of tenantd-run's (run.c)


def test_malformed_message_refused(env):
    """A spec or a MSG_RUN_GO cut short, too long, all zeroes or of
    another type ends the run before the handler: the spec before any
    namespace, the go in the prepared child."""
    env.t.write_app("handler", SH + "echo ran\n")
    spec, go = env.t.spec("handler")

    def broken(good):
        return [good[:-1], good + b"\0", b"\0" * 16,
                struct.pack("=I", msg_type("MSG_RUN_REQUEST")) + good[4:]]
    for bad in ([(b, go) for b in broken(spec)] +
                [(spec, b) for b in broken(go)]):
        out, rc, err = spawn(bad)
        assert rc == EXIT_SETUP and out == b"", err
        assert re.match(r"<4>\S", err), err


def test_spec_with_a_descriptor_refused(env):
    """The schema says MSG_RUN_SPEC carries no fd (msg_check() on fd 3):
    a spec with one ends the run before any namespace, and the handler
    never runs."""
    marker = os.path.join(env.t.dir, "data", "spec-fd-ran")
    if os.path.exists(marker):
        os.unlink(marker)
    env.t.write_app("handler", SH + "echo > /tenant/data/spec-fd-ran\n")
    io_here, io_there = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with open("/dev/null", "rb") as extra:
        p, chan = launch(env.t.spec("handler"), io_there,
                         spec_fd=extra.fileno())
    io_there.close()
    try:
        _, err = p.communicate(timeout=30)
    finally:
        stop(p, chan)
        io_here.close()
    err = err.decode(errors="replace")
    assert p.returncode == EXIT_SETUP, err
    assert "run spec: malformed" in err, err
    assert not os.path.exists(marker)


def test_prepared_run_waits_and_ends_on_eof(env):
    """A run prepared ahead (the supervisor's spare) sits sandboxed, as
    the tenant, until MSG_RUN_GO; if its spec channel closes instead, it
    ends without running anything. A go without its descriptor is
    refused."""
    marker = os.path.join(env.t.dir, "data", "spare-ran")
    if os.path.exists(marker):
        os.unlink(marker)
    env.t.write_app("handler", SH + "echo > /tenant/data/spare-ran\n")
    p, chan = launch(env.t.spec("handler"), None, go=False)
    try:
        # Ready: the child is the tenant's, waiting, and nothing ran.
        wait_for(lambda: tenant_pids(env.t.uid), timeout=10,
                 what="the prepared run as the tenant")
        child = tenant_pids(env.t.uid)[0]

        def held():
            out = set()
            for fd in os.listdir(f"/proc/{child}/fd"):
                try:
                    out.add(os.readlink(f"/proc/{child}/fd/{fd}"))
                except OSError:
                    pass
            return out

        # Waiting, it holds nothing of the host's but its stdio, its
        # channel and the alive pipe: no directory, no namespace.
        wait_for(lambda: all(link == "/dev/null" or link.startswith(
            ("socket:", "pipe:")) for link in held()), timeout=10,
            what=f"only the channel held while waiting: {held()}")
        time.sleep(0.2)
        assert p.poll() is None and not os.path.exists(marker)
        chan.close()
        _, err = p.communicate(timeout=10)
        assert p.returncode == EXIT_SETUP, err
        assert not os.path.exists(marker)
        assert tenant_pids(env.t.uid) == []
    finally:
        stop(p, chan)
    spec, go = env.t.spec("handler")
    p, chan = launch((spec, go), None, go=False)
    try:
        chan.send(go)
        _, err = p.communicate(timeout=10)
        assert p.returncode == EXIT_SETUP, err
        assert "run go: cannot receive it" in err.decode(), err
        assert not os.path.exists(marker)
    finally:
        stop(p, chan)


def test_broken_policy_refused(env):
    """A policy file that does not parse fails the run before anything
    is mounted; so does one the tenant (or anyone but root) could write."""
    pol = os.path.join(env.daemon.dir, "policy-broken")
    shutil.copytree(env.daemon.policy, pol)
    try:
        env.t.write_app("handler", SH + "echo ran\n")
        for name, text in [("tenant-code.mounts", "ro /proc # no\n"),
                           ("tenant-code.seccomp", "read # allow\n"),
                           ("tenant-code.limits", "nproc 1\n")]:
            path = os.path.join(pol, name)
            shutil.copy(os.path.join(env.daemon.policy, name), path)
            with open(path, "a") as f:
                f.write(text)
            out, rc, err = spawn(env.t.spec("handler", policy=pol))
            assert rc == EXIT_SETUP and out == b"", err
            assert name in err
            shutil.copy(os.path.join(env.daemon.policy, name), path)
        os.chmod(os.path.join(pol, "tenant-code.seccomp"), 0o666)
        out, rc, err = spawn(env.t.spec("handler", policy=pol))
        assert rc == EXIT_SETUP and "writable by root only" in err, err
    finally:
        shutil.rmtree(pol)


# Persistent apps (proto.h RUN_SPEC_PERSISTENT): fd 4 is a listening socket
# the supervisor keeps across the app's restarts; the app gets it as fd 3,
# the sd_listen_fds(3) way, and stdin and stdout are /dev/null.

def proto_define(name):
    with open(os.path.join(SRC, "common", "proto.h")) as f:
        return int(re.search(r"#define\s+%s\s+(\w+)" % name, f.read())
                   .group(1), 0)


PERSISTENT = proto_define("RUN_SPEC_PERSISTENT")

APP_SERVER = PY + """
import http.server, os, socket, socketserver, sys
# sd_listen_fds(3): the fds are ours only if LISTEN_PID is our own pid.
assert os.environ["LISTEN_PID"] == str(os.getpid()), dict(os.environ)
assert os.environ["LISTEN_FDS"] == "1"
listener = socket.socket(fileno=3)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("app %s %d" % (os.environ["TENANT"], os.getuid())).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        # The default line wants a peer address, which AF_UNIX has not.
        sys.stderr.write("app served %s\\n" % self.path)
        sys.stderr.flush()


server = socketserver.UnixStreamServer(None, Handler, bind_and_activate=False)
server.socket.close()
server.socket = listener
server.serve_forever()
"""


@pytest.fixture
def app_listener():
    """What the supervisor holds for an app: a listening AF_UNIX socket
    bound to a path."""
    d = tempfile.mkdtemp(prefix="tenantd-app-")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(os.path.join(d, "app.sock"))
        s.listen(8)
        yield types.SimpleNamespace(sock=s, path=os.path.join(d, "app.sock"))
    finally:
        s.close()
        shutil.rmtree(d)


def ask(path, request, timeout=30):
    """Connect to the app's socket, send request, read to EOF."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        c.settimeout(timeout)
        c.connect(path)
        c.sendall(request)
        out = b""
        while True:
            b = c.recv(65536)
            if not b:
                return out
            out += b
    finally:
        c.close()


def stop(p, spec):
    if p.poll() is None:
        p.kill()
        p.wait()
    p.stderr.close()
    spec.close()


def test_persistent_app_serves_http(env, app_listener):
    """An http.server app on the socket it got as fd 3 answers requests
    until tenantd-run is killed; then nothing of the tenant's is left,
    and the socket, still ours, serves the app started next."""
    env.t.write_app("app", APP_SERVER)
    spec = env.t.spec("app", ["PATH=/usr/bin:/bin", "TENANT=acme"],
                      flags=PERSISTENT)
    for run in range(2):
        p, chan = launch(spec, app_listener.sock)
        try:
            for i in range(2):
                path = "/persist-%d-%d-%d" % (os.getpid(), run, i)
                out = ask(app_listener.path,
                          b"GET %s HTTP/1.0\r\n\r\n" % path.encode())
                head, _, body = out.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.0 200 "), (out, env.t.log())
                assert body == b"app acme %d" % env.t.uid
                assert "app served " + path in env.t.log()
            assert p.poll() is None
            assert tenant_pids(env.t.uid)
            p.kill()
            p.wait(timeout=10)
            wait_no_tenant_procs(env.t.uid)
        finally:
            stop(p, chan)


# Python that lists the descriptors it holds, in fds.
FDS_OPEN = """import os
fds = []
for fd in range(1024):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
"""


def test_persistent_app_fds_and_environment(env, app_listener):
    """The app holds 0-3 and nothing else: /dev/null on 0 and 1, the
    handler log on 2, the listening socket on 3 (fd 4 is closed). The
    LISTEN_* variables are ours, whatever the spec says; the rest of the
    spec's environment passes. Its exit status is the run's."""
    env.t.write_app("app", PY + FDS_OPEN + """
import ctypes, socket, stat, sys
null = os.stat("/dev/null")
# environ as execve gave it: os.environ would hide a second LISTEN_PID.
raw = ctypes.POINTER(ctypes.c_char_p).in_dll(ctypes.CDLL(None), "environ")
environ = []
while raw[len(environ)] is not None:
    environ.append(raw[len(environ)].decode())
def dev(fd):
    st = os.fstat(fd)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == null.st_rdev
listener = socket.socket(fileno=3)
r = dict(fds=fds, stdin_null=dev(0), stdout_null=dev(1),
         stdin_read=os.read(0, 10), stdout_write=os.write(1, b"x"),
         accepting=listener.getsockopt(socket.SOL_SOCKET,
                                       socket.SO_ACCEPTCONN),
         family=int(listener.family), type=int(listener.type),
         pid=os.getpid(), uid=os.getuid(), env=environ)
sys.stderr.write("app stderr %d\\n" % os.getpid())
sys.stderr.flush()
conn, _ = listener.accept()
conn.sendall(repr(r).encode())
conn.close()
sys.exit(5)
""")
    spec = env.t.spec("app", ["PATH=/usr/bin:/bin", "LISTEN_PID=1",
                              "LISTEN_FDS=9", "TENANT=acme",
                              "LISTEN_FDNAMES=evil"], flags=PERSISTENT)
    p, chan = launch(spec, app_listener.sock)
    try:
        import ast
        r = ast.literal_eval(ask(app_listener.path, b"").decode())
        _, err = p.communicate(timeout=30)
        assert p.returncode == 5, err
    finally:
        stop(p, chan)
    assert r.pop("fds") == [0, 1, 2, 3]
    assert r.pop("stdin_null") and r.pop("stdout_null")
    assert r.pop("stdin_read") == b"" and r.pop("stdout_write") == 1
    # Less LC_CTYPE, which python sets itself (PEP 538).
    assert sorted(e for e in r.pop("env") if not e.startswith("LC_CTYPE=")) \
        == ["LISTEN_FDNAMES=http", "LISTEN_FDS=1", "LISTEN_PID=2",
            "PATH=/usr/bin:/bin", "TENANT=acme"]
    assert r == dict(accepting=1, family=socket.AF_UNIX,
                     type=socket.SOCK_STREAM, pid=2, uid=env.t.uid)
    assert "app stderr 2\n" in env.t.log()
    wait_no_tenant_procs(env.t.uid)


def listening(family=socket.AF_UNIX, type=socket.SOCK_STREAM):
    s = socket.socket(family, type)
    s.bind("")                  # an abstract name the kernel picks
    s.listen(1)
    return s


@pytest.mark.parametrize("what,flags,why", [
    ("connected", PERSISTENT, "not the listening socket"),
    ("unconnected", PERSISTENT, "not the listening socket"),
    ("seqpacket", PERSISTENT, "not the STREAM socket"),
    # msg_parse() lets through only the flags the schema names.
    ("listening", 4, "run spec: malformed"),
    ("listening", 0x80000001, "run spec: malformed"),
])
def test_persistent_bad_socket_or_flags_refused(env, what, flags, why):
    """A persistent run needs a listening stream socket on fd 4; header
    flags other than RUN_SPEC_PERSISTENT and RUN_SPEC_SANDBOX are refused. The app never
    runs."""
    marker = os.path.join(env.t.dir, "data", "app-ran")
    if os.path.exists(marker):
        os.unlink(marker)
    env.t.write_app("app", SH + "echo > /tenant/data/app-ran\n")
    fd4 = {"connected": lambda: socket.socketpair(socket.AF_UNIX,
                                                  socket.SOCK_STREAM)[0],
           "unconnected": lambda: socket.socket(socket.AF_UNIX),
           "seqpacket": lambda: listening(type=socket.SOCK_SEQPACKET),
           "listening": listening}[what]()
    p, chan = launch(env.t.spec("app", flags=flags), fd4)
    fd4.close()
    try:
        _, err = p.communicate(timeout=30)
    finally:
        stop(p, chan)
    err = err.decode(errors="replace")
    assert p.returncode == EXIT_SETUP, err
    assert why in err, err
    assert not os.path.exists(marker)


# Kept sandboxes (runner/jail.c, jail_sandbox): a run that builds its
# tenant's mount and network namespaces reports them on fd 3 with a stamp;
# a run given them (RUN_SPEC_SANDBOX, fds 5 and 6) joins them only under
# the stamp it would build itself, and builds anew otherwise.
SANDBOX = proto_define("RUN_SPEC_SANDBOX")
CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
NS_GET_NSTYPE = 0xb703          # _IO(0xb7, 0x3), linux/nsfs.h

MARK_SH = SH + """\
[ -e /tmp/mark ] && echo "seen $(cat /tmp/mark)"
echo "$1${MARK:-}" > /tmp/mark
ls /tenant/data
"""


def marked(t, mark, network=0, flags=0, stamp="", ns=()):
    """A run of t that says whether it finds /tmp/mark, then leaves its
    own there. Returns (stdout lines, reports)."""
    t.write_app("mark", MARK_SH)
    got = []
    out, rc, err = spawn(t.spec("mark", ["PATH=/usr/bin:/bin", "MARK=" + mark],
                                network, flags=flags, stamp=stamp),
                         ns=ns, reports=got)
    assert rc == 0, (rc, err, t.log())
    return out.decode().splitlines(), got


def close_all(reports):
    for _, _, fd in reports:
        os.close(fd)


def test_sandbox_built_reported_and_joined(env):
    """A first run reports its mount and network namespaces under one
    stamp; the namespaces are what they claim. A run given them joins them:
    it finds what the first left in /tmp, and reports nothing. A run given
    them under another stamp builds its own: an empty /tmp."""
    first, rep = marked(env.t, "one")
    assert not any(l.startswith("seen") for l in first), first
    assert sorted(r[0] for r in rep) == [CLONE_NEWNS, CLONE_NEWNET], rep
    assert len({r[1] for r in rep}) == 1 and rep[0][1], rep
    for nstype, _, fd in rep:
        assert fcntl.ioctl(fd, NS_GET_NSTYPE) == nstype
    stamp = rep[0][1]
    byt = {r[0]: r[2] for r in rep}
    try:
        ns = (byt[CLONE_NEWNS], byt[CLONE_NEWNET])
        again, rep2 = marked(env.t, "two", flags=SANDBOX, stamp=stamp, ns=ns)
        assert "seen one" in again and rep2 == [], (again, rep2)
        stale, rep3 = marked(env.t, "three", flags=SANDBOX,
                             stamp=stamp + "x", ns=ns)
        close_all(rep3)
        assert not any(l.startswith("seen") for l in stale), stale
        assert len(rep3) == 2, rep3
    finally:
        close_all(rep)


def test_sandbox_of_another_tenant_is_not_joined(env):
    """globex handed acme's namespaces with acme's own stamp (a supervisor
    mixing them up) gets neither acme's /tmp nor acme's files: its stamp
    is another (its directory, its uid), so it builds its own."""
    env.daemon.write_public("acme", "../data/acme-only", "x")
    _, rep = marked(env.t, "acme")
    byt = {r[0]: r[2] for r in rep}
    try:
        out, rep2 = marked(env.other, "globex", flags=SANDBOX,
                           stamp=rep[0][1],
                           ns=(byt[CLONE_NEWNS], byt[CLONE_NEWNET]))
        close_all(rep2)
        assert not any(l.startswith("seen") for l in out), out
        assert "acme-only" not in out, out
        assert rep2 and rep2[0][1] != rep[0][1], (rep, rep2)
    finally:
        close_all(rep)


@pytest.mark.parametrize("what", ["directory", "swapped", "two-nets",
                                  "pipe"])
def test_sandbox_fds_not_namespaces_are_not_joined(env, what):
    """Under the right stamp, fds 5 and 6 that are not a mount and a
    network namespace (a directory of the host's, the two swapped, the
    network one twice, a pipe) are not joined: the run builds its own sandbox, and still works."""
    _, rep = marked(env.t, "real")
    byt = {r[0]: r[2] for r in rep}
    extra = []
    try:
        if what == "directory":
            extra = [os.open("/", os.O_RDONLY), os.open("/etc", os.O_RDONLY)]
            ns = tuple(extra)
        elif what == "swapped":
            ns = (byt[CLONE_NEWNET], byt[CLONE_NEWNS])
        elif what == "two-nets":
            ns = (byt[CLONE_NEWNET], byt[CLONE_NEWNET])
        else:
            extra = list(os.pipe())
            ns = tuple(extra)
        out, rep2 = marked(env.t, what, flags=SANDBOX, stamp=rep[0][1],
                           ns=ns)
        close_all(rep2)
        assert not any(l.startswith("seen") for l in out), out
        assert len(rep2) == 2, rep2
    finally:
        close_all(rep)
        for fd in extra:
            os.close(fd)


def test_sandbox_with_network_has_no_network_namespace(env):
    """A tenant granted the host's network has a kept mount namespace
    only, under a stamp of its own: the same tenant without network does
    not join it."""
    _, rep = marked(env.t, "net", network=1)
    root = os.open("/", os.O_RDONLY)
    try:
        assert [r[0] for r in rep] == [CLONE_NEWNS], rep
        out, rep2 = marked(env.t, "nonet", flags=SANDBOX, stamp=rep[0][1],
                           ns=(rep[0][2], root))
        close_all(rep2)
        assert not any(l.startswith("seen") for l in out), out
    finally:
        close_all(rep)
        os.close(root)


def test_sandbox_announced_without_its_fds_refused(env):
    """RUN_SPEC_SANDBOX without fd 6 (no network): refused before anything
    is opened, since an fd of tenantd-run's own could land there and be
    taken for the namespace."""
    env.t.write_app("mark", MARK_SH)
    root = os.open("/", os.O_RDONLY)
    try:
        out, rc, err = spawn(env.t.spec("mark", flags=SANDBOX, stamp="x"),
                             ns=(root,))
    finally:
        os.close(root)
    assert rc == EXIT_SETUP and "a sandbox without its fds" in err, err


def test_tenant_code_first_for_the_oom_killer(env):
    """Tenant code runs with oom_score_adj 1000, whatever tenantd-run
    inherited (tenantd sets -900 for itself under its unit): the OOM killer
    takes it before a worker (500) or tenantd. Every process of the run,
    the namespace's init included, is read from outside (here tenantd-run
    inherits 0: lowering it takes a privilege this machine's root lacks)."""
    seen = {}

    def read_scores(p, sock):
        wait_ready(sock)
        for pid in tenant_pids(env.t.uid):
            with open(f"/proc/{pid}/oom_score_adj") as f:
                seen[pid] = int(f.read())

    out, rc, err = env.t.run(SH + "echo ready\nexec /usr/bin/sleep 0.5\n",
                             on_start=read_scores)
    assert rc == 0, err
    assert len(seen) >= 2 and set(seen.values()) == {1000}, seen


def test_refused_cgroup_limit_keeps_the_run_in_its_cgroups(env):
    """An operator lowers the tenant's memory below what its code holds
    now: cgroup v1 refuses the new limit (EBUSY). The next run is still
    moved into the tenant's memory and pids cgroups, under the old limit,
    and the refusal is said."""
    pol = os.path.join(env.daemon.dir, "policy-cgroup")
    shutil.copytree(env.daemon.policy, pol)
    try:
        hog = PY + ("import time\nb = bytearray(200 << 20)\n"
                    "for i in range(0, len(b), 4096): b[i] = 1\n"
                    "print('ready', flush=True)\ntime.sleep(30)\n")
        env.t.write_app("hog", hog)
        done = []

        def lower_then_run(p, sock):
            wait_ready(sock)
            cg = os.path.join(pol, "tenant-code.cgroup")
            with open(cg) as f:
                text = f.read()
            assert "memory     512M" in text
            with open(cg, "w") as f:
                f.write(text.replace("memory     512M", "memory     64M"))
            seen = {}

            def look(p2, sock2):
                wait_ready(sock2)
                for pid in tenant_pids(env.t.uid):
                    with open(f"/proc/{pid}/cgroup") as f:
                        seen[pid] = f.read()
            env.t.write_app("cg", SH + "echo ready\nexec sleep 1\n")
            done.append((seen,) + spawn(
                env.t.spec("cg", ["PATH=/usr/bin:/bin"], policy=pol),
                on_start=look)[1:])
            p.kill()

        spawn(env.t.spec("hog", ["PATH=/usr/bin:/bin"], policy=pol),
              on_start=lower_then_run)
        seen, rc, err = done[0]
        assert rc == 0, err
        assert "memory.limit_in_bytes = 67108864 refused" in err, err
        assert seen
        for text in seen.values():
            lines = dict(l.split(":", 2)[1:] for l in text.splitlines())
            for ctrl in ("memory", "pids"):
                assert lines[ctrl].endswith("tenantd-code/acme"), text
    finally:
        shutil.rmtree(pol)


def policy_with(env, name, extra):
    """A copy of the policy whose tenant-code.mounts binds extra too."""
    pol = os.path.join(env.daemon.dir, name)
    shutil.rmtree(pol, ignore_errors=True)
    shutil.copytree(env.daemon.policy, pol)
    with open(os.path.join(pol, "tenant-code.mounts"), "a") as f:
        f.write(extra)
    return pol


def cat_in_sandbox(t, pol, path, flags=0, stamp="", ns=()):
    """cat path from inside a run; (output, reports)."""
    t.write_app("cat", SH + f"cat {path} 2>&1\n")
    got = []
    out, rc, err = spawn(t.spec("cat", ["PATH=/usr/bin:/bin"], 0,
                                policy=pol, flags=flags, stamp=stamp),
                         ns=ns, reports=got)
    assert rc in (0, 1), (rc, out, err, t.log())
    return out.decode().strip(), got


def test_sandbox_rebuilt_when_a_bound_host_file_is_replaced(env):
    """A bind holds on to the file it was made of: when the host replaces
    one by rename (resolv.conf, ld.so.cache) or an optional path appears,
    the stamp changes and the next run builds anew, seeing both."""
    share = os.path.join(env.daemon.dir, "share")
    os.makedirs(share, exist_ok=True)
    f = os.path.join(share, "greeting")
    with open(f, "w") as fh:
        fh.write("v1\n")
    pol = policy_with(env, "policy-share",
                      f"ro {f}  # a host file\n"
                      f"ro? {share}/later  # optional, not there yet\n")
    out, rep = cat_in_sandbox(env.t, pol, f)
    assert out == "v1"
    byt = {r[0]: r[2] for r in rep}
    try:
        with open(f + ".new", "w") as fh:
            fh.write("v2\n")
        os.rename(f + ".new", f)
        with open(share + "/later", "w") as fh:
            fh.write("here\n")
        ns = (byt[CLONE_NEWNS], byt[CLONE_NEWNET])
        out2, rep2 = cat_in_sandbox(env.t, pol, f, SANDBOX, rep[0][1], ns)
        out3, rep3 = cat_in_sandbox(env.t, pol, share + "/later", SANDBOX,
                                    rep2[0][1], (rep2[0][2], rep2[1][2]))
        close_all(rep2 + rep3)
        assert (out2, out3) == ("v2", "here"), (out2, out3)
        assert rep2[0][1] != rep[0][1] and rep3 == [], (rep, rep2, rep3)
    finally:
        close_all(rep)


def test_sandbox_rebuilt_when_mounts_edited_in_place(env):
    """The mounts file fixed in place with its size and mtime kept (cp -p,
    rsync --inplace -t): the stamp covers its bytes, so the path it no
    longer lists is gone from the next run."""
    share = os.path.join(env.daemon.dir, "share2")
    os.makedirs(share, exist_ok=True)
    for name in ("aaaa", "bbbb"):
        with open(os.path.join(share, name), "w") as fh:
            fh.write(f"secret-{name}\n")
    pol = policy_with(env, "policy-edit",
                      f"ro {share}/aaaa  # exposed by mistake\n")
    mounts = os.path.join(pol, "tenant-code.mounts")
    out, rep = cat_in_sandbox(env.t, pol, share + "/aaaa")
    assert out == "secret-aaaa"
    byt = {r[0]: r[2] for r in rep}
    try:
        st = os.stat(mounts)
        with open(mounts) as fh:
            text = fh.read().replace("/aaaa ", "/bbbb ")
        with open(mounts, "r+") as fh:
            fh.write(text)
        os.utime(mounts, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert os.stat(mounts).st_size == st.st_size
        out2, rep2 = cat_in_sandbox(env.t, pol, share + "/aaaa", SANDBOX,
                                    rep[0][1],
                                    (byt[CLONE_NEWNS], byt[CLONE_NEWNET]))
        close_all(rep2)
        assert "secret-aaaa" not in out2 and len(rep2) == 2, (out2, rep2)
    finally:
        close_all(rep)


FDS_PY = PY + FDS_OPEN + "print(fds)\n"


def test_handler_holds_only_stdio_built_or_joined(env):
    """Whether its run built the sandbox (fd 3 reported on) or joined it
    (fds 5 and 6 passed in), the handler holds 0, 1 and 2 and nothing
    else: no way to the supervisor, no namespace to enter."""
    env.t.write_app("fds", FDS_PY)
    rep = []
    out, rc, err = spawn(env.t.spec("fds", ["PATH=/usr/bin:/bin"]),
                         reports=rep)
    assert rc == 0, err
    byt = {r[0]: r[2] for r in rep}
    try:
        rep2 = []
        out2, rc2, err2 = spawn(env.t.spec("fds", ["PATH=/usr/bin:/bin"],
                                           flags=SANDBOX, stamp=rep[0][1]),
                                ns=(byt[CLONE_NEWNS], byt[CLONE_NEWNET]),
                                reports=rep2)
        close_all(rep2)
        assert rc2 == 0 and rep2 == [], (err2, rep2)
        assert out.decode().strip() == out2.decode().strip() == "[0, 1, 2]"
    finally:
        close_all(rep)


def test_sandbox_rebuilt_when_a_tenant_directory_is_replaced(env):
    """data/ replaced by rename (a restore from a backup): the kept
    sandbox still binds the old one, so the stamp covers each tenant
    directory too, and the next run builds anew and writes into the new
    data/, not into the old one."""
    data = os.path.join(env.t.dir, "data")
    env.daemon.write_public("acme", "../data/old-marker", "x")
    out, rep = marked(env.t, "d1")
    assert "old-marker" in out, out
    byt = {r[0]: r[2] for r in rep}
    st = os.stat(data)
    os.rename(data, data + ".old")
    try:
        os.mkdir(data, st.st_mode & 0o7777)
        os.chown(data, st.st_uid, st.st_gid)
        out2, rep2 = marked(env.t, "d2", flags=SANDBOX, stamp=rep[0][1],
                            ns=(byt[CLONE_NEWNS], byt[CLONE_NEWNET]))
        close_all(rep2)
        assert "old-marker" not in out2 and len(rep2) == 2, (out2, rep2)
    finally:
        close_all(rep)
        shutil.rmtree(data)
        os.rename(data + ".old", data)
