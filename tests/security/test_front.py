# The front (docs/architecture.md, "The front"; docs/security.md,
# "Privilege separation"): the loopback HTTP listener ([admin] http_listen)
# is served by tenantd-front, not by the root parent. These tests look at
# the live front from outside (/proc), run the front's filter file under
# the probe, kill the front and watch the parent restart it with the
# listener kept, flood the listener, and let a hostile stand-in break the
# protocol in every way the parent must survive.
import os
import pwd
import re
import signal
import socket
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import (BUILD, FRONT, FRONT_USER, POLICY, Daemon, children,
                      proc_status, wait_for)
from probelib import Jail, resolve, write_policy

HOSTILE = os.path.join(BUILD, "tests", "security", "tenantd-hostile-front")
FRONT_SECCOMP = os.path.join(POLICY, "front.seccomp")
FRONT_LIMITS = os.path.join(POLICY, "front.limits")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def front_pids(d):
    uid = pwd.getpwnam(FRONT_USER).pw_uid
    return [p for p, u in children(d.proc.pid) if u == uid]


def wait_front(d, old=None, timeout=5):
    """The pid of d's front once it runs as its user (a new one if old)."""
    def one():
        pids = [p for p in front_pids(d) if p != old]
        return pids[0] if len(pids) == 1 else None
    return wait_for(one, timeout, "the front")


def get(d, path, timeout=5):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{d.port}{path}",
                                    timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def make(front=FRONT, **kw):
    port = free_port()
    d = Daemon(admin__http_listen=f"127.0.0.1:{port}", paths__front=front,
               workers__backoff_min="100ms", workers__backoff_max="400ms",
               **kw)
    d.port = port
    return d


@pytest.fixture(scope="module")
def fd():
    # Many questions in a row: the rate limit has a test of its own.
    d = make(admin__ask_rate="1000")
    try:
        d.create("acme", "acme's own page\n")
        d.create("dormant")
        d.ctl("suspend", "dormant")
        d.start()
        wait_front(d)
        yield d
    finally:
        d.close()


def test_front_runs_sandboxed(fd):
    """Its own user, no capability, no_new_privs, the filter, the empty
    root the parent made; only its two descriptors besides stdio."""
    pid = wait_front(fd)
    pw = pwd.getpwnam(FRONT_USER)
    st = proc_status(pid)
    assert st["Uid"].split() == [str(pw.pw_uid)] * 4
    assert st["Gid"].split() == [str(pw.pw_gid)] * 4
    assert pw.pw_uid != 0 and pw.pw_gid != 0
    assert st["Groups"] == ""
    for cap in ("CapInh", "CapEff", "CapPrm", "CapBnd", "CapAmb"):
        assert int(st[cap], 16) == 0, (cap, st[cap])
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2"
    root = os.readlink(f"/proc/{pid}/root")
    assert root == os.path.join(fd.run, "front-root")
    # Nothing to open in there: no registry, no tenant directory.
    assert os.listdir(f"/proc/{pid}/root/") == []
    rst = os.stat(root)
    assert (rst.st_uid, rst.st_mode & 0o777) == (0, 0o755)
    fds = {int(x): os.readlink(f"/proc/{pid}/fd/{x}")
           for x in os.listdir(f"/proc/{pid}/fd")}
    assert sorted(fds) == [0, 1, 2, 3, 4], fds
    assert {fds[0], fds[1], fds[2]} == {"/dev/null"}, fds
    # fd 4 is the listening socket tenantd keeps (supervisor/spawner.c
    # maps it), fd 3 its end of a channel whose other end tenantd holds.
    ours = {os.readlink(f"/proc/{fd.proc.pid}/fd/{x}")
            for x in os.listdir(f"/proc/{fd.proc.pid}/fd")}
    assert fds[3].startswith("socket:") and fds[3] not in ours, fds
    assert fds[4].startswith("socket:") and fds[4] in ours, fds
    # /metrics and /ask are answered by it, through the parent.
    assert get(fd, "/metrics")[0] == 200
    assert get(fd, "/ask?domain=acme.test.localhost")[0] == 200
    assert get(fd, "/ask?domain=dormant.test.localhost")[0] == 404


def test_ask_for_names_of_no_tenant_is_no_protocol_break(fd):
    """Canonical names the classifier refuses (nested under the suffix,
    the apex, the admin host, a reserved one) are
    answered 404 through the parent, which keeps its front."""
    pid = wait_front(fd)
    for name in ("x.acme.test.localhost", "test.localhost",
                 "admin.test.localhost", "www.test.localhost",
                 "acme.test.localhost.x"):
        assert get(fd, f"/ask?domain={name}")[0] == 404, name
    assert get(fd, "/ask?domain=acme.test.localhost")[0] == 200
    assert wait_front(fd) == pid
    assert not re.search(rf"front {pid}: .*killing it", fd.logtext())


def test_front_links_no_registry():
    """The binary holds no registry, ledger or key-file code at all."""
    out = subprocess.run(["nm", FRONT], capture_output=True, text=True,
                         check=True).stdout
    for sym in ("registry_", "ledger_", "keys_file", "sqlite3_"):
        assert sym not in out, sym


def test_front_filter_kills_exec(fd, tmp_path):
    """front.seccomp allows no exec, open, socket, fork or signal, and its
    default is a kill: the probe, entering the sandbox through the same
    code with the front's files, user and an empty root, dies of SIGSYS
    at execve."""
    rules, native = resolve(FRONT_SECCOMP)
    allowed = {name for name, _ in rules.values()}
    for sc in ("execve", "execveat", "open", "openat", "openat2", "socket",
               "connect", "fork", "vfork", "clone", "clone3", "kill",
               "ptrace", "chroot", "setuid", "prctl"):
        assert sc not in allowed, sc
    byname = {v: k for k, v in native.items()}
    pw = pwd.getpwnam(FRONT_USER)
    empty = os.path.join(fd.dir, "probe-root")
    os.makedirs(empty, 0o755, exist_ok=True)
    jail = Jail.__new__(Jail)
    jail.uid, jail.gid, jail.dir = pw.pw_uid, pw.pw_gid, empty
    # The probe reports on stderr: write is added for that alone, so that
    # a kill at the attempt is told apart from a kill at the report.
    pol = write_policy(fd.dir, "front-probe.seccomp", base=FRONT_SECCOMP,
                       add=["write"])
    r = jail.run("noop", policy=pol, limits=FRONT_LIMITS)
    assert r.rc == 0, r
    for name in ("execve", "openat", "socket"):
        r = jail.run("rawsyscall", byname[name], policy=pol,
                     limits=FRONT_LIMITS)
        assert r.killed_by_seccomp, r


def test_kill_9_restarts_and_keeps_the_backlog(fd):
    """The parent logs the loss and restarts the front; a request made
    while none runs waits in the listener's backlog and is answered."""
    old = wait_front(fd)
    os.kill(old, signal.SIGSTOP)
    # Accepted by the kernel, not by any front: it waits in the backlog.
    got = {}
    t = threading.Thread(target=lambda: got.update(
        r=get(fd, "/ask?domain=acme.test.localhost", timeout=10)))
    t.start()
    time.sleep(0.2)
    os.kill(old, signal.SIGKILL)
    t0 = time.monotonic()
    fd.wait_log(rf"lost front: pid {old} \(ready, [0-9.]+s old\): "
                r"terminated; signal 9")
    new = wait_front(fd, old)
    t.join(10)
    assert got.get("r") == (200, b"ok\n"), got
    assert get(fd, "/metrics")[0] == 200
    assert time.monotonic() - t0 < 2.5
    assert new != old and fd.proc.poll() is None


def test_flood_does_not_block_tenantctl(fd):
    """Idle connections past the front's cap of 64: the admin socket has
    a cap of its own, so tenantctl status still answers at once."""
    idle = []
    try:
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", fd.port), timeout=5)
            idle.append(s)
        time.sleep(0.3)
        t0 = time.monotonic()
        r = fd.ctl("status")
        assert r.returncode == 0 and "tenantd pid" in r.stdout
        assert time.monotonic() - t0 < 2
    finally:
        for s in idle:
            s.close()
    wait_for(lambda: get(fd, "/metrics")[0] == 200, 8, "the front again")


def hostile(mode):
    d = make(front=HOSTILE)
    os.makedirs(d.run, 0o755, exist_ok=True)
    with open(os.path.join(d.run, "hostile-front.mode"), "w") as f:
        f.write(mode + "\n")
    d.create("acme", "acme's own page\n")
    d.create("dormant")
    d.ctl("suspend", "dormant")
    d.ctl("hostname", "add", "acme", "shop.example.org", "--active")
    d.ctl("hostname", "add", "acme", "pending.example.org")
    return d


def hostile_log(d):
    try:
        with open(os.path.join(d.run, "hostile-front.log")) as f:
            return f.read()
    except FileNotFoundError:
        return ""


U = "unpermitted or malformed "
# What the parent says first, where the schema and the table pass it.
DETAIL = {"noncanon": "asked about a name not in canonical form",
          "flood": "more than 64 questions of a kind unanswered"}


@pytest.mark.parametrize("mode,why", [
    ("unknown", "malformed message"),       # msg_parse: no such type
    ("wrongchan", U + "STATE_READY"),
    ("fd", U + "FRONT_ASK"),
    ("trunc", U + "FRONT_ASK"),
    ("noncanon", U + "FRONT_ASK"),
    ("early", U + "FRONT_ASK"),
    ("ready2", U + "FRONT_READY"),
    ("flood", U + "FRONT_ASK"),
])
def test_hostile_front_is_killed_and_restarted(mode, why):
    d = hostile(mode)
    try:
        d.start()
        d.wait_log(rf"front (\d+): {why}; killing it", 10)
        pid = re.search(rf"front (\d+): {why}", d.logtext()).group(1)
        if mode in DETAIL:
            d.wait_log(rf"front {pid}: {DETAIL[mode]}")
        d.wait_log(rf"lost front: pid {pid} \(ready|starting")
        # Restarted: a second one read the mode and was killed in turn.
        wait_for(lambda: hostile_log(d).count("mode ") >= 2, 5,
                 "a restarted front")
        assert d.proc.poll() is None, d.logtext()
        assert "tenantd pid" in d.ctl("status").stdout
        assert d.get(d.host("acme")).status == 200
        # Never an answer to a question the parent refused.
        if mode in ("noncanon", "fd", "trunc", "early"):
            assert "answered" not in hostile_log(d), hostile_log(d)
    finally:
        d.close()


def test_hostile_front_gets_true_answers():
    """Asked directly over the channel, the parent says yes for an active
    tenant's name and its active custom hostname, and no for the rest."""
    d = hostile("ask")
    try:
        d.start()
        wait_for(lambda: hostile_log(d).count("answered") >= 8, 5,
                 "eight answers")
        log = hostile_log(d)
        got = dict(re.findall(r"answered id (\d+) allowed (\d)", log))
        assert got == {"1": "1", "2": "0", "3": "0", "4": "1", "5": "0",
                       "6": "0", "7": "0", "8": "0"}, log
        assert "killing it" not in d.logtext()
    finally:
        d.close()


def test_front_that_never_gets_ready_is_killed():
    d = hostile("silent")
    conf = open(d.conf).read().replace("[workers]\n",
                                       "[workers]\nstart_timeout = 300ms\n")
    open(d.conf, "w").write(conf)
    try:
        d.start()
        d.wait_log(r"front \d+: not ready within \[workers\] "
                   r"start_timeout; killing it", 5)
        d.wait_log(r"lost front: pid \d+ \(starting, ")
        assert d.proc.poll() is None
    finally:
        d.close()


def test_front_log_lines_are_tagged_escaped_and_limited():
    """A front's log lines: tagged with its pid, control bytes escaped (no
    forged line), priority capped at err, 20 a second."""
    d = hostile("logs")
    try:
        d.start()
        pid = wait_for(lambda: re.search(r"front (\d+) ready", d.logtext()),
                       5, "a ready front").group(1)
        time.sleep(0.5)
        log = d.logtext()
        lines = [ln for ln in log.splitlines()
                 if f"front {pid}: line" in ln]
        assert 0 < len(lines) <= 20, len(lines)
        assert all("\\x0atenantd[1]: forged" in ln for ln in lines), lines
        assert not any(ln.startswith("tenantd[1]") for ln in
                       log.splitlines())
        assert "killing it" not in log
    finally:
        d.close()


def test_missing_front_user_is_refused():
    port = free_port()
    d = Daemon(admin__http_listen=f"127.0.0.1:{port}",
               front__user="tenantd-no-such-user")
    try:
        d.start(wait=False)
        assert d.proc.wait(10) != 0
        assert '[front] user: no user "tenantd-no-such-user"' in \
            d.logtext()
    finally:
        d.close()


def test_root_front_user_is_refused():
    port = free_port()
    d = Daemon(admin__http_listen=f"127.0.0.1:{port}", front__user="root")
    try:
        r = subprocess.run([os.path.join(BUILD, "supervisor", "tenantd"),
                            "-n", "-c", d.conf], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode != 0 and "[front] user" in r.stderr, r
        assert "uid or gid 0" in r.stderr
    finally:
        d.close()


def test_tenant_range_front_user_is_refused():
    """A front user whose uid or gid a tenant may get is refused; the same
    user outside the range is taken (nobody: 65534)."""
    nobody = pwd.getpwnam("nobody")
    tenantd = os.path.join(BUILD, "supervisor", "tenantd")
    for lo, ok in ((nobody.pw_uid - 10, False), (nobody.pw_uid + 1, True)):
        port = free_port()
        d = Daemon(admin__http_listen=f"127.0.0.1:{port}",
                   front__user="nobody", tenants__uid_min=str(lo),
                   tenants__uid_max=str(lo + 100))
        try:
            r = subprocess.run([tenantd, "-n", "-c", d.conf],
                               capture_output=True, text=True, timeout=10)
            if ok:
                assert r.returncode == 0, r
            else:
                assert r.returncode != 0 and "tenants' range" in \
                    r.stderr, r
        finally:
            d.close()


TOKEN = "s3cret-metrics-token-0123456789"


def metrics(d, auth=None):
    req = urllib.request.Request(f"http://127.0.0.1:{d.port}/metrics")
    if auth is not None:
        req.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers


def token_daemon(mode=0o600, token=TOKEN):
    tmp = tempfile.mkdtemp(prefix="tenantd-token-", dir="/var/lib")
    path = os.path.join(tmp, "metrics.token")
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, mode)
    d = make(admin__metrics_token_file=path)
    d.tokdir = tmp
    return d


def test_metrics_token_is_required_when_configured():
    """[admin] metrics_token_file: no header or a wrong token gets 401
    with WWW-Authenticate: Bearer, the right one 200; the token is in no
    log line."""
    d = token_daemon()
    try:
        d.start()
        wait_front(d)
        for auth in (None, "Bearer wrong", "Bearer " + TOKEN[:-1],
                     "Bearer " + TOKEN + "x", "Basic " + TOKEN, TOKEN):
            code, hdr = metrics(d, auth)
            assert code == 401, auth
            assert hdr["WWW-Authenticate"] == "Bearer", auth
        code, _ = metrics(d, "Bearer " + TOKEN)
        assert code == 200
        # /ask is Caddy's and needs no token.
        assert get(d, "/ask?domain=nobody.test.localhost")[0] == 404
        assert TOKEN not in d.logtext()
    finally:
        d.close()
        shutil.rmtree(d.tokdir, ignore_errors=True)


def test_metrics_token_file_others_can_read_is_refused():
    d = token_daemon(mode=0o644)
    try:
        d.start(wait=False)
        assert d.proc.wait(timeout=10) != 0
        assert "metrics_token_file" in d.logtext()
        assert TOKEN not in d.logtext()
    finally:
        d.close()
        shutil.rmtree(d.tokdir, ignore_errors=True)


def test_ask_malformed_is_400(fd):
    """A question that is not a host name is malformed, not a "no" about
    a tenant: 400, and the front asks the parent nothing."""
    for q in ("", "?name=acme.test.localhost", "?domain=",
              "?domain=acme.test.localhost:443", "?domain=%00acme",
              "?domain=a%2", "?domain=ac%20me.test.localhost",
              "?domain=" + "a" * 64 + ".test.localhost",
              "?domain=" + "a" * 300):
        assert get(fd, "/ask" + q)[0] == 400, q


def test_ask_rate_limit_answers_429_and_recovers():
    d = make(admin__ask_rate="5")
    try:
        d.create("acme")
        d.start()
        wait_front(d)
        codes = [get(d, "/ask?domain=acme.test.localhost")[0]
                 for _ in range(30)]
        assert codes.count(429) >= 15, codes
        assert set(codes) == {200, 429}, codes
        time.sleep(1.2)
        assert get(d, "/ask?domain=acme.test.localhost")[0] == 200
    finally:
        d.close()


def test_ask_is_answered_from_the_route_cache(fd):
    """A name asked again is answered from the route cache: strace on the
    parent sees no read of the registry while it is asked."""
    q = "/ask?domain=acme.test.localhost"
    assert get(fd, q)[0] == 200         # now cached
    out = os.path.join(fd.dir, "strace.out")
    st = subprocess.Popen(["strace", "-q", "-y", "-s", "256", "-o", out, "-p",
                           str(fd.proc.pid)])
    try:
        time.sleep(0.5)                 # attached
        for _ in range(5):
            assert get(fd, q)[0] == 200
        # The same trace sees an uncached name's registry read.
        assert get(fd, "/ask?domain=nobody.test.localhost")[0] == 404
        time.sleep(0.2)
    finally:
        st.terminate()
        st.wait(timeout=5)
    lines = open(out).read().splitlines()
    text = "\n".join(lines)

    # The parent answers a question before it reads the next event, so
    # what it does for one lies between the recvmsg that brings it and
    # the sendmsg that answers. (A once-a-second look at the registry's
    # data_version, route.c, may fall anywhere else.)
    def windows(name):
        out, cur = [], None
        for ln in lines:
            if ln.startswith("recvmsg(") and name in ln:
                cur = []
            elif cur is not None and ln.startswith("sendmsg("):
                out.append(cur)
                cur = None
            elif cur is not None:
                cur.append(ln)
        return out
    cached, uncached = windows("acme.test.localhost"), windows("nobody.")
    assert len(cached) == 5 and len(uncached) == 1, text[-4000:]
    for w in cached:
        assert not [ln for ln in w if "registry.db" in ln], w
    # The trace would have seen one: the uncached name reads the registry.
    assert [ln for ln in uncached[0] if "registry.db" in ln], uncached
