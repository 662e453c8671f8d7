#!/usr/bin/env bash
# Re-export the guided tours' slides (assets/tour/<world>) and the window screenshots
# in assets/ at 1280x720, the size of a projector, by playing each tour unattended in
# the real window under Xvfb (a real X server: the 3D view needs one).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for world in cube ridge; do
  rm -rf "assets/tour/$world"
  xvfb-run -a -s "-screen 0 1280x720x24" .venv/bin/explorer tour --world "$world" \
    --autoplay --size 1280x720 --export "assets/tour/$world"
done
# The README's pictures of the window: the audit, and the flywheel after a release.
cp assets/tour/cube/step-04.png assets/explorer-window.png
cp assets/tour/cube/step-07.png assets/flywheel-window.png
