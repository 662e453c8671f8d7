"""``explorer open-model MODEL.onnx --world cube``: any reward model, inspected.

Checks the graph, serves it on the world's landscape, audits it, and (with
--out) saves it as an artifact so refine, cycle, export-onnx, agent and the
window's History work on it like on a model trained here.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from worlds.errors import InputError

from .common import positive_int


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("open-model", help="open an ONNX reward model (any framework) on a world",
                              description=__doc__.splitlines()[0])
    p.add_argument("model", help="ONNX file: float32 states (n, 3) -> reward (n,) or (n, 1)")
    p.add_argument("--world", help="world name or .toml path (default: the sidecar's \"world\")")
    p.add_argument("--sidecar", help="sidecar JSON (default: MODEL.json next to the model, if present)")
    p.add_argument("--out", help="also save it as an artifact directory")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--constraints", action=argparse.BooleanOptionalAction, default=True,
                   help="audit against the world's norms (default) or norm-free (novelty)")
    p.add_argument("--json", action="store_true", help="print machine-readable results")
    p.add_argument("--threads", type=positive_int, default=1, help="torch threads (default 1)")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    import torch

    from explorer.flywheel.pipeline import CycleSettings
    from explorer.model.metrics import landscape_metrics
    from explorer.refine.sculpting import refusals
    from explorer.session import Session

    torch.set_num_threads(args.threads)
    if args.out:
        out = Path(args.out)
        if out.exists() and not args.force and (not out.is_dir() or any(out.iterdir())):
            raise InputError(f"--out {args.out}", "", "a new or empty directory (or pass --force)",
                             "an existing, non-empty path", has_got=False)
    t0 = time.perf_counter()
    s = Session.from_model(args.model, args.world, args.sidecar)
    s.settings = CycleSettings(use_norms=args.constraints)
    model, world, land = s.model, s.world, s.land
    metrics = landscape_metrics(land)
    audit = s.audit()
    seconds = time.perf_counter() - t0
    if args.out:
        s.save_artifact(args.out, overwrite=args.force)
    arch = model.expertness.arch
    disabled = refusals(model)
    reps = audit.cluster_representatives()
    result = {"model": str(args.model), "world": world.name, "input": arch.input_name,
              "output": arch.output_name, "output_kind": arch.output, "batch": arch.batch or None,
              "output_range": [arch.low, arch.high], "output_range_source": arch.range_source,
              "psi": model.psi.to_dict(), "metrics": metrics, "notes": model.metrics.get("import_notes", []),
              "audit": {"mode": audit.mode, "findings": len(audit.findings), "clusters": audit.clusters,
                        "verified": audit.verified, "evaluations": audit.evaluations,
                        "top": [f.to_dict() for f in reps[:5]]},
              "disabled": disabled, "artifact": args.out, "seconds": seconds}
    if args.json:
        print(json.dumps(result, indent=2, default=float))
        return 0
    lines = [f"{Path(args.model).name} on {world.name}: input '{arch.input_name}', output '{arch.output_name}' "
             f"({arch.output}), range [{arch.low:.6g}, {arch.high:.6g}] from the {arch.range_source}",
             f"landscape: {metrics['flaws']} flaws of {metrics['cells']} cells, basin {metrics['basin_cells']} "
             f"cells, expert median reward {metrics['expert_median_reward']:.3f}",
             f"audit ({audit.mode}): {len(audit.findings)} findings in {audit.clusters} regions, "
             f"{audit.evaluations} evaluations, {seconds:.2f} s in all"]
    for f in reps[:5]:
        lines.append(f"  region {f.cluster}: ({', '.join(f'{v:+.2f}' for v in f.center)}) r={f.radius:.2f} "
                     f"score {f.score:.2f}: {f.reason}")
    lines += [f"note: {n}" for n in result["notes"]]
    lines += [f"disabled: {k.replace('_', ' ')}: {why}" for k, why in disabled.items()]
    if args.out:
        lines.append(f"saved as an artifact: {args.out} (v{model.version})")
    print("\n".join(lines))
    return 0
