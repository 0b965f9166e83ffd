# The systemd protocols tenantd speaks, driven without systemd: a notify
# socket of our own (sd_notify(3)), a listening socket passed the way
# systemd passes it (sd_listen_fds(3)), and SIGHUP reload. The same
# behaviour under a real systemd is tests/system.
import os
import signal
import socket
import subprocess
import threading
import time

from conftest import (Daemon, TENANTD, read_responses, request_bytes,
                      wait_for)


class Notify:
    """A NOTIFY_SOCKET collecting what tenantd sends."""

    def __init__(self, d):
        self.path = os.path.join(d.dir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.05)
        self.msgs = []

    def drain(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self.msgs.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        return self.msgs

    def wait(self, pred, timeout=5):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(pred(m) for m in self.msgs):
                return
            self.drain(0.05)
        raise AssertionError(f"not notified; got {self.msgs}")


def start(d, env=None, fds=(), prefix=""):
    """tenantd as systemd would start it: the passed sockets on fds 3, 4,
    ..., and $$ in the shell is the pid that execs tenantd."""
    def move():
        # Into place in the child: dup2 clears close-on-exec on the copy.
        for i, fd in enumerate(fds):
            os.dup2(fd, 3 + i)
    d.log = open(d.logpath, "ab")
    d.proc = subprocess.Popen(
        ["sh", "-c", f"{prefix}exec {TENANTD} -c {d.conf}"],
        env=dict(os.environ, **(env or {})), preexec_fn=move,
        pass_fds=tuple(range(3, 3 + len(fds))),
        stdout=d.log, stderr=subprocess.STDOUT)
    return d


def test_ready_status_watchdog_reloading_stopping():
    d = Daemon()
    try:
        d.create("acme", "acme's own page\n")
        n = Notify(d)
        start(d, {"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": "400000"},
              prefix="WATCHDOG_PID=$$ ")
        n.wait(lambda m: m.startswith("READY=1"))
        # READY only once the socket accepts.
        d.wait_ready(1)
        ready = [m for m in n.msgs if m.startswith("READY=1")][0]
        assert "STATUS=0 tenants served by 0 workers, 1 spare" in ready
        # The watchdog is pinged from the loop at half the interval.
        n.drain(1.0)
        assert 3 <= n.msgs.count("WATCHDOG=1") <= 8, n.msgs
        # STATUS= follows the live counts.
        assert d.get(d.host("acme")).status == 200
        n.wait(lambda m: "STATUS=1 tenants served by 1 workers" in m, 4)
        # Reload: RELOADING=1, then READY=1 again.
        before = len(n.msgs)
        d.proc.send_signal(signal.SIGHUP)
        n.wait(lambda m: m == "RELOADING=1")
        n.wait(lambda m: m.startswith("READY=1") and
               n.msgs.index(m) > before)
        d.proc.send_signal(signal.SIGTERM)
        n.wait(lambda m: m == "STOPPING=1")
        assert d.proc.wait(10) == 0
    finally:
        d.close()


def test_no_watchdog_pings_unless_asked():
    d = Daemon()
    try:
        n = Notify(d)
        start(d, {"NOTIFY_SOCKET": n.path})
        n.wait(lambda m: m.startswith("READY=1"))
        n.drain(1.0)
        assert "WATCHDOG=1" not in n.msgs
    finally:
        d.close()


def listening_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(64)
    os.set_inheritable(s.fileno(), True)
    return s


def test_socket_activation_uses_the_passed_socket():
    """One listening socket on fd 3 with LISTEN_FDS=1 and LISTEN_PID set:
    tenantd serves on it, creates none of its own, and leaves it in place
    when it stops (systemd owns it and keeps it across restarts)."""
    d = Daemon()
    try:
        d.create("acme", "acme's own page\n")
        os.makedirs(d.run, exist_ok=True)
        path = os.path.join(d.run, "activated.sock")
        s = listening_socket(path)
        fd = s.fileno()
        # Move it to fd 3 in the child, as systemd would.
        start(d, {"LISTEN_FDS": "1"}, fds=(fd,), prefix="LISTEN_PID=$$ ")
        d.sock = path
        d.wait_ready()
        assert d.get(d.host("acme")).body == b"acme's own page\n"
        assert not os.path.exists(os.path.join(d.run, "http.sock"))
        d.wait_log(r"proxy socket .*activated\.sock passed by systemd")
        d.stop()
        assert os.path.exists(path), "tenantd removed systemd's socket"
        # The socket keeps listening for the next start: a connection
        # made now waits in the backlog instead of being refused.
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)
        c.sendall(request_bytes(d.host("acme"), close=True))
        start(d, {"LISTEN_FDS": "1"}, fds=(fd,), prefix="LISTEN_PID=$$ ")
        rs, _, _ = read_responses(c, 1, 5)
        assert rs and rs[0].body == b"acme's own page\n"
        c.close()
        s.close()
    finally:
        d.close()


def test_socket_activation_refuses_two_sockets():
    d = Daemon()
    try:
        os.makedirs(d.run, exist_ok=True)
        a = listening_socket(os.path.join(d.run, "a.sock"))
        b = listening_socket(os.path.join(d.run, "b.sock"))
        start(d, {"LISTEN_FDS": "2"}, fds=(a.fileno(), b.fileno()),
              prefix="LISTEN_PID=$$ ")
        assert d.proc.wait(5) != 0
        assert "systemd passed 2 sockets; tenantd takes exactly one" in \
            d.logtext()
    finally:
        d.close()


def test_listen_fds_for_another_pid_is_ignored():
    """LISTEN_PID names another process: the variables are not ours, and
    tenantd makes its own socket."""
    d = Daemon()
    try:
        start(d, {"LISTEN_FDS": "1", "LISTEN_PID": "1"})
        d.wait_ready()
        assert os.path.exists(d.sock)
    finally:
        d.close()


def set_key(d, section, key, value):
    with open(d.conf) as f:
        lines = f.read().splitlines()
    out, sec, done = [], None, False
    for ln in lines:
        if ln.startswith("["):
            if sec == section and not done:
                out.append(f"{key} = {value}")
                done = True
            sec = ln.strip("[]")
        elif sec == section and ln.split("=")[0].strip() == key:
            ln, done = f"{key} = {value}", True
        out.append(ln)
    if not done:
        if sec != section:
            out.append(f"[{section}]")
        out.append(f"{key} = {value}")
    with open(d.conf, "w") as f:
        f.write("\n".join(out) + "\n")


def test_reload_applies_live_keys_and_reports_the_others():
    d = Daemon(proxy__header_timeout="10s")
    try:
        d.create("acme", "acme's own page\n")
        d.start()
        set_key(d, "proxy", "header_timeout", "1s")
        set_key(d, "hosts", "suffix", "other.localhost")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log(r"reload: \[hosts\] suffix changed; it takes effect "
                   r"after a restart")
        d.wait_log(r"reload: .*tenantd\.conf read")
        # The suffix did not change: acme is still served under the old one.
        assert d.get(d.host("acme")).status == 200
        # header_timeout did: a head left unfinished is cut after ~1 s.
        s = d.connect(5)
        s.sendall(b"GET / HTTP/1.1\r\nHo")
        t0 = time.monotonic()
        rs, _, eof = read_responses(s, None, 4)
        assert eof and [r.status for r in rs] == [408], (rs, eof)
        assert 0.5 < time.monotonic() - t0 < 2.5
    finally:
        d.close()


def test_reload_with_a_broken_config_or_policy_keeps_the_running_one():
    d = Daemon()
    try:
        d.create("acme", "acme's own page\n")
        d.start()
        with open(d.conf, "a") as f:
            f.write("[proxy]\nno_such_key = 1\n")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log(r"reload: config: .*unknown key \"no_such_key\".*keeping "
                   r"the running one")
        assert d.get(d.host("acme")).status == 200
        assert d.proc.poll() is None
    finally:
        d.close()


def test_broken_tenant_code_policy_fails_the_check():
    """tenantd-run parses the tenant-code.* files on every run; tenantd
    parses them too at start, on reload and for "tenantd -n" (what the
    unit's ExecReload= runs first), so a broken one fails "systemctl
    reload" loudly instead of every handler afterwards. The system test
    found this: a reload said OK, then every run failed."""
    d = Daemon()
    try:
        d.create("acme", "acme's own page\n")
        cmd = [TENANTD, "-n", "-c", d.conf]
        ok = subprocess.run(cmd, capture_output=True, text=True)
        assert ok.returncode == 0, ok.stderr
        for name, bad in (("tenant-code.cgroup", "pids 24\n"),
                          ("tenant-code.limits", "nproc 64\n"),
                          ("tenant-code.mounts", "ro /usr\n"),
                          ("tenant-code.seccomp", "bpf errno EPERM\n")):
            path = os.path.join(d.policy, name)
            with open(path) as f:
                good = f.read()
            # One more line without its "# why" comment.
            with open(path, "a") as f:
                f.write(bad)
            r = subprocess.run(cmd, capture_output=True, text=True)
            with open(path, "w") as f:
                f.write(good)
            assert r.returncode != 0 and name in r.stderr, (name, r)
        d.start()
        with open(os.path.join(d.policy, "tenant-code.cgroup"), "a") as f:
            f.write("memory 48M\n")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log(r"reload: policy: .*tenant-code\.cgroup.*keeping")
        assert d.get(d.host("acme")).status == 200
    finally:
        d.close()


def test_reload_drops_no_request():
    """SIGHUP repeatedly while clients send requests, on new and on
    keep-alive connections: every request is answered 200."""
    d = Daemon()
    try:
        d.create("acme", "acme's own page\n")
        d.create("globex", "globex's own page\n")
        d.start()
        stop = threading.Event()
        errors, count = [], [0]

        def client(host, keepalive):
            s = None
            while not stop.is_set():
                try:
                    if s is None:
                        s = d.connect(5)
                    s.sendall(request_bytes(host, close=not keepalive))
                    rs, _, _ = read_responses(s, 1, 5)
                    if not rs or rs[0].status != 200:
                        errors.append((host, rs))
                    count[0] += 1
                    if not keepalive or (rs and rs[0].headers.get(
                            "connection") == "close"):
                        s.close()
                        s = None
                except OSError as e:
                    errors.append((host, e))
                    s = None
            if s is not None:
                s.close()

        ts = [threading.Thread(target=client, args=(d.host(t), k))
              for t in ("acme", "globex") for k in (True, False)]
        for t in ts:
            t.start()
        for _ in range(10):
            time.sleep(0.15)
            d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        stop.set()
        for t in ts:
            t.join()
        assert errors == [] and count[0] > 100, (errors[:5], count)
        assert d.logtext().count("reload:") >= 10
    finally:
        d.close()


def test_sighup_during_startup_does_not_kill():
    """A reload requested while tenantd is still starting must not end it
    (SIGHUP's default action would). The window that matters opens when
    the proxy socket appears: a proxy or systemd can see us from then on.
    (Before main() runs, in the dynamic loader, no program can guard
    itself; main() ignores SIGHUP from its first line, too.)"""
    for _ in range(5):
        d = Daemon()
        try:
            d.create("acme", "acme's own page\n")
            d.start(wait=False)
            wait_for(lambda: os.path.exists(d.sock), 5, "the socket",
                     interval=0.0001)
            for _ in range(50):
                d.proc.send_signal(signal.SIGHUP)
                time.sleep(0.0002)
            d.wait_ready()
            assert d.proc.poll() is None, d.logtext()
            assert d.get(d.host("acme")).status == 200
        finally:
            d.close()


def test_stop_finishes_requests_already_accepted():
    """SIGTERM (systemctl stop, or restart under socket activation):
    nothing new is accepted, but a connection already accepted whose head
    is still arriving is read, routed and served, and so is one waiting for
    its tenant's first worker; only then do the workers drain."""
    d = Daemon(workers__spares=0, workers__drain_timeout="5s")
    try:
        d.create("acme", "acme's own page\n")
        d.create("globex", "globex's own page\n")
        d.start()
        half = d.connect(10)
        half.sendall(b"GET / HTTP/1.1\r\nHost: acme.test.localhost\r\n")
        cold = d.connect(10)
        time.sleep(0.1)                 # both accepted
        d.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        # New connections are refused (our own socket is gone) ...
        assert not os.path.exists(d.sock)
        # ... but the accepted ones are finished.
        half.sendall(b"Connection: close\r\n\r\n")
        cold.sendall(request_bytes(d.host("globex"), close=True))
        for s, body in ((half, b"acme's own page\n"),
                        (cold, b"globex's own page\n")):
            rs, _, _ = read_responses(s, 1, 5)
            assert rs and rs[0].status == 200 and rs[0].body == body, rs
            s.close()
        assert d.proc.wait(10) == 0
        assert "finishing the requests already received" in d.logtext()
        assert d.workers() == [] if d.proc.poll() is None else True
    finally:
        d.close()
