#!/usr/bin/env bash
# Installs the pinned coding-agent CLIs (versions and offline flags: tests/fixtures/cli/README.md)
# with npm into a cached prefix outside the repository, and prints that prefix's bin dir last on stdout.
#
#   tests/cli/install.sh            # install (or reuse) and print e.g. ~/.cache/agentmux/clis/<hash>/bin
#   PATH="$(tests/cli/install.sh | tail -1):$PATH" claude --version
#
# Env: AGENTMUX_CLI_CACHE (default ~/.cache/agentmux/clis), NPM (default npm), plus npm's own
# (npm_config_registry, npm_config_cache, ...). Progress goes to stderr; stdout carries only the bin dir.
# Fails with a clear message when npm is missing or the registry cannot be reached.
set -euo pipefail

# Bump these together with tests/fixtures/cli (re-record with tests/cli/record_all.sh).
PACKAGES=(
  "@anthropic-ai/claude-code@2.1.197"
  "@openai/codex@0.169.0"
  "@google/gemini-cli@0.61.0"
  "@qwen-code/qwen-code@0.15.10"
  "opencode-ai@1.18.33"
)
# The executables the packages must provide.
BINS=(claude codex gemini qwen opencode)

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

NPM="${NPM:-npm}"
command -v "$NPM" >/dev/null 2>&1 \
  || die "npm not found on PATH (install Node.js >= 20 and npm, e.g. 'apt-get install nodejs npm')"
command -v node >/dev/null 2>&1 || die "node not found on PATH (install Node.js >= 20)"

node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "Node.js >= 20 needed, found $(node --version)"

hash_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -c1-16; else shasum -a 256 | cut -c1-16; fi
}
key="$(printf '%s\n' "${PACKAGES[@]}" | hash_of)"
cache_root="${AGENTMUX_CLI_CACHE:-${HOME:?HOME unset}/.cache/agentmux/clis}"
prefix="$cache_root/$key"
bindir="$prefix/bin"
stamp="$prefix/.complete"

complete() {
  [ -f "$stamp" ] || return 1
  local b
  for b in "${BINS[@]}"; do [ -x "$bindir/$b" ] || return 1; done
  return 0
}

if complete; then
  say "using cached CLIs in $prefix"
  printf '%s\n' "$bindir"
  exit 0
fi

registry="$("$NPM" config get registry 2>/dev/null | tail -1)"
registry="${registry:-https://registry.npmjs.org/}"
say "checking the npm registry ($registry)"
if ! "$NPM" view "${PACKAGES[0]}" version >/dev/null 2>&1; then
  die "cannot reach the npm registry at $registry (or ${PACKAGES[0]} is not there); check network / npm_config_registry"
fi

# Install into a fresh staging dir, then move it into place, so an interrupted install never looks complete.
mkdir -p "$cache_root"
staging="$(mktemp -d "$cache_root/.staging-$key.XXXXXX")"
chmod 755 "$staging"
trap 'rm -rf "$staging"' EXIT
say "installing ${PACKAGES[*]} into $prefix (about 1.2 GB; this takes a while)"
start=$(date +%s)
if ! "$NPM" install --global --prefix "$staging" --no-fund --no-audit --loglevel=error \
  "${PACKAGES[@]}" >&2; then
  die "npm install failed (see above); is the registry reachable?"
fi
for b in "${BINS[@]}"; do
  [ -x "$staging/bin/$b" ] || die "npm install finished but $b is missing from $staging/bin"
done
printf '%s\n' "${PACKAGES[@]}" >"$staging/.complete"
rm -rf "$prefix"
mv "$staging" "$prefix"
trap - EXIT
# npm writes absolute symlinks for global bins into the staging path: relink them.
for link in "$bindir"/*; do
  [ -L "$link" ] || continue
  target="$(readlink "$link")"
  case "$target" in
    "$staging"/*) ln -sfn "$prefix/${target#"$staging"/}" "$link" ;;
  esac
done
complete || die "install finished but $prefix is not complete"
say "installed in $(( $(date +%s) - start )) s"
printf '%s\n' "$bindir"
