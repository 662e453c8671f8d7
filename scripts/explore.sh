#!/usr/bin/env bash
# Set up (first run only) and open the explorer on the default world (cube).
# Extra arguments go to `explorer gui`, e.g. `bash scripts/explore.sh --world ridge`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/explorer gui "$@"
