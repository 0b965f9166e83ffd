# Helpers for the security tests: running tenantd-probe inside a real
# tenant's jail, writing policy variants, reading /proc of live workers.
import json
import os
import signal
import subprocess

from conftest import BUILD, POLICY

PROBE = os.path.join(BUILD, "tests", "security", "tenantd-probe")
SECCOMP = os.path.join(POLICY, "worker.seccomp")
LIMITS = os.path.join(POLICY, "worker.limits")

# What the probe's exit status means (probe.c).
BLOCKED, HOLE, ERROR = 0, 1, 2
SIGSYS = -signal.SIGSYS

# Read-only getters the "dump" check needs on top of the worker's
# allowlist. Adding them changes what the process may ask, not what it is:
# every bit of state it reports was set before the filter was loaded.
DUMP_EXTRA = ["getresuid", "getresgid", "getgroups", "capget", "prctl",
              "prlimit64", "getrlimit", "getcwd", "getppid"]

# RLIMIT_* names as policy/worker.limits spells them, /proc/PID/limits rows.
PROC_LIMITS = {
    "cpu": "Max cpu time", "fsize": "Max file size",
    "data": "Max data size", "stack": "Max stack size",
    "core": "Max core file size", "nproc": "Max processes",
    "nofile": "Max open files", "memlock": "Max locked memory",
    "as": "Max address space", "msgqueue": "Max msgqueue size",
    "rtprio": "Max realtime priority", "sigpending": "Max pending signals",
}
RLIM_INFINITY = 2 ** 64 - 1


class Run:
    """The outcome of one probe run."""

    def __init__(self, argv, cp, what):
        self.argv = argv
        self.what = what
        self.rc = cp.returncode
        self.out = cp.stdout
        self.err = cp.stderr.strip()

    @property
    def killed_by_seccomp(self):
        return self.rc == SIGSYS

    @property
    def handler_ran(self):
        """The --sigsys handler's report: the filter trapped, not killed."""
        return "SIGSYS handler ran" in self.err

    def __repr__(self):
        how = (f"killed by signal {-self.rc}" if self.rc < 0
               else f"exit {self.rc}")
        return f"<probe {self.what}: {how}: {self.err!r}>"


class Jail:
    """A tenant directory made by tenantctl, entered by the probe with the
    tenant's ids and a policy/limits pair (the shipped ones by default)."""

    def __init__(self, daemon, slug):
        self.daemon = daemon
        self.slug = slug
        self.dir = daemon.tenant_dir(slug)
        self.uid, self.gid = daemon.tenant_ids(slug)
        st = os.stat(self.dir)
        self.ident = f"{st.st_dev}:{st.st_ino}"

    def argv(self, check, arg=None, policy=SECCOMP, limits=LIMITS,
             parent=None, root=None, sigsys=False):
        argv = [PROBE, "--uid", str(self.uid), "--gid", str(self.gid),
                "--root", root or self.dir, "--policy", policy,
                "--limits", limits]
        if parent is not None:
            argv += ["--parent", str(parent)]
        if sigsys:
            argv.append("--sigsys")
        argv.append(check)
        if arg is not None:
            argv.append(str(arg))
        return argv

    def run(self, check, arg=None, stdin=subprocess.DEVNULL, timeout=20,
            prefix=(), **kw):
        argv = list(prefix) + self.argv(check, arg, **kw)
        cp = subprocess.run(argv, stdin=stdin, capture_output=True,
                            text=True, timeout=timeout,
                            start_new_session=True)
        return Run(argv, cp, check if arg is None else f"{check} {arg}")


def write_policy(directory, name, base=SECCOMP, add=(), drop=()):
    """A copy of a policy file with rules added or removed. Policy files
    must be root-owned and writable by root only, or nothing loads them."""
    path = os.path.join(directory, name)
    out = []
    with open(base) as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if words and words[0] in drop:
                continue
            out.append(line)
    present = {line.split("#", 1)[0].split()[0] for line in out
               if line.split("#", 1)[0].split()}
    for sc in add:
        if sc not in present:
            out.append(f"{sc}    # test only: the sandbox weakened on "
                       f"purpose\n")
    with open(path, "w") as f:
        f.writelines(out)
    os.chmod(path, 0o644)
    return path


def write_limits(directory, name, changes, base=LIMITS):
    """A copy of the limits file with some values replaced (or removed when
    the value is None)."""
    path = os.path.join(directory, name)
    out = []
    with open(base) as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if words and words[0] in changes:
                if changes[words[0]] is None:
                    continue
                line = f"{words[0]} {changes[words[0]]}  # test only\n"
            out.append(line)
    with open(path, "w") as f:
        f.writelines(out)
    os.chmod(path, 0o644)
    return path


def resolve(policy=SECCOMP):
    """The policy as libseccomp resolves it: {nr: (name, errno)}, and the
    native syscall table {nr: name}."""
    cp = subprocess.run([PROBE, "--policy", policy, "--resolve"],
                        capture_output=True, text=True, timeout=20)
    assert cp.returncode == 0, cp.stderr
    j = json.loads(cp.stdout)
    rules = {int(k): (v[0], v[1]) for k, v in j["rules"].items()}
    native = {int(k): v for k, v in j["native"].items()}
    return rules, native


def parse_size(s):
    if s == "unlimited":
        return RLIM_INFINITY
    mul = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1], 1)
    return int(s[:-1] if mul != 1 else s) * mul


def policy_limits(path=LIMITS):
    """{name: value} from a limits file."""
    out = {}
    with open(path) as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if words:
                out[words[0]] = parse_size(words[1])
    return out


def proc_limits(pid):
    """{name: (soft, hard)} from /proc/PID/limits, RLIM_INFINITY for
    "unlimited"."""
    rows = {}
    with open(f"/proc/{pid}/limits") as f:
        next(f)
        for line in f:
            for name, label in PROC_LIMITS.items():
                if line.startswith(label):
                    soft, hard = line[len(label):].split()[:2]
                    rows[name] = (parse_size(soft), parse_size(hard))
    return rows


def proc_fds(pid):
    """{fd: link target} of a live process."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            pass
    return out


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name, indexed as in
    proc(5) (3 = state, 4 = ppid, 5 = pgrp, 6 = session, 7 = tty_nr,
    8 = tpgid, 22 = starttime)."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()
    return {i + 3: v for i, v in enumerate(rest)}


def alive(pid, starttime):
    """True while pid is still the process that had this start time and
    has not exited (a zombie has exited: it only waits to be reaped)."""
    try:
        st = proc_stat(pid)
    except (FileNotFoundError, ProcessLookupError):
        return False
    return st[22] == starttime and st[3] != "Z"
