# Resource limits a worker meets in normal operation must not become
# outages: a full access log is a warning, not a crash loop.
import os
import time

from conftest import Daemon, read_responses, request_bytes

# fsize in policy/worker.limits is 1024G, lowered for each worker to its
# tenant's storage quota (100M by default, policy/tenant.limits) plus 64M
# of room for a database's write-ahead log.
WAL_ROOM = 64 << 20
FSIZE = (100 << 20) + WAL_ROOM


def test_access_log_at_the_size_limit_does_not_kill_the_worker():
    """A busy tenant's logs/access.log reaches RLIMIT_FSIZE. Before, the
    next write raised SIGXFSZ and killed the worker, and every restart died
    the same way at its first request: a permanent crash loop. Now the write
    fails with EFBIG, the worker warns once and goes on serving."""
    d = Daemon()
    try:
        d.create("acme", "acme's own page\n")
        uid, gid = d.tenant_ids("acme")
        log = os.path.join(d.tenant_dir("acme"), "logs", "access.log")
        with open(log, "wb") as f:
            f.truncate(FSIZE)               # sparse: at the limit already
        os.chown(log, uid, gid)
        d.start()
        s = d.connect()
        for i in range(5):
            s.sendall(request_bytes(d.host("acme"), f"/?n={i}"))
            rs, _, eof = read_responses(s, 1, 5)
            assert rs and rs[0].status == 200, (i, rs, eof, d.logtext())
        s.close()
        (pid,) = d.workers("acme")
        d.wait_log(r"tenant acme worker \d+: logs/access.log reached the "
                   r"file size limit")
        assert d.logtext().count("reached the file size limit") == 1
        assert "lost worker" not in d.logtext()
        assert os.path.getsize(log) == FSIZE
        time.sleep(0.2)
        assert d.workers("acme") == [pid]
    finally:
        d.close()


def test_access_log_below_the_limit_keeps_logging():
    """The control case: the same setup one line short of full keeps its
    lines (so the test above fails if logging merely broke)."""
    d = Daemon()
    try:
        d.create("acme", "acme's own page\n")
        uid, gid = d.tenant_ids("acme")
        log = os.path.join(d.tenant_dir("acme"), "logs", "access.log")
        with open(log, "wb") as f:
            f.truncate(FSIZE - 4096)
        os.chown(log, uid, gid)
        d.start()
        assert d.get(d.host("acme")).status == 200
        time.sleep(0.2)
        assert os.path.getsize(log) > FSIZE - 4096
        assert "reached the file size limit" not in d.logtext()
    finally:
        d.close()


def test_file_size_limit_follows_the_storage_quota():
    """No file of a tenant outgrows its storage quota by more than a
    write-ahead log's room: its worker's RLIMIT_FSIZE is the quota plus
    that room when it is below the policy's fsize."""
    d = Daemon()
    try:
        d.create("acme", "acme's own page\n")
        d.create("globex", "globex's own page\n")
        d.ctl("limits", "set", "acme", "storage", "10M")
        d.start()
        for slug, want in (("acme", (10 << 20) + WAL_ROOM),
                           ("globex", FSIZE)):
            assert d.get(d.host(slug)).status == 200
            (pid,) = d.workers(slug)
            with open(f"/proc/{pid}/limits") as f:
                line = [x for x in f if x.startswith("Max file size")][0]
            assert line.split()[3:5] == [str(want), str(want)], line
    finally:
        d.close()
