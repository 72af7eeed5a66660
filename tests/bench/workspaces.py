#!/usr/bin/env python3
"""Figures for sessions' worktrees on a big repository, beside the git CLI (prints, asserts
nothing).

  tests/bench/workspaces.py [--daemon target/release/agentmuxd] [--files 100000] [--runs 5]

On a generated repository of N files (kept in /tmp between runs):
1. Worktree creation: POST /v1/sessions with a worktree (and DELETE) beside
   `git worktree add -b B PATH HEAD` (and `git worktree remove`), median of R.
2. Status and diff of a session with 20 changed files: GET …/git/status and …/git/diff through
   the Unix socket beside `git status --porcelain=v1 -z --branch --untracked-files=all` and
   `git diff -M --raw --numstat -z -p BASE` run directly, median of R each (the API's diff also
   lists untracked files, git's does not: shown both with and without them).
3. A daemon busy with git: p50/p99 of GET /v1/health while ten sessions on the big repository
   run status back to back, beside the same with the daemon idle.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

from unixhttp import unix as unix_at


def unix(sock, method, path, body=None):
    # Status and diff of a 100,000-file repository may take a while.
    return unix_at(sock, method, path, body, timeout=300)


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True,
                          env=dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b",
                                   GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@b")).stdout


def big_repo(files):
    path = os.path.join(tempfile.gettempdir(), f"amx-bench-repo-{files}")
    if os.path.exists(os.path.join(path, ".done")):
        return path
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    git(path, "init", "-q", "-b", "main")
    per_dir = 100
    for i in range(files):
        d = os.path.join(path, f"pkg{i // per_dir:04d}")
        if i % per_dir == 0:
            os.makedirs(d)
        with open(os.path.join(d, f"f{i}.txt"), "w") as f:
            f.write(f"line one of {i}\nline two\nline three\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "generated")
    open(os.path.join(path, ".done"), "w").close()
    return path


def timed(f, runs):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)


def start(daemon):
    d = tempfile.mkdtemp(prefix="amx-bench-ws")
    with open(os.path.join(d, "config.toml"), "w") as f:
        f.write("[daemon]\nrate_limit_per_sec = 1000000\nrate_limit_burst = 1000000\n"
                f"allowed_roots = [{json.dumps(tempfile.gettempdir())}]\n")
    env = dict(os.environ, AGENTMUX_LOG="warn")
    p = subprocess.Popen([os.path.abspath(daemon), "--data-dir", d], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env, cwd=tempfile.gettempdir())
    sock = os.path.join(d, "agentmuxd.sock")
    for _ in range(400):
        try:
            if unix(sock, "GET", "/v1/health")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.025)
    return p, d, sock


def ratio(a, b):
    return f"{a:.1f} ms vs {b:.1f} ms ({a / b:.2f}x, +{a - b:.1f} ms)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", default="target/release/agentmuxd")
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-create", action="store_true", help="leave out the worktree creation figure")
    a = ap.parse_args()
    t = time.perf_counter()
    repo = big_repo(a.files)
    print(f"repository: {a.files} files ({time.perf_counter() - t:.0f} s to make or find)")
    p, d, sock = start(a.daemon)
    try:
        # 1. Worktree creation.
        n = [0]

        def api_create():
            n[0] += 1
            s, body = unix(sock, "POST", "/v1/sessions",
                           {"title": f"w{n[0]}", "cwd": repo, "workspace": {"mode": "worktree"}})
            assert s == 201, body
            created.append(body["id"])

        created = []
        api = []
        cli = []
        for i in range(0 if a.skip_create else a.runs):
            t0 = time.perf_counter()
            api_create()
            api.append((time.perf_counter() - t0) * 1000)
            unix(sock, "DELETE", f"/v1/sessions/{created.pop()}?delete_branch=true")
            path = os.path.join(d, f"plain{i}")
            t0 = time.perf_counter()
            git(repo, "worktree", "add", "-q", "-b", f"plain{i}", path, "HEAD")
            cli.append((time.perf_counter() - t0) * 1000)
            git(repo, "worktree", "remove", "--force", path)
            git(repo, "branch", "-D", f"plain{i}")
        if api:
            print("worktree creation, agentmux vs git worktree add:",
                  ratio(statistics.median(api), statistics.median(cli)))

        # 2. Status and diff with 20 changed files.
        s, body = unix(sock, "POST", "/v1/sessions",
                       {"title": "review", "cwd": repo, "workspace": {"mode": "worktree"}})
        assert s == 201, body
        sid, wt, base = body["id"], body["workspace"]["path"], body["workspace"]["base_commit"]
        for i in range(0, 2000, 100):
            with open(os.path.join(wt, f"pkg{i // 100:04d}", f"f{i}.txt"), "a") as f:
                f.write("changed by the agent\n")
        with open(os.path.join(wt, "new.txt"), "w") as f:
            f.write("new\n")
        unix(sock, "GET", f"/v1/sessions/{sid}/git/status")  # warm the index's stat cache
        st_api = timed(lambda: unix(sock, "GET", f"/v1/sessions/{sid}/git/status"), a.runs)
        st_cli = timed(lambda: git(wt, "status", "--porcelain=v1", "-z", "--branch",
                                   "--untracked-files=all", "--find-renames"), a.runs)
        print("git status, API vs git:", ratio(st_api, st_cli))
        d_api = timed(lambda: unix(sock, "GET", f"/v1/sessions/{sid}/git/diff?no_untracked=true"),
                      a.runs)
        d_all = timed(lambda: unix(sock, "GET", f"/v1/sessions/{sid}/git/diff"), a.runs)
        d_cli = timed(lambda: git(wt, "diff", "-M", "--raw", "--numstat", "-z", "-p", base),
                      a.runs)
        print("git diff (tracked), API vs git:", ratio(d_api, d_cli))
        print("git diff with untracked files listed, API vs git diff alone:", ratio(d_all, d_cli))

        # 3. Health while ten sessions run status on the big repository.
        def health(count):
            out = []
            for _ in range(count):
                t0 = time.perf_counter()
                s, _ = unix(sock, "GET", "/v1/health")
                out.append((time.perf_counter() - t0) * 1000)
                assert s == 200
                time.sleep(0.005)
            out.sort()
            return out[len(out) // 2], out[len(out) * 99 // 100]

        idle = health(400)
        ids = []
        for i in range(10):
            s, body = unix(sock, "POST", "/v1/sessions", {"title": f"busy{i}", "cwd": repo})
            assert s == 201, body
            ids.append(body["id"])
        stop = threading.Event()
        runs = [0]

        def hammer(sid):
            while not stop.is_set():
                unix(sock, "GET", f"/v1/sessions/{sid}/git/status")
                runs[0] += 1

        def load(target, args):
            threads = [threading.Thread(target=target, args=(x,)) for x in args]
            for th in threads:
                th.start()
            time.sleep(1)
            got = health(400)
            stop.set()
            for th in threads:
                th.join()
            stop.clear()
            return got

        busy = load(hammer, ids)
        api_runs = runs[0]
        runs[0] = 0

        def plain(_):
            # The same git load from outside the daemon: what the machine alone costs.
            while not stop.is_set():
                git(repo, "status", "--porcelain=v1", "-z", "--branch", "--untracked-files=all")
                runs[0] += 1

        outside = load(plain, range(10))
        print(f"GET /v1/health, idle: p50 {idle[0]:.2f} ms, p99 {idle[1]:.2f} ms; while ten "
              f"sessions ran status through the daemon ({api_runs} runs): p50 {busy[0]:.2f} ms, "
              f"p99 {busy[1]:.2f} ms; while ten git status ran beside it ({runs[0]} runs): "
              f"p50 {outside[0]:.2f} ms, p99 {outside[1]:.2f} ms")
    finally:
        p.terminate()
        p.wait()
        subprocess.run(["git", "-C", repo, "worktree", "prune"], check=False)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
