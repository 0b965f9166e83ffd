#!/usr/bin/python3
"""Request load on tenantd's proxy socket, run inside the test container.

Threads send GET / for each tenant, in turn, for a fixed time, and check
every answer: status 200 and the tenant's own page. Half the threads open a
new connection per request (Connection: close); the other half keep one
connection for several requests (keep-alive), as a proxy's upstream pool
does. Every failure is classified, so the caller can tell a refused
connection (nobody listening: what socket activation must prevent) from a
dropped or wrong answer. Prints one JSON summary line.

usage: load.py SOCKET SECONDS THREADS HOST=EXPECTED [HOST=EXPECTED...]
"""
import errno
import json
import socket
import sys
import threading
import time

KEEPALIVE_REQUESTS = 20     # requests per keep-alive connection
TIMEOUT = 10.0              # per socket operation


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(TIMEOUT)
        self.s.connect(path)
        self.buf = b""

    def close(self):
        self.s.close()

    def _fill(self):
        data = self.s.recv(65536)
        if not data:
            raise EOFError("connection closed by tenantd")
        self.buf += data

    def request(self, host, keepalive):
        conn = "keep-alive" if keepalive else "close"
        self.s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: %s\r\n"
                        "User-Agent: tenantd-system-test\r\n\r\n" %
                        (host, conn)).encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = None
        closing = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "connection" and "close" in value.lower():
                closing = True
        if length is None:
            while True:
                try:
                    self._fill()
                except EOFError:
                    break
            body, self.buf = self.buf, b""
        else:
            while len(self.buf) < length:
                self._fill()
            body, self.buf = self.buf[:length], self.buf[length:]
        return status, body.decode("utf-8", "replace"), closing


def classify(exc, sent):
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, FileNotFoundError):
        return "no_socket"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, EOFError):
        return "eof_after_send" if sent else "eof"
    if isinstance(exc, socket.timeout):
        return "timeout"
    if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
        return "broken_pipe"
    return type(exc).__name__


def worker(path, deadline, targets, keepalive, tid, stats, lock):
    i = tid
    local = {"ok": 0, "connections": 0, "failures": {}, "examples": []}

    def fail(kind, detail):
        local["failures"][kind] = local["failures"].get(kind, 0) + 1
        if len(local["examples"]) < 3:
            local["examples"].append("%s: %s" % (kind, detail))

    while time.monotonic() < deadline:
        try:
            c = Conn(path)
        except OSError as e:
            fail(classify(e, False), str(e))
            time.sleep(0.01)
            continue
        local["connections"] += 1
        n = KEEPALIVE_REQUESTS if keepalive else 1
        try:
            for k in range(n):
                if time.monotonic() >= deadline:
                    break
                host, expected = targets[i % len(targets)]
                i += 1
                try:
                    status, body, closing = c.request(host, keepalive)
                except (OSError, EOFError, ValueError, IndexError) as e:
                    # A keep-alive connection closed by the server before
                    # a new request was read is what HTTP allows (RFC 9112
                    # 9.3.1): a proxy retries it on a new connection. Only
                    # a first request, or a request answered wrongly, is
                    # a failure.
                    if keepalive and k > 0 and isinstance(
                            e, (EOFError, ConnectionResetError,
                                BrokenPipeError)):
                        local["retried"] = local.get("retried", 0) + 1
                        i -= 1
                        break
                    fail(classify(e, True), "%s: %s" % (host, e))
                    break
                if status != 200:
                    fail("status_%d" % status, host)
                elif expected not in body:
                    fail("wrong_body", "%s got %r" % (host, body[:80]))
                else:
                    local["ok"] += 1
                if closing:
                    break
        finally:
            c.close()
    with lock:
        stats["ok"] += local["ok"]
        stats["connections"] += local["connections"]
        stats["keepalive_closed_retried"] += local.get("retried", 0)
        for k, v in local["failures"].items():
            stats["failures"][k] = stats["failures"].get(k, 0) + v
        stats["examples"].extend(local["examples"])


def main():
    path = sys.argv[1]
    seconds = float(sys.argv[2])
    threads = int(sys.argv[3])
    targets = [tuple(a.split("=", 1)) for a in sys.argv[4:]]
    stats = {"ok": 0, "connections": 0, "keepalive_closed_retried": 0,
             "failures": {}, "examples": []}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    ts = [threading.Thread(target=worker,
                           args=(path, deadline, targets, t % 2 == 1, t,
                                 stats, lock))
          for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    stats["failed"] = sum(stats["failures"].values())
    stats["examples"] = stats["examples"][:10]
    print(json.dumps(stats, sort_keys=True))


if __name__ == "__main__":
    main()
