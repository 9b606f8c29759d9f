#!/usr/bin/python3
"""Push webhook received -> job process started, as a user's git host would see it.

Each push is a new commit in REPO; the signed GitHub-style webhook is sent over one kept-alive
connection and the clock starts just before it is written. The job's start is the time the
server recorded when it started the job's process (jobs[].started_at_ms, same machine clock),
read after the job has marked itself, so the script never polls the server while it works and
starts no process of its own in the timed window (a shell loop of `sleep` would compete with
the server for the two cores).

usage: webhook_latency.py PORT TOKEN SECRET PROJECT REPO MARKS PUSHES
  REPO's pipeline must have one job that creates MARKS/$BOUCLE_COMMIT.
"""
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import time

port, token, secret, project, repo, marks, pushes = sys.argv[1:8]
pushes = int(pushes)
git = ["git", "-C", repo, "-c", "user.name=b", "-c", "user.email=b@b"]
hooks = http.client.HTTPConnection("127.0.0.1", int(port))
api = http.client.HTTPConnection("127.0.0.1", int(port))


def get(path):
    api.request("GET", path, headers={"Authorization": "Bearer " + token})
    r = api.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"GET {path}: {r.status} {body[:200]!r}")
    return json.loads(body)


sent = {}
for i in range(pushes):
    with open(os.path.join(repo, "n.txt"), "w") as f:
        f.write(f"{i} {time.time_ns()}\n")  # unique even when the script runs again
    subprocess.run(git + ["add", "n.txt"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", f"c{i}"], check=True)
    sha = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True,
                         text=True).stdout.strip()
    body = json.dumps({"ref": "refs/heads/main", "after": sha,
                       "head_commit": {"id": sha, "message": f"c{i}",
                                       "author": {"name": "b"}}}).encode()
    sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    mark = os.path.join(marks, sha)
    t0 = time.time_ns()
    hooks.request("POST", f"/hooks/github/{project}", body=body,
                  headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": sig,
                           "Content-Type": "application/json"})
    r = hooks.getresponse()
    r.read()
    if r.status >= 300:
        sys.exit(f"webhook answered {r.status}")
    while not os.path.exists(mark):
        time.sleep(0.0005)
    sent[sha] = t0

latencies = []
runs = get(f"/api/runs?project={project}&limit={pushes + 50}")["runs"]
for run in runs:
    if run["commit"] not in sent:
        continue
    detail = get(f"/api/runs/{run['id']}")
    started = detail["jobs"][0]["started_at_ms"]
    latencies.append(started - sent[run["commit"]] / 1e6)
if len(latencies) != pushes:
    sys.exit(f"found {len(latencies)} runs for {pushes} pushes")
latencies.sort()


def pct(p):
    return latencies[min(len(latencies) - 1, (len(latencies) * p + 99) // 100 - 1)]


print(f"webhook -> job started over {pushes} pushes: p50 {pct(50):.0f} ms, "
      f"p99 {pct(99):.0f} ms, max {latencies[-1]:.0f} ms (server clock, 1 ms resolution)")
