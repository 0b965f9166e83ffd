# docs/security.md, item 19, fail-open on a setup error: every sandbox step
# that succeeds in a normal run is made to fail, one at a time, with strace's
# fault injection (bubblewrap's test-run.sh does the same with -e fault=prctl).
# The probe must stop with the step named and never reach its check; a
# real worker must die before READY and never serve.
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import TENANTD, Daemon, children, proc_status, request_bytes
from probelib import (BLOCKED, DUMP_EXTRA, ERROR, Jail, policy_limits,
                      write_policy)

STRACE = shutil.which("strace")
PRLIMIT = shutil.which("prlimit")

# Every syscall sandbox_prepare/sandbox_enter and the privilege drop they
# call (common/privdrop.c; and libcap and libseccomp under them) make to change or verify the process's state.
SETUP = ["chroot", "chdir", "setgroups", "setresgid", "setresuid", "capget",
         "capset", "prctl", "prlimit64", "seccomp", "getresuid", "getresgid",
         "getgroups"]

# A successful call of these must, when it fails, stop the sandbox with a
# message naming the step (the FAIL texts of sandbox.c and privdrop.c).
STEPS = [
    (r"^chroot\(", "chroot "),
    (r"^chdir\(", "chdir /"),
    (r"^setgroups\(0, NULL\)", "setgroups"),
    (r"^setresgid\((\d+), \1, \1\)", "setresgid "),
    (r"^setresuid\((\d+), \1, \1\)", "setresuid "),
    (r"^capset\(", "cap_set_proc"),
    (r"^capget\(\{.*\}, \{", "capabilities still held"),
    (r"^getresuid\(", "getresuid: "),
    (r"^getresgid\(", "getresgid: "),
    (r"^getgroups\(0, NULL\)", "supplementary groups"),
    (r"^prctl\(PR_CAPBSET_DROP, ", "cap_drop_bound "),
    (r"^prctl\(PR_SET_SECUREBITS, ", "PR_SET_SECUREBITS"),
    (r"^prctl\(PR_GET_SECUREBITS\)", "securebits are not what was set"),
    (r"^prctl\(PR_SET_PDEATHSIG, ", "PR_SET_PDEATHSIG"),
    (r"^prctl\(PR_GET_PDEATHSIG, ", "PR_SET_PDEATHSIG"),
    (r"^prctl\(PR_SET_DUMPABLE, ", "PR_SET_DUMPABLE"),
    (r"^prctl\(PR_GET_DUMPABLE\)", "PR_SET_DUMPABLE"),
    (r"^prctl\(PR_[SG]ET_NO_NEW_PRIVS, ", "no_new_privs"),
    (r"^prlimit64\(0, RLIMIT_(\w+), \{", "setrlimit {}"),
    (r"^seccomp\(SECCOMP_GET_ACTION_AVAIL, 0, \[SECCOMP_RET_KILL_PROCESS\]",
     "seccomp_init failed"),
    (r"^seccomp\(SECCOMP_SET_MODE_FILTER, 0, \{len=", "seccomp_load"),
]

# Read-only questions asked by libc, libcap and libseccomp: a failure may
# be taken as "no" or "older kernel", but must not leave a weaker sandbox.
QUERIES = [
    r"^prctl\(PR_CAPBSET_READ, ",               # libcap: how many caps
    r"^prctl\(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, ",  # cap_reset_ambient
    r"^capget\(\{.*\}, NULL\)",                 # libcap: kernel version
    r"^prlimit64\(0, RLIMIT_\w+, NULL, ",       # getrlimit
    r"^seccomp\(SECCOMP_SET_MODE_STRICT, ",     # libseccomp API level
    r"^seccomp\(SECCOMP_SET_MODE_FILTER, [A-Z_|]+, NULL\)",
    r"^seccomp\(SECCOMP_GET_ACTION_AVAIL, 0, \[SECCOMP_RET_LOG\]",
    r"^seccomp\(SECCOMP_GET_NOTIF_SIZES, ",
]

LINE = re.compile(r"^(\w+)\((.*)\)\s+= (-?\d+|0x[0-9a-f]+)")


def strace(jail, inject=None, trace_to=os.devnull, **kw):
    # Without --seccomp-bpf (which would add a filter of strace's own)
    # every syscall stops the tracee: a lower NOFILE keeps the dump's
    # fcntl walk over all descriptor numbers short.
    prefix = [PRLIMIT, "--nofile=1024:1024", STRACE, "-qq", "-o", trace_to,
              "-e", "trace=" + ",".join(SETUP)]
    if inject is not None:
        prefix += ["-e", f"inject={inject[0]}:error=EPERM:when={inject[1]}"]
    return jail.run("dump", prefix=prefix, **kw)


def setup_calls(trace):
    """(syscall, n-th call of it, line) for every call that succeeded, up
    to the filter load: the dump check's own getters come after it."""
    counts, out = {}, []
    for line in trace.splitlines():
        m = LINE.match(line)
        assert m, f"cannot read strace line {line!r}"
        name = m.group(1)
        counts[name] = counts.get(name, 0) + 1
        if m.group(3) != "-1":
            out.append((name, counts[name], line))
        if re.match(STEPS[-1][0], line):
            return out
    raise AssertionError("no seccomp filter load in the trace:\n" + trace)


def classify(line):
    for rx, msg in STEPS:
        m = re.match(rx, line)
        if m:
            return "step", msg.format(*(g.lower() for g in m.groups()))
    for rx in QUERIES:
        if re.match(rx, line):
            return "query", None
    return None, None


@pytest.fixture(scope="module")
def jail():
    assert STRACE, "strace is needed (Debian package strace)"
    assert PRLIMIT, "prlimit is needed (Debian package util-linux)"
    d = Daemon()
    try:
        d.create("prober")
        pol = os.path.join(d.dir, "policies")
        os.mkdir(pol, 0o755)
        j = Jail(d, "prober")
        j.policy = write_policy(pol, "dump.seccomp", add=DUMP_EXTRA)
        yield j
    finally:
        d.close()


def state(run):
    s = json.loads(run.out)
    del s["ppid"]           # a new strace each run
    return s


def test_every_setup_step_fails_closed(jail, tmp_path):
    """Trace the probe once, then fail each successful setup call in turn
    (EPERM from strace; about 120 calls here): a step must stop the probe
    with exit 2 and its own message before the check; a read-only query
    must either stop it too or leave exactly the same sandbox behind (the
    dump check reads the state back)."""
    trace = tmp_path / "trace"
    base = strace(jail, trace_to=str(trace), policy=jail.policy)
    assert base.rc == BLOCKED, base
    want = state(base)
    calls = setup_calls(trace.read_text())
    kinds = [classify(line) for _, _, line in calls]
    unknown = [line for (_, _, line), (k, _) in zip(calls, kinds) if not k]
    assert unknown == [], ("setup calls this test does not know; add them "
                           "to STEPS or QUERIES:\n" + "\n".join(unknown))
    # The table is not vacuous: every step of docs/architecture.md,
    # section 7 (sandbox entry) is seen.
    seen = {msg for k, msg in kinds if k == "step"}
    for msg in ["chroot ", "chdir /", "setgroups", "setresgid ",
                "setresuid ", "cap_set_proc", "cap_drop_bound ",
                "PR_SET_SECUREBITS", "PR_SET_PDEATHSIG", "PR_SET_DUMPABLE",
                "no_new_privs", "seccomp_load"] + \
            [f"setrlimit {name}" for name in policy_limits()]:
        assert msg in seen, f"no {msg!r} step in the trace"

    def inject(call):
        return strace(jail, inject=call[:2], policy=jail.policy)

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        runs = list(ex.map(inject, calls))
    failures = []
    for (name, n, line), (kind, msg), r in zip(calls, kinds, runs):
        if kind == "step":
            if r.rc != ERROR or msg not in r.err or "dumped" in r.err:
                failures.append(f"{line}\n    -> {r}")
        elif not (r.rc == ERROR or (r.rc == BLOCKED and
                                    state(r) == want)):
            failures.append(f"{line} (query)\n    -> {r}")
    assert failures == [], "sandbox did not fail closed:\n" + \
        "\n".join(failures)


def tenant_pids(uid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = proc_status(int(d))
            except OSError:
                continue
            if st["Uid"].split()[0] == str(uid) and st["State"][0] != "Z":
                out.append(int(d))
    return out


class TracedDaemon:
    """A daemon started under strace -f with every call of one syscall
    failing, in the supervisor and every worker alike (the supervisor makes
    none of the syscalls injected here)."""

    def __init__(self, syscall, inject=None, **overrides):
        # A start_timeout shorter than the first backoff: the waiting
        # request is answered 503 at the first failed start.
        overrides.setdefault("workers__start_timeout", "1s")
        self.d = Daemon(**overrides)
        self.tracer = self.sup = None
        self.inject = f"inject={syscall}:error=EPERM" + \
            (f":{inject}" if inject else "")
        self.syscall = syscall

    def __enter__(self):
        d = self.d
        try:
            d.create("acme", "acme's own page\n")
            self.uid, _ = d.tenant_ids("acme")
            d.log = open(d.logpath, "ab")
            # Injection needs the syscall traced; the trace is dropped.
            self.tracer = subprocess.Popen(
                [STRACE, "-f", "-qq", "-o", os.devnull, "-e",
                 f"trace={self.syscall}", "-e", self.inject,
                 TENANTD, "-d", "-c", d.conf],
                stdout=d.log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 10
            while not children(self.tracer.pid):
                assert self.tracer.poll() is None and \
                    time.monotonic() < deadline, \
                    "tenantd did not start: " + d.logtext()
                time.sleep(0.02)
            self.sup = children(self.tracer.pid)[0][0]
            d.proc = self.tracer
            d.wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return d

    def __exit__(self, *exc):
        # strace would only detach from tenantd and leave it running: stop
        # tenantd itself, and make sure of it if it does not go.
        if self.tracer is not None and self.sup is None:
            kids = children(self.tracer.pid)
            self.sup = kids[0][0] if kids else None
        if self.sup is not None:
            try:
                os.kill(self.sup, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if self.tracer is not None:
            try:
                self.tracer.wait(15)
            except subprocess.TimeoutExpired:
                if self.sup is not None:
                    try:
                        os.kill(self.sup, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.tracer.wait(5)
        self.d.proc = None
        self.d.close()


@pytest.mark.parametrize("syscall", ["chroot", "setgroups", "setresgid",
                                     "setresuid", "capset"])
def test_real_worker_fails_closed(syscall):
    """Through the daemon: the worker dies before READY with a non-zero
    status, the supervisor logs the loss, the tenant's request gets 503,
    and no process ever runs as the tenant."""
    assert STRACE, "strace is needed (Debian package strace)"
    t = TracedDaemon(syscall)
    with t as d:
        rs, _, _ = d.exchange(request_bytes(d.host("acme"), close=True),
                              timeout=15, responses=1)
        assert [r.status for r in rs] == [503], rs
        d.wait_log(r"lost worker: tenant acme pid \d+ \(starting, .*\): "
                   r"exited; status [1-9]")
        assert tenant_pids(t.uid) == []
        assert "ready: uid" not in d.logtext()


def test_sandbox_failure_reason_is_logged():
    """docs/security.md, item 19 (a failed start is reported): the reason a
    worker gives for dying (its last MSG_LOG, "sandbox: setresuid ...")
    reaches the supervisor's log, even when the supervisor learns of the
    death and the message at the same time. The injected failure returns
    after 400 ms; meanwhile the supervisor is stopped, so that when it
    resumes, the message and the exit are both waiting."""
    assert STRACE, "strace is needed (Debian package strace)"
    t = TracedDaemon("setresuid", inject="delay_exit=400000",
                     workers__start_timeout="5s")
    with t as d:
        s = d.connect()
        s.sendall(request_bytes(d.host("acme")))
        time.sleep(0.2)             # bound; now inside the slow setresuid
        os.kill(t.sup, signal.SIGSTOP)
        try:
            time.sleep(0.6)         # the worker fails, logs and exits
        finally:
            os.kill(t.sup, signal.SIGCONT)
        d.wait_log(r"lost worker: tenant acme pid \d+")
        time.sleep(0.2)
        s.close()
        log = d.logtext()
        pid = re.search(r"lost worker: tenant acme pid (\d+)", log).group(1)
        assert re.search(rf"tenant acme worker {pid}: sandbox: setresuid ",
                         log), f"worker {pid} lost without its reason:\n{log}"
