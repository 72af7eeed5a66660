#!/usr/bin/env bash
# Prints agentmux's benchmark figures (release build). Nothing here passes or fails on a number.
#   tests/bench/run.sh            all figures
# Needs: the Rust toolchain; wrk (apt-get install wrk) for the REST requests/s figures; tmux
# for the terminal comparison.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p agentmux-daemon -p agentmux-tui
echo "== event log (in process, durability on)"
cargo bench -q -p agentmux-daemon --bench eventlog 2>/dev/null | grep -v '^$'
echo "== agentmuxd process"
cargo bench -q -p agentmux-daemon --bench daemon 2>/dev/null | grep -v '^$'
echo "== a turn on a long session (openai provider, fake model server)"
# The agentmuxd built above (else the harness runs cargo build again, which may rebuild it).
AGENTMUXD_BIN="$PWD/target/release/agentmuxd" \
  cargo bench -q -p agentmux-tests --bench history 2>/dev/null | grep -v '^$'

echo "== terminals, beside tmux and a bare PTY"
if command -v tmux >/dev/null; then
  cargo bench -q -p agentmux-daemon --bench terminal 2>/dev/null | grep -v '^$'
else
  echo "tmux not installed: skipped"
fi
echo "== worktrees on a 100,000-file repository, beside the git CLI"
python3 tests/bench/workspaces.py --daemon target/release/agentmuxd
echo "== the review view's frame with a 20,000-line diff open"
cargo test -q --release -p agentmux-tui -- --ignored --nocapture frame_time 2>/dev/null | grep frame_time
echo "== under abuse: idle TCP sockets without a key, revoking a key with open streams"
python3 tests/bench/abuse.py --daemon target/release/agentmuxd
echo "== REST over TCP with an API key (wrk, 2 threads, 32 connections, 10 s)"
if ! command -v wrk >/dev/null; then
  echo "wrk not installed: skipped"
  exit 0
fi
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
printf '[daemon]\nrate_limit_per_sec = 10000000\nrate_limit_burst = 10000000\n' > "$dir/config.toml"
AGENTMUX_LOG=warn ./target/release/agentmuxd --data-dir "$dir" --listen 127.0.0.1:0 >/dev/null 2>&1 &
pid=$!
sock="$dir/agentmuxd.sock"
for _ in $(seq 100); do curl -sf --unix-socket "$sock" http://x/v1/health >/dev/null && break; sleep 0.05; done
addr=$(curl -s --unix-socket "$sock" http://x/v1/info | python3 -c 'import json,sys;print(json.load(sys.stdin)["tcp_listen"])')
key=$(curl -s --unix-socket "$sock" -XPOST http://x/v1/keys -d '{"name":"bench"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["secret"])')
for i in $(seq 100); do curl -s --unix-socket "$sock" -XPOST http://x/v1/sessions -d "{\"title\":\"task $i\"}" >/dev/null; done
for path in /v1/health "/v1/sessions?page_size=100"; do
  rps=$(wrk -t2 -c32 -d10s -H "Authorization: Bearer $key" "http://$addr$path" | awk '/Requests\/sec/ {print $2}')
  echo "GET $path: $rps requests/s"
done
