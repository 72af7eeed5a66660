#!/usr/bin/env bash
# Re-records every fixture under tests/fixtures/cli (all CLIs x all scenarios) with the pinned CLIs.
# Run after bumping a version in tests/cli/install.sh, then review the diff and the README there.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 tests/cli/record.py all "$@"
