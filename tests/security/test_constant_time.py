# docs/security.md, item 100: a token is checked in constant time. Under
# callgrind (instruction counts are deterministic), checking a token whose
# verifier differs in the first byte costs exactly as many instructions as
# one that differs in the last. The same harness with memcmp, which stops
# at the first difference, shows that the measurement can tell.
import os
import re
import subprocess
import tempfile

from conftest import BUILD

CT = os.path.join(BUILD, "tests", "security", "ct-verify")


def instructions(*args):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        subprocess.run(["valgrind", "--tool=callgrind", "--quiet",
                        "--toggle-collect=run_checks",
                        f"--callgrind-out-file={out}", CT, *args],
                       check=True, capture_output=True)
        with open(out) as f:
            m = re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M)
    assert m, "no instruction count from callgrind"
    return int(m.group(1))


def test_token_check_is_constant_time():
    assert instructions("first") == instructions("last")


def test_the_measurement_sees_an_early_exit():
    assert instructions("first", "memcmp") != instructions("last", "memcmp")
