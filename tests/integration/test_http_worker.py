# Requests served by a tenant's worker: static files from public/
# (docs/security.md, items 88-92), keep-alive and pipelining, conditional
# requests, the errors a worker answers itself on a later request of a
# connection, and the access log (docs/security.md, items 83, 85).
import hashlib
import os
import random
import re
import socket
import time
import uuid

import pytest

from conftest import Daemon, parse_responses, read_responses, request_bytes

SUFFIX = "test.localhost"
ACME = "acme." + SUFFIX
GLOBEX = "globex." + SUFFIX
ACME_PAGE = b"acme's own page\n"
GLOBEX_PAGE = b"globex's own page\n"
SECRET_OUT = b"TOPSECRET-NEXT-TO-PUBLIC-3f9a"
SECRET_GLOBEX = b"TOPSECRET-OF-GLOBEX-77c1"
BIG = random.Random(1).randbytes(5 * 1024 * 1024 + 123)

FILES = {
    "style.css": (b"body { color: red }\n", "text/css; charset=utf-8"),
    "app.js": (b"console.log(1);\n", "text/javascript; charset=utf-8"),
    "data.json": (b'{"a": 1}\n', "application/json"),
    "pic.png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "image/png"),
    "photo.JPG": (b"\xff\xd8\xff\xe0jpeg", "image/jpeg"),
    "notes.txt": (b"some notes\n", "text/plain; charset=utf-8"),
    "logo.svg": (b"<svg/>\n", "image/svg+xml"),
    "font.woff2": (b"wOF2", "font/woff2"),
    "page.htm": (b"<p>htm</p>\n", "text/html; charset=utf-8"),
    "archive.tar.gz": (b"\x1f\x8b", "application/octet-stream"),
    "README": (b"no extension\n", "application/octet-stream"),
    "sub/index.html": (b"sub index\n", "text/html; charset=utf-8"),
    "sub/page.html": (b"sub page\n", "text/html; charset=utf-8"),
    "a.b/c": (b"dotted dir\n", "application/octet-stream"),
}


def short(b, n=120):
    r = repr(b)
    return r if len(r) <= n else r[:n] + "...(%d bytes)" % len(b)


@pytest.fixture(scope="module")
def wd():
    d = Daemon()
    try:
        d.create("acme", ACME_PAGE.decode())
        d.create("globex", GLOBEX_PAGE.decode())
        for name, (content, _) in FILES.items():
            d.write_public("acme", name, content)
        for i in range(20):
            d.write_public("acme", f"p/{i}.txt", f"piece {i}\n")
        d.write_public("acme", "big.bin", BIG)
        d.write_public("acme", ".htaccess", "Deny from all " +
                       SECRET_OUT.decode())
        d.write_public("acme", ".git/config", "[core] " +
                       SECRET_OUT.decode())
        d.write_public("acme", "sub/.hidden", SECRET_OUT)
        d.write_public("acme", "forbidden.html", SECRET_OUT, mode=0o000)
        d.write_public("globex", "secret-globex.txt", SECRET_GLOBEX)
        uid, gid = d.tenant_ids("acme")
        tdir = d.tenant_dir("acme")
        pub = os.path.join(tdir, "public")
        # Next to public/: inside the worker's chroot, outside public/.
        with open(os.path.join(tdir, "secret.txt"), "wb") as f:
            f.write(SECRET_OUT)
        os.chmod(os.path.join(tdir, "secret.txt"), 0o644)
        os.makedirs(os.path.join(pub, "emptydir"))
        links = {
            "root-link": "/",
            "root-file": "/etc/passwd",
            "escape.txt": "../secret.txt",
            "abs-escape.txt": os.path.join(tdir, "secret.txt"),
            "other.txt": "../../globex/public/secret-globex.txt",
            "alias.html": "index.html",
            "linkdir": "sub",
            "loop": "loop",
            "loop-a": "loop-b",
            "loop-b": "loop-a",
            "dangling.html": "nowhere.html",
        }
        for name, target in links.items():
            os.symlink(target, os.path.join(pub, name))
            os.lchown(os.path.join(pub, name), uid, gid)
        os.mkfifo(os.path.join(pub, "x.html"))
        os.chown(os.path.join(pub, "x.html"), uid, gid)
        us = socket.socket(socket.AF_UNIX)
        us.bind(os.path.join(pub, "sock.html"))
        us.listen(1)
        d.start()
        yield d
        us.close()
    finally:
        d.close()


def get(d, path, host=ACME, method="GET", headers=None):
    """One request on its own connection, asked to close."""
    raw = request_bytes(host, path, method, headers, close=True)
    rs, rest, eof = d.exchange(raw, head_only=method == "HEAD")
    assert len(rs) == 1 and rest == b"" and eof, (path, rs, short(rest))
    return rs[0]


def after_good_first(d, raw, head_only=False, mode="whole", timeout=5):
    """raw as the second request of a connection whose first request was
    served; read until EOF or timeout."""
    s = d.connect(timeout)
    try:
        s.sendall(request_bytes(ACME, "/notes.txt"))
        rs, rest, eof = read_responses(s, 1, timeout)
        assert rs[0].status == 200 and rest == b"" and not eof
        if mode == "whole":
            chunks = [raw]
        else:
            chunks = [raw[i:i + 1] for i in range(len(raw))]
        for c in chunks:
            try:
                s.sendall(c)
            except OSError:
                break
        return read_responses(s, None, timeout, head_only)
    finally:
        s.close()


def no_date(r):
    return re.sub(rb"Date: [^\r]*\r\n", b"", r.raw)


# --- Static files ----------------------------------------------------------

def test_index_html_for_root(wd):
    r = get(wd, "/")
    assert r.status == 200 and r.body == ACME_PAGE
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-length"] == str(len(ACME_PAGE))
    assert r.headers["x-content-type-options"] == "nosniff"
    assert get(wd, "/index.html").body == ACME_PAGE
    assert get(wd, "/?q=1").body == ACME_PAGE


@pytest.mark.parametrize("name", sorted(FILES))
def test_content_types(wd, name):
    content, ctype = FILES[name]
    r = get(wd, "/" + name)
    assert r.status == 200, r.raw
    assert r.body == content
    assert r.headers["content-type"] == ctype


def test_directory_without_slash_redirects(wd):
    r = get(wd, "/sub")
    assert r.status == 301
    assert r.headers["location"] == "/sub/"
    r = get(wd, "/sub?a=1&b=2")
    assert r.status == 301
    assert r.headers["location"] == "/sub/?a=1&b=2"
    r = get(wd, "/sub/")
    assert r.status == 200 and r.body == b"sub index\n"
    r = get(wd, "/emptydir")
    assert r.status == 301 and r.headers["location"] == "/emptydir/"
    assert get(wd, "/emptydir/").status == 404


def test_directory_redirect_keeps_the_connection(wd):
    raw = (request_bytes(ACME, "/sub") + request_bytes(ACME, "/sub/") +
           request_bytes(ACME, "/sub", "HEAD", close=True))
    _, data, eof = read_all(wd, raw)
    rs, rest = parse_responses(data)
    assert [r.status for r in rs[:2]] == [301, 200]
    assert "connection" not in rs[0].headers
    assert rs[1].body == b"sub index\n"
    (h,), left = parse_responses(data[len(rs[0].raw) + len(rs[1].raw):],
                                 head_only=True)
    assert h.status == 301 and h.headers["location"] == "/sub/"
    assert left == b"" and eof


@pytest.mark.parametrize("path", ["/sub", "/missing.html", "/%zz"])
def test_head_error_content_length_matches_get(wd, path):
    """RFC 9110 8.6: a Content-Length in a HEAD answer MUST be the length
    GET would have sent."""
    g = get(wd, path)
    h = get(wd, path, method="HEAD")
    assert h.status == g.status
    assert h.headers.get("content-length") in (None,
                                               g.headers["content-length"]), \
        f"HEAD {path}: {h.raw!r} vs GET {g.raw!r}"


def test_directory_redirect_is_never_protocol_relative(wd):
    """'//sub' names the directory sub/; a Location of '//sub/' would send
    the browser to the host 'sub' (an open redirect to any host named
    like a directory of the tenant). Expect 404, or a single leading
    slash."""
    for path in ("//sub", "///sub", "//sub?x=1"):
        r = get(wd, path)
        assert r.status in (301, 404), r.raw
        if r.status == 301:
            assert not r.headers["location"].startswith("//"), \
                f"{path} -> Location: {r.headers['location']}"


# --- Conditional requests --------------------------------------------------

def validators(d, path="/style.css"):
    r = get(d, path)
    assert r.status == 200
    return r.headers["etag"], r.headers["last-modified"]


@pytest.mark.parametrize("inm", [
    "{e}", "W/{e}", '"nope", {e}', '"nope",{e}', "{e}, \"nope\"",
    'W/"nope", W/{e}', "*", " {e} ",
])
def test_if_none_match_gives_304(wd, inm):
    etag, _ = validators(wd)
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"', etag), etag
    raw = (request_bytes(ACME, "/style.css",
                         headers={"If-None-Match": inm.format(e=etag)}) +
           request_bytes(ACME, "/notes.txt", close=True))
    rs, rest, eof = wd.exchange(raw)
    assert [r.status for r in rs] == [304, 200], rs
    assert rs[0].body == b"" and rest == b"" and eof
    assert rs[0].headers["etag"] == etag
    assert "content-length" not in rs[0].headers or \
        rs[0].headers["content-length"] == "0"
    # The second response parsed cleanly: the 304 carried no body.
    assert rs[1].body == b"some notes\n"


@pytest.mark.parametrize("inm", ['"nope"', 'W/"nope"', '"", "x"', "**"])
def test_if_none_match_mismatch_gives_200(wd, inm):
    r = get(wd, "/style.css", headers={"If-None-Match": inm})
    assert r.status == 200 and r.body == FILES["style.css"][0]


def test_if_modified_since(wd):
    etag, lm = validators(wd)
    r = get(wd, "/style.css", headers={"If-Modified-Since": lm})
    assert r.status == 304 and r.body == b""
    r = get(wd, "/style.css",
            headers={"If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"})
    assert r.status == 200 and r.body == FILES["style.css"][0]
    for junk in ("yesterday", "Sunday, 06-Nov-94 08:49:37 GMT", ""):
        r = get(wd, "/style.css", headers={"If-Modified-Since": junk})
        assert r.status == 200, junk
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    r = get(wd, "/style.css", headers={"If-None-Match": '"nope"',
                                       "If-Modified-Since": lm})
    assert r.status == 200


def test_head_has_headers_but_no_body(wd):
    raw = (request_bytes(ACME, "/style.css", "HEAD") +
           request_bytes(ACME, "/style.css", close=True))
    _, data, eof = read_all(wd, raw)
    h = parse_responses(data, head_only=True)[0][0]
    assert h.status == 200
    assert h.headers["content-length"] == str(len(FILES["style.css"][0]))
    assert h.headers["content-type"] == "text/css; charset=utf-8"
    assert "etag" in h.headers and "last-modified" in h.headers
    # Right after the HEAD head comes the GET response, nothing between.
    rs2, rest2 = parse_responses(data[len(h.raw):])
    assert len(rs2) == 1 and rest2 == b""
    assert rs2[0].body == FILES["style.css"][0] and eof


def read_all(d, raw, timeout=5):
    """Send raw, return (None, every byte until EOF, eof)."""
    s = d.connect(timeout)
    try:
        s.sendall(raw)
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                b = s.recv(65536)
            except socket.timeout:
                return None, data, False
            except ConnectionResetError:
                return None, data, True
            if not b:
                return None, data, True
            data += b
        return None, data, False
    finally:
        s.close()


def test_large_file_on_keepalive(wd):
    s = wd.connect(10)
    try:
        s.sendall(request_bytes(ACME, "/big.bin"))
        rs, rest, eof = read_responses(s, 1, 10)
        assert rs and rs[0].status == 200 and not eof
        assert rs[0].headers["content-length"] == str(len(BIG))
        assert hashlib.sha256(rs[0].body).digest() == \
            hashlib.sha256(BIG).digest()
        assert rest == b""
        s.sendall(request_bytes(ACME, "/notes.txt", close=True))
        rs, rest, eof = read_responses(s, None, 5)
        assert [r.body for r in rs] == [b"some notes\n"] and eof
    finally:
        s.close()


def test_large_file_pipelined_twice(wd):
    raw = (request_bytes(ACME, "/big.bin") +
           request_bytes(ACME, "/big.bin", "HEAD") +
           request_bytes(ACME, "/big.bin", close=True))
    _, data, eof = read_all(wd, raw, timeout=15)
    rs, rest = parse_responses(data)
    assert rs[0].body == BIG
    rest = data[len(rs[0].raw):]
    h = parse_responses(rest, head_only=True)[0][0]
    assert h.status == 200 and h.headers["content-length"] == str(len(BIG))
    rs, left = parse_responses(rest[len(h.raw):])
    assert len(rs) == 1 and rs[0].body == BIG and left == b"" and eof


# --- Traversal and hidden files (docs/security.md, item 88) ------------------

TRAVERSAL_404 = [
    "/../secret.txt", "/..", "/../", "/../../secret.txt",
    "/sub/../../secret.txt", "/sub/../index.html",
    "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/%2e%2e%2fsecret.txt",
    "/.%2e/secret.txt", "/%2e./secret.txt", "/%2e", "/%2e%2e",
    "/%252e%252e/secret.txt", "/%252e%252e%252fsecret.txt",
    "/..%5csecret.txt", "/..%5c..%5csecret.txt", "/%5c..%5csecret.txt",
    "/%c0%ae%c0%ae/secret.txt", "/%c0%ae%c0%ae%c0%afsecret.txt",
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/%00", "/index.html%00", "/index.html%00.txt", "/%00/../secret.txt",
    "/%2fsecret.txt", "/sub%2fpage.html",
    "//etc/passwd", "///etc/passwd", "//secret.txt", "/etc/passwd",
    "/proc/self/environ", "/proc/self/root/etc/passwd",
    "/./", "/./index.html", "/sub/./page.html", "/.",
    "/.git/config", "/.git/", "/.git", "/.htaccess", "/%2ehtaccess",
    "/sub/.hidden", "/sub/%2ehidden",
    "/index.html.", "/index.html%20", "/index.html;x", "/index.html/",
    "/index.html%2f", "/index.html::$DATA",
    "/../../globex/public/secret-globex.txt",
    "/%2e%2e/%2e%2e/globex/public/secret-globex.txt",
    "/../globex/public/secret-globex.txt",
    "/forbidden.html",
]

TRAVERSAL_400 = ["/%", "/%2", "/%zz", "/%g0", "/a%2", "/%%32%65"]


@pytest.mark.parametrize("path", TRAVERSAL_404)
def test_traversal_is_404(wd, path):
    r = get(wd, path)
    assert r.status == 404, f"{path} -> {r.raw!r}"
    assert SECRET_OUT not in r.raw and SECRET_GLOBEX not in r.raw
    assert r.body == b"404 Not Found\n"


@pytest.mark.parametrize("path", TRAVERSAL_400)
def test_malformed_escape_is_400_and_close(wd, path):
    raw = request_bytes(ACME, path)
    rs, rest, eof = after_good_first(wd, raw)
    assert [r.status for r in rs] == [400], (path, rs)
    assert rs[0].headers.get("connection") == "close"
    assert rest == b"" and eof


@pytest.mark.parametrize("path", ["/../secret.txt", "/%2e%2e/secret.txt",
                                  "/..%2fsecret.txt", "/.htaccess"])
def test_traversal_in_absolute_form_is_404(wd, path):
    raw = (f"GET http://{ACME}{path} HTTP/1.1\r\nHost: {ACME}\r\n"
           "Connection: close\r\n\r\n").encode()
    rs, rest, eof = wd.exchange(raw)
    assert [r.status for r in rs] == [404] and eof, rs
    assert SECRET_OUT not in rs[0].raw


def test_traversal_with_raw_bytes_is_refused(wd):
    for target in (b"/..\\secret.txt", b"/\xc0\xae\xc0\xae/secret.txt",
                   b"/caf\xc3\xa9"):
        raw = b"GET " + target + b" HTTP/1.1\r\nHost: " + ACME.encode() + \
            b"\r\nConnection: close\r\n\r\n"
        rs, rest, eof = wd.exchange(raw)
        assert len(rs) == 1 and rs[0].status in (400, 404), (target, rs)
        assert SECRET_OUT not in rs[0].raw and eof


def test_no_secret_on_a_pipelined_traversal_sweep(wd):
    raw = b"".join(request_bytes(ACME, p) for p in TRAVERSAL_404)
    raw += request_bytes(ACME, "/notes.txt", close=True)
    rs, rest, eof = wd.exchange(raw)
    assert [r.status for r in rs] == [404] * len(TRAVERSAL_404) + [200]
    assert all(SECRET_OUT not in r.raw and SECRET_GLOBEX not in r.raw
               for r in rs)
    assert eof


# --- Symlinks, special files, uniform errors (security.md, items 89, 90, 92) -

SYMLINKS = ["/root-link", "/root-link/etc/passwd", "/root-file",
            "/escape.txt", "/abs-escape.txt", "/other.txt", "/alias.html",
            "/linkdir", "/linkdir/", "/linkdir/page.html", "/loop",
            "/loop/x", "/loop-a", "/dangling.html"]


@pytest.mark.parametrize("path", SYMLINKS)
def test_symlinks_are_404(wd, path):
    t0 = time.monotonic()
    r = get(wd, path)
    assert r.status == 404, f"{path} -> {r.raw!r}"
    assert SECRET_OUT not in r.raw and SECRET_GLOBEX not in r.raw
    assert b"root:" not in r.raw
    assert time.monotonic() - t0 < 1


@pytest.mark.parametrize("path", ["/x.html", "/sock.html"])
def test_fifo_and_socket_are_404_quickly(wd, path):
    t0 = time.monotonic()
    raw = request_bytes(ACME, path) + request_bytes(ACME, "/notes.txt",
                                                    close=True)
    rs, rest, eof = wd.exchange(raw, responses=2, timeout=3)
    assert [r.status for r in rs] == [404, 200], rs
    assert time.monotonic() - t0 < 1


def test_uniform_404(wd):
    """Absent, forbidden, symlinked, hidden, special, traversal: the same
    answer byte for byte (but the Date)."""
    paths = ["/nothing-here.html", "/forbidden.html", "/alias.html",
             "/escape.txt", "/loop", "/.htaccess", "/../secret.txt",
             "/x.html", "/sock.html", "/sub/.hidden", "/emptydir/",
             "/nothing/deeper.html", "/index.html/x"]
    answers = {p: no_date(get(wd, p)) for p in paths}
    want = answers["/nothing-here.html"]
    assert b" 404 " in want.split(b"\r\n")[0]
    for p, a in answers.items():
        assert a == want, f"{p}: {a!r} != {want!r}"


# --- Methods and bodies ----------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH",
                                    "OPTIONS", "TRACE"])
def test_other_methods_are_405_and_close(wd, method):
    raw = request_bytes(ACME, "/index.html", method,
                        headers={"Content-Length": "3"}) + b"a=1"
    raw += request_bytes(ACME, "/notes.txt")
    rs, rest, eof = after_good_first(wd, raw)
    assert [r.status for r in rs] == [405], rs
    assert rs[0].headers["allow"] == "GET, HEAD"
    assert rs[0].headers["connection"] == "close"
    assert eof and rest == b""


def test_options_asterisk_is_405(wd):
    raw = f"OPTIONS * HTTP/1.1\r\nHost: {ACME}\r\n\r\n".encode()
    rs, rest, eof = wd.exchange(raw)
    assert [r.status for r in rs] == [405] and eof


def test_get_with_small_body_keeps_the_connection_in_sync(wd):
    s = wd.connect()
    try:
        s.sendall(request_bytes(ACME, "/notes.txt",
                                headers={"Content-Length": "5"}) + b"hel")
        time.sleep(0.05)
        s.sendall(b"lo" + request_bytes(ACME, "/style.css"))
        rs, _, _ = read_responses(s, 2)
        assert [r.body for r in rs] == [b"some notes\n",
                                        FILES["style.css"][0]]
        # The body bytes never looked like a request; one more works too.
        s.sendall(request_bytes(ACME, "/", headers={"Content-Length": "0"},
                                close=True))
        rs, rest, eof = read_responses(s)
        assert [r.body for r in rs] == [ACME_PAGE] and eof
    finally:
        s.close()


def test_get_with_body_that_looks_like_a_request(wd):
    smuggled = request_bytes(GLOBEX, "/secret-globex.txt")
    raw = request_bytes(ACME, "/notes.txt",
                        headers={"Content-Length": str(len(smuggled))})
    raw += smuggled + request_bytes(ACME, "/style.css", close=True)
    rs, rest, eof = wd.exchange(raw)
    assert [r.status for r in rs] == [200, 200]
    assert rs[1].body == FILES["style.css"][0]
    assert all(SECRET_GLOBEX not in r.raw for r in rs) and eof


def test_get_with_64k_body_is_served(wd):
    raw = request_bytes(ACME, "/notes.txt",
                        headers={"Content-Length": "65536"})
    raw += b"x" * 65536 + request_bytes(ACME, "/style.css", close=True)
    rs, rest, eof = wd.exchange(raw)
    assert [r.status for r in rs] == [200, 200] and eof


def test_get_with_large_body_is_413(wd):
    raw = request_bytes(ACME, "/notes.txt",
                        headers={"Content-Length": "70000"}) + b"x" * 100
    rs, rest, eof = after_good_first(wd, raw)
    assert [r.status for r in rs] == [413], rs
    assert rs[0].headers["connection"] == "close" and eof
    rs, rest, eof = wd.exchange(raw)
    assert [r.status for r in rs] == [413] and eof


def test_get_with_chunked_body_is_400(wd):
    raw = request_bytes(ACME, "/notes.txt",
                        headers={"Transfer-Encoding": "chunked"})
    raw += b"3\r\nabc\r\n0\r\n\r\n" + request_bytes(ACME, "/style.css")
    rs, rest, eof = after_good_first(wd, raw)
    assert [r.status for r in rs] == [400], rs
    assert rs[0].headers["connection"] == "close" and eof


# --- Errors on a later request of a connection -----------------------------

def second(lines, line=b"GET / HTTP/1.1", body=b""):
    raw = line + b"\r\n"
    for h in lines:
        raw += (h.encode("latin-1") if isinstance(h, str) else h) + b"\r\n"
    return raw + b"\r\n" + body


SECOND_ERRORS = [
    ("target-too-long", second([f"Host: {ACME}"], line=b"GET /" +
                               b"a" * 5000 + b" HTTP/1.1"), 414),
    ("head-too-large", second([f"Host: {ACME}", "X-Big: " + "a" * 9000]),
     431),
    ("too-many-fields", second([f"Host: {ACME}"] +
                               [f"X-{i}: v" for i in range(150)]), 431),
    ("duplicate-host", second([f"Host: {ACME}", f"Host: {ACME}"]), 400),
    ("duplicate-host-other", second([f"Host: {ACME}", f"Host: {GLOBEX}"]),
     400),
    ("missing-host", second([]), 400),
    ("cl-te", second([f"Host: {ACME}", "Content-Length: 5",
                      "Transfer-Encoding: chunked"], body=b"0\r\n\r\n"), 400),
    ("te-identity", second([f"Host: {ACME}", "Transfer-Encoding: identity"]),
     400),
    ("te-list", second([f"Host: {ACME}",
                        "Transfer-Encoding: chunked, identity"]), 400),
    ("cl-dup", second([f"Host: {ACME}", "Content-Length: 1",
                       "Content-Length: 2"], body=b"ab"), 400),
    ("cl-plus", second([f"Host: {ACME}", "Content-Length: +1"], body=b"a"),
     400),
    ("obs-fold", second([f"Host: {ACME}", "X-A: a", " b"]), 400),
    ("bare-lf", b"GET / HTTP/1.1\nHost: " + ACME.encode() + b"\n\n", 400),
    ("nul-in-value", second([f"Host: {ACME}", b"X-A: a\x00b"]), 400),
    ("abs-other-host", second([f"Host: {ACME}"], line=(
        f"GET http://{GLOBEX}/ HTTP/1.1").encode()), 400),
    ("abs-userinfo", second([f"Host: {ACME}"], line=(
        f"GET http://u@{ACME}/ HTTP/1.1").encode()), 400),
    ("invalid-host", second(["Host: _"]), 400),
    ("http2", second([f"Host: {ACME}"], line=b"GET / HTTP/2.0"), 505),
    ("unknown-method", second([f"Host: {ACME}"], line=b"BREW / HTTP/1.1"),
     501),
    ("connect", second([f"Host: {ACME}:443"], line=(
        f"CONNECT {ACME}:443 HTTP/1.1").encode()), 400),
    ("admin-host", second([f"Host: admin.{SUFFIX}"]), 421),
    ("apex", second([f"Host: {SUFFIX}"]), 404),
    ("unknown-tenant", second([f"Host: nobody.{SUFFIX}"]), 404),
]


@pytest.mark.parametrize("raw,status", [(r, s) for _, r, s in SECOND_ERRORS],
                         ids=[i for i, _, _ in SECOND_ERRORS])
@pytest.mark.parametrize("mode", ["whole", "bytes"])
def test_second_request_errors_close(wd, raw, status, mode):
    rs, rest, eof = after_good_first(wd, raw, mode=mode)
    assert [r.status for r in rs] == [status], (mode, rs, short(rest))
    assert rs[0].headers.get("connection") == "close", rs[0].raw
    assert rest == b"" and eof


HEAD_SECOND = ["duplicate-host", "missing-host", "cl-te", "te-identity",
               "obs-fold", "head-too-large", "abs-other-host", "http2",
               "target-too-long"]


@pytest.mark.parametrize("name", HEAD_SECOND)
def test_second_request_head_errors_have_no_body(wd, name):
    raw, status = [(r, s) for i, r, s in SECOND_ERRORS if i == name][0]
    raw = b"HEAD " + raw[4:]
    rs, rest, eof = after_good_first(wd, raw, head_only=True)
    assert [r.status for r in rs] == [status], rs
    assert rest == b"", f"{name}: body after a HEAD answer: {rest!r}"
    assert eof


# --- Connection handling ---------------------------------------------------

# Host admission (common/admit.c): the front and the worker act on one
# verdict. A head it refuses is answered by whichever end read it, with the
# same status; before, the worker handed these back and let the front
# answer (docs/routing.md, section 1).
ADMIT_REJECTS = [
    ("invalid-host", second(["Host: _"]), 400),
    ("nested-label", second([f"Host: x.{ACME}"]), 400),
    ("host-refused-part-way", second([f"Host: {ACME}_"], line=(
        f"GET http://{ACME}/ HTTP/1.1").encode()), 400),
    ("reserved", second([f"Host: www.{SUFFIX}"]), 404),
    ("missing-host", second([]), 400),
]


def handbacks(d):
    """acme's hand-backs so far (a tenant never routed to has none)."""
    return d.ctl_json("status", "acme").get("handbacks", 0)


@pytest.mark.parametrize("raw,status", [(r, s) for _, r, s in ADMIT_REJECTS],
                         ids=[i for i, _, _ in ADMIT_REJECTS])
def test_admission_refusals_are_answered_where_read(wd, raw, status):
    front, _, _ = wd.exchange(raw)
    assert [r.status for r in front] == [status], front
    # The front's canned answers carry no Date; the worker's do.
    assert "date" not in front[0].headers
    before = handbacks(wd)
    rs, rest, eof = after_good_first(wd, raw)
    assert [r.status for r in rs] == [status], rs
    assert rs[0].headers.get("connection") == "close" and rest == b"" and eof
    assert "date" in rs[0].headers, "answered by the front, not the worker"
    assert handbacks(wd) == before


# The apex and the admin host are the front's to answer: the worker hands
# such a request back, and the client gets the front's answer.
@pytest.mark.parametrize("host,status", [(SUFFIX, 404),
                                         (f"admin.{SUFFIX}", 421)])
def test_apex_and_admin_are_handed_to_the_front(wd, host, status):
    raw = second([f"Host: {host}"])
    front, _, _ = wd.exchange(raw)
    before = handbacks(wd)
    rs, rest, eof = after_good_first(wd, raw)
    assert [r.status for r in rs] == [r.status for r in front] == [status]
    assert rs[0].raw == front[0].raw and eof
    assert handbacks(wd) == before + 1


def test_http10_gets_connection_close(wd):
    for extra in ("", "Connection: keep-alive\r\n"):
        raw = (f"GET / HTTP/1.0\r\nHost: {ACME}\r\n{extra}\r\n"
               f"GET /notes.txt HTTP/1.1\r\nHost: {ACME}\r\n\r\n").encode()
        rs, rest, eof = wd.exchange(raw)
        assert [r.status for r in rs] == [200], (extra, rs)
        assert rs[0].body == ACME_PAGE
        assert rs[0].headers["connection"] == "close"
        assert eof


def test_http10_as_second_request_closes(wd):
    raw = f"GET /style.css HTTP/1.0\r\nHost: {ACME}\r\n\r\n".encode()
    rs, rest, eof = after_good_first(wd, raw)
    assert [r.status for r in rs] == [200]
    assert rs[0].headers["connection"] == "close" and eof


def test_keepalive_is_the_default(wd):
    s = wd.connect()
    try:
        for p in ("/", "/notes.txt", "/style.css"):
            s.sendall(request_bytes(ACME, p))
            rs, rest, eof = read_responses(s, 1)
            assert rs[0].status == 200 and "connection" not in rs[0].headers
            assert not eof
    finally:
        s.close()


def test_pipelining_20_requests_in_one_write(wd):
    raw = b"".join(request_bytes(ACME, f"/p/{i}.txt", close=i == 19)
                   for i in range(20))
    rs, rest, eof = wd.exchange(raw, responses=20)
    assert [r.body for r in rs] == [f"piece {i}\n".encode()
                                    for i in range(20)]
    assert rest == b""
    # Nothing more after the last (Connection: close) answer.
    rs, rest, eof = wd.exchange(raw)
    assert len(rs) == 20 and rest == b"" and eof


def test_pipelining_mixed_methods_and_conditionals(wd):
    etag, _ = validators(wd, "/notes.txt")
    raw = (request_bytes(ACME, "/notes.txt") +
           request_bytes(ACME, "/notes.txt",
                         headers={"If-None-Match": etag}) +
           request_bytes(ACME, "/missing") +
           request_bytes(ACME, "/sub") +
           request_bytes(ACME, "/p/3.txt", close=True))
    rs, rest, eof = wd.exchange(raw)
    assert [r.status for r in rs] == [200, 304, 404, 301, 200]
    assert rs[-1].body == b"piece 3\n" and rest == b"" and eof


# --- Cross-tenant reuse and the access log (security.md, items 83, 85) ------

def test_canary_cookie_never_reaches_the_first_tenant(wd):
    canary = "canary-" + uuid.uuid4().hex
    s = wd.connect()
    try:
        s.sendall(request_bytes(ACME, "/notes.txt"))
        rs, _, _ = read_responses(s, 1)
        assert rs[0].body == b"some notes\n"
        s.sendall(request_bytes(GLOBEX, f"/?{canary}",
                                headers={"Cookie": f"session={canary}"}))
        rs, _, _ = read_responses(s, 1)
        assert rs[0].status == 200 and rs[0].body == GLOBEX_PAGE
    finally:
        s.close()
    canary2 = "canary-" + uuid.uuid4().hex
    raw = (request_bytes(ACME, "/notes.txt") +
           request_bytes(GLOBEX, f"/?{canary2}",
                         headers={"Cookie": f"session={canary2}"},
                         close=True))
    rs, rest, eof = wd.exchange(raw, responses=2)
    assert [r.body for r in rs] == [b"some notes\n", GLOBEX_PAGE]
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and canary2 not in \
            wd.access_log("globex"):
        time.sleep(0.02)
    globex = wd.access_log("globex")
    assert canary in globex and canary2 in globex
    acme = wd.access_log("acme")
    for c in (canary, canary2):
        assert c not in acme
        assert c not in wd.logtext()
    assert "host=globex" not in acme


@pytest.mark.parametrize("refused", [
    b"GET / HTTP/1.1\r\nHost: %s\r\nHost: %s\r\n\r\n",   # admission
    b"GET / HTTP/1.1\r\nHost: %s\r\nBad Field: %s\r\n\r\n",  # the reader
])
def test_a_refusal_is_not_logged_with_the_line_before(wd, refused):
    """A head refused before the Host check, after a served request on the
    same connection: the served request has its one line, and the refusal
    none (docs/operations.md, section 8), not a copy of the line before."""
    mark = uuid.uuid4().hex[:12]
    raw = (request_bytes(ACME, "/notes.txt?" + mark) +
           refused % (ACME.encode(), ACME.encode()))
    rs, rest, eof = wd.exchange(raw)
    assert [r.status for r in rs] == [200, 400] and eof, rs
    # The worker writes a request's line before it closes the connection.
    lines = [ln for ln in wd.access_log("acme").split("\n") if mark in ln]
    assert len(lines) == 1 and lines[0].endswith(" status=200 bytes=11"), \
        lines


def test_access_log_escapes_the_target(wd):
    mark = uuid.uuid4().hex[:12]
    targets = [
        b"/q" + mark.encode() + b'?a="b"&c=%22d%22',
        b'/"' + mark.encode() + b'"',
        b"/b" + mark.encode() + b"?x=\\y",
        b"/c" + mark.encode() + b"?\xc3\xa9\xff",
        b"/d" + mark.encode() + b"?%0d%0aFAKE%20LINE",
    ]
    accepted = 0
    for t in targets:
        raw = (b"GET " + t + b" HTTP/1.1\r\nHost: " + ACME.encode() +
               b"\r\nConnection: close\r\n\r\n")
        rs, rest, eof = wd.exchange(raw)
        assert len(rs) == 1 and eof, (t, rs)
        if rs[0].status in (200, 404):
            accepted += 1
    deadline = time.monotonic() + 3
    lines = []
    while time.monotonic() < deadline:
        lines = [ln for ln in wd.access_log("acme").split("\n")
                 if mark in ln]
        if len(lines) >= accepted:
            break
        time.sleep(0.02)
    assert accepted >= 2 and len(lines) >= accepted, lines
    with open(os.path.join(wd.tenant_dir("acme"), "logs", "access.log"),
              "rb") as f:
        logged = [ln for ln in f.read().split(b"\n") if mark.encode() in ln]
    for ln in logged:
        # One line per request, every byte printable ASCII, exactly the
        # two quotes around the request line.
        assert all(0x20 <= c < 0x7f for c in ln), ln
        assert ln.count(b'"') == 2, ln
        assert re.search(rb' conn=\d+ "GET \S+ HTTP/1\.1" host=acme\.'
                         rb'test\.localhost client=\S+ status=\d{3} bytes=\d+$', ln), ln
    assert any(b"\\x22" in ln for ln in logged)
    assert not any(ln.startswith(b"FAKE") for ln in
                   open(os.path.join(wd.tenant_dir("acme"), "logs",
                                     "access.log"), "rb").read().split(b"\n"))
