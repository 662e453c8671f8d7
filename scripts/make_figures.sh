#!/usr/bin/env bash
# Re-render the pictures in assets/ with the CLI (off-screen, no display needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
X=.venv/bin/explorer
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for world in cube ridge; do
  $X train --world "$world" --out "$tmp/$world-v1" --json > "$tmp/$world-train.json"
  # One flag on the audit's top finding, then a local patch.
  $X audit --artifact "$tmp/$world-v1" --rank score --json > "$tmp/$world-audit.json"
  .venv/bin/python - "$tmp/$world-audit.json" "$world" > "$tmp/$world-flags.json" <<'PY'
import json, sys
audit = json.load(open(sys.argv[1]))
top = audit["findings"][audit["representatives"][0] - 1]
print(json.dumps({"format": "reward-explorer-flags", "schema_version": 1, "world": sys.argv[2],
                  "flags": [{"id": 1, "center": top["center"], "radius": top["radius"]}]}))
PY
  $X refine --artifact "$tmp/$world-v1" --flags "$tmp/$world-flags.json" --out "$tmp/$world-v2"
  $X render --artifact "$tmp/$world-v2" --before "$tmp/$world-v1" --flags "$tmp/$world-flags.json" \
     --out "assets/$world-before-after.png"
done
$X figure --world cube --out assets/flywheel-cube.png --gif assets/flywheel-cube.gif
