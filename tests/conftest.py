# Test harness shared by tests/integration and tests/security: real
# processes only. Each Daemon gets its own state directory, proxy socket and
# uid range, so test files can run in parallel without seeing each other.
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

SRC = os.environ.get("TENANTD_SOURCE") or os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("TENANTD_BUILD") or os.path.join(SRC, "build")
TENANTD = os.path.join(BUILD, "supervisor", "tenantd")
TENANTCTL = os.path.join(BUILD, "tenantctl", "tenantctl")
WORKER = os.path.join(BUILD, "worker", "tenantd-worker")
RUNNER = os.path.join(BUILD, "runner", "tenantd-run")
POLICY = os.path.join(SRC, "policy")


FRONT = os.path.join(BUILD, "front", "tenantd-front")
FRONT_USER = "tenantd-front"


def ensure_front_user():
    """The front's system user ([front] user), as the package creates it
    (packaging/systemd/tenantd.sysusers)."""
    import pwd
    try:
        pwd.getpwnam(FRONT_USER)
    except KeyError:
        r = subprocess.run(["useradd", "--system", "--no-create-home",
                            "--home-dir", "/nonexistent", "--shell",
                            "/usr/sbin/nologin", FRONT_USER],
                           capture_output=True, text=True)
        # Another test run may have made it at the same moment.
        if r.returncode != 0:
            pwd.getpwnam(FRONT_USER)


def pytest_configure(config):
    if os.geteuid() != 0:
        # Every test here sets uids and chroots; CI runs as root.
        raise pytest.UsageError("the tenantd test suite must run as root")
    ensure_front_user()


class Response:
    def __init__(self, status, reason, headers, body, raw):
        self.status = status
        self.reason = reason
        self.headers = headers      # lower-case name -> value (last wins)
        self.body = body
        self.raw = raw

    def __repr__(self):
        return f"<Response {self.status} {self.body[:60]!r}>"


def parse_responses(data, head_only=False):
    """Split a byte stream into HTTP/1.1 responses (Content-Length framed).
    Returns (responses, leftover bytes)."""
    out = []
    while True:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return out, data
        head = data[:end].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3}) ?(.*)", head[0])
        assert m, f"not an HTTP response: {head[0]!r}"
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        status = int(m.group(1))
        n = int(headers.get("content-length", "0"))
        if head_only or status == 304:
            n = 0
        if len(data) < end + 4 + n:
            return out, data
        body = data[end + 4:end + 4 + n]
        out.append(Response(status, m.group(2), headers, body,
                            data[:end + 4 + n]))
        data = data[end + 4 + n:]


class Daemon:
    """One tenantd with its own config, state directory and uid range."""

    def __init__(self, suffix="test.localhost", admin="admin.test.localhost",
                 tenant_limits=None, **overrides):
        # Under /var/lib, not /tmp: every component of a jail path must be
        # root-owned and not writable by others.
        self.dir = tempfile.mkdtemp(prefix="tenantd-test-", dir="/var/lib")
        os.chmod(self.dir, 0o755)
        self.policy = self.make_policy(tenant_limits)
        self.state = os.path.join(self.dir, "state")
        self.run = os.path.join(self.dir, "run")
        self.sock = os.path.join(self.run, "http.sock")
        self.conf = os.path.join(self.dir, "tenantd.conf")
        self.logpath = os.path.join(self.dir, "tenantd.log")
        self.suffix = suffix
        base = random.randrange(300000, 3900000, 1000)
        sections = {
            "paths": {"state_dir": self.state, "run_dir": self.run,
                      "worker": WORKER, "runner": RUNNER, "front": FRONT,
                      "policy_dir": self.policy},
            "hosts": {"suffix": suffix, "admin": admin},
            "proxy": {},
            "workers": {"spares": "1"},
            "tenants": {"uid_min": str(base), "uid_max": str(base + 999)},
            "log": {"verbose": "true"},
        }
        for key, value in overrides.items():
            sec, _, name = key.partition("__")
            sections.setdefault(sec, {})[name] = str(value)
        self.write_conf(sections)
        self.proc = None
        try:
            self.ctl("init")
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    # Tests of other features send more than the default 1000 requests a
    # minute to one tenant; they get a rate they do not reach. Tests of the
    # rate limit itself set it per tenant with "tenantctl limits set".
    TEST_LIMITS = {"requests_per_minute": "10000000"}

    def make_policy(self, tenant_limits):
        """A copy of policy/ for this daemon, with tenant.limits extended
        by `tenant_limits` (name -> value; None: TEST_LIMITS)."""
        pol = os.path.join(self.dir, "policy-harness")
        shutil.copytree(POLICY, pol, ignore=shutil.ignore_patterns(
            "*.c", "*.h", "meson.build"))
        extra = dict(self.TEST_LIMITS if tenant_limits is None
                     else tenant_limits)
        path = os.path.join(pol, "tenant.limits")
        lines = []
        if os.path.exists(path):
            with open(path) as f:
                lines = f.read().splitlines()
        for i, line in enumerate(lines):
            name = line.split("#", 1)[0].split()
            if name and name[0] in extra:
                lines[i] = (f"{name[0]} {extra.pop(name[0])}  "
                            "# set by the test harness")
        lines += [f"{k} {v}  # set by the test harness"
                  for k, v in extra.items()]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return pol

    def write_conf(self, sections):
        with open(self.conf, "w") as f:
            for sec, kv in sections.items():
                f.write(f"[{sec}]\n")
                for k, v in kv.items():
                    f.write(f"{k} = {v}\n")

    # --- tenantctl -------------------------------------------------------
    def ctl(self, *args, check=True):
        r = subprocess.run([TENANTCTL, "-c", self.conf, *args],
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError(f"tenantctl {' '.join(args)} -> "
                                 f"{r.returncode}: {r.stderr}")
        return r

    def ctl_json(self, *args):
        return json.loads(self.ctl(*args, "--json").stdout)

    def create(self, slug, index=None):
        self.ctl("create", slug)
        if index is not None:
            self.write_public(slug, "index.html", index)

    def tenant_dir(self, slug):
        return os.path.join(self.state, "tenants", slug)

    def tenant_ids(self, slug):
        t = self.ctl_json("show", slug)
        return t["uid"], t["gid"]

    def write_public(self, slug, name, content, mode=0o644):
        uid, gid = self.tenant_ids(slug)
        path = os.path.join(self.tenant_dir(slug), "public", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
        return path

    # --- the daemon ------------------------------------------------------
    def start(self, wait=True):
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen([TENANTD, "-d", "-c", self.conf],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("tenantd exited: " + self.logtext())
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.sock)
                s.close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("tenantd did not start: " + self.logtext())

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def logtext(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.logtext()):
                return
            time.sleep(0.02)
        raise AssertionError(f"{pattern!r} not in log:\n{self.logtext()}")

    def workers(self, slug=None):
        """Pids of this daemon's workers (of one tenant, by its uid)."""
        uid = self.tenant_ids(slug)[0] if slug else None
        return [p for p, u in children(self.proc.pid)
                if uid is None or u == uid]

    def wait_workers(self, slug, n=1, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            w = self.workers(slug)
            if len(w) >= n:
                return w
            time.sleep(0.02)
        raise AssertionError(f"no worker for {slug}")

    def access_log(self, slug):
        path = os.path.join(self.tenant_dir(slug), "logs", "access.log")
        try:
            with open(path) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # --- talking HTTP over the proxy socket -----------------------------
    def connect(self, timeout=5):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(self.sock)
        return s

    def exchange(self, raw, timeout=5, responses=None, head_only=False):
        """Send raw bytes on a new connection; read until EOF, timeout or
        `responses` complete responses."""
        s = self.connect(timeout)
        try:
            s.sendall(raw)
            return read_responses(s, responses, timeout, head_only)
        finally:
            s.close()

    def get(self, host, path="/", headers=None, method="GET"):
        h = {"Host": host, "Connection": "close"}
        h.update(headers or {})
        raw = f"{method} {path} HTTP/1.1\r\n".encode()
        raw += b"".join(f"{k}: {v}\r\n".encode() for k, v in h.items())
        raw += b"\r\n"
        rs, _, _ = self.exchange(raw, head_only=method == "HEAD")
        assert len(rs) == 1, f"expected one response, got {rs}"
        return rs[0]

    def host(self, slug):
        return f"{slug}.{self.suffix}"

    def close(self):
        self.stop()
        if self.proc is not None:
            for pid, _ in children(self.proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)


def read_responses(s, responses=None, timeout=5, head_only=False):
    """Read from s until EOF, timeout, or `responses` responses. Returns
    (responses, leftover, eof)."""
    data = b""
    eof = False
    deadline = time.monotonic() + timeout
    while True:
        if responses is not None:
            rs, _ = parse_responses(data, head_only)
            if len(rs) >= responses:
                break
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            eof = True
            break
        if not d:
            eof = True
            break
        data += d
    rs, rest = parse_responses(data, head_only)
    return rs, rest, eof


def request_bytes(host, path="/", method="GET", headers=None, close=False):
    h = {"Host": host}
    if close:
        h["Connection"] = "close"
    h.update(headers or {})
    raw = f"{method} {path} HTTP/1.1\r\n".encode()
    raw += b"".join(f"{k}: {v}\r\n".encode() for k, v in h.items())
    return raw + b"\r\n"


def wait_for(pred, timeout=5, what="condition", interval=0.01):
    """Poll pred() until it is true (returned) or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for "
                                 f"{what}")
        time.sleep(interval)


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def processes():
    """(pid, status dict) of every live process."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = proc_status(int(d))
        except OSError:
            continue
        if st.get("State", "")[:1] != "Z":
            out.append((int(d), st))
    return out


def children(ppid):
    """(pid, uid) of the live children of ppid."""
    return [(p, int(st["Uid"].split()[0])) for p, st in processes()
            if st.get("PPid") == str(ppid)]


def spare_runs(d):
    """The pids of d's spare runs (supervisor/privrun.c): a tenantd-run
    child of tenantd whose one child is still tenantd-run (never exec'd a
    program: waiting for its request) and has no child of its own. Both
    pids of each."""
    procs = processes()
    kids = {}
    for p, st in procs:
        kids.setdefault(int(st["PPid"]), []).append((p, st))
    out = set()
    for p, st in kids.get(d.proc.pid, []):
        if st["Name"] != "tenantd-run":
            continue
        c = kids.get(p, [])
        if (len(c) == 1 and c[0][1]["Name"] == "tenantd-run" and
                not kids.get(c[0][0])):
            out |= {p, c[0][0]}
    return out


@pytest.fixture
def td():
    """A started daemon with two tenants, acme and globex, each with its own
    index page."""
    d = Daemon()
    try:
        d.create("acme", "acme's own page\n")
        d.create("globex", "globex's own page\n")
        d.start()
        yield d
    finally:
        d.close()


@pytest.fixture
def daemon():
    """An initialised daemon, not started, with no tenants."""
    d = Daemon()
    try:
        yield d
    finally:
        d.close()
