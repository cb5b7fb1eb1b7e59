#!/usr/bin/env bash
# Runs the whole test suite headless, in the venv made by scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "test: .venv is missing: run 'bash scripts/setup.sh' first." >&2; exit 1; }
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest test "$@"
