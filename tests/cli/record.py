#!/usr/bin/env python3
"""Drives a real coding-agent CLI in its structured mode against the fake model server and records
what it printed and what we sent, as fixtures under tests/fixtures/cli/<cli>/<scenario>.jsonl.

    tests/cli/record.py CLI SCENARIO [--keep] [--out DIR]
    tests/cli/record.py all              # every CLI x every scenario (what record_all.sh runs)

CLI: claude | codex | gemini | qwen | opencode.  SCENARIO: plain | write_allow | write_deny.

Each fixture line is {"dir": "out"|"in", "ms": <ms since spawn>, "msg": <JSON line>} ("out": the CLI's
stdout, "in": what we wrote to its stdin); a stdout line that is not JSON is kept as {"raw": "..."}.
<scenario>.model.jsonl next to it summarizes the model requests the CLI made (path, model, tools,
last user text, tool results). Needs the CLIs (tests/cli/install.sh) and builds the fake server
(cargo build -p agentmux-tests --bin fake-model-server). Every run gets a fresh HOME and config dir
under $AGENTMUX_RECORD_DIR (default ~/.cache/agentmux/record; not /tmp: Codex refuses CODEX_HOME there).
"""

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "cli"
CLIS = ["claude", "codex", "gemini", "qwen", "opencode"]
SCENARIOS = ["plain", "write_allow", "write_deny"]
API_KEY = "sk-fake-0123456789abcdefghijklmnopqrstuvwxyz"
PLAIN_PROMPT = "Say hello."
WRITE_PROMPT = "Create hello.txt containing hi."
PLAIN_ANSWER = ["Hello from ", "the fake model."]
FILE_CONTENT = "hi\n"
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n"
TIMEOUT = float(os.environ.get("RECORD_TIMEOUT", "90"))


def log(*a):
    print("record:", *a, file=sys.stderr, flush=True)


def cli_bin_dir():
    out = subprocess.run([str(REPO / "tests/cli/install.sh")], check=True, stdout=subprocess.PIPE, text=True)
    return out.stdout.strip().splitlines()[-1]


def fake_server_bin():
    explicit = os.environ.get("FAKE_MODEL_SERVER")
    if explicit:
        return explicit
    subprocess.run(["cargo", "build", "-q", "-p", "agentmux-tests", "--bin", "fake-model-server"], cwd=REPO, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", str(REPO / "target"))
    return str(Path(target) / "debug" / "fake-model-server")


class FakeServer:
    def __init__(self, binary, scripts, run_dir):
        scripts_file = run_dir / "scripts.json"
        scripts_file.write_text(json.dumps(scripts, indent=1))
        self.log_file = run_dir / "model.jsonl"
        self.proc = subprocess.Popen(
            [binary, "--scripts", str(scripts_file), "--log", str(self.log_file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("http://"), self.url
        self.port = int(self.url.rsplit(":", 1)[1])

    def requests(self):
        if not self.log_file.exists():
            return []
        return [json.loads(l) for l in self.log_file.read_text().splitlines() if l.strip()]

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


class Proc:
    """A CLI speaking JSON lines on stdio; every line both ways goes into the transcript."""

    def __init__(self, argv, env, cwd):
        self.t0 = time.monotonic()
        self.transcript = []
        self.stderr_path = Path(cwd).parent / "stderr.txt"
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True, bufsize=1, start_new_session=True)
        self.q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def ms(self):
        return int((time.monotonic() - self.t0) * 1000)

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            try:
                entry = {"dir": "out", "ms": self.ms(), "msg": json.loads(line)}
            except json.JSONDecodeError:
                entry = {"dir": "out", "ms": self.ms(), "raw": line}
            self.transcript.append(entry)
            self.q.put(entry)
        self.q.put(None)

    def send(self, msg):
        self.transcript.append({"dir": "in", "ms": self.ms(), "msg": msg})
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def next(self, timeout=TIMEOUT):
        """The next stdout message (None at EOF); raises on timeout."""
        try:
            entry = self.q.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no output for {timeout}s; stderr: {self.stderr_path}")
        if entry is None:
            return None
        return entry.get("msg", {"raw": entry.get("raw")})

    def close(self, grace=15):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self.stderr.close()
        return self.proc.returncode


def base_env(home):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "USER": os.environ.get("USER", "root"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local/state"),
    }
    return env


# ---------------------------------------------------------------------------------------------
# Model scripts per CLI: the tool each one's model must call to write hello.txt.

def write_call(cli, work):
    path = str(work / "hello.txt")
    if cli == "claude":
        return {"tool": "Write", "input": {"file_path": path, "content": FILE_CONTENT}}
    if cli == "codex":
        return {"custom_tool": "apply_patch", "input": PATCH}
    if cli in ("gemini", "qwen"):
        return {"tool": "write_file", "input": {"file_path": path, "content": FILE_CONTENT}}
    if cli == "opencode":
        return {"tool": "write", "input": {"filePath": path, "content": FILE_CONTENT}}
    raise ValueError(cli)


def scripts_for(cli, scenario, work):
    # Only the agent's main requests offer tools; side requests (titles, memory, quota checks) get
    # the fake server's echo answer.
    when = {"has_tools": True}
    if scenario == "plain":
        return [{"when": when, "steps": [{"text": PLAIN_ANSWER[0]}, {"sleep_ms": 50}, {"text": PLAIN_ANSWER[1]}]}]
    return [
        {"when": when, "steps": [{"text": "I'll create the file."}, write_call(cli, work)]},
        {"when": when, "steps": [{"text": "Finished."}]},
    ]


# ---------------------------------------------------------------------------------------------
# Claude Code: stream-json with the stdio permission prompt tool.

def run_claude(binary_dir, fake, home, work, scenario):
    env = base_env(home)
    env.update({
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": fake.url,
        "ANTHROPIC_API_KEY": API_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    })
    argv = [f"{binary_dir}/claude", "-p", "--input-format", "stream-json", "--output-format", "stream-json",
            "--verbose", "--permission-prompt-tool", "stdio", "--include-partial-messages"]
    p = Proc(argv, env, work)
    p.send({"type": "control_request", "request_id": "req_init", "request": {"subtype": "initialize"}})
    prompt = PLAIN_PROMPT if scenario == "plain" else WRITE_PROMPT
    p.send({"type": "user", "session_id": "", "parent_tool_use_id": None,
            "message": {"role": "user", "content": [{"type": "text", "text": prompt}]}})
    while True:
        m = p.next()
        if m is None:
            break
        if m.get("type") == "control_request" and m["request"].get("subtype") == "can_use_tool":
            req = m["request"]
            if scenario == "write_allow":
                resp = {"behavior": "allow", "updatedInput": req["input"]}
            else:
                resp = {"behavior": "deny", "message": "The user denied this write."}
            p.send({"type": "control_response",
                    "response": {"subtype": "success", "request_id": m["request_id"], "response": resp}})
        if m.get("type") == "result":
            break
    return p


# ---------------------------------------------------------------------------------------------
# Codex: app-server JSON-RPC (no "jsonrpc" field).

def codex_config(fake):
    return f"""model = "gpt-5.5"
model_provider = "fake"
approval_policy = "never"
sandbox_mode = "workspace-write"
check_for_update_on_startup = false

[model_providers.fake]
name = "Fake"
base_url = "{fake.url}/v1"
env_key = "FAKE_API_KEY"
wire_api = "responses"

[features]
plugins = false
remote_plugin = false
apps = false
daemon_auto_start = false

[analytics]
enabled = false

[feedback]
enabled = false
"""


def run_codex(binary_dir, fake, home, work, scenario):
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True)
    (codex_home / "config.toml").write_text(codex_config(fake))
    env = base_env(home)
    env.update({"CODEX_HOME": str(codex_home), "FAKE_API_KEY": API_KEY, "RUST_LOG": "warn"})
    p = Proc([f"{binary_dir}/codex", "app-server"], env, work)
    next_id = [0]
    pending = {}

    def request(method, params):
        next_id[0] += 1
        p.send({"id": next_id[0], "method": method, "params": params})
        return next_id[0]

    def wait_response(rid):
        while True:
            m = p.next()
            if m is None:
                raise RuntimeError("codex exited")
            if m.get("id") == rid and "method" not in m:
                return m
            handle(m)

    done = [False]

    def handle(m):
        method = m.get("method", "")
        if "id" in m and method.endswith("requestApproval"):
            decision = "accept" if scenario == "write_allow" else "decline"
            p.send({"id": m["id"], "result": {"decision": decision}})
        elif "id" in m and method:
            p.send({"id": m["id"], "error": {"code": -32601, "message": f"not supported: {method}"}})
        elif method == "turn/completed":
            done[0] = True

    wait_response(request("initialize", {"clientInfo": {"name": "agentmux-recorder", "title": None,
                                                        "version": "0.1.0"}}))
    p.send({"method": "initialized"})
    r = wait_response(request("thread/start", {"cwd": str(work), "approvalPolicy": "untrusted",
                                               "sandbox": "workspace-write"}))
    thread_id = r["result"]["thread"]["id"]
    prompt = PLAIN_PROMPT if scenario == "plain" else WRITE_PROMPT
    wait_response(request("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": prompt}]}))
    while not done[0]:
        m = p.next()
        if m is None:
            break
        handle(m)
    return p


# ---------------------------------------------------------------------------------------------
# ACP agents (Gemini, Qwen, OpenCode): JSON-RPC 2.0 over stdio.

def acp_session(p, work, scenario, prompt_text):
    next_id = [0]

    def request(method, params):
        next_id[0] += 1
        p.send({"jsonrpc": "2.0", "id": next_id[0], "method": method, "params": params})
        return next_id[0]

    def handle(m):
        method = m.get("method")
        if method and "id" in m:
            params = m.get("params", {})
            if method == "session/request_permission":
                kinds = {o["kind"]: o["optionId"] for o in params["options"]}
                want = ["allow_once", "allow_always"] if scenario == "write_allow" else ["reject_once", "reject_always"]
                option = next(kinds[k] for k in want if k in kinds)
                p.send({"jsonrpc": "2.0", "id": m["id"],
                        "result": {"outcome": {"outcome": "selected", "optionId": option}}})
            elif method == "fs/read_text_file":
                path = Path(params["path"])
                content = path.read_text() if path.exists() else ""
                p.send({"jsonrpc": "2.0", "id": m["id"], "result": {"content": content}})
            elif method == "fs/write_text_file":
                path = Path(params["path"])
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(params["content"])
                p.send({"jsonrpc": "2.0", "id": m["id"], "result": None})
            else:
                p.send({"jsonrpc": "2.0", "id": m["id"],
                        "error": {"code": -32601, "message": f"method not found: {method}"}})

    def wait_response(rid):
        while True:
            m = p.next()
            if m is None:
                raise RuntimeError("agent exited")
            if m.get("id") == rid and "method" not in m:
                return m
            handle(m)

    init = wait_response(request("initialize", {
        "protocolVersion": 1,
        "clientCapabilities": {"fs": {"readTextFile": True, "writeTextFile": True}, "terminal": False},
        "clientInfo": {"name": "agentmux-recorder", "version": "0.1.0"}}))
    if "error" in init:
        raise RuntimeError(f"initialize failed: {init}")
    r = wait_response(request("session/new", {"cwd": str(work), "mcpServers": []}))
    if "error" in r:
        raise RuntimeError(f"session/new failed: {r}")
    session_id = r["result"]["sessionId"]
    r = wait_response(request("session/prompt", {"sessionId": session_id,
                                                 "prompt": [{"type": "text", "text": prompt_text}]}))
    return r


def run_gemini(binary_dir, fake, home, work, scenario):
    gdir = home / ".gemini"
    gdir.mkdir(parents=True)
    (gdir / "settings.json").write_text(json.dumps({
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
    }, indent=1))
    env = base_env(home)
    env.update({"GEMINI_API_KEY": API_KEY, "GOOGLE_GEMINI_BASE_URL": fake.url,
                "GEMINI_CLI_TRUST_WORKSPACE": "true"})
    p = Proc([f"{binary_dir}/gemini", "--acp", "-m", "gemini-2.5-flash"], env, work)
    acp_session(p, work, scenario, PLAIN_PROMPT if scenario == "plain" else WRITE_PROMPT)
    return p


def run_qwen(binary_dir, fake, home, work, scenario):
    qdir = home / ".qwen"
    qdir.mkdir(parents=True)
    (qdir / "settings.json").write_text(json.dumps({
        "security": {"auth": {"selectedType": "openai"}},
        "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
    }, indent=1))
    env = base_env(home)
    env.update({"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": f"{fake.url}/v1", "OPENAI_MODEL": "fake-model"})
    p = Proc([f"{binary_dir}/qwen", "--acp", "--auth-type", "openai"], env, work)
    acp_session(p, work, scenario, PLAIN_PROMPT if scenario == "plain" else WRITE_PROMPT)
    return p


def run_opencode(binary_dir, fake, home, work, scenario):
    cdir = home / ".config" / "opencode"
    cdir.mkdir(parents=True)
    (cdir / "opencode.json").write_text(json.dumps({
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False,
        "share": "disabled",
        "provider": {"fake": {"npm": "@ai-sdk/openai-compatible", "name": "Fake",
                              "options": {"baseURL": f"{fake.url}/v1", "apiKey": API_KEY},
                              "models": {"m": {"name": "m", "tool_call": True}}}},
        "model": "fake/m",
        "small_model": "fake/m",
        "permission": {"edit": "ask", "bash": "ask"},
    }, indent=1))
    env = base_env(home)
    env.update({"OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_MODELS_FETCH": "1",
                "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1", "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
                "OPENCODE_DISABLE_SHARE": "1", "npm_config_registry": "http://127.0.0.1:9/"})
    p = Proc([f"{binary_dir}/opencode", "acp"], env, work)
    acp_session(p, work, scenario, PLAIN_PROMPT if scenario == "plain" else WRITE_PROMPT)
    return p


RUNNERS = {"claude": run_claude, "codex": run_codex, "gemini": run_gemini, "qwen": run_qwen,
           "opencode": run_opencode}


def record(cli, scenario, binary_dir, server_bin, out_dir, keep):
    root = Path(os.environ.get("AGENTMUX_RECORD_DIR", Path.home() / ".cache/agentmux/record"))
    run_dir = root / f"{cli}-{scenario}-{os.getpid()}"
    shutil.rmtree(run_dir, ignore_errors=True)
    home, work = run_dir / "home", run_dir / "work"
    home.mkdir(parents=True)
    work.mkdir(parents=True)
    fake = FakeServer(server_bin, scripts_for(cli, scenario, work), run_dir)
    log(f"{cli}/{scenario}: run dir {run_dir}, fake model {fake.url}")
    t0 = time.monotonic()
    p = None
    try:
        p = RUNNERS[cli](binary_dir, fake, home, work, scenario)
    finally:
        code = p.close() if p else None
        elapsed = time.monotonic() - t0
        fake.stop()
    written = (work / "hello.txt").read_text() if (work / "hello.txt").exists() else None
    log(f"{cli}/{scenario}: exit {code}, {elapsed:.1f}s, hello.txt={written!r}, "
        f"{len(fake.requests())} model requests")
    dest = out_dir / cli
    dest.mkdir(parents=True, exist_ok=True)
    # Paths in fixtures: the run dir becomes a stable placeholder.
    def scrub(text):
        return text.replace(str(work), "/WORK").replace(str(home), "/HOME").replace(str(run_dir), "/RUN") \
            .replace(fake.url, "http://127.0.0.1:PORT")
    lines = [scrub(json.dumps(e, ensure_ascii=False)) for e in p.transcript]
    (dest / f"{scenario}.jsonl").write_text("\n".join(lines) + "\n")
    reqs = [scrub(json.dumps({k: v for k, v in r.items() if k != "body"}, ensure_ascii=False))
            for r in fake.requests()]
    (dest / f"{scenario}.model.jsonl").write_text("\n".join(reqs) + "\n")
    if not keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    if scenario == "write_allow" and written != FILE_CONTENT:
        raise SystemExit(f"{cli}/{scenario}: hello.txt not written ({written!r})")
    if scenario == "write_deny" and written is not None:
        raise SystemExit(f"{cli}/{scenario}: hello.txt written despite the denial")
    return elapsed


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    keep = "--keep" in sys.argv
    out_dir = FIXTURES
    if "--out" in sys.argv:
        out_dir = Path(sys.argv[sys.argv.index("--out") + 1])
        args.remove(str(out_dir))
    if args == ["all"]:
        pairs = [(c, s) for c in CLIS for s in SCENARIOS]
    elif len(args) == 2 and args[0] in CLIS and args[1] in SCENARIOS:
        pairs = [(args[0], args[1])]
    else:
        raise SystemExit(__doc__)
    binary_dir = cli_bin_dir()
    server_bin = fake_server_bin()
    for cli, scenario in pairs:
        record(cli, scenario, binary_dir, server_bin, out_dir, keep)


if __name__ == "__main__":
    main()
