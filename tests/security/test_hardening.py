# The built binaries carry the hardening meson.build asks for: PIE, full
# RELRO (GNU_RELRO + BIND_NOW), a non-executable stack, the stack protector
# and _FORTIFY_SOURCE, and the worker links nothing it has no use for (it
# holds no registry and no configuration parser). Read with binutils,
# as nsjail's CI does (readelf -d for BIND_NOW, nm for __stack_chk_fail).
import os
import re
import shutil
import subprocess

import pytest

from conftest import FRONT, TENANTCTL, TENANTD, WORKER

READELF = shutil.which("readelf")
NM = shutil.which("nm")

BINARIES = {"tenantd": TENANTD, "tenantd-worker": WORKER,
            "tenantctl": TENANTCTL, "tenantd-front": FRONT}

# What the worker may load: libc, and the libraries its sandbox, event
# loop and request parser need, and since the data plane (issue 3) those of
# the tenant's KV store (SQLite on its own app.db), its JSON (jansson) and
# the API token check (libsodium, against a verifier: never a key that
# signs anything).
WORKER_LIBS = ("libc.so.", "libseccomp.so.", "libcap.so.", "libev.so.",
               "libhttp_parser.so.", "libsqlite3.so.", "libjansson.so.",
               "libsodium.so.")
# Never in the worker: the configuration parser (inih).
NOT_IN_WORKER = ("libinih",)
NOT_IN_WORKER_SYMBOLS = re.compile(r"^(ini_parse|registry_|keys_load)")
# The front (docs/security.md, "Privilege separation") reads client bytes
# and asks the parent: its sandbox, event loop and request parser, and
# libsodium for the policy loader; no SQLite, JSON or configuration parser.
FRONT_LIBS = ("libc.so.", "libseccomp.so.", "libcap.so.", "libev.so.",
              "libhttp_parser.so.", "libsodium.so.")


def tool(*argv):
    assert READELF and NM, "binutils (readelf, nm) is not installed: " \
        "apt-get install binutils"
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"{argv}: {r.stderr}"
    return r.stdout


def dynamic(path):
    """readelf -d as a list of (tag, value)."""
    out = []
    for line in tool(READELF, "-dW", path).splitlines():
        m = re.match(r"\s*0x[0-9a-f]+ \((\w+)\)\s+(.*)$", line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def segments(path):
    """readelf -l: program header type -> flags (e.g. "RW", "R E")."""
    out = {}
    for line in tool(READELF, "-lW", path).splitlines():
        m = re.match(r"\s*(GNU_\w+|LOAD|DYNAMIC|INTERP)\s+(?:\S+\s+){5}"
                     r"([RWE ]{3})\s+\S+$", line)
        if m:
            out.setdefault(m.group(1), []).append(m.group(2).strip())
    return out


def undefined_symbols(path):
    """Dynamic symbols the binary imports, without version suffixes."""
    out = set()
    for line in tool(NM, "-D", "--undefined-only", path).splitlines():
        name = line.split()[-1]
        out.add(name.split("@")[0])
    return out


@pytest.fixture(params=sorted(BINARIES))
def binary(request):
    path = BINARIES[request.param]
    assert os.path.isfile(path), f"{path} is not built"
    return path


def test_binutils_present():
    assert READELF and NM, "binutils (readelf, nm) is not installed: " \
        "apt-get install binutils"


def test_pie(binary):
    head = tool(READELF, "-hW", binary)
    m = re.search(r"^\s*Type:\s+(\w+)", head, re.M)
    assert m and m.group(1) == "DYN", m and m.group(0).strip()
    # A PIE, not a shared library that happens to have an entry point.
    flags1 = [v for t, v in dynamic(binary) if t == "FLAGS_1"]
    assert flags1 and "PIE" in flags1[0].split(), flags1
    assert "INTERP" in segments(binary)


def test_full_relro(binary):
    dyn = dynamic(binary)
    flags = " ".join(v for t, v in dyn if t == "FLAGS").split()
    flags1 = " ".join(v for t, v in dyn if t == "FLAGS_1").split()
    assert "BIND_NOW" in flags or "NOW" in flags1, dyn
    assert "NOW" in flags1, flags1
    assert segments(binary).get("GNU_RELRO"), "no GNU_RELRO segment"
    assert "TEXTREL" not in [t for t, _ in dyn]
    # No library search path baked in (one under a writable directory
    # would let its owner replace a library).
    assert not [t for t, _ in dyn if t in ("RPATH", "RUNPATH")], dyn


def test_non_executable_stack(binary):
    stack = segments(binary).get("GNU_STACK")
    assert stack == ["RW"], f"GNU_STACK {stack}"
    # Nor any other writable and executable segment.
    for kind, flags in segments(binary).items():
        for f in flags:
            assert not ("W" in f and "E" in f), (kind, f)


def test_stack_protector(binary):
    assert "__stack_chk_fail" in undefined_symbols(binary)


def test_fortify_source(binary):
    chk = sorted(s for s in undefined_symbols(binary)
                 if re.fullmatch(r"__\w+_chk", s) and s != "__stack_chk_fail")
    assert chk, "no fortified (__*_chk) libc call"


def test_worker_links_only_what_it_needs():
    needed = [re.search(r"\[(.*)\]", v).group(1)
              for t, v in dynamic(WORKER) if t == "NEEDED"]
    assert needed, "no NEEDED entries: not a dynamic executable?"
    for lib in needed:
        assert not lib.startswith(NOT_IN_WORKER), \
            f"tenantd-worker links {lib}"
        assert lib.startswith(WORKER_LIBS), \
            f"tenantd-worker links {lib}, which is not expected"
    bad = sorted(s for s in undefined_symbols(WORKER)
                 if NOT_IN_WORKER_SYMBOLS.match(s))
    assert not bad, bad
    # tenantctl does use it: the check above is not vacuous.
    assert [v for t, v in dynamic(TENANTCTL)
            if t == "NEEDED" and "libinih" in v]


def test_front_links_only_what_it_needs():
    needed = [re.search(r"\[(.*)\]", v).group(1)
              for t, v in dynamic(FRONT) if t == "NEEDED"]
    assert needed, "no NEEDED entries: not a dynamic executable?"
    for lib in needed:
        assert lib.startswith(FRONT_LIBS), \
            f"tenantd-front links {lib}, which is not expected"
    bad = sorted(s for s in undefined_symbols(FRONT)
                 if NOT_IN_WORKER_SYMBOLS.match(s) or
                 s.startswith(("sqlite3_", "json_")))
    assert not bad, bad
