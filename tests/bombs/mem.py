#!/usr/bin/python3
# A memory bomb (tests/integration/test_neighbours.py, tests/system):
# allocates and touches 16 MiB at a time until the OOM killer acts in the
# tenant's cgroup, or malloc fails (then says so in logs/handler.log).
import sys
hoard = []
try:
    while True:
        hoard.append(b"x" * (16 << 20))
except MemoryError:
    sys.stderr.write("memory bomb: MemoryError\n")
    sys.exit(1)
