#!/usr/bin/python3
"""Two servers on one PostgreSQL database and one shared folder, neither running jobs itself,
and one agent holding its long poll on the second: RUNS runs of one `true` job, queued one
after the other through the first server. Whichever server runs a run, its job must reach the
agent on the second: when the first runs it, only the servers' news (LISTEN/NOTIFY) wakes
that long poll at once. Prints the time from the job queued to the agent's claim (p50 and p99,
to the bucket, from each server's boucle_agent_queue_seconds), split by the server that ran
the run.

usage: bench/servers.py BOUCLE_BINARY [RUNS]
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, pipeline_repo, wait  # noqa: E402

BOUCLE = os.path.abspath(sys.argv[1])
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 100
HERE = os.path.dirname(os.path.abspath(__file__))
PG = os.path.join(HERE, "..", "tests", "pg_cluster.sh")
T = tempfile.mkdtemp(prefix="boucle-servers.")
CLUSTER = os.path.join("/tmp", "boucle-bench-pg-" + str(os.getpid()))


def call(port, token, path):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read().decode())


def client(port, token, *args):
    env = dict(os.environ, BOUCLE_SERVER=f"http://127.0.0.1:{port}", BOUCLE_TOKEN=token)
    return subprocess.run([BOUCLE, *args], env=env, check=True, capture_output=True,
                          text=True).stdout


def start_server(name, db, shared):
    port = free_port()
    log = open(os.path.join(T, name + ".log"), "a")
    proc = subprocess.Popen([BOUCLE, "server", "--data", os.path.join(T, name), "--db", db,
                             "--shared", shared, "--listen", f"127.0.0.1:{port}",
                             "--local-agent=false"], stdout=log, stderr=log)
    ok = wait(lambda: subprocess.run(["curl", "-sf", f"http://127.0.0.1:{port}/api/health"],
                                     capture_output=True).returncode == 0, 30)
    if not ok:
        sys.exit(f"server {name} did not start: see {T}/{name}.log")
    return proc, port


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0


def main():
    db = subprocess.run([PG, "start", CLUSTER], check=True, capture_output=True,
                        text=True).stdout.strip()
    procs = []
    try:
        shared = os.path.join(T, "shared")
        first, a = start_server("a", db, shared)
        procs.append(first)
        token = open(os.path.join(T, "a", "initial-admin-token")).read().strip()
        second, b = start_server("b", db, shared)
        procs.append(second)
        repo = os.path.join(T, "repo")
        pipeline_repo(repo, "jobs:\n  t: {run: 'true', isolation: process}\n")
        client(a, token, "project", "add", "p", repo, "--poll", "0")
        client(a, token, "project", "set", "p", "--allow-process-jobs", "true")
        agent_token = client(a, token, "token", "add", "agent", "--role", "agent").split()[0]
        log = open(os.path.join(T, "agent.log"), "a")
        agent = subprocess.Popen([BOUCLE, "agent", "--server", f"http://127.0.0.1:{b}",
                                  "--work", os.path.join(T, "agent"), "--allow-process-jobs"],
                                 env=dict(os.environ, BOUCLE_TOKEN=agent_token), stdout=log,
                                 stderr=log)
        procs.append(agent)
        for n in range(1, RUNS + 1):
            client(a, token, "trigger", "p")
            if not wait(lambda: call(a, token, f"/api/runs/{n}")["state"] in
                        ("passed", "failed", "interrupted"), 60):
                sys.exit(f"run {n} did not end: see {T}")
        print(f"{RUNS} runs of one job, queued through server a; the agent polls server b")
        for name, port in (("a", a), ("b", b)):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                         headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read().decode()
            buckets = []
            for line in text.splitlines():
                m = re.match(r'boucle_agent_queue_seconds_bucket\{.*le="([^"]+)"\} (\d+)', line)
                if m:
                    buckets.append((float("inf") if m[1] == "+Inf" else float(m[1]), int(m[2])))
            buckets.sort()
            total = buckets[-1][1] if buckets else 0
            where = "b (the agent's server)" if name == "b" else "a (news crosses servers)"

            def q(x):
                for bound, n in buckets:
                    if n >= x * total:
                        return f"<= {bound * 1000:g} ms"
                return "-"
            print(f"  runs on {where:26} {total:4} jobs  queued->claimed p50 {q(0.5)}, "
                  f"p99 {q(0.99)}")
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run([PG, "stop", CLUSTER])
        shutil.rmtree(T, ignore_errors=True)


main()
