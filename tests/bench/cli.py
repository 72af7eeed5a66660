#!/usr/bin/env python3
"""Coding-agent CLI figures: send -> first streamed delta through agentmuxd versus the CLI alone,
and the daemon's RSS with 20 live CLI sessions. Prints figures; passes or fails on nothing.

    tests/bench/cli.py [claude codex gemini qwen opencode] [--runs N] [--sessions N]

Uses the pinned CLIs (`AGENTMUX_CLI_BIN`, else tests/cli/install.sh), the fake model server and a
release agentmuxd. "alone" drives the CLI's protocol directly (tests/cli/record.py) and times spawn
-> first text delta; "cold" is send -> first `message.delta` at an SSE subscriber for a session's
first turn (the daemon starts the CLI), "warm" the same for its next turn. cold - alone is what the
daemon adds.
"""
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
import record  # noqa: E402

REPO = record.REPO
ROOT = Path.home() / ".cache" / "agentmux" / "bench-cli"
# The text delta each CLI prints first, in its own protocol.
def first_delta_ms(cli, transcript):
    for e in transcript:
        m = e.get("msg") or {}
        if e.get("dir") != "out":
            continue
        if cli == "claude" and m.get("type") == "stream_event" \
                and m["event"].get("delta", {}).get("type") == "text_delta":
            return e["ms"]
        if cli == "codex" and m.get("method") == "item/agentMessage/delta":
            return e["ms"]
        if m.get("method") == "session/update":
            u = m["params"]["update"]
            if u.get("sessionUpdate") == "agent_message_chunk" and u.get("content", {}).get("text"):
                return e["ms"]
    return None


class Uds(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def call(sock, method, path, body=None):
    c = Uds(sock)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status >= 300:
        raise RuntimeError(f"{method} {path}: {r.status} {data[:300]!r}")
    return json.loads(data) if data else None


def provider_env(cli, fake, home):
    """What the daemon must hand the CLI: the env record.py gives it (and its config files)."""
    if cli == "claude":
        env = record.base_env(home)
        env.update({"CLAUDE_CONFIG_DIR": str(home / ".claude"), "ANTHROPIC_BASE_URL": fake.url,
                    "ANTHROPIC_API_KEY": record.API_KEY, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                    "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1"})
        return env
    if cli == "codex":
        codex_home = home / ".codex"
        codex_home.mkdir(parents=True, exist_ok=True)
        (codex_home / "config.toml").write_text(record.codex_config(fake))
        env = record.base_env(home)
        env.update({"CODEX_HOME": str(codex_home), "FAKE_API_KEY": record.API_KEY, "RUST_LOG": "warn"})
        return env
    start = {"gemini": record.gemini_start, "qwen": record.qwen_start, "opencode": record.opencode_start}[cli]
    _, env = start(record.cli_bin_dir(), fake, home)
    return env


def plain_scripts(n):
    return record.scripts_for("claude", "plain", None) * n


class Daemon:
    def __init__(self, cli, fake, run_dir, home):
        self.dir = run_dir / "data"
        self.dir.mkdir(parents=True)
        env = provider_env(cli, fake, home)
        bin_dir = record.cli_bin_dir()
        lines = [f"[providers.{cli}]", f'command = "{bin_dir}/{cli}"', "idle_timeout_secs = 120"]
        # As record.py runs it: a named model skips Gemini CLI's model router.
        if cli == "gemini":
            lines.append('model = "gemini-2.5-flash"')
        lines.append(f"[providers.{cli}.env]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in env.items()]
        (self.dir / "config.toml").write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([str(REPO / "target/release/agentmuxd"), "--data-dir", str(self.dir)],
                                     env=dict(os.environ, AGENTMUX_LOG="warn"), stdout=subprocess.DEVNULL,
                                     stderr=open(run_dir / "daemon.log", "w"))
        self.sock = str(self.dir / "agentmuxd.sock")
        for _ in range(200):
            try:
                call(self.sock, "GET", "/v1/health")
                return
            except (OSError, RuntimeError):
                time.sleep(0.05)
        raise RuntimeError("agentmuxd did not start")

    def rss_kb(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def first_delta_via_daemon(d, session):
    """Seconds from POSTing a message to the first message.delta on an SSE stream."""
    head = call(d.sock, "GET", "/v1/info")["last_seq"]
    c = Uds(d.sock)
    c.request("GET", f"/v1/events?session={session}&after={head}")
    r = c.getresponse()
    got = {}
    def read():
        for raw in r:
            if raw.startswith(b"event: message.delta"):
                got["t"] = time.monotonic()
                return
    t = threading.Thread(target=read, daemon=True)
    t.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    call(d.sock, "POST", f"/v1/sessions/{session}/messages", {"content": record.PLAIN_PROMPT})
    t.join(timeout=120)
    c.close()
    if "t" not in got:
        raise RuntimeError("no delta within 120 s")
    return got["t"] - t0


def wait_idle(d, session):
    for _ in range(2400):
        s = call(d.sock, "GET", f"/v1/sessions/{session}")
        if not s["busy"]:
            if s["status"] == "failed":
                raise RuntimeError(f"turn failed: {s['last_error']}")
            return
        time.sleep(0.05)
    raise RuntimeError("session stayed busy")


def fresh_dir(name):
    d = ROOT / f"{name}-{os.getpid()}"
    shutil.rmtree(d, ignore_errors=True)
    (d / "home").mkdir(parents=True)
    (d / "work").mkdir(parents=True)
    return d


def bench(cli, runs, sessions, server_bin):
    alone, cold, warm = [], [], []
    # Interleaved, so drifting machine load hits both sides alike.
    for i in range(runs):
        d = fresh_dir(f"{cli}-alone-{i}")
        fake = record.FakeServer(server_bin, plain_scripts(1), d)
        procs = []
        try:
            procs = record.RUNNERS[cli](record.cli_bin_dir(), fake, d / "home", d / "work", "plain")
            ms = first_delta_ms(cli, procs[0].transcript)
            if ms is not None:
                alone.append(ms / 1000)
        finally:
            for p in procs:
                p.close()
            fake.stop()
            shutil.rmtree(d, ignore_errors=True)
        d = fresh_dir(f"{cli}-daemon-{i}")
        fake = record.FakeServer(server_bin, plain_scripts(2), d)
        daemon = Daemon(cli, fake, d, d / "home")
        try:
            s = call(daemon.sock, "POST", "/v1/sessions", {"provider": cli, "cwd": str(d / "work")})["id"]
            cold.append(first_delta_via_daemon(daemon, s))
            wait_idle(daemon, s)
            warm.append(first_delta_via_daemon(daemon, s))
            wait_idle(daemon, s)
        finally:
            daemon.stop()
            fake.stop()
            shutil.rmtree(d, ignore_errors=True)
    med = lambda xs: statistics.median(xs) * 1000 if xs else float("nan")
    if runs:
        print(f"{cli}: first delta, median of {runs} (ms): alone {med(alone):.0f}, through the daemon cold "
              f"{med(cold):.0f} (adds {med(cold) - med(alone):+.0f}), warm turn {med(warm):.0f}", flush=True)
    if sessions:
        d = fresh_dir(f"{cli}-rss")
        fake = record.FakeServer(server_bin, plain_scripts(sessions), d)
        daemon = Daemon(cli, fake, d, d / "home")
        try:
            idle = daemon.rss_kb()
            ids = [call(daemon.sock, "POST", "/v1/sessions", {"provider": cli, "cwd": str(d / "work")})["id"]
                   for _ in range(sessions)]
            # One first, alone: a CLI's first run in a fresh HOME sets up its state (OpenCode's
            # database migrations race when twenty start at once).
            call(daemon.sock, "POST", f"/v1/sessions/{ids[0]}/messages", {"content": record.PLAIN_PROMPT})
            wait_idle(daemon, ids[0])
            for s in ids[1:]:
                call(daemon.sock, "POST", f"/v1/sessions/{s}/messages", {"content": record.PLAIN_PROMPT})
            for s in ids:
                wait_idle(daemon, s)
            print(f"{cli}: daemon RSS idle {idle / 1024:.1f} MB, with {sessions} live {cli} sessions "
                  f"{daemon.rss_kb() / 1024:.1f} MB (CLI processes not counted)", flush=True)
        finally:
            daemon.stop()
            fake.stop()
            shutil.rmtree(d, ignore_errors=True)


def main():
    args = sys.argv[1:]
    runs, sessions = 5, 20
    if "--runs" in args:
        runs = int(args.pop(args.index("--runs") + 1))
        args.remove("--runs")
    if "--sessions" in args:
        sessions = int(args.pop(args.index("--sessions") + 1))
        args.remove("--sessions")
    clis = args or record.CLIS
    os.environ["AGENTMUX_CLI_BIN"] = record.cli_bin_dir()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "agentmux-daemon"], cwd=REPO, check=True)
    server_bin = record.fake_server_bin()
    for cli in clis:
        bench(cli, runs, sessions, server_bin)


if __name__ == "__main__":
    main()
