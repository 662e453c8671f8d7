#!/usr/bin/env bash
# Set up (first run only) and run the whole test suite: core, render and GUI tests.
# GUI tests need a real X server: xvfb-run provides one (offscreen Qt cannot host VTK).
#
#   bash scripts/test.sh                 # everything, in two phases (below)
#   bash scripts/test.sh tests/core -x   # given paths: one plain pytest run
#
# With no paths, the tests below the GUI run on two worker processes (pytest-xdist,
# one torch thread each: they are CPU-bound and independent), then the GUI tests run
# in one process, because they measure event-loop gaps and wait on renders.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${EXPLORER_TEST_X:-}" ]; then
  bash scripts/setup.sh
  export EXPLORER_TEST_X=1 PYTHONHASHSEED=0
  if [ -n "${DISPLAY:-}" ] && [ -z "${CI:-}" ]; then
    exec bash "$0" "$@"
  fi
  exec xvfb-run -a -s "-screen 0 1600x1000x24" bash "$0" "$@"
fi

PY=.venv/bin/python
for a in "$@"; do
  if [ -e "${a%%::*}" ]; then           # a path was given: run exactly what was asked
    exec $PY -m pytest "$@"
  fi
done
rc=0
OMP_NUM_THREADS=1 $PY -m pytest -n 2 tests --ignore=tests/gui "$@" || rc=$?
gui=0
$PY -m pytest tests/gui "$@" || gui=$?
[ "$rc" -ne 0 ] || rc=$gui
exit "$rc"
