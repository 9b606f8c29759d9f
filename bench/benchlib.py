"""What the Python benchmarks share: a free port, waiting for a condition, a git repository
holding one pipeline file."""
import os
import socket
import subprocess
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait(cond, timeout=20.0, step=0.01):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return False


def pipeline_repo(path, pipeline):
    """A git repository at `path` whose one commit holds `pipeline` as .boucle.yml."""
    os.makedirs(path)
    with open(os.path.join(path, ".boucle.yml"), "w") as f:
        f.write(pipeline)
    git = ["git", "-C", path, "-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run(["git", "init", "-q", "-b", "main", path], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "bench"], check=True)
