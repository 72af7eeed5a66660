#!/usr/bin/env bash
# Installs schemathesis (pinned) into a cached virtualenv outside the repository and prints its
# bin dir last on stdout. The OpenAPI conformance test runs it against a live daemon.
#
#   tests/cli/install-schemathesis.sh     # install (or reuse) and print e.g. ~/.cache/agentmux/schemathesis-4.32.5/bin
#
# Env: AGENTMUX_ST_CACHE (default ~/.cache/agentmux), PYTHON (default python3), plus pip's own
# (PIP_INDEX_URL, ...). Progress goes to stderr; stdout carries only the bin dir.
set -euo pipefail
VERSION=4.32.5
PYTHON="${PYTHON:-python3}"
say() { printf 'install-schemathesis.sh: %s\n' "$*" >&2; }
command -v "$PYTHON" >/dev/null 2>&1 || { say "error: $PYTHON not found (install Python 3.10+)"; exit 1; }
venv="${AGENTMUX_ST_CACHE:-$HOME/.cache/agentmux}/schemathesis-$VERSION"
if [ ! -x "$venv/bin/st" ]; then
  say "installing schemathesis $VERSION into $venv"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv" >&2 || { say "error: cannot make a virtualenv (apt-get install python3-venv)"; exit 1; }
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$VERSION" >&2 \
    || { rm -rf "$venv"; say "error: pip install schemathesis==$VERSION failed"; exit 1; }
fi
echo "$venv/bin"
