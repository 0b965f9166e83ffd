#!/usr/bin/python3
# A fork bomb (tests/integration/test_neighbours.py, tests/system): forks
# until EAGAIN (nproc or pids.max); every process spins.
import os
while True:
    try:
        if os.fork() == 0:
            break
    except OSError:
        break
while True:
    pass
