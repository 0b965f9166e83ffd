# Real nginx, HAProxy and Caddy (Debian's packages) in front of tenantd,
# each run from the configuration shipped in packaging/proxy/. The test
# changes only what must differ on a test machine (socket path, ports on
# loopback, domain suffix, certificate and state paths, Caddy's issuer), by
# plain string substitution in render(); every setting under test is the
# shipped one. Each proxy runs as www-data, started once for this module
# and stopped at its end; the daemon's [proxy] socket_group lets it connect.
#
# What is checked (docs/security.md, items 85-87; docs/routing.md, section 5):
# - requests for two tenants interleaved by many keep-alive clients over the
#   proxy's pooled upstream connections always reach the right tenant, and
#   the pooled connections really did carry both hosts: hand-overs in the
#   access logs (conn= ids) against connections tenantd accepted (counted
#   by strace on it), and tenantd's own /metrics;
# - the client address a worker sees is the one the proxy set, whatever
#   forwarding headers the client sent; X-Forwarded-Host does not route;
# - what each proxy actually sends upstream (a capturing stand-in for
#   tenantd on the socket): Host, X-Forwarded-For/Proto set once, untrusted
#   forwarding headers gone, keep-alive on;
# - the lines each file gives for hostile tenants (docs/security.md,
#   item 86) give one request per upstream connection;
# - Caddy's on-demand TLS asks tenantd, which allows certificates only for
#   served names; and tenantd's answer to the very request Caddy makes.
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import random
import threading
import time
import uuid

import pytest

from conftest import SRC, Daemon, wait_for

PROXY_DIR = os.path.join(SRC, "packaging", "proxy")
USER = "www-data"       # the proxies' unprivileged user and socket group
SUFFIX = "test.localhost"
ADMIN = "admin." + SUFFIX
PAGES = {"acme": b"acme's own page\n", "globex": b"globex's own page\n"}
ACME_CUSTOM = "shop.acme.example"           # active custom domain of acme
GLOBEX_PENDING = "pending.globex.example"   # added, never activated
SUSPENDED = "initech"
SUSPENDED_CUSTOM = "www.initech.example"    # active, but its tenant is not
DELETED = "umbrella"


def host(slug):
    return f"{slug}.{SUFFIX}"


# Names Caddy may get a certificate for, and the tenant each one serves.
ASK_ALLOWED = {host("acme"): "acme", host("globex"): "globex",
               ACME_CUSTOM: "acme"}
# Names it must not: tenantd's ask answers 4xx and the handshake fails.
ASK_REFUSED = {
    "unknown-subdomain": host("nobody"),
    "unknown-custom-domain": "unknown.example",
    "pending-custom-domain": GLOBEX_PENDING,
    "suspended-tenant": host(SUSPENDED),
    "suspended-tenants-custom-domain": SUSPENDED_CUSTOM,
    "deleted-tenant": host(DELETED),
    "apex": SUFFIX,
    "admin-host": ADMIN,
    "reserved-name": host("www"),
    "nested-name": "x." + host("acme"),
}

# Forwarding headers a client may send; none may reach a tenant as sent.
HOSTILE = {
    "X-Forwarded-For": "6.6.6.6",
    "X-Forwarded-Proto": "gopher",
    "X-Forwarded-Host": host("globex"),
    "X-Forwarded-Port": "1",
    "X-Forwarded-Server": "evil.example",
    "X-Original-Host": host("globex"),
    "X-Real-IP": "6.6.6.6",
    "Forwarded": f"for=6.6.6.6;host={host('globex')};proto=http",
}
STRIPPED = ["x-forwarded-host", "x-forwarded-port", "x-forwarded-server",
            "x-original-host", "x-real-ip", "forwarded"]

# The worker's access log line (worker/respond.c, respond_log()).
LOG_RE = re.compile(r'conn=(\d+) "GET (\S+) HTTP/1\.[01]" host=(\S+) '
                    r'client=(\S+) status=(\d+)')


def need(prog):
    path = shutil.which(prog, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        pytest.fail(f"{prog} is not installed: run packaging/deps.sh")
    return path


# --- configuration templating ---------------------------------------------
def render(name, subs):
    """The shipped packaging/proxy/<name> with each (old, new) substitution
    applied in order. Every `old` must occur, so a change to the shipped
    file that this test does not follow fails loudly instead of testing
    something else."""
    with open(os.path.join(PROXY_DIR, name)) as f:
        text = f.read()
    for old, new in subs:
        assert old in text, f"packaging/proxy/{name} no longer has {old!r}"
        text = text.replace(old, new)
    return text


def free_port(v6_too=False):
    """A port free on 127.0.0.1 (and on ::1 when asked), chosen by the
    kernel, so at random."""
    for _ in range(50):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        try:
            if v6_too:
                s6 = socket.socket(socket.AF_INET6)
                try:
                    s6.bind(("::1", port))
                except OSError:
                    continue
                finally:
                    s6.close()
            return port
        finally:
            s.close()
    raise AssertionError("no free port")


def make_cert(directory):
    """A self-signed certificate for *.SUFFIX and SUFFIX, for nginx and
    HAProxy (which need one; they do not obtain certificates)."""
    crt, key = (os.path.join(directory, n) for n in ("cert.pem", "key.pem"))
    subprocess.run([need("openssl"), "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "2",
                    "-subj", f"/CN={SUFFIX}", "-addext",
                    f"subjectAltName=DNS:*.{SUFFIX},DNS:{SUFFIX}"],
                   check=True, capture_output=True, timeout=30)
    pem = os.path.join(directory, "cert+key.pem")
    with open(pem, "wb") as out:
        for p in (crt, key):
            with open(p, "rb") as f:
                out.write(f.read())
    return crt, key, pem


# --- processes -------------------------------------------------------------
def group_pids(pgid):
    """Live processes of process group pgid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may hold spaces.
        fields = st[st.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(d))
    return out


class Proxy:
    """One proxy process (and its children) in a scratch directory of its
    own, in a session of its own so that stop() can make sure every process
    it started is gone."""
    name = None

    # What the shipped file's comments tell an operator hosting untrusted
    # tenant code to change, for one request per upstream connection.
    ONE_REQUEST = []

    def __init__(self, upstream, ask_port=None, one_request=False):
        self.upstream = upstream        # the Unix socket to proxy to
        self.ask_port = ask_port
        self.variant = self.ONE_REQUEST if one_request else []
        self.dir = tempfile.mkdtemp(prefix=f"tenantd-test-{self.name}-")
        os.chmod(self.dir, 0o755)
        self.port = free_port(v6_too=True)      # HTTPS
        self.port80 = free_port(v6_too=True)    # plain HTTP
        self.logpath = os.path.join(self.dir, "proxy.log")
        self.proc = None

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def popen(self, argv, **kw):
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True, **kw)

    def logtext(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_listening(self, timeout=15):
        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n"
                                     f"{self.logtext()}")
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         0.5).close()
                return True
            except OSError:
                return False
        wait_for(up, timeout, f"{self.name} to listen", 0.05)

    def stop(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            if self.proc is not None:
                # Workers of the proxy, if any outlived it: its process
                # group, whose id is the pid of the process we started.
                for pid in group_pids(self.proc.pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                wait_for(lambda: not group_pids(self.proc.pid), 5,
                         f"{self.name}'s processes to end")
        finally:
            if self.proc is not None:
                self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)


class Nginx(Proxy):
    name = "nginx"
    ONE_REQUEST = [
        ("    keepalive 32;\n", ""),
        ("    keepalive_requests 1000;\n", ""),
        ("    keepalive_timeout 10s;\n", ""),
        ('        proxy_http_version 1.1;\n'
         '        proxy_set_header Connection "";\n', ""),
        ("#proxy_http_version 1.0;", "proxy_http_version 1.0;"),
        ("#proxy_set_header Connection close;",
         "proxy_set_header Connection close;"),
    ]

    def start(self, certs):
        crt, key, _ = certs
        site = render("nginx.conf", self.variant + [
            ("unix:/run/tenantd/http.sock", "unix:" + self.upstream),
            ("listen 80;", f"listen 127.0.0.1:{self.port80};"),
            ("listen [::]:80;", f"listen [::1]:{self.port80};"),
            ("listen 443 ", f"listen 127.0.0.1:{self.port} "),
            ("listen [::]:443 ", f"listen [::1]:{self.port} "),
            ("/etc/letsencrypt/live/example.com/fullchain.pem", crt),
            ("/etc/letsencrypt/live/example.com/privkey.pem", key),
            ("example.com", SUFFIX),
        ])
        self.write("tenantd.conf", site)
        # The rest of what Debian's /etc/nginx/nginx.conf provides, with
        # every path in our directory: the shipped file is included as is.
        temp = "\n".join(f"    {k}_temp_path {self.path(k)};" for k in
                         ("client_body", "proxy", "fastcgi", "uwsgi",
                          "scgi"))
        conf = self.write("nginx.conf", f"""
user {USER};
worker_processes 2;
pid {self.path("nginx.pid")};
error_log {self.path("error.log")} info;
events {{ worker_connections 1024; }}
http {{
    access_log {self.path("access.log")};
{temp}
    include {self.path("tenantd.conf")};
}}
""")
        self.popen([need("nginx"), "-p", self.dir, "-c", conf,
                    "-e", self.path("error.log"), "-g", "daemon off;"])
        self.wait_listening()
        return self


class HAProxy(Proxy):
    name = "haproxy"
    ONE_REQUEST = [
        ("    option http-keep-alive\n    http-reuse safe\n", ""),
        ("#option http-server-close", "option http-server-close"),
    ]

    def start(self, certs):
        _, _, pem = certs
        self.stats = self.path("stats.sock")
        cfg = self.write("haproxy.cfg", render("haproxy.cfg", self.variant + [
            ("unix@/run/tenantd/http.sock", "unix@" + self.upstream),
            ("user haproxy", f"user {USER}"),
            ("group haproxy", f"group {USER}"),
            ("/run/haproxy/admin.sock", self.stats),
            ("bind :80\n", f"bind 127.0.0.1:{self.port80}\n"),
            ("bind :::80 v6only", f"bind [::1]:{self.port80} v6only"),
            ("bind :443 ", f"bind 127.0.0.1:{self.port} "),
            ("bind :::443 v6only", f"bind [::1]:{self.port} v6only"),
            ("/etc/haproxy/certs/example.com.pem", pem),
        ]))
        haproxy = need("haproxy")
        r = subprocess.run([haproxy, "-c", "-f", cfg], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        self.popen([haproxy, "-db", "-f", cfg])
        self.wait_listening()
        return self

    def server_stats(self):
        """HAProxy's own counters for the tenantd server: "connect" (new
        server connections) and "reuse" (requests on an existing one)."""
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(self.stats)
        s.sendall(b"show stat\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
        s.close()
        lines = data.decode().splitlines()
        names = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(names, line.split(",")))
            if row.get("pxname") == "tenantd" and row.get("svname") == \
                    "tenantd":
                return {k: int(row[k] or 0) for k in ("connect", "reuse")}
        raise AssertionError("no tenantd server in HAProxy's stats:\n" +
                             data.decode())


class Caddy(Proxy):
    name = "caddy"
    ONE_REQUEST = [
        ("\t\t\tkeepalive 10s\n", ""),
        ("#keepalive off", "keepalive off"),
    ]

    def start(self, certs=None):
        data = self.path("data")
        # Test only: certificates from Caddy's own internal CA (no ACME, no
        # network), nothing installed into the system's trust store, no
        # admin endpoint, our ports, our storage.
        test_globals = (f"\tlocal_certs\n\tskip_install_trust\n\tadmin off\n"
                        f"\thttp_port {self.port80}\n"
                        f"\thttps_port {self.port}\n"
                        f"\tstorage file_system {data}\n")
        conf = self.write("Caddyfile", render("Caddyfile", self.variant + [
            ("http://127.0.0.1:9465/ask",
             f"http://127.0.0.1:{self.ask_port}/ask"),
            ("unix//run/tenantd/http.sock", "unix/" + self.upstream),
            ("\n{\n", "\n{\n" + test_globals),
        ]))
        os.chown(self.dir, *pwd_ids(USER))
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.dir,
               "XDG_DATA_HOME": data, "XDG_CONFIG_HOME": self.dir}
        caddy = need("caddy")
        r = subprocess.run([caddy, "validate", "--adapter", "caddyfile",
                            "--config", conf], capture_output=True,
                           text=True, timeout=60, env=env, user=USER,
                           group=USER, extra_groups=[])
        assert r.returncode == 0, r.stdout + r.stderr
        self.popen([caddy, "run", "--adapter", "caddyfile", "--config",
                    conf], env=env, user=USER, group=USER, extra_groups=[])
        self.wait_listening()
        return self

    def root_ca(self):
        return os.path.join(self.path("data"), "pki", "authorities",
                            "local", "root.crt")

    def curl(self, name, path="/", verify=True, headers=()):
        """HTTPS to this Caddy for `name` (SNI and Host), resolved to
        loopback. Verified against Caddy's internal root CA once that
        exists, so a success proves a certificate for exactly `name`."""
        argv = [need("curl"), "-sS", "--max-time", "10", "--resolve",
                f"{name}:{self.port}:127.0.0.1"]
        if verify and os.path.exists(self.root_ca()):
            argv += ["--cacert", self.root_ca()]
        else:
            argv += ["-k"]
        for h in headers:
            argv += ["-H", h]
        argv.append(f"https://{name}:{self.port}{path}")
        return subprocess.run(argv, capture_output=True, timeout=30)


def pwd_ids(user):
    import pwd
    pw = pwd.getpwnam(user)
    return pw.pw_uid, pw.pw_gid


# --- stand-ins that record what the proxies send ---------------------------
class Recorder:
    """A server that records every request head it receives, with the
    number of the connection it came on, and answers each with
    `response`. Serves a Unix socket (a stand-in for tenantd's proxy socket)
    or a TCP port on loopback (a stand-in for its ask endpoint)."""

    def __init__(self, unix=None, port=None, close=False):
        if unix is not None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.bind(unix)
            os.chmod(unix, 0o666)
        else:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.close_after = close
        self.requests = []          # (connection number, raw head bytes)
        self.nconns = 0
        self.lock = threading.Lock()
        self.stopping = False
        self.threads = [threading.Thread(target=self.accept_loop)]
        self.threads[0].start()

    def accept_loop(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.nconns += 1
                n = self.nconns
            t = threading.Thread(target=self.serve, args=(c, n))
            self.threads.append(t)
            t.start()

    def serve(self, c, n):
        c.settimeout(0.1)
        buf = b""
        try:
            while not self.stopping:
                end = buf.find(b"\r\n\r\n")
                if end >= 0:
                    head, buf = buf[:end + 4], buf[end + 4:]
                    with self.lock:
                        self.requests.append((n, head))
                    if self.close_after:
                        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0"
                                  b"\r\nConnection: close\r\n\r\n")
                        # Let the client close first: the TIME_WAIT is then
                        # on its side, and this port can be bound again.
                        self.wait_eof(c)
                        return
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain"
                              b"\r\nContent-Length: 9\r\n\r\nrecorded\n")
                    continue
                try:
                    d = c.recv(65536)
                except socket.timeout:
                    continue
                if not d:
                    return
                buf += d
        except OSError:
            pass
        finally:
            c.close()

    def wait_eof(self, c):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not self.stopping:
            try:
                if not c.recv(4096):
                    return
            except socket.timeout:
                continue
            except OSError:
                return

    def wait(self, n, timeout=10):
        wait_for(lambda: len(self.requests) >= n, timeout,
                 f"{n} recorded requests")
        return list(self.requests)

    def close(self):
        self.stopping = True
        self.sock.close()
        for t in self.threads:
            t.join(5)


def parse_head(raw):
    lines = raw.decode("latin-1").split("\r\n")
    fields = []
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(":")
            fields.append((k.strip().lower(), v.strip()))
    return lines[0], fields


def values(fields, name):
    return [v for k, v in fields if k == name]


# --- clients ----------------------------------------------------------------
CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


class Client(http.client.HTTPSConnection):
    """A keep-alive HTTPS client connection to a proxy on loopback, with the
    SNI of our choice; the Host is set per request. `connects` counts the
    TCP connections it needed (http.client reconnects silently)."""

    def __init__(self, port, sni=None, addr="127.0.0.1"):
        super().__init__(addr, port, context=CTX, timeout=15)
        self.sni = sni
        self.connects = 0

    def connect(self):
        s = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = CTX.wrap_socket(s, server_hostname=self.sni)
        self.connects += 1

    def fetch(self, hostname, path="/", headers=None):
        h = {"Host": hostname}
        h.update(headers or {})
        self.request("GET", path, headers=h)
        r = self.getresponse()
        return r.status, r.read()


def metrics(td):
    """tenantd's connection counters, from /metrics on its http_listen."""
    c = http.client.HTTPConnection("127.0.0.1", td.ask_port, timeout=5)
    try:
        c.request("GET", "/metrics")
        r = c.getresponse()
        assert r.status == 200
        text = r.read().decode()
    finally:
        c.close()
    out = {}
    for name in ("tenantd_connections_accepted_total",
                 "tenantd_handoffs_total", "tenantd_handbacks_total",
                 "tenantd_connections_closed_total",
                 "tenantd_connections_held"):
        m = re.search(rf"^{name} (\d+)$", text, re.M)
        assert m, f"{name} not in /metrics"
        out[name] = int(m.group(1))
    return out


def log_entries(td, slug, tag):
    """(conn, target, host, client, status) of each access log line of
    `slug` whose target carries `tag`."""
    out = []
    for line in td.access_log(slug).splitlines():
        m = LOG_RE.search(line)
        if m and f"t={tag}" in m.group(2):
            out.append((int(m.group(1)), m.group(2), m.group(3),
                        m.group(4), int(m.group(5))))
    return out


class AcceptCounter:
    """Counts the connections tenantd accepts on its proxy socket while in
    use (strace on the supervisor, accept4 calls on that socket returning an
    fd): the number of upstream connections the proxy opened, counted by
    neither the proxy nor tenantd."""

    def __init__(self, td):
        self.td = td
        self.out = os.path.join(td.dir, f"strace-{uuid.uuid4().hex}.txt")

    def sockets(self, listening):
        """Inodes of sockets bound to tenantd's proxy socket path: the
        listening one, or the accepted, connected ones (upstream
        connections now open, in tenantd or in its workers)."""
        inodes = set()
        with open("/proc/net/unix") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                # Flags 00010000: listening (__SO_ACCEPTCON); St 03:
                # connected.
                if len(parts) >= 8 and parts[7] == self.td.sock and (
                        parts[3] == "00010000" if listening else
                        parts[5] == "03"):
                    inodes.add(parts[6])
        return inodes

    def listen_fd(self):
        inodes = self.sockets(listening=True)
        fds = []
        fddir = f"/proc/{self.td.proc.pid}/fd"
        for fd in os.listdir(fddir):
            try:
                link = os.readlink(os.path.join(fddir, fd))
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                fds.append(int(fd))
        assert len(fds) == 1, f"tenantd's proxy socket fd: {fds}"
        return fds[0]

    def __enter__(self):
        self.fd = self.listen_fd()
        # Already open, so usable without an accept while we count.
        self.open_before = len(self.sockets(listening=False))
        self.proc = subprocess.Popen(
            [need("strace"), "-e", "trace=accept4", "-e", "signal=none",
             "-o", self.out, "-p", str(self.td.proc.pid)],
            stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        assert "attached" in line, f"strace: {line}"
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGINT)
        self.proc.communicate(timeout=15)
        with open(self.out) as f:
            trace = f.read()
        os.unlink(self.out)
        self.count = len(re.findall(rf"^accept4\({self.fd}, .*\) = \d+$",
                                    trace, re.M))
        return False


# --- fixtures ---------------------------------------------------------------
def populate(d):
    """acme and globex with pages, acme's active custom domain, globex's
    pending one, a suspended tenant with an active custom domain, and a
    deleted tenant."""
    for slug, page in PAGES.items():
        d.create(slug, page)
    d.ctl("hostname", "add", "acme", ACME_CUSTOM, "--active")
    d.ctl("hostname", "add", "globex", GLOBEX_PENDING)
    d.create(SUSPENDED, "initech's page\n")
    d.ctl("hostname", "add", SUSPENDED, SUSPENDED_CUSTOM, "--active")
    d.ctl("suspend", SUSPENDED)
    d.create(DELETED, "umbrella's page\n")
    d.ctl("delete", DELETED)


def start_daemon(ask_port):
    d = Daemon(suffix=SUFFIX, admin=ADMIN, proxy__socket_group=USER,
               admin__http_listen=f"127.0.0.1:{ask_port}")
    try:
        populate(d)
        d.start()
        d.ask_port = ask_port
        return d
    except BaseException:
        d.close()
        raise


@pytest.fixture(scope="module")
def td():
    """The daemon behind the proxies, for this whole module (in place of
    conftest's td): populate()'s tenants, its proxy socket open to USER,
    /ask and /metrics on a loopback port."""
    d = start_daemon(free_port())
    try:
        yield d
    finally:
        d.close()


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="tenantd-test-certs-")
    os.chmod(d, 0o755)
    try:
        yield make_cert(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def scratch():
    """A directory for the capturing stand-ins' sockets."""
    d = tempfile.mkdtemp(prefix="tenantd-test-capture-")
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def proxy_fixture(cls, one_request=False):
    @pytest.fixture(scope="module")
    def fixture(td, certs):
        p = cls(td.sock, ask_port=td.ask_port, one_request=one_request)
        try:
            yield p.start(certs)
        finally:
            p.stop()
    return fixture


nginx = proxy_fixture(Nginx)
haproxy = proxy_fixture(HAProxy)
caddy = proxy_fixture(Caddy)
# The same with the alternative lines for hostile tenants (docs/security.md,
# item 86).
nginx_one = proxy_fixture(Nginx, one_request=True)
haproxy_one = proxy_fixture(HAProxy, one_request=True)
caddy_one = proxy_fixture(Caddy, one_request=True)


class Captured:
    """A proxy in front of a Recorder instead of tenantd."""


def capture_fixture(cls):
    @pytest.fixture(scope="module")
    def fixture(certs, scratch):
        c = Captured()
        sock = os.path.join(scratch, f"{cls.name}.sock")
        c.upstream = Recorder(unix=sock)
        try:
            c.proxy = cls(sock)
            try:
                c.proxy.start(certs)
                yield c
            finally:
                c.proxy.stop()
        finally:
            c.upstream.close()
    return fixture


nginx_capture = capture_fixture(Nginx)
haproxy_capture = capture_fixture(HAProxy)


@pytest.fixture(scope="module")
def caddy_capture(scratch):
    """Caddy with a recording stand-in for tenantd's socket and one for its
    ask endpoint (which allows every name). One TLS handshake for each name
    of ASK_ALLOWED and ASK_REFUSED records the ask request Caddy makes for
    it. The ask stand-in is then closed, its port free for a daemon."""
    c = Captured()
    c.ask_port = free_port()
    sock = os.path.join(scratch, "caddy.sock")
    c.upstream = c.proxy = ask = None
    try:
        ask = Recorder(port=c.ask_port, close=True)
        c.upstream = Recorder(unix=sock)
        c.proxy = Caddy(sock, ask_port=c.ask_port)
        c.proxy.start()
        c.ask = {}
        for name in list(ASK_ALLOWED) + list(ASK_REFUSED.values()):
            before = len(ask.requests)
            r = c.proxy.curl(name, verify=False)
            assert r.returncode == 0, (name, r.stderr)
            reqs = ask.wait(before + 1)
            assert len(reqs) == before + 1, reqs
            c.ask[name] = reqs[-1][1]
        ask.close()
        ask = None
        yield c
    finally:
        if c.proxy is not None:
            c.proxy.stop()
        for recorder in (c.upstream, ask):
            if recorder is not None:
                recorder.close()


@pytest.fixture
def proxy(request):
    return request.getfixturevalue(request.param)


@pytest.fixture
def captured(request):
    return request.getfixturevalue(request.param + "_capture")


ALL = ["nginx", "haproxy", "caddy"]


def client_for(p, addr="127.0.0.1"):
    # Caddy needs an SNI to pick (and ask for) a certificate; nginx and
    # HAProxy serve their one certificate without.
    return Client(p.port, sni=host("acme") if p.name == "caddy" else None,
                  addr=addr)


# --- 1. interleaved tenants over pooled upstream connections --------------
NCLIENTS = 8
NREQUESTS = 100


def interleave(td, proxy, nclients=NCLIENTS, nrequests=NREQUESTS):
    """nclients keep-alive clients at once, each sending nrequests requests
    on one connection, the Host of each chosen at random between acme and
    globex. Asserts that every response is the right tenant's page, that
    every request is in its own tenant's access log and in no other, and
    that each client needed one connection. Returns the numbers of
    requests, of upstream connections tenantd accepted, of hand-overs (one
    conn= id in the access logs each), the least number of hand-backs these
    imply, and the number of hand-backs tenantd counted."""
    tag = uuid.uuid4().hex[:12]
    first = client_for(proxy)       # Caddy: get the certificate first
    assert first.fetch(host("acme")) == (200, PAGES["acme"])
    first.close()
    sent = {slug: set() for slug in PAGES}
    errors, connects = [], []
    lock = threading.Lock()

    def run(k):
        rnd = random.Random(f"{tag}-{k}")
        c = client_for(proxy)
        try:
            for i in range(nrequests):
                slug = rnd.choice(sorted(PAGES))
                target = f"/?t={tag}&c={k}&i={i}"
                status, body = c.fetch(host(slug), target)
                with lock:
                    sent[slug].add(target)
                    if status != 200 or body != PAGES[slug]:
                        errors.append((slug, target, status, body))
        except Exception as e:
            with lock:
                errors.append((k, repr(e)))
        finally:
            c.close()
            with lock:
                connects.append(c.connects)

    m0 = metrics(td)
    with AcceptCounter(td) as accepted:
        threads = [threading.Thread(target=run, args=(k,))
                   for k in range(nclients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        total = sum(len(s) for s in sent.values())
        wait_for(lambda: sum(len(log_entries(td, s, tag)) for s in PAGES)
                 >= total, 10, "every request in the access logs")
        m1 = metrics(td)

    assert errors == [], errors[:10]
    assert total == nclients * nrequests
    # Keep-alive on the client side: one connection per client.
    assert connects == [1] * nclients

    conns = {}
    for slug in PAGES:
        entries = log_entries(td, slug, tag)
        targets = [e[1] for e in entries]
        assert sorted(targets) == sorted(sent[slug]), \
            f"{slug}'s access log differs from what was sent to {slug}"
        assert all(e[2] == host(slug) and e[4] == 200 for e in entries)
        for e in entries:
            conns.setdefault(e[0], set()).add(slug)
    # A conn id is one hand-over of a connection to a worker, so one tenant.
    assert all(len(s) == 1 for s in conns.values())

    # Each hand-over either follows an accept or a hand-back, or it is a
    # connection a worker already held before we started (one the proxy
    # had pooled). So, counted without tenantd's own counters, at least
    # handovers - accepted - open_before connections were handed back.
    # Nothing drains or retires here and the registry does not change, so
    # every hand-back is a "foreign host" one: an upstream connection that
    # carried a request for acme and then one for globex, or the reverse.
    handovers = len(conns)
    least = handovers - accepted.count - accepted.open_before
    # tenantd's own counters (its /metrics) agree.
    delta = {k: m1[k] - m0[k] for k in m0}
    print(f"{proxy.name}: {total} requests, {accepted.count} upstream "
          f"connections accepted ({accepted.open_before} open before), "
          f"{handovers} hand-overs, at least {max(least, 0)} hand-backs; "
          f"tenantd's /metrics: {delta}")
    assert delta["tenantd_connections_accepted_total"] == accepted.count
    handoffs = delta["tenantd_handoffs_total"]
    handbacks = delta["tenantd_handbacks_total"]
    # A hand-over in the logs is one of this window, or one of a pooled
    # connection a worker held already.
    assert handoffs <= handovers <= handoffs + accepted.open_before
    assert least <= handbacks
    # The books close: every connection tenantd took in, accepted or
    # handed back, it handed to a worker, closed, or still holds. A proxy
    # may leave a connection it opened idle and unused (Go's transport,
    # so Caddy, dials one while waiting for a pooled one and keeps both):
    # accepted, held, never handed off.
    assert accepted.count + handbacks == handoffs + \
        delta["tenantd_connections_closed_total"] + \
        delta["tenantd_connections_held"]
    return total, accepted.count, handovers, least, handbacks


@pytest.mark.parametrize("proxy", ALL, indirect=True)
def test_interleaved_tenants_over_pooled_upstream_connections(td, proxy):
    """With the shipped configuration (upstream keep-alive on), the proxy
    carries requests for both tenants over a few pooled upstream
    connections, so workers hand connections back all the time, and every
    request still reaches its own tenant (docs/security.md, item 85)."""
    total, accepted, _, least, _ = interleave(td, proxy)
    assert 0 < accepted <= total // 4, \
        "the proxy did not reuse its upstream connections"
    assert least >= total // 10, \
        "upstream connections did not carry both hosts"
    if proxy.name == "haproxy":
        st = proxy.server_stats()
        assert st["reuse"] > 0 and st["connect"] < total // 4, st


@pytest.mark.parametrize("proxy", [p + "_one" for p in ALL], indirect=True)
def test_alternative_lines_give_one_request_per_upstream_connection(
        td, proxy):
    """With the lines each shipped file gives for hostile tenants
    (docs/security.md, item 86), every request has an upstream connection of
    its own: as many connections as requests, no hand-back, even though every
    client keeps its own connection to the proxy open and switches hosts on
    it."""
    total, accepted, handovers, _, handbacks = interleave(td, proxy, 4, 50)
    assert accepted == handovers == total
    assert handbacks == 0


# --- 2. the client address a worker sees -----------------------------------
def entry_for(td, slug, tag):
    wait_for(lambda: log_entries(td, slug, tag), 5, f"{tag} in {slug}'s log")
    (entry,) = log_entries(td, slug, tag)
    return entry


@pytest.mark.parametrize("proxy", ALL, indirect=True)
def test_worker_sees_the_client_address_the_proxy_set(td, proxy):
    """client= in the access log is the address the proxy accepted the
    connection from, with and without forwarding headers from the client
    claiming 6.6.6.6."""
    c = client_for(proxy)
    for headers in ({}, HOSTILE, {"X-Forwarded-For": "6.6.6.6, 7.7.7.7"}):
        tag = uuid.uuid4().hex[:12]
        status, body = c.fetch(host("acme"), f"/?t={tag}", headers)
        assert (status, body) == (200, PAGES["acme"])
        entry = entry_for(td, "acme", tag)
        assert entry[3] == "127.0.0.1", (headers, entry)
    c.close()


@pytest.mark.parametrize("proxy", ["nginx", "haproxy"], indirect=True)
def test_worker_sees_the_ipv6_client_address(td, proxy):
    """Over the shipped [::] listeners (on ::1 here), the worker sees ::1."""
    c = client_for(proxy, addr="::1")
    tag = uuid.uuid4().hex[:12]
    status, body = c.fetch(host("globex"), f"/?t={tag}", HOSTILE)
    assert (status, body) == (200, PAGES["globex"])
    assert entry_for(td, "globex", tag)[3] == "::1"
    c.close()


@pytest.mark.parametrize("proxy", ALL, indirect=True)
def test_forwarded_host_does_not_route(td, proxy):
    """Host acme with X-Forwarded-Host, X-Original-Host and Forwarded host=
    naming globex is acme's request; and the reverse."""
    c = client_for(proxy)
    for slug, other in (("acme", "globex"), ("globex", "acme")):
        tag = uuid.uuid4().hex[:12]
        headers = {"X-Forwarded-Host": host(other),
                   "X-Original-Host": host(other),
                   "Forwarded": f"host={host(other)}"}
        status, body = c.fetch(host(slug), f"/?t={tag}", headers)
        assert (status, body) == (200, PAGES[slug])
        assert entry_for(td, slug, tag)[2] == host(slug)
        assert log_entries(td, other, tag) == []
    c.close()


# --- 3. what the proxy sends upstream --------------------------------------
@pytest.mark.parametrize("captured", ALL, indirect=True)
def test_upstream_request_as_the_proxy_sends_it(captured):
    """Three requests on one client connection, with every hostile
    forwarding header: upstream, each has Host unchanged, exactly one
    X-Forwarded-For (the client's real address) and X-Forwarded-Proto
    (https), none of the untrusted headers, HTTP/1.1 without "Connection:
    close", and all three share one upstream connection (keep-alive on)."""
    up = captured.upstream
    before = len(up.requests)
    c = client_for(captured.proxy)
    tags = []
    for _ in range(3):
        tags.append(uuid.uuid4().hex[:12])
        status, body = c.fetch(host("acme"), f"/?t={tags[-1]}", HOSTILE)
        assert (status, body) == (200, b"recorded\n")
    c.close()
    reqs = up.wait(before + 3)[before:]
    assert len(reqs) == 3
    for (n, raw), tag in zip(reqs, tags):
        line, fields = parse_head(raw)
        assert line == f"GET /?t={tag} HTTP/1.1", line
        assert values(fields, "host") == [host("acme")], raw
        assert values(fields, "x-forwarded-for") == ["127.0.0.1"], raw
        assert values(fields, "x-forwarded-proto") == ["https"], raw
        for name in STRIPPED:
            assert values(fields, name) == [], (name, raw)
        assert all(v.lower() != "close"
                   for v in values(fields, "connection")), raw
    assert len({n for n, _ in reqs}) == 1, \
        "the proxy did not keep its upstream connection open"


# --- 4. Caddy's on-demand TLS and tenantd's ask ----------------------------
@pytest.mark.parametrize("name", sorted(ASK_ALLOWED))
def test_caddy_issues_certificates_for_served_names(td, caddy, name):
    """tenantd's ask allows the name; the handshake succeeds with a
    certificate for exactly this name (curl verifies it against Caddy's
    internal root), and the request reaches the tenant that owns it."""
    assert ask(td, name) == 200
    r = caddy.curl(name, verify=False)      # the first one creates the CA
    assert r.returncode == 0, r.stderr
    r = caddy.curl(name)
    assert os.path.exists(caddy.root_ca())
    assert r.returncode == 0, r.stderr
    assert r.stdout == PAGES[ASK_ALLOWED[name]]


def ask(td, name):
    """tenantd's answer to GET /ask?domain=<name> on its http_listen."""
    c = http.client.HTTPConnection("127.0.0.1", td.ask_port, timeout=5)
    try:
        c.request("GET", f"/ask?domain={name}")
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


@pytest.mark.parametrize("what", sorted(ASK_REFUSED))
def test_caddy_refuses_certificates_for_other_names(td, caddy, what):
    """tenantd's ask refuses the name (4xx, not an unreachable endpoint),
    so Caddy has no certificate for it and fails the TLS handshake (curl:
    35, an alert from the server)."""
    name = ASK_REFUSED[what]
    r = caddy.curl(name, verify=False)
    assert r.returncode == 35, (r.returncode, r.stdout, r.stderr)
    assert b"alert" in r.stderr, r.stderr
    assert 400 <= ask(td, name) < 500


def test_caddy_ask_request(caddy_capture):
    """The request Caddy makes: GET /ask?domain=<name> HTTP/1.1 to the ask
    URL, the name as it came in the SNI."""
    for name, raw in caddy_capture.ask.items():
        line, fields = parse_head(raw)
        assert line == f"GET /ask?domain={name} HTTP/1.1", raw
        assert values(fields, "host") == \
            [f"127.0.0.1:{caddy_capture.ask_port}"], raw
        print(f"Caddy's ask request for {name}: {raw!r}")


@pytest.fixture(scope="module")
def replay_daemon(caddy_capture):
    """A daemon like td whose http_listen is the port Caddy's ask requests
    were recorded on, so they can be replayed byte for byte."""
    d = start_daemon(caddy_capture.ask_port)
    try:
        def up():
            try:
                socket.create_connection(("127.0.0.1", d.ask_port),
                                         0.5).close()
                return True
            except OSError:
                return False
        wait_for(up, 10, "tenantd's http_listen")
        yield d
    finally:
        d.close()


def replay(port, raw):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.settimeout(5)
    try:
        s.sendall(raw)
        data = b""
        while b"\r\n" not in data:
            d = s.recv(4096)
            if not d:
                break
            data += d
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", data)
    assert m, data
    return int(m.group(1))


@pytest.mark.parametrize("name", sorted(ASK_ALLOWED) +
                         sorted(ASK_REFUSED.values()))
def test_tenantd_answers_caddys_exact_ask_request(caddy_capture,
                                                  replay_daemon, name):
    """The bytes Caddy sent for this name, sent unchanged to tenantd's
    http_listen: 200 for a served name, 4xx for any other."""
    status = replay(replay_daemon.ask_port, caddy_capture.ask[name])
    if name in ASK_ALLOWED:
        assert status == 200
    else:
        assert 400 <= status < 500, status
