#!/usr/bin/python3
"""The server's footprint, all its processes counted (the server and the job supervisors it
keeps): RSS idle after start, with a deployed release's monitors running, right after a
500-job run, and once it has been quiet for a minute.

usage: bench/footprint.py BOUCLE_BINARY [JOBS] [--no-monitors]
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, pipeline_repo, wait  # noqa: E402

BOUCLE = os.path.abspath(sys.argv[1])
JOBS = int(sys.argv[2]) if len(sys.argv) > 2 else 500
MONITORS = "--no-monitors" not in sys.argv
T = tempfile.mkdtemp(prefix="boucle-footprint.")
DATA = os.path.join(T, "data")


def tree(pid):
    """pid and its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def server_split(pid):
    """The server's own RSS: anonymous (its heap and stacks) and file-backed (code, libraries)."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("RssAnon:", "RssFile:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return f"server {out.get('RssAnon', 0):.1f} MB anonymous + {out.get('RssFile', 0):.1f} MB files"


def breakdown(pid):
    """The server's RSS by what is mapped (a library, the heap, other anonymous memory)."""
    rss, name = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            fields = line.split()
            if "-" in fields[0] and ":" not in fields[0]:
                name = os.path.basename(fields[5]) if len(fields) > 5 else "[anonymous]"
            elif fields[0] == "Rss:":
                rss[name] = rss.get(name, 0) + int(fields[1])
    top = sorted(rss.items(), key=lambda kv: -kv[1])[:15]
    return "\n".join(f"  {kb / 1024:6.2f} MB  {name}" for name, kb in top)


def rss_mb(pid):
    total, count = 0, 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        count += 1
        except OSError:
            pass
    return total / 1024, count


repo = os.path.join(T, "repo")
jobs = "".join(f"  j{i}: {{run: 'true'}}\n" for i in range(JOBS))
port = free_port()
pipeline_repo(repo, "jobs:\n" + jobs +
              "release: {branches: [main]}\nenvironments:\n  prod: {auto: true}\n"
              "deploy: {driver: command, command: 'true'}\n" +
              ("monitor:\n"
               f"  - {{name: api, http: 'http://127.0.0.1:{port}/api/health', every: 10s}}\n"
               f"  - {{name: port, tcp: '127.0.0.1:{port}', every: 10s}}\n" if MONITORS else ""))

server = subprocess.Popen([BOUCLE, "server", "--data", DATA, "--listen", f"127.0.0.1:{port}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    wait(lambda: os.path.exists(os.path.join(DATA, "initial-admin-token")), 60)
    token = open(os.path.join(DATA, "initial-admin-token")).read().strip()
    env = dict(os.environ, BOUCLE_SERVER=f"http://127.0.0.1:{port}", BOUCLE_TOKEN=token)
    time.sleep(3)
    mb, n = rss_mb(server.pid)
    print(f"idle after start: {mb:.1f} MB in {n} process(es) ({server_split(server.pid)})")
    subprocess.run([BOUCLE, "project", "add", "web", repo, "--poll", "0"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    t0 = time.time()
    subprocess.run([BOUCLE, "trigger", "web", "--wait"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    took = time.time() - t0
    wait(lambda: '"state": "succeeded"' in subprocess.run(
        [BOUCLE, "deploys", "web", "--json"], env=env, capture_output=True, text=True).stdout)
    mb, n = rss_mb(server.pid)
    print(f"after a {JOBS}-job run ({took:.1f} s), its release deployed"
          f"{' and monitored' if MONITORS else ''}: "
          f"{mb:.1f} MB in {n} process(es)")
    time.sleep(int(os.environ.get("QUIET", "65")))
    if os.environ.get("BREAKDOWN"):  # where the server's RSS is, by mapping
        print(breakdown(server.pid))
    mb, n = rss_mb(server.pid)
    print(f"a quiet minute later{', monitors running' if MONITORS else ''}: {mb:.1f} MB in "
          f"{n} process(es) ({server_split(server.pid)})")
finally:
    server.terminate()
    server.wait()
    shutil.rmtree(T, ignore_errors=True)
