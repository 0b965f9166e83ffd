# tenantd signals only its own workers, even when their pids come back
# as other processes (security.md, item 37). tenantd runs in a pid
# namespace of its own whose pid_max is a few hundred: that limit is the
# namespace's, not the machine's, and wraps the pid counter every few
# hundred processes. In that namespace, processes of the test's own are
# started without pause and take the pids of exited workers; any signal
# tenantd sent by a stale pid would kill one of them.
import json
import platform
import re
import subprocess
import threading
import time

from conftest import TENANTD, Daemon, request_bytes

# pid 1 of the namespace: lowers pid_max, starts tenantd, then starts
# bystanders (sleep 0.3) until stdin closes, and reports how each ended.
INIT = r"""
import json, os, select, signal, subprocess, sys, time
conf, log, pid_max = sys.argv[1], sys.argv[2], sys.argv[3]
with open("/proc/sys/kernel/pid_max", "w") as f:
    f.write(pid_max)
out = open(log, "ab")
td = subprocess.Popen([sys.argv[4], "-d", "-c", conf], stdout=out,
                      stderr=subprocess.STDOUT)
mine, ended, killed, stopped = {}, 0, [], False
pids = set()
while True:
    if not stopped and select.select([0], [], [], 0)[0]:
        os.read(0, 1)
        stopped = True
        td.send_signal(signal.SIGTERM)
    while not stopped and len(mine) < 48:
        try:
            pid = os.posix_spawn("/bin/sleep", ["sleep", "0.3"], {})
        except OSError:
            break
        mine[pid] = True
        pids.add(pid)
    try:
        pid, status = os.waitpid(-1, 0 if stopped else os.WNOHANG)
    except ChildProcessError:
        break
    if pid == 0:
        time.sleep(0.002)
        continue
    if pid == td.pid:
        td.returncode = status
        continue
    if mine.pop(pid, None):
        ended += 1
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            killed.append([pid, status])
print(json.dumps({"bystanders": ended, "killed": killed,
                  "pids": sorted(pids), "tenantd": td.returncode}))
"""

TENANTS = [f"reuse{i}" for i in range(12)]
PID_MAX = 700
SECONDS = 15


def test_no_signal_reaches_a_process_that_took_a_worker_pid():
    """Twelve tenants whose workers retire after every request
    (max_requests = 1), asked without pause for 15 s while another thread
    restarts, suspends and resumes them, in a pid namespace whose pids wrap
    every few hundred processes. tenantd kills every worker whose channel
    it reads to the end (priv_kill() in worker_read()), which is about
    when the worker's pid is freed. Every bystander the test started there
    exits by itself, though pids of exited workers were taken by
    bystanders hundreds of times."""
    # Before 6.14 pid_max is the machine's: lowering it would starve every
    # other process on the host, so the test refuses to run there.
    release = tuple(int(x) for x in re.findall(
        r"\d+", platform.release())[:2])
    assert release >= (6, 14), \
        f"kernel {platform.release()}: pid_max is not per pid namespace"
    d = Daemon(workers__max_requests="1", workers__backoff_min="100ms",
               workers__drain_timeout="200ms", workers__spares="2")
    init = None
    try:
        for slug in TENANTS:
            d.create(slug, f"page of {slug}\n")
        init = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
             "python3", "-c", INIT, d.conf, d.logpath, str(PID_MAX),
             TENANTD], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        d.proc = init
        d.wait_ready()
        stop = threading.Event()
        answers = {}
        errors = []

        def ask(slug):
            while not stop.is_set():
                try:
                    s = d.connect(5)
                    s.sendall(request_bytes(d.host(slug), close=True))
                    data = b""
                    while True:
                        b = s.recv(65536)
                        if not b:
                            break
                        data += b
                    s.close()
                    code = int(data.split(b" ", 2)[1]) if data else 0
                except OSError as e:
                    errors.append(repr(e))
                    code = -1
                answers[code] = answers.get(code, 0) + 1
                if code != 200:
                    time.sleep(0.02)    # a throttled start: ask again soon

        def operate():
            i = 0
            while not stop.is_set():
                slug = TENANTS[i % len(TENANTS)]
                d.ctl("restart", slug, check=False)
                if i % 3 == 0:
                    d.ctl("suspend", slug)
                    time.sleep(0.05)
                    d.ctl("resume", slug)
                i += 1
                time.sleep(0.05)

        threads = [threading.Thread(target=ask, args=(s,)) for s in TENANTS]
        threads.append(threading.Thread(target=operate))
        for t in threads:
            t.start()
        time.sleep(SECONDS)
        stop.set()
        for t in threads:
            t.join(30)
        out, _ = init.communicate(b"x", timeout=30)
        report = json.loads(out)
        log = d.logtext()
        workers = {int(p) for p in re.findall(
            r"worker of \S+ pid (\d+) ended", log)}
        workers |= {int(p) for p in re.findall(
            r"lost worker: tenant \S+ pid (\d+)", log)}
        reused = workers & set(report["pids"])
        killed = len(re.findall(r"lost worker: .*terminated; signal 9", log))
        print(f"worker exits {len(workers)}, bystanders "
              f"{report['bystanders']}, worker pids reused by bystanders "
              f"{len(reused)}, killed by tenantd {killed}, answers {answers}")
        assert report["killed"] == [], report["killed"]
        assert report["tenantd"] == 0, report
        # The test proves something only if pids really came back.
        assert report["bystanders"] > 1000, report["bystanders"]
        assert len(workers) > 300, len(workers)
        assert len(reused) > 100, len(reused)
        assert answers.get(200, 0) > 300, answers
    finally:
        if init is not None and init.poll() is None:
            init.kill()
            init.wait()
        d.proc = None
        d.close()
