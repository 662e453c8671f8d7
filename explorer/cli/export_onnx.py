"""``explorer export-onnx --artifact DIR --out reward.onnx``: the served reward as one graph.

E_theta (or the imported graph), g_psi and the suppression kernels in one ONNX
file that any runtime serves; it is verified against the explorer's own reward
on the world's grid and on random states before it is written.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from worlds.errors import InputError

from .common import positive_int


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("export-onnx", help="write an artifact's served reward as one ONNX graph",
                              description=__doc__.splitlines()[0])
    p.add_argument("--artifact", required=True, help="artifact directory")
    p.add_argument("--out", required=True, help="ONNX file to write")
    p.add_argument("--world", help="world file, if the artifact's world is not built in")
    p.add_argument("--random-states", type=positive_int, default=10_000,
                   help="random states the check compares on, besides the grid (default 10000)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--json", action="store_true", help="print machine-readable results")
    p.add_argument("--threads", type=positive_int, default=1, help="torch threads (default 1)")
    p.set_defaults(run=run)
    return p


def load_artifact_and_world(directory: str, world_arg: str | None):
    """An artifact (our kinds or an imported ONNX model) and the world it was made on,
    proven to serve finite rewards on that world's grid (the session's loader)."""
    from explorer.session.persist import load_artifact
    world, model = load_artifact(directory, world_arg)
    return model, world


def run(args) -> int:
    import torch

    from explorer.model.onnx_export import export_onnx

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if out.exists() and not args.force:
        raise InputError(f"--out {args.out}", "", "a new file (or pass --force)", "an existing path",
                         has_got=False)
    if out.exists() and out.is_dir():
        raise InputError(f"--out {args.out}", "", "a file path", "a directory", has_got=False)
    model, world = load_artifact_and_world(args.artifact, args.world)
    _, report = export_onnx(model, world, out, random_states=args.random_states)
    result = {"onnx": str(out), "world": world.name, "version": model.version, **report.to_dict()}
    if args.json:
        print(json.dumps(result, indent=2, default=float))
        return 0
    print(f"wrote {out} ({report.bytes:,} bytes, {report.nodes} nodes, {report.kernels} kernels) for "
          f"{world.name} v{model.version}\nonnxruntime vs explorer: max |difference| "
          f"{report.max_abs_diff_grid:.2g} on the {report.grid_states} grid states, "
          f"{report.max_abs_diff_random:.2g} on {report.random_states} random states "
          f"(tolerance {report.tolerance:g})\ninput 'states' float32 (n, 3) -> output 'reward' float32 (n,)")
    return 0
