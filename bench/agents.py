#!/usr/bin/python3
"""Remote agents: JOBS queued trivial jobs (one run of JOBS independent `true` jobs, run as plain
processes, on a server that runs no job itself) drained by 1, 2, 4 and 8 agents, each on a
machine of its own as far as the network goes (a network namespace on a bridge,
tests/integration/net_hosts.sh): jobs per second, and the p99 of the claim's latency (an agent's
poll arriving to its answer naming a job, from the server's boucle_agent_poll_claim_seconds
histogram), with every job counted (the run passed, no job took a second attempt, the agents'
logs name each job once). Then the server's RSS with IDLE agents connected, each holding its
long poll.

Root (namespaces). usage: bench/agents.py BOUCLE_BINARY [JOBS] [IDLE]
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, pipeline_repo, wait  # noqa: E402

BOUCLE = os.path.abspath(sys.argv[1])
JOBS = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
IDLE = int(sys.argv[3]) if len(sys.argv) > 3 else 100
NET_HOSTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                         "integration", "net_hosts.sh")
SLOT = 199  # the tests take slots from their pid; this one is the bench's
HOSTS = 8
T = tempfile.mkdtemp(prefix="boucle-agents.")
BRIDGE = f"10.215.{SLOT}.1"


def sh(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def call(url, token, method="GET", body=None):
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()


def client(port, token, *args):
    env = dict(os.environ, BOUCLE_SERVER=f"http://{BRIDGE}:{port}", BOUCLE_TOKEN=token)
    return subprocess.run([BOUCLE, *args], env=env, check=True, capture_output=True,
                          text=True).stdout


def start_server(data, extra=()):
    port = free_port()
    log = open(os.path.join(T, os.path.basename(data) + ".log"), "a")
    proc = subprocess.Popen([BOUCLE, "server", "--data", data, "--listen", f"{BRIDGE}:{port}",
                             "--local-agent=false", *extra], stdout=log, stderr=log)
    if not wait(lambda: os.path.exists(os.path.join(data, "initial-admin-token")), 20):
        sys.exit("the server did not start")
    token = open(os.path.join(data, "initial-admin-token")).read().strip()
    if not wait(lambda: healthy(port), 20):
        sys.exit("the server did not answer")
    return proc, port, token


def healthy(port):
    try:
        return urllib.request.urlopen(f"http://{BRIDGE}:{port}/api/health", timeout=1).status == 200
    except OSError:
        return False


def start_agents(n, port, admin, tag, capacity=1):
    procs = []
    for i in range(n):
        name = f"{tag}{i}"
        token = client(port, admin, "token", "add", name, "--role", "agent").strip()
        work = os.path.join(T, "agent-" + name)
        log = open(work + ".log", "w")
        host = f"bcn{SLOT}h{i % HOSTS + 1}"
        procs.append((name, subprocess.Popen(
            ["ip", "netns", "exec", host, BOUCLE, "agent", "--server",
             f"http://{BRIDGE}:{port}", "--work", work, "--capacity", str(capacity),
             "--allow-process-jobs"],
            env=dict(os.environ, BOUCLE_TOKEN=token), stdout=log, stderr=log)))
    return procs


def stop(procs):
    for _, p in procs:
        p.send_signal(signal.SIGTERM)
    for _, p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def p99(metrics, name):
    """p99 of the histogram `name`, interpolated within its bucket as Prometheus'
    histogram_quantile does."""
    buckets = []
    for m in re.finditer(name + r'_bucket\{?[^}]*le="([^"]+)"\} (\d+)', metrics):
        le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
        buckets.append((le, int(m.group(2))))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    if not total:
        return float("nan")
    rank = 0.99 * total
    lower, below = 0.0, 0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return lower
            return lower + (le - lower) * (rank - below) / max(1, count - below)
        lower, below = le, count
    return lower


def drain(agents, repo):
    data = os.path.join(T, f"data-{agents}")
    proc, port, admin = start_server(data)
    procs = []
    try:
        client(port, admin, "project", "add", "p", repo, "--poll", "0")
        client(port, admin, "project", "set", "p", "--allow-process-jobs", "true")
        procs = start_agents(agents, port, admin, f"a{agents}-")
        t0 = time.perf_counter()
        client(port, admin, "trigger", "p")
        base = f"http://{BRIDGE}:{port}"
        run = {}

        def finished():
            nonlocal run
            run = json.loads(call(f"{base}/api/runs/1", admin))
            return run.get("state") not in ("queued", "running", None)
        if not wait(finished, 3600, 0.2):
            sys.exit("the run did not finish")
        seconds = time.perf_counter() - t0
        jobs = run["jobs"]
        passed = sum(1 for j in jobs if j["state"] == "passed")
        twice = sum(1 for j in jobs if j["attempts"] != 1)
        stop(procs)
        procs = []
        ran = 0
        for name in os.listdir(T):
            if name.startswith(f"agent-a{agents}-") and name.endswith(".log"):
                ran += len(re.findall(r"\bjob \d+: passed", open(os.path.join(T, name)).read()))
        metrics = call(f"{base}/metrics", admin)
        claim = p99(metrics, "boucle_agent_poll_claim_seconds")
        print(f"{agents} agent(s): {JOBS} jobs in {seconds:.1f} s = {JOBS / seconds:.0f} jobs/s, "
              f"p99 claim {claim * 1000:.1f} ms; run {run['state']}, {passed} passed, "
              f"{twice} run twice, {ran} reported by the agents")
    finally:
        stop(procs)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def idle_rss(repo):
    data = os.path.join(T, "data-idle")
    proc, port, admin = start_server(data)
    procs = []
    try:
        procs = start_agents(IDLE, port, admin, "idle-")
        base = f"http://{BRIDGE}:{port}"
        if not wait(lambda: len(json.loads(call(f"{base}/api/agents", admin))) == IDLE, 120, 0.5):
            sys.exit("not every agent called")
        time.sleep(30)  # a few rounds of long polls
        online = sum(1 for a in json.loads(call(f"{base}/api/agents", admin))
                     if a["state"] == "online")
        rss = 0
        for line in open(f"/proc/{proc.pid}/status"):
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        print(f"server with {IDLE} idle agents connected ({online} online): RSS {rss / 1024:.1f} MB")
    finally:
        stop(procs)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main():
    sh("bash", NET_HOSTS, "up", str(SLOT), str(HOSTS))
    try:
        repo = os.path.join(T, "repo")
        # Plain processes: the figure is what dispatching costs, not bubblewrap's start (about
        # 20 ms a job on this VM; docs/performance.md has the sandbox's own figures).
        jobs = "".join(f"  j{i}: {{run: 'true', checkout: false, isolation: process}}\n"
                       for i in range(JOBS))
        pipeline_repo(repo, "jobs:\n" + jobs)
        for n in (1, 2, 4, 8):
            drain(n, repo)
        idle_rss(repo)
    finally:
        subprocess.run(["bash", NET_HOSTS, "down", str(SLOT), str(HOSTS)])
        shutil.rmtree(T, ignore_errors=True)


main()
