#!/usr/bin/python3
# A disk filler (tests/integration/test_neighbours.py): writes into
# /tenant/data until an error (fsize, EFBIG: python ignores SIGXFSZ); one
# fixed file, so re-runs do not add up on the disk.
import sys
block = b"d" * (1 << 20)
try:
    with open("/tenant/data/filler", "wb") as f:
        while True:
            f.write(block)
            f.flush()
except OSError as e:
    sys.stderr.write("disk filler: %s\n" % e)
