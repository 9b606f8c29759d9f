#!/usr/bin/python3
"""What log followers cost the server: its open descriptors and RSS with N followers of a
quiet job's log, how long after they hang up it lets them go, and what one more than
--max-streams-per-client from the same address gets.

usage: bench/followers.py BOUCLE_BINARY [FOLLOWERS]   (FOLLOWERS ≤ 64, the default limit)
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port  # noqa: E402

BOUCLE = os.path.abspath(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 else 60
T = tempfile.mkdtemp(prefix="boucle-followers.")
DATA = os.path.join(T, "data")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait(cond, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


repo = os.path.join(T, "repo")
os.makedirs(repo)
with open(os.path.join(repo, ".boucle.yml"), "w") as f:
    f.write("jobs:\n  quiet:\n    run: |\n      echo first\n"
            "      while [ ! -e go-on ]; do sleep 0.05; done\n")
git = ["git", "-C", repo, "-c", "user.name=b", "-c", "user.email=b@b"]
subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True)
subprocess.run(git + ["add", "-A"], check=True)
subprocess.run(git + ["commit", "-q", "-m", "bench"], check=True)

port = free_port()
server = subprocess.Popen([BOUCLE, "server", "--data", DATA, "--listen", f"127.0.0.1:{port}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    wait(lambda: os.path.exists(os.path.join(DATA, "initial-admin-token")))
    token = open(os.path.join(DATA, "initial-admin-token")).read().strip()
    env = dict(os.environ, BOUCLE_SERVER=f"http://127.0.0.1:{port}", BOUCLE_TOKEN=token)
    subprocess.run([BOUCLE, "project", "add", "web", repo, "--poll", "0"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([BOUCLE, "trigger", "web"], env=env, check=True, stdout=subprocess.DEVNULL)
    wait(lambda: subprocess.run([BOUCLE, "logs", "1/quiet"], env=env, capture_output=True,
                                text=True).stdout == "first\n")
    request = (f"GET /api/runs/1/jobs/quiet/log?follow=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Authorization: Bearer {token}\r\n\r\n").encode()

    def follow():
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request)
        got = b""
        while b"first" not in got and b"429" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        return s, got

    before_fds, before_rss = fds(server.pid), rss_kb(server.pid)
    held = [follow()[0] for _ in range(N)]
    with_fds, with_rss = fds(server.pid), rss_kb(server.pid)
    print(f"{N} followers of a quiet log: {with_fds - before_fds} more descriptors "
          f"({(with_fds - before_fds) / N:.1f} each), RSS {before_rss / 1024:.1f} -> "
          f"{with_rss / 1024:.1f} MB")
    if N >= 64:
        extra, got = follow()
        print("one more from the same address:", got.split(b"\r\n")[0].decode())
        extra.close()
    t0 = time.time()
    for s in held:
        s.close()
    freed = wait(lambda: fds(server.pid) <= before_fds)
    print(f"after they hang up: back to {fds(server.pid)} descriptors in "
          f"{(time.time() - t0) * 1000:.0f} ms" + ("" if freed else " (NOT all freed)"))
    jobs = os.path.join(DATA, "runs", "1", "ws", "quiet")
    open(os.path.join(jobs, "go-on"), "w").close()
finally:
    server.terminate()
    server.wait()
    shutil.rmtree(T, ignore_errors=True)
