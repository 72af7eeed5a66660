#!/usr/bin/env python3
"""Drives a real coding-agent CLI in its structured mode against the fake model server and records
what it printed and what we sent, as fixtures under tests/fixtures/cli/<cli>/<scenario>.jsonl.

    tests/cli/record.py CLI SCENARIO [--keep] [--out DIR]
    tests/cli/record.py all              # every CLI x every scenario (what record_all.sh runs)

CLI: claude | codex | gemini | qwen | opencode.
SCENARIO: plain | write_allow | write_deny | cancel (the model streams a word then hangs; we cancel
through the protocol after the first delta) | resume (a turn, the process exits, a new process resumes
that session by id and a second turn runs; a {"dir": "restart"} line separates the two).

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
SCENARIOS = ["plain", "write_allow", "write_deny", "cancel", "resume"]
API_KEY = "sk-fake-0123456789abcdefghijklmnopqrstuvwxyz"
PLAIN_PROMPT = "Say hello."
WRITE_PROMPT = "Create hello.txt containing hi."
PLAIN_ANSWER = ["Hello from ", "the fake model."]
FILE_CONTENT = "hi\n"
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n"
RESUME_PROMPTS = ["Remember the word apple.", "Which word did I ask you to remember?"]
# session/load after a restart fails in this version (kept as a fixture of the failure).
KNOWN_BROKEN_RESUME = {"gemini"}
TIMEOUT = float(os.environ.get("RECORD_TIMEOUT", "90"))


def log(*a):
    print("record:", *a, file=sys.stderr, flush=True)


def cli_bin_dir():
    if os.environ.get("AGENTMUX_CLI_BIN"):
        return os.environ["AGENTMUX_CLI_BIN"]
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
    if scenario == "cancel":
        return [{"when": when, "steps": [{"text": "Working"}, {"hang": True}]}]
    if scenario == "resume":
        return [{"when": when, "steps": [{"text": "First answer."}]},
                {"when": when, "steps": [{"text": "Second answer."}]}]
    return [
        {"when": when, "steps": [{"text": "I'll create the file."}, write_call(cli, work)]},
        {"when": when, "steps": [{"text": "Finished."}]},
    ]


# ---------------------------------------------------------------------------------------------
# Claude Code: stream-json with the stdio permission prompt tool.

def claude_proc(binary_dir, fake, home, work, resume=None):
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
    if resume:
        argv.append(f"--resume={resume}")
    p = Proc(argv, env, work)
    p.send({"type": "control_request", "request_id": "req_init", "request": {"subtype": "initialize"}})
    return p


def claude_turn(p, scenario, prompt):
    """One user message to its `result`; returns the session id."""
    p.send({"type": "user", "session_id": "", "parent_tool_use_id": None,
            "message": {"role": "user", "content": [{"type": "text", "text": prompt}]}})
    interrupted = False
    while True:
        m = p.next()
        if m is None:
            raise RuntimeError("claude exited before its result")
        if m.get("type") == "control_request" and m["request"].get("subtype") == "can_use_tool":
            req = m["request"]
            if scenario == "write_allow":
                resp = {"behavior": "allow", "updatedInput": req["input"]}
            else:
                resp = {"behavior": "deny", "message": "The user denied this write."}
            p.send({"type": "control_response",
                    "response": {"subtype": "success", "request_id": m["request_id"], "response": resp}})
        if (scenario == "cancel" and not interrupted and m.get("type") == "stream_event"
                and m["event"].get("delta", {}).get("type") == "text_delta"):
            interrupted = True
            p.send({"type": "control_request", "request_id": "req_interrupt", "request": {"subtype": "interrupt"}})
        if m.get("type") == "result":
            return m["session_id"]


def run_claude(binary_dir, fake, home, work, scenario):
    p = claude_proc(binary_dir, fake, home, work)
    if scenario != "resume":
        claude_turn(p, scenario, WRITE_PROMPT if scenario.startswith("write") else PLAIN_PROMPT)
        return [p]
    sid = claude_turn(p, "plain", RESUME_PROMPTS[0])
    p.close()
    p2 = claude_proc(binary_dir, fake, home, work, resume=sid)
    claude_turn(p2, "plain", RESUME_PROMPTS[1])
    return [p, p2]


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


class Rpc:
    """Client side of a JSON-RPC connection; `jsonrpc` adds the 2.0 marker (ACP) or not (Codex)."""

    def __init__(self, p, scenario, jsonrpc):
        self.p, self.scenario, self.jsonrpc = p, scenario, jsonrpc
        self.next_id = 0
        self.on_message = None

    def _msg(self, **kw):
        return ({"jsonrpc": "2.0"} if self.jsonrpc else {}) | kw

    def request(self, method, params):
        self.next_id += 1
        self.p.send(self._msg(id=self.next_id, method=method, params=params))
        return self.next_id

    def notify(self, method, params=None):
        self.p.send(self._msg(method=method, params=params) if params is not None else self._msg(method=method))

    def reply(self, rid, result):
        self.p.send(self._msg(id=rid, result=result))

    def reply_error(self, rid, message):
        self.p.send(self._msg(id=rid, error={"code": -32601, "message": message}))

    def wait(self, rid):
        """Handles other messages until the response to `rid`."""
        while True:
            m = self.p.next()
            if m is None:
                raise RuntimeError("the CLI exited")
            if m.get("id") == rid and "method" not in m:
                if "error" in m:
                    raise RuntimeError(f"request {rid} failed: {m['error']}")
                return m["result"]
            self.on_message(m)

    def pump_until(self, done):
        while not done():
            m = self.p.next()
            if m is None:
                raise RuntimeError("the CLI exited")
            self.on_message(m)


def codex_session(binary_dir, fake, home, work, scenario, prompts, thread_id=None):
    codex_home = home / ".codex"
    if not (codex_home / "config.toml").exists():
        codex_home.mkdir(parents=True)
        (codex_home / "config.toml").write_text(codex_config(fake))
    env = base_env(home)
    env.update({"CODEX_HOME": str(codex_home), "FAKE_API_KEY": API_KEY, "RUST_LOG": "warn"})
    p = Proc([f"{binary_dir}/codex", "app-server"], env, work)
    rpc = Rpc(p, scenario, jsonrpc=False)
    state = {"done": False, "turn": None, "interrupted": False}

    def on_message(m):
        method = m.get("method", "")
        if "id" in m and method.endswith("requestApproval"):
            rpc.reply(m["id"], {"decision": "accept" if scenario == "write_allow" else "decline"})
        elif "id" in m and method:
            rpc.reply_error(m["id"], f"not supported: {method}")
        elif method == "item/agentMessage/delta" and scenario == "cancel" and not state["interrupted"]:
            state["interrupted"] = True
            rpc.request("turn/interrupt", {"threadId": thread["id"], "turnId": state["turn"]})
        elif method == "turn/completed":
            state["done"] = True

    rpc.on_message = on_message
    rpc.wait(rpc.request("initialize", {"clientInfo": {"name": "agentmux-recorder", "title": None,
                                                       "version": "0.1.0"}}))
    rpc.notify("initialized")
    if thread_id:
        thread = rpc.wait(rpc.request("thread/resume", {"threadId": thread_id}))["thread"]
    else:
        thread = rpc.wait(rpc.request("thread/start", {"cwd": str(work), "approvalPolicy": "untrusted",
                                                       "sandbox": "workspace-write"}))["thread"]
    for prompt in prompts:
        state["done"] = False
        r = rpc.wait(rpc.request("turn/start", {"threadId": thread["id"],
                                                "input": [{"type": "text", "text": prompt}]}))
        state["turn"] = r["turn"]["id"]
        rpc.pump_until(lambda: state["done"])
    return p, thread["id"]


def run_codex(binary_dir, fake, home, work, scenario):
    if scenario != "resume":
        p, _ = codex_session(binary_dir, fake, home, work, scenario,
                             [WRITE_PROMPT if scenario.startswith("write") else PLAIN_PROMPT])
        return [p]
    p, tid = codex_session(binary_dir, fake, home, work, "plain", [RESUME_PROMPTS[0]])
    p.close()
    p2, _ = codex_session(binary_dir, fake, home, work, "plain", [RESUME_PROMPTS[1]], thread_id=tid)
    return [p, p2]


# ---------------------------------------------------------------------------------------------
# ACP agents (Gemini, Qwen, OpenCode): JSON-RPC 2.0 over stdio.

def acp_session(p, work, scenario, prompts, load_id=None):
    """initialize, session/new (or session/load), one session/prompt per prompt; returns the id."""
    rpc = Rpc(p, scenario, jsonrpc=True)
    state = {"cancelled": False, "session": load_id}

    def on_message(m):
        method = m.get("method")
        params = m.get("params", {})
        if method and "id" in m:
            if method == "session/request_permission":
                kinds = {o["kind"]: o["optionId"] for o in params["options"]}
                want = ["allow_once", "allow_always"] if scenario == "write_allow" else ["reject_once", "reject_always"]
                option = next(kinds[k] for k in want if k in kinds)
                rpc.reply(m["id"], {"outcome": {"outcome": "selected", "optionId": option}})
            elif method == "fs/read_text_file":
                path = Path(params["path"])
                # Gemini reads the target before writing it: a missing file must read as empty.
                rpc.reply(m["id"], {"content": path.read_text() if path.exists() else ""})
            elif method == "fs/write_text_file":
                path = Path(params["path"])
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(params["content"])
                rpc.reply(m["id"], None)
            else:
                rpc.reply_error(m["id"], f"method not found: {method}")
        elif (method == "session/update" and scenario == "cancel" and not state["cancelled"]
              and params["update"].get("sessionUpdate") == "agent_message_chunk"
              and params["update"]["content"].get("text")):
            state["cancelled"] = True
            rpc.notify("session/cancel", {"sessionId": state["session"]})

    rpc.on_message = on_message
    rpc.wait(rpc.request("initialize", {
        "protocolVersion": 1,
        "clientCapabilities": {"fs": {"readTextFile": True, "writeTextFile": True}, "terminal": False},
        "clientInfo": {"name": "agentmux-recorder", "version": "0.1.0"}}))
    if load_id:
        rpc.wait(rpc.request("session/load", {"sessionId": load_id, "cwd": str(work), "mcpServers": []}))
    else:
        state["session"] = rpc.wait(rpc.request("session/new", {"cwd": str(work), "mcpServers": []}))["sessionId"]
    for prompt in prompts:
        rpc.wait(rpc.request("session/prompt", {"sessionId": state["session"],
                                                "prompt": [{"type": "text", "text": prompt}]}))
    return state["session"]


def run_acp(start):
    def run(binary_dir, fake, home, work, scenario):
        argv, env = start(binary_dir, fake, home)
        p = Proc(argv, env, work)
        if scenario != "resume":
            acp_session(p, work, scenario, [WRITE_PROMPT if scenario.startswith("write") else PLAIN_PROMPT])
            return [p]
        sid = acp_session(p, work, "plain", [RESUME_PROMPTS[0]])
        p.close()
        p2 = Proc(argv, env, work)
        try:
            acp_session(p2, work, "plain", [RESUME_PROMPTS[1]], load_id=sid)
        except RuntimeError as e:
            # Gemini 0.61.0: session/load in a new process fails (see the fixtures README).
            log(f"resume failed: {e}")
        return [p, p2]
    return run


def gemini_start(binary_dir, fake, home):
    gdir = home / ".gemini"
    if not gdir.exists():
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
    return [f"{binary_dir}/gemini", "--acp", "-m", "gemini-2.5-flash"], env


def qwen_start(binary_dir, fake, home):
    qdir = home / ".qwen"
    if not qdir.exists():
        qdir.mkdir(parents=True)
        (qdir / "settings.json").write_text(json.dumps({
            "security": {"auth": {"selectedType": "openai"}},
            "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
        }, indent=1))
    env = base_env(home)
    env.update({"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": f"{fake.url}/v1", "OPENAI_MODEL": "fake-model"})
    return [f"{binary_dir}/qwen", "--acp", "--auth-type", "openai"], env


def opencode_start(binary_dir, fake, home):
    cdir = home / ".config" / "opencode"
    if not cdir.exists():
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
    return [f"{binary_dir}/opencode", "acp"], env


RUNNERS = {"claude": run_claude, "codex": run_codex, "gemini": run_acp(gemini_start),
           "qwen": run_acp(qwen_start), "opencode": run_acp(opencode_start)}


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
    procs = []
    try:
        procs = RUNNERS[cli](binary_dir, fake, home, work, scenario)
    finally:
        code = [p.close() for p in procs]
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
    transcript = []
    for i, p in enumerate(procs):
        if i:
            transcript.append({"dir": "restart"})
        transcript.extend(p.transcript)
    lines = [scrub(json.dumps(e, ensure_ascii=False)) for e in transcript]
    (dest / f"{scenario}.jsonl").write_text("\n".join(lines) + "\n")
    reqs = [scrub(json.dumps({k: v for k, v in r.items() if k != "body"}, ensure_ascii=False))
            for r in fake.requests()]
    (dest / f"{scenario}.model.jsonl").write_text("\n".join(reqs) + "\n")
    if scenario == "write_allow" and written != FILE_CONTENT:
        raise SystemExit(f"{cli}/{scenario}: hello.txt not written ({written!r})")
    if scenario == "resume":
        last = fake.requests()[-1]
        if "apple" not in json.dumps(last) or "Which word" not in json.dumps(last):
            if cli in KNOWN_BROKEN_RESUME:
                log(f"{cli}/resume: known broken in this version: the second turn did not run with the history")
            else:
                raise SystemExit(f"{cli}/resume: the resumed turn's request lacks the first turn")
    if scenario == "write_deny" and written is not None:
        raise SystemExit(f"{cli}/{scenario}: hello.txt written despite the denial")
    if not keep:
        shutil.rmtree(run_dir, ignore_errors=True)
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
