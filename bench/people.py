#!/usr/bin/python3
"""People and forges: what signing in costs (an Argon2id check), what a request authenticated
by a session cookie costs against one with a token, and how long a pull request's merge run
takes from its event to its start against a head run's. Prints p50 and p99 of each.

usage: bench/people.py BOUCLE_BINARY [N]
"""
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, pipeline_repo, wait  # noqa: E402

BOUCLE = os.path.abspath(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 else 20
T = tempfile.mkdtemp(prefix="boucle-people.")


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def request(port, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers=dict({"Content-Type": "application/json"},
                                              **(headers or {})))
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, dict(r.headers), json.loads(r.read().decode() or "null")


def main():
    port = free_port()
    data = os.path.join(T, "data")
    log = open(os.path.join(T, "server.log"), "w")
    server = subprocess.Popen([BOUCLE, "server", "--data", data, "--listen", f"127.0.0.1:{port}"],
                              stdout=log, stderr=log)
    try:
        if not wait(lambda: os.path.exists(os.path.join(data, "initial-admin-token")), 30):
            sys.exit("the server did not start: see " + T)
        token = open(os.path.join(data, "initial-admin-token")).read().strip()
        env = dict(os.environ, BOUCLE_SERVER=f"http://127.0.0.1:{port}", BOUCLE_TOKEN=token)
        pw = os.path.join(T, "pw")
        open(pw, "w").write("a-bench-password\n")
        subprocess.run([BOUCLE, "user", "add", "ada", "--role", "developer", "--password-file", pw],
                       env=env, check=True, capture_output=True)

        signin = []
        cookie = ""
        for _ in range(N):
            t0 = time.perf_counter()
            _, headers, answer = request(port, "POST", "/api/session",
                                         {"name": "ada", "password": "a-bench-password"})
            signin.append((time.perf_counter() - t0) * 1000)
            cookie = headers["Set-Cookie"].split(";")[0]
        print(f"sign-in (Argon2id check, session made): p50 {quantile(signin, .5):.1f} ms, "
              f"p99 {quantile(signin, .99):.1f} ms ({N} sign-ins)")

        def timed(headers, count=200):
            out = []
            for _ in range(count):
                t0 = time.perf_counter()
                request(port, "GET", "/api/me", headers=headers)
                out.append((time.perf_counter() - t0) * 1000)
            return out
        by_cookie = timed({"Cookie": cookie})
        by_token = timed({"Authorization": f"Bearer {token}"})
        print(f"GET /api/me with the session cookie: p50 {quantile(by_cookie, .5):.2f} ms, "
              f"p99 {quantile(by_cookie, .99):.2f} ms; with a token: p50 "
              f"{quantile(by_token, .5):.2f} ms, p99 {quantile(by_token, .99):.2f} ms")

        # Pull requests: head and merge runs of one event, from the event to each run's start.
        repo = os.path.join(T, "repo")
        pipeline_repo(repo, "jobs:\n  build: {run: 'true'}\n")
        git = ["git", "-C", repo, "-c", "user.name=b", "-c", "user.email=b@b"]
        subprocess.run([BOUCLE, "project", "add", "web", repo, "--poll", "0", "--webhook-secret",
                        "bench-secret"], env=env, check=True, capture_output=True)
        subprocess.run([BOUCLE, "project", "set", "web", "--pull-requests", "both"], env=env,
                       check=True, capture_output=True)
        head_waits, merge_waits = [], []
        for i in range(1, N + 1):
            subprocess.run(git + ["checkout", "-q", "-b", f"t{i}"], check=True)
            open(os.path.join(repo, f"f{i}.txt"), "w").write("x\n")
            subprocess.run(git + ["add", "-A"], check=True)
            subprocess.run(git + ["commit", "-q", "-m", f"t{i}"], check=True)
            sha = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True,
                                 text=True).stdout.strip()
            subprocess.run(git + ["checkout", "-q", "main"], check=True)
            subprocess.run(git + ["update-ref", f"refs/pull/{i}/head", sha], check=True)
            body = json.dumps({"action": "opened", "number": i, "pull_request": {
                "number": i, "title": "t", "user": {"login": "b"},
                "head": {"ref": f"t{i}", "sha": sha, "repo": {"id": 1}},
                "base": {"ref": "main", "repo": {"id": 1}}}})
            sig = hmac.new(b"bench-secret", body.encode(), hashlib.sha256).hexdigest()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/hooks/github/web",
                                         data=body.encode(), method="POST", headers={
                                             "X-GitHub-Event": "pull_request",
                                             "X-Hub-Signature-256": "sha256=" + sig})
            with urllib.request.urlopen(req, timeout=30) as r:
                runs = json.loads(r.read().decode())["runs"]
            for run in runs:
                done = {}

                def finished():
                    _, _, r = request(port, "GET", f"/api/runs/{run['id']}",
                                      headers={"Authorization": f"Bearer {token}"})
                    done.update(r)
                    return r["state"] in ("passed", "failed")
                wait(finished, 60)
                waits = merge_waits if done["pull_request"]["merge"] else head_waits
                # From queued to its jobs starting: the fetch, and for a merge the merge too.
                jobs_start = min(j["started_at_ms"] for j in done["jobs"])
                waits.append(jobs_start - done["queued_at_ms"])
        print(f"pull request, event to first job: head p50 {quantile(head_waits, .5)} ms, "
              f"p99 {quantile(head_waits, .99)} ms; merge p50 {quantile(merge_waits, .5)} ms, "
              f"p99 {quantile(merge_waits, .99)} ms ({N} requests)")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(T, ignore_errors=True)


main()
