#!/usr/bin/python3
"""Live events fanned out: SUBSCRIBERS clients hold GET /api/events?project=web open on one
server; each round opens an incident through the API (one event) and measures, from the
moment the request is sent, when the event reached the median subscriber and the last one.
Prints the rounds' medians and worst, and the server's RSS and descriptors per subscriber.

Arrival times are taken when epoll reports a subscriber's socket readable (one-shot, nothing
read until the round is over), by this one Python process on the same cores as the server: an
upper bound on the server's own fan-out time.

usage: bench/events.py BOUCLE_BINARY [SUBSCRIBERS] [ROUNDS]
"""
import json
import os
import resource
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, pipeline_repo, wait  # noqa: E402

BOUCLE = os.path.abspath(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 30
T = tempfile.mkdtemp(prefix="boucle-events.")
DATA = os.path.join(T, "data")

# A thousand sockets each side: this process and the server (which inherits it).
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * N + 256)), hard))


def cpu_seconds(pid):
    """User and system CPU seconds of the process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


repo = os.path.join(T, "repo")
pipeline_repo(repo, "jobs:\n  build: {run: 'true'}\nenvironments:\n  prod: {}\n"
              "deploy: {driver: command, command: 'true'}\n")

port = free_port()
server = subprocess.Popen(
    [BOUCLE, "server", "--data", DATA, "--listen", f"127.0.0.1:{port}",
     "--max-streams-per-client", str(N + 16), "--max-connections", str(N + 64)],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
held = []
try:
    wait(lambda: os.path.exists(os.path.join(DATA, "initial-admin-token")))
    token = open(os.path.join(DATA, "initial-admin-token")).read().strip()
    env = dict(os.environ, BOUCLE_SERVER=f"http://127.0.0.1:{port}", BOUCLE_TOKEN=token)
    subprocess.run([BOUCLE, "project", "add", "web", repo, "--poll", "0"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    # A run fetches the repository: the environments' rules are read from it.
    subprocess.run([BOUCLE, "trigger", "web", "--wait"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    request = (f"GET /api/events?project=web HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Authorization: Bearer {token}\r\n\r\n").encode()

    before_rss, before_fds = status_kb(server.pid, "VmRSS"), len(os.listdir(f"/proc/{server.pid}/fd"))
    for _ in range(N):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request)
        got = b""
        while b"retry: 3000" not in got:
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit("a subscriber was refused: " + got.decode(errors="replace"))
            got += chunk
        s.setblocking(False)
        held.append(s)
    rss, fds = status_kb(server.pid, "VmRSS"), len(os.listdir(f"/proc/{server.pid}/fd"))
    print(f"{N} subscribers: RSS {before_rss / 1024:.1f} -> {rss / 1024:.1f} MB "
          f"({(rss - before_rss) / N:.1f} KB each), {(fds - before_fds) / N:.1f} descriptors each")

    # One-shot readiness, nothing read while a round runs: the time of each arrival is when
    # epoll says so, not after this process read the sockets before it. The bytes are read
    # and checked after the round.
    ep = select.epoll()
    by_fd = {s.fileno(): s for s in held}
    for s in held:
        ep.register(s.fileno(), select.EPOLLIN | select.EPOLLONESHOT)
    body = json.dumps({"env": "prod", "text": "bench"}).encode()
    post = (f"POST /api/projects/web/incidents HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    firsts, lasts, medians = [], [], []
    cpu0 = cpu_seconds(server.pid)
    perf = None
    if os.environ.get("PERF"):  # PERF=out.data: where the server's time goes, with perf(1)
        perf = subprocess.Popen(["perf", "record", "-g", "-o", os.environ["PERF"], "-p",
                                 str(server.pid)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    for round_ in range(ROUNDS):
        poster = socket.create_connection(("127.0.0.1", port))
        arrived = {}
        t0 = time.perf_counter()
        poster.sendall(post)
        while len(arrived) < N:
            ready = ep.poll(5)
            now = time.perf_counter()
            if not ready:
                raise SystemExit(f"round {round_}: {N - len(arrived)} subscribers got nothing in 5 s; "
                                 f"the request got {poster.recv(4096)[:300]!r}")
            for fd, _ in ready:
                arrived.setdefault(fd, now - t0)
        for fd, s in by_fd.items():
            data = b""
            while b"event: incident" not in data:
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    time.sleep(0.001)
                    continue
                if not chunk:
                    raise SystemExit(f"round {round_}: a subscriber's stream ended")
                data += chunk
            ep.modify(fd, select.EPOLLIN | select.EPOLLONESHOT)
        times = sorted(arrived.values())
        firsts.append(times[0] * 1000)
        medians.append(times[len(times) // 2] * 1000)
        lasts.append(times[-1] * 1000)
        time.sleep(0.05)
    cpu1 = cpu_seconds(server.pid)
    if perf:
        perf.send_signal(2)
        perf.wait()
    user, system = ((cpu1[i] - cpu0[i]) / ROUNDS * 1000 for i in (0, 1))
    print(f"one event to {N} subscribers, {ROUNDS} rounds: first subscriber "
          f"{statistics.median(firsts):.2f} ms, median subscriber "
          f"{statistics.median(medians):.2f} ms, last subscriber median "
          f"{statistics.median(lasts):.2f} ms (worst {max(lasts):.2f} ms); the server's CPU "
          f"{user + system:.1f} ms per event ({user:.1f} user, {system:.1f} system; the request "
          f"and its write included)")
finally:
    for s in held:
        s.close()
    server.terminate()
    server.wait()
    shutil.rmtree(T, ignore_errors=True)
