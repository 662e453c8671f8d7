"""``explorer train``, ``refine`` and ``render``: a reward model, a refinement, a picture."""
from __future__ import annotations

import time

from .common import UsageError, check_out, common, emit, nonneg_int, positive_int, snapshot_bar, threads


def register(sub) -> None:
    t = sub.add_parser("train", help="train a reward model from a world's expert samples")
    t.add_argument("--world", required=True, help="built-in world name or path to a .toml")
    t.add_argument("--out", required=True, help="artifact directory to create")
    t.add_argument("--steps", type=positive_int, help="training steps (default from the world, 3000)")
    t.add_argument("--seed", type=nonneg_int)
    t.add_argument("--experts", type=positive_int)
    t.add_argument("--bottleneck", type=positive_int, choices=[1, 2, 3])
    t.add_argument("--force", action="store_true", help="replace --out if it exists")
    common(t)
    t.set_defaults(run=train)

    r = sub.add_parser("refine", help="patch an artifact with flags; writes a new version")
    r.add_argument("--artifact", required=True)
    r.add_argument("--flags", required=True, help="flags JSON (see README)")
    r.add_argument("--out", required=True)
    r.add_argument("--method", choices=["local", "data"], default="local",
                   help="local: Gaussian suppression kernels; data: data-driven patching of E_theta")
    r.add_argument("--steps", type=positive_int, default=1000,
                   help="maximum steps for --method data (stops early when done)")
    r.add_argument("--world", help="world file, if the artifact's world is not built in")
    r.add_argument("--force", action="store_true")
    common(r)
    r.set_defaults(run=refine)

    d = sub.add_parser("render", help="render a landscape to PNG off-screen (no display needed)")
    d.add_argument("--world", help="world (default: the artifact's world, or cube)")
    d.add_argument("--artifact", help="artifact to render (default: train one now)")
    d.add_argument("--before", help="also render this artifact, side by side, as 'before'")
    d.add_argument("--flags", help="flags JSON to draw")
    d.add_argument("--out", required=True, help="PNG file")
    d.add_argument("--reverse", action="store_true", help="reverse colours (yellow = high)")
    d.add_argument("--resolution", type=positive_int, help="grid points per axis")
    common(d)
    d.set_defaults(run=render)


def train(args) -> int:
    from explorer.model.learning import config_for
    from explorer.session import Session

    threads(args)
    check_out(args.out, args.force)
    s = Session(args.world)
    config = config_for(s.world, steps=args.steps, seed=args.seed, experts=args.experts,
                        bottleneck=args.bottleneck)
    t0 = time.perf_counter()
    bar, tick = snapshot_bar(config.steps, f"training E_theta on {s.world.name}", args.json)
    s.run(s.training_job(config), tick)
    bar.close()
    seconds = time.perf_counter() - t0
    s.save_artifact(args.out, overwrite=args.force)
    m = s.model.metrics
    emit(args, {"artifact": str(args.out), "world": s.world.name, "version": s.version,
                "train_seconds": seconds, "metrics": m},
         f"trained on {s.world.name} in {seconds:.1f} s -> {args.out} (v{s.version})\n"
         f"flaws: {m['flaws']} of {m['cells']} cells, basin: {m['basin_cells']} cells, "
         f"expert median reward {m['expert_median_reward']:.3f}"
         + (f"\nwarning: {m['training_message']}" if m.get("training_message") else ""))
    return 0


def refine(args) -> int:
    """Exit 0 with a new artifact, or 3 if the regression check refused the refinement."""
    from explorer.model.flags import load_flags
    from explorer.session import Session

    threads(args)
    s = Session.from_artifact(args.artifact, args.world)
    flags, flag_world = load_flags(args.flags)
    if flag_world is not None and flag_world != s.world.name:
        raise UsageError(f"{args.flags}: flags were made on world '{flag_world}', "
                         f"the artifact is for '{s.world.name}'")
    check_out(args.out, args.force)
    for f in flags:
        s.flag(f.center, f.radius, f.kind)
    parent = s.version
    t0 = time.perf_counter()
    bar, tick = snapshot_bar(args.steps if args.method == "data" else 1, "refining", args.json)
    out = s.run(s.refine_job(args.method, args.steps), tick)
    bar.close()
    seconds = time.perf_counter() - t0
    check = out.check or {}
    report = out.result.report if out.result is not None else {}
    if out.version is None:
        emit(args, {"artifact": None, "version": parent, "method": args.method, "refused": out.message,
                    "regression_check": check, "report": report}, out.message)
        return 3
    s.save_artifact(args.out, overwrite=args.force)
    m = s.metrics()
    emit(args, {"artifact": str(args.out), "version": s.version, "parent": parent, "method": args.method,
                "refine_seconds": seconds, "report": report, "regression_check": check, "metrics": m},
         f"{args.method} refinement of v{parent} -> v{s.version} in {seconds:.2f} s -> {args.out}\n"
         f"flaws {check['flaws_before']} -> {check['flaws_after']}; max reward inside flags "
         f"{m.get('flag_max_reward', 0):.3f} (floor {s.world.floor:g}); basin {check['basin_cells_before']} -> "
         f"{check['basin_cells_after']} cells, retention {check['basin_retention']:.1%}; regression check "
         f"{'passed' if check['passed'] else 'FAILED'}"
         + "".join(f"\n  note: {n}" for n in report.get("messages", []) + report.get("refused", [])))
    return 0


def render(args) -> int:
    from explorer.model import artifact
    from explorer.model.flags import load_flags
    from explorer.model.landscape import Landscape
    from explorer.viz.figure import render_landscape

    from .common import session_for

    threads(args)
    s = session_for(args)
    flags = load_flags(args.flags)[0] if args.flags else []
    land = Landscape(s.model, s.world, args.resolution)
    panels = []
    if args.before:
        before = artifact.load(args.before)
        panels.append((f"{s.world.name} v{before.version}: before", Landscape(before, s.world,
                                                                             args.resolution).reward(), flags))
        title = f"v{s.version}: after"
    else:
        title = f"{s.world.name} v{s.version}"
    panels.append((title, land.reward(), flags))
    out = render_landscape(s.world, land.points, panels, args.out, reverse=args.reverse)
    emit(args, {"png": str(out), "world": s.world.name, "version": s.version, "panels": len(panels)},
         f"wrote {out}")
    return 0
