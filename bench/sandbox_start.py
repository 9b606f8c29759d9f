#!/usr/bin/python3
"""What starting a job in the sandbox costs before boucle does anything: `true` alone, in a
bare bwrap (a mount namespace with its own /proc), and in bwrap with every namespace unshared
as the job sandbox does. Milliseconds per start, median of ROUNDS.

usage: bench/sandbox_start.py [ROUNDS]
"""
import statistics
import subprocess
import sys
import time

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 50
BASE = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "true"]


def ms(argv):
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


print(f"true alone: {ms(['true']):.1f} ms; bwrap, mount namespace and /proc: "
      f"{ms(['bwrap'] + BASE):.1f} ms; bwrap --unshare-all: "
      f"{ms(['bwrap', '--unshare-all'] + BASE):.1f} ms (median of {ROUNDS})")
