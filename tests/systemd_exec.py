#!/usr/bin/python3
"""Runs a systemd unit's ExecStart as systemd would, where systemd itself does not run (a
container, this test machine): the unit's User and Group, its EnvironmentFile and Environment,
its WorkingDirectory and StateDirectory, and ExecStart's variables expanded by systemd's rules
(${VAR} stays one word, $VAR splits on whitespace). The sandboxing directives (ProtectSystem and
the like) are not applied: they are systemd's own work.

usage: systemd_exec.py UNIT_FILE LOG_FILE [INSTANCE]   (prints the started process's pid)
A template unit (NAME@.service) is run as NAME@INSTANCE: %i becomes INSTANCE.
"""
import grp
import os
import pwd
import re
import shlex
import sys


def read_unit(path, instance):
    keys, section = {}, None
    for raw in open(path):
        line = raw.strip().replace("%i", instance)
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section == "Service" and "=" in line:
            k, v = line.split("=", 1)
            keys.setdefault(k.strip(), []).append(v.strip())
    return keys


def read_env_file(path):
    env = {}
    optional = path.startswith("-")
    path = path.lstrip("-")
    if not os.path.exists(path):
        if optional:
            return env
        sys.exit(f"systemd_exec: {path} is missing")
    for raw in open(path):
        line = raw.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        k, v = line.split("=", 1)
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
            v = v[1:-1]
        env[k.strip()] = v
    return env


def expand(words, env):
    out = []
    for w in words:
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", w)
        if whole:
            out.extend(env.get(whole.group(1), "").split())
            continue
        out.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), w))
    return out


def main():
    unit, log = sys.argv[1], sys.argv[2]
    keys = read_unit(unit, sys.argv[3] if len(sys.argv) > 3 else "")
    user = keys.get("User", ["root"])[-1]
    pw = pwd.getpwnam(user)
    gid = grp.getgrnam(keys["Group"][-1]).gr_gid if "Group" in keys else pw.pw_gid
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": pw.pw_dir,
        "USER": user,
        "LOGNAME": user,
        "SHELL": pw.pw_shell,
    }
    for f in keys.get("EnvironmentFile", []):
        env.update(read_env_file(f))
    for e in keys.get("Environment", []):
        for word in shlex.split(e):
            k, v = word.split("=", 1)
            env[k] = v
    for d in keys.get("StateDirectory", []):
        path = os.path.join("/var/lib", d)
        os.makedirs(path, exist_ok=True)
        os.chown(path, pw.pw_uid, gid)
        os.chmod(path, int(keys.get("StateDirectoryMode", ["0755"])[-1], 8))
    argv = expand(shlex.split(keys["ExecStart"][-1]), env)
    cwd = keys.get("WorkingDirectory", ["/"])[-1]
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        os.dup2(out, 1)
        os.dup2(out, 2)
        devnull = os.open("/dev/null", os.O_RDONLY)
        os.dup2(devnull, 0)
        os.initgroups(user, gid)
        os.setgid(gid)
        os.setuid(pw.pw_uid)
        os.chdir(cwd)
        os.execve(argv[0], argv, env)
    print(pid)


main()
