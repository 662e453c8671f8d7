#!/usr/bin/env bash
# Idempotent setup for a fresh Debian/Ubuntu machine: apt packages for Qt + Mesa
# under Xvfb, a virtual environment in .venv, torch (CPU build) first, then the
# package with its test extras. Safe to run again: finished steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="xvfb xauth libgl1 libglx-mesa0 libgl1-mesa-dri libegl1 libopengl0 \
libdbus-1-3 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 \
libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 \
libxcb-xinerama0 libxcb-xinput0 libfontconfig1 libxrender1 x11-utils"

missing=""
for p in $APT_PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing apt packages:$missing"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
# torch first, pinned: the CPU build of 2.13.0 is what the project is tested with;
# an unpinned torch would pull a multi-GB CUDA build.
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  echo "setup: installing torch==2.13.0 (CPU)"
  .venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
fi
stamp=.venv/.explorer-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing the explorer package and its test tools"
  .venv/bin/pip install -q --disable-pip-version-check -e ".[test,rl]"
  touch "$stamp"
fi
