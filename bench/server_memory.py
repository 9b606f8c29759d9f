#!/usr/bin/python3
"""The server's start-up and memory with a realistic history: start-up to healthy and idle RSS
with 10,000 finished runs in the database, and peak RSS while 10 followers stream the log of a
job printing 100 MB.

usage: bench/server_memory.py BOUCLE_BINARY [RUNS]
"""
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port  # noqa: E402

BOUCLE = os.path.abspath(sys.argv[1])
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
T = tempfile.mkdtemp(prefix="boucle-mbench.")
DATA = os.path.join(T, "data")
PORT = 0


def healthy(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.05) as s:
            s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def start():
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([BOUCLE, "server", "--data", DATA, "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(T, "log"), "a"))
    while not healthy(port):
        if proc.poll() is not None:
            sys.exit("the server exited: " + open(os.path.join(T, "log")).read())
        time.sleep(0.0002)
    return proc, port, (time.perf_counter() - t0) * 1000


def stop(proc):
    proc.terminate()
    proc.wait()


def rss_kb(pid, field="VmRSS"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def api(port, token, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + token,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b", *args], cwd=cwd,
                   check=True, stdout=subprocess.DEVNULL)


try:
    proc, port, _ = start()
    token = open(os.path.join(DATA, "initial-admin-token")).read().strip()
    repo = os.path.join(T, "repo")
    os.makedirs(repo)
    git("init", "-q", "-b", "main", cwd=repo)
    with open(os.path.join(repo, ".boucle.yml"), "w") as f:
        # 1,000,000 lines of 99 characters and a newline: 100 MB.
        f.write("jobs:\n  loud: {run: \"yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -n 1000000\", checkout: false}\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "loud", cwd=repo)
    api(port, token, "POST", "/api/projects", {"name": "bench", "url": repo, "poll_seconds": 0})
    stop(proc)

    # A history of finished runs, as months of use leave behind.
    db = sqlite3.connect(os.path.join(DATA, "boucle.db"))
    now = int(time.time() * 1000)
    db.executemany(
        "INSERT INTO runs (project, number, ref, branch, commit_sha, author, subject, trigger, "
        "state, reason, queued_at, started_at, finished_at) VALUES ('bench', ?, 'main', 'main', "
        "?, 'Bob', 'a change', 'push', ?, '', ?, ?, ?)",
        [(i, f"{i:040x}", "passed" if i % 7 else "failed", now - i * 60000, now - i * 60000 + 10,
          now - i * 60000 + 5000) for i in range(1, RUNS + 1)])
    db.executemany(
        "INSERT INTO jobs (run_id, name, state, exit_code, attempts, started_at, finished_at, "
        "reason, tests, artifacts) VALUES (?, 'test', 'passed', 0, 1, 0, 0, '', '', '')",
        [(i,) for i in range(1, RUNS + 1)])
    db.commit()
    db.close()

    times = []
    for _ in range(7):
        proc, port, ms = start()
        times.append(ms)
        stop(proc)
    print(f"start-up to healthy with {RUNS:,} runs: median {statistics.median(times):.1f} ms, "
          f"best {min(times):.1f} ms (7 starts; spawn to first 200 from /api/health)")

    proc, port, _ = start()
    time.sleep(1.0)
    print(f"idle RSS with {RUNS:,} runs: {rss_kb(proc.pid) / 1024:.1f} MB "
          f"(anonymous {rss_kb(proc.pid, 'RssAnon') / 1024:.1f} MB, "
          f"shared libraries and files {rss_kb(proc.pid, 'RssFile') / 1024:.1f} MB)")

    run = api(port, token, "POST", "/api/projects/bench/runs", {})
    rid = run["id"]
    while api(port, token, "GET", f"/api/runs/{rid}")["state"] == "queued":
        time.sleep(0.01)
    sizes = [0] * 10

    def follow(i):
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/runs/{rid}/jobs/loud/log?follow=1",
            headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(req) as r:
            while True:
                chunk = r.read(1 << 16)
                if not chunk:
                    break
                sizes[i] += len(chunk)

    followers = [threading.Thread(target=follow, args=(i,)) for i in range(10)]
    for f in followers:
        f.start()
    peak = 0
    while any(f.is_alive() for f in followers):
        peak = max(peak, rss_kb(proc.pid))
        time.sleep(0.02)
    state = api(port, token, "GET", f"/api/runs/{rid}")["state"]
    print(f"10 followers of a 100 MB log: peak RSS {peak / 1024:.1f} MB; each received "
          f"{min(sizes) / 1e6:.1f}-{max(sizes) / 1e6:.1f} MB; run {state}")
    stop(proc)
finally:
    shutil.rmtree(T, ignore_errors=True)
