#!/usr/bin/env bash
# Set up (first run only) and run the whole test suite: core, render and GUI tests.
# GUI tests need a real X server: xvfb-run provides one (offscreen Qt cannot host VTK).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONHASHSEED=0
if [ -n "${DISPLAY:-}" ] && [ -z "${CI:-}" ]; then
  exec .venv/bin/python -m pytest "$@"
fi
exec xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m pytest "$@"
