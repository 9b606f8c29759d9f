#!/usr/bin/python3
"""Monitors at scale: MONITORS http probes every 10 s against a local service, run by one
server. Prints the server's CPU share and its RSS added by the monitors (against the same
release deployed without monitors), the samples stored, and the database's bytes per sample
and per rollup row, from SQLite's dbstat, turned into growth per monitor and day.

usage: bench/monitors.py BOUCLE_BINARY [MONITORS] [SECONDS]
"""
import http.server
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port  # noqa: E402

BOUCLE = os.path.abspath(sys.argv[1])
MONITORS = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
SECONDS = int(sys.argv[3]) if len(sys.argv) > 3 else 60
EVERY = 10
T = tempfile.mkdtemp(prefix="boucle-monbench.")
DATA = os.path.join(T, "data")


class Ok(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real service would

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *a):
        pass


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


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def pipeline(monitors):
    text = ("jobs:\n  build: {run: 'true', checkout: false}\nrelease: {branches: [main]}\n"
            "environments:\n  prod: {auto: true}\ndeploy:\n  driver: command\n"
            "  command: 'true'\n")
    if monitors:
        text += "monitor:\n"
        for i in range(monitors):
            text += (f"  - {{name: m{i}, http: \"{{{{ env.url }}}}/m{i}\", every: {EVERY}s, "
                     f"timeout: 5s}}\n")
    return text


def deployed(port, token, n):
    while True:
        d = api(port, token, "GET", "/api/projects/bench/deploys?env=prod")["deploys"]
        if len(d) >= n and d[0]["state"] == "succeeded":
            return
        if d and d[0]["state"] in ("failed", "rolled_back"):
            sys.exit("deploy failed: " + json.dumps(d[0]))
        time.sleep(0.2)


def release(port, token, repo, monitors, n):
    with open(os.path.join(repo, ".boucle.yml"), "w") as f:
        f.write(pipeline(monitors))
    git("add", "-A", cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", f"feat: {monitors} monitors", cwd=repo)
    api(port, token, "POST", "/api/projects/bench/runs", {"ref": "main"})
    deployed(port, token, n)


def table_bytes(db, table):
    try:
        return db.execute("SELECT sum(pgsize) FROM dbstat WHERE name = ?", (table,)).fetchone()[0] or 0
    except sqlite3.OperationalError:
        return None


service = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
threading.Thread(target=service.serve_forever, daemon=True).start()
proc = None
try:
    port = free_port()
    proc = subprocess.Popen([BOUCLE, "server", "--data", DATA, "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(T, "log"), "w"))
    while not os.path.exists(os.path.join(DATA, "initial-admin-token")):
        time.sleep(0.05)
    time.sleep(0.3)
    token = open(os.path.join(DATA, "initial-admin-token")).read().strip()
    repo = os.path.join(T, "repo")
    os.makedirs(repo)
    git("init", "-q", "-b", "main", cwd=repo)
    with open(os.path.join(repo, ".boucle.yml"), "w") as f:
        f.write(pipeline(0))
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "feat: start", cwd=repo)
    api(port, token, "POST", "/api/projects", {"name": "bench", "url": repo, "poll_seconds": 0})
    url = f"http://127.0.0.1:{service.server_address[1]}"
    api(port, token, "PUT", "/api/projects/bench/environments/prod/values/url", {"value": url})
    api(port, token, "POST", "/api/projects/bench/runs", {"ref": "main"})
    deployed(port, token, 1)
    time.sleep(15)
    base = rss_kb(proc.pid)

    release(port, token, repo, MONITORS, 2)
    time.sleep(EVERY * 2 + 5)  # every probe has run twice: connections and buffers are made
    t0, c0 = time.monotonic(), cpu_ticks(proc.pid)
    peak = 0
    while time.monotonic() - t0 < SECONDS:
        time.sleep(1)
        peak = max(peak, rss_kb(proc.pid))
    cpu = (cpu_ticks(proc.pid) - c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0)
    now = rss_kb(proc.pid)
    # /metrics with every monitor in it: first scrape, then 20 more (figures from the store
    # are kept while nothing but samples is written).
    times = []
    for _ in range(21):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                     headers={"Authorization": "Bearer " + token})
        t = time.perf_counter()
        with urllib.request.urlopen(req) as r:
            body = r.read()
        times.append((time.perf_counter() - t) * 1000)
    mons = api(port, token, "GET", "/api/projects/bench/monitors")["monitors"]
    up = sum(1 for m in mons if m["state"] == "up")
    print(f"{MONITORS} http monitors every {EVERY} s, one server, {SECONDS} s measured:")
    print(f"  up: {up} of {len(mons)}")
    print(f"  server CPU: {cpu * 100:.2f}% of one core (goal < 5%)")
    print(f"  server RSS: {base / 1024:.1f} MB without monitors, {now / 1024:.1f} MB with them "
          f"(peak {peak / 1024:.1f} MB): +{(now - base) / 1024:.1f} MB (goal < 30 MB)")

    db = sqlite3.connect(os.path.join(DATA, "boucle.db"))
    samples = db.execute("SELECT count(*) FROM monitor_samples").fetchone()[0]
    rollups = db.execute("SELECT count(*) FROM monitor_rollups").fetchone()[0]
    sb, rb = table_bytes(db, "monitor_samples"), table_bytes(db, "monitor_rollups")
    per_day = 86400 // EVERY
    rest = sorted(times[1:])
    print(f"  GET /metrics ({len(body) // 1024} KB): first {times[0]:.1f} ms, then median "
          f"{rest[len(rest) // 2]:.1f} ms, max {rest[-1]:.1f} ms (goal < 20 ms)")
    print(f"  stored: {samples} samples, {rollups} one-minute rollups")
    if sb and rb and samples and rollups:
        per_sample, per_rollup = sb / samples, rb / rollups
        raw = per_sample * per_day
        rolled = per_rollup * 1440
        print(f"  bytes: {per_sample:.1f} per sample, {per_rollup:.1f} per rollup row (pages, "
              f"dbstat)")
        print(f"  growth per monitor and day at {EVERY} s: raw {raw / 1024:.0f} KB (kept 48 h: "
              f"{2 * raw / 1024:.0f} KB standing), rollups {rolled / 1024:.1f} KB (kept 90 days: "
              f"{90 * rolled / 1024 / 1024:.2f} MB standing)")
finally:
    if proc:
        proc.terminate()
        proc.wait()
    service.shutdown()
    shutil.rmtree(T, ignore_errors=True)
