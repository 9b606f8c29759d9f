#!/usr/bin/python3
"""Runs a command; prints its wall time and the peak RSS of the process (and its children)."""
import os
import sys
import time

t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
wall = time.monotonic() - t0
print(f"wall_s={wall:.3f} peak_rss_mb={usage.ru_maxrss / 1024:.1f} exit={os.waitstatus_to_exitcode(status)}", file=sys.stderr)
