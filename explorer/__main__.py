"""Command line: ``explorer [gui|worlds|train|refine|render] ...``.

A thin front over core/viz. Qt is imported only by the ``gui`` command, so the
headless commands start fast and need no display.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


class UsageError(Exception):
    """A CLI argument problem (exit 2, one line)."""


def _progress(total: int, desc: str, quiet: bool):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="step", disable=quiet or not sys.stderr.isatty(), leave=False, file=sys.stderr)


def _load_world(name: str):
    import worlds
    return worlds.load(name)


def _world_for_artifact(model, world_arg: str | None):
    """The world an artifact was trained on: by name if built in, or --world."""
    import worlds
    if world_arg is None and model.world_name not in worlds.available():
        raise UsageError(f"artifact was trained on world '{model.world_name}', which is not built in: "
                         f"pass --world PATH.toml")
    world = worlds.load(world_arg or model.world_name)
    if world.file_hash != model.world_hash:
        raise UsageError(f"world '{world.source}' is not the file this artifact was trained on "
                         f"(sha256 {world.file_hash[:12]}... != {model.world_hash[:12]}...)")
    return world


def _model_and_world(args):
    """The artifact named by --artifact (and its world), or a model trained now
    on --world (default cube), seeded, so the same command gives the same picture."""
    from explorer.model import artifact
    from explorer.model.learning import config_for, train
    if args.artifact:
        model = artifact.load(args.artifact)
        return model, _world_for_artifact(model, args.world)
    world = _load_world(args.world or "cube")
    return train(world, config_for(world)), world


def _emit(args, result: dict, text: str) -> None:
    if args.json:
        print(json.dumps(result, indent=2, default=float))
    else:
        print(text)


# ---------------------------------------------------------------- commands
def cmd_worlds(args) -> int:
    import worlds
    items = []
    for name in worlds.available():
        w = worlds.load(name)
        items.append({"name": name, "kind": w.kind, "expert_samples": w.expert_count,
                      "norms": [n.describe() for n in w.norms], "card": w.card})
    lines = [f"{i['name']:<11} {i['kind']:<8} {i['card'].splitlines()[0] if i['card'] else ''}" for i in items]
    _emit(args, {"worlds": items, "default": worlds.DEFAULT_WORLD}, "\n".join(lines))
    return 0


def cmd_train(args) -> int:
    import torch
    from explorer.model import artifact
    from explorer.model.landscape import Landscape
    from explorer.model.learning import config_for, train_steps
    from explorer.model.metrics import landscape_metrics

    torch.set_num_threads(args.threads)
    world = _load_world(args.world)
    _check_out(args.out, args.force)
    config = config_for(world, steps=args.steps, seed=args.seed, experts=args.experts,
                        bottleneck=args.bottleneck)
    t0 = time.perf_counter()
    bar = _progress(config.steps, f"training E_theta on {world.name}", args.json)
    model = None
    last = 0
    for step, loss, model in train_steps(world, config):
        bar.update(step - last)
        last = step
        bar.set_postfix(loss=f"{loss:.2e}")
    bar.close()
    assert model is not None
    seconds = time.perf_counter() - t0
    land = Landscape(model, world)
    model.metrics.update(landscape_metrics(land))
    model.metrics["train_seconds"] = seconds
    artifact.save(model, args.out, overwrite=args.force)
    m = model.metrics
    _emit(args, {"artifact": str(args.out), "world": world.name, "version": model.version,
                 "train_seconds": seconds, "metrics": m},
          f"trained on {world.name} in {seconds:.1f} s -> {args.out} (v{model.version})\n"
          f"flaws: {m['flaws']} of {m['cells']} cells, basin: {m['basin_cells']} cells, "
          f"expert median reward {m['expert_median_reward']:.3f}"
          + (f"\nwarning: {m['training_message']}" if m.get("training_message") else ""))
    return 0


def cmd_refine(args) -> int:
    import torch
    from explorer.model import artifact
    from explorer.refine.data_patch import DataDrivenPatch
    from explorer.model.flags import load_flags
    from explorer.model.landscape import Landscape
    from explorer.model.metrics import landscape_metrics
    from explorer.refine import local_patch, regression_check

    torch.set_num_threads(args.threads)
    model = artifact.load(args.artifact)
    world = _world_for_artifact(model, args.world)
    flags, flag_world = load_flags(args.flags)
    if flag_world is not None and flag_world != world.name:
        raise UsageError(f"{args.flags}: flags were made on world '{flag_world}', "
                         f"the artifact is for '{world.name}'")
    _check_out(args.out, args.force)
    land = Landscape(model, world)
    before = land.reward()
    t0 = time.perf_counter()
    report: dict = {}
    if args.method == "local":
        new, rep = local_patch(model, land, flags)
        report = rep.to_dict()
        land.set_model(new, same_expertness=True)
    else:
        job = DataDrivenPatch(model, land, flags, steps=args.steps)
        bar = _progress(args.steps, "data-driven patching", args.json)
        last = 0
        for st in job.steps():
            bar.update(st.step - last)
            last = st.step
            bar.set_postfix(loss=f"{st.loss:.3g}", flagged_max=f"{st.negatives_max_reward:.2f}")
        bar.close()
        new = job.result()
        report = {"steps": last, "negatives": int(len(job.negatives)), "message": job.message}
        land.set_model(new)
    seconds = time.perf_counter() - t0
    check = regression_check(before, land)
    new.metrics = landscape_metrics(land, before, flags)
    new.metrics["refine_seconds"] = seconds
    new.edits[-1]["regression_check"] = check
    artifact.save(new, args.out, overwrite=args.force)
    m = new.metrics
    verdict = "passed" if check["passed"] else "FAILED"
    _emit(args, {"artifact": str(args.out), "version": new.version, "parent": new.parent,
                 "method": args.method, "refine_seconds": seconds, "report": report,
                 "regression_check": check, "metrics": m},
          f"{args.method} refinement of v{model.version} -> v{new.version} in {seconds:.2f} s -> {args.out}\n"
          f"flaws {check['flaws_before']} -> {check['flaws_after']}; max reward inside flags "
          f"{m.get('flag_max_reward', 0):.3f} (floor {world.floor:g}); basin {check['basin_cells_before']} -> "
          f"{check['basin_cells_after']} cells, retention {check['basin_retention']:.1%}; "
          f"regression check {verdict}"
          + ("".join(f"\n  note: {s}" for s in report.get("messages", []) + report.get("refused", []))))
    return 0 if check["passed"] else 3


def cmd_render(args) -> int:
    import torch
    from explorer.model import artifact
    from explorer.model.flags import load_flags
    from explorer.model.landscape import Landscape
    from explorer.viz.figure import render_landscape

    torch.set_num_threads(args.threads)
    model, world = _model_and_world(args)
    flags = load_flags(args.flags)[0] if args.flags else []
    land = Landscape(model, world, args.resolution)
    panels = []
    if args.before:
        before = artifact.load(args.before)
        bl = Landscape(before, world, args.resolution)
        panels.append((f"{world.name} v{before.version}: before", bl.reward(), flags))
        title = f"v{model.version}: after"
    else:
        title = f"{world.name} v{model.version}"
    panels.append((title, land.reward(), flags))
    out = render_landscape(world, land.points, panels, args.out, reverse=args.reverse)
    _emit(args, {"png": str(out), "world": world.name, "version": model.version,
                 "panels": len(panels)}, f"wrote {out}")
    return 0


def cmd_audit(args) -> int:
    import torch
    from explorer.model import artifact
    from explorer.flywheel.audit import Auditor
    from explorer.model.landscape import Landscape

    torch.set_num_threads(args.threads)
    model = artifact.load(args.artifact)
    world = _world_for_artifact(model, args.world)
    rep = Auditor(world, use_norms=args.constraints, seed=args.seed).run(model, Landscape(model, world),
                                                                         ranking=args.rank)
    reps = rep.cluster_representatives(args.rank)
    lines = [f"audit of {world.name} v{model.version} ({rep.mode}): {len(rep.findings)} findings in "
             f"{rep.clusters} connected regions, {rep.verified} flawed cells, "
             f"{rep.evaluations} model evaluations, {rep.seconds:.2f} s"]
    for f in reps[:10]:
        lines.append(f"  region {f.cluster}: finding #{f.id} at ({', '.join(f'{v:+.2f}' for v in f.center)}) "
                     f"r={f.radius:.2f} score {f.score:.2f}: {f.reason}")
    _emit(args, {**rep.to_dict(), "representatives": [f.id for f in reps]}, "\n".join(lines))
    return 0


def cmd_cycle(args) -> int:
    import torch
    from explorer.model import artifact
    from explorer.flywheel.pipeline import run_cycle
    from explorer.session.store import History

    torch.set_num_threads(args.threads)
    model = artifact.load(args.artifact)
    world = _world_for_artifact(model, args.world)
    history = None
    if args.session:
        history = (History.open(args.session) if (Path(args.session) / "session.json").exists()
                   else History.create(args.session, model, label="start"))
    else:
        _check_out(args.out, args.force)
    rows, result = [], None
    for i in range(args.cycles):
        result = run_cycle(model, world, accept=args.accept, use_norms=args.constraints,
                           adaptive=not args.fixed_bandwidth, regression=not args.fixed_bandwidth,
                           seed=args.seed + i)
        m = result.metrics
        rows.append({"cycle": i + 1, "released": result.released, "version": result.model.version,
                     "findings": m["findings"], "accepted": m["findings_accepted"],
                     "flaws_before": m.get("reference_flaws", m["flaws"]), "flaws_after": m["flaws"],
                     "basin_cells": m["basin_cells"], "basin_retention": m.get("basin_retention", 1.0),
                     "audit_evaluations": m["audit_evaluations"], "messages": result.messages})
        if not result.released:
            break
        model = result.model
        if history is not None:
            history.add(model, label=f"cycle: {m['findings_accepted']} findings accepted")
    if history is None and args.out:
        artifact.save(model, args.out, overwrite=args.force)
    text = "\n".join(f"cycle {r['cycle']}: {'v' + str(r['version']) if r['released'] else 'not released'}; "
                     f"findings {r['findings']} (accepted {r['accepted']}); flaws {r['flaws_before']} -> "
                     f"{r['flaws_after']}; basin {r['basin_cells']} cells, retention {r['basin_retention']:.1%}"
                     + "".join(f"; {msg}" for msg in r["messages"]) for r in rows)
    _emit(args, {"cycles": rows, "artifact": args.out, "session": args.session, "version": model.version},
          text)
    return 0


def cmd_history(args) -> int:
    from explorer.session.store import History
    h = History.open(args.session)
    lines = [f"session {args.session}: world {h.world_name}, current v{h.current}"]
    for e in h.entries:
        m = e.metrics
        lines.append(f"  {'*' if e.version == h.current else ' '} v{e.version:<3} parent "
                     f"{'-' if e.parent is None else 'v' + str(e.parent):<5} {e.created}  {e.label}"
                     + (f"  flaws {m['flaws']}, basin {m['basin_cells']}" if "flaws" in m else ""))
    _emit(args, {"world": h.world_name, "current": h.current, "versions": [e.to_dict() for e in h.entries]},
          "\n".join(lines))
    return 0


def cmd_figure(args) -> int:
    import torch
    from explorer.flywheel.pipeline import run_cycles
    from explorer.model.landscape import Landscape
    from explorer.viz.figure import render_flywheel, render_flywheel_gif

    torch.set_num_threads(args.threads)
    model, world = _model_and_world(args)
    results = run_cycles(model, world, args.cycles, accept=args.accept)
    first = results[0]
    if not first.accepted:
        raise UsageError(f"the audit found no spurious region in {world.name} v{model.version}: nothing to show")
    final = [r for r in results if r.released][-1].model
    land = Landscape(model, world)
    before = land.reward()
    land.set_model(final, same_expertness=final.architecture == model.architecture)
    after = land.reward()
    highlight = first.audit.cluster_representatives()[0]
    m0, m1 = int(Landscape(model, world).flaw_mask().sum()), int(land.flaw_mask().sum())
    title = f"v{final.version}, flaws {m0} -> {m1}"
    png = render_flywheel(world, land.points, before, after, highlight, first.accepted, args.out, title,
                          reverse=args.reverse)
    gif = None
    if args.gif:
        gif = render_flywheel_gif(world, land.points, before, after, highlight, first.accepted, args.gif,
                                  reverse=args.reverse)
    _emit(args, {"png": str(png), "gif": str(gif) if gif else None, "world": world.name,
                 "flaws_before": m0, "flaws_after": m1, "cycles": len([r for r in results if r.released]),
                 "version": final.version},
          f"wrote {png}" + (f" and {gif}" if gif else "") + f" ({world.name}: flaws {m0} -> {m1} in "
          f"{len([r for r in results if r.released])} cycles)")
    return 0


def cmd_collapse(args) -> int:
    import torch
    from explorer.lessons import collapse

    torch.set_num_threads(args.threads)
    world = None if args.world == "linear" else _load_world(args.world)
    arms = collapse.ARMS if args.arm == "all" else (args.arm,)
    kw = {"iterations": args.rounds} if world is None else {"rounds": args.rounds}
    results = {arm: collapse.run_seeds(arm, args.seeds, world, **kw) for arm in arms}
    summaries = {arm: collapse.summary(r["mean"]) for arm, r in results.items()}
    lines = [f"alignment collapse on {args.world}: {args.rounds} rounds, {args.seeds} seeds (seed mean)"]
    for arm, sm in summaries.items():
        lines.append(f"  {arm:<10} true utility {sm['start_utility']:.2f} -> peak {sm['peak_utility']:.2f} "
                     f"(round {sm['peak_iteration']}) -> final {sm['final_utility']:.2f}; "
                     f"off-target magnitude final {sm['final_noise']:.2f}")
    if world is None:
        pub = collapse.PUBLISHED_LINEAR
        lines.append("  published (linear, seed 0): " + ", ".join(f"{k} {v}" for k, v in pub.items()))
    payload = {"world": args.world, "rounds": args.rounds, "seeds": args.seeds, "summary": summaries,
               "curves": {arm: {stat: {m: r[stat][m] for m in collapse.METRICS if m in r[stat]}
                                for stat in ("mean", "min", "max")} for arm, r in results.items()}}
    _emit(args, collapse.as_json(payload), "\n".join(lines))
    return 0


def cmd_afd(args) -> int:
    import torch
    from explorer.lessons import afd

    torch.set_num_threads(args.threads)
    world = _load_world(args.world)
    if args.divergence:
        from explorer.lessons.afd_divergence import fit_divergence
        res = fit_divergence(world, args.divergence, seed=args.seed)
        masses = ", ".join(f"{k} {v:.0%}" for k, v in res["masses"].items())
        _emit(args, res, f"{args.divergence}-KL fit on {world.name}: mass per mode: {masses}; "
                         f"elsewhere {res['elsewhere']:.0%}; true reward {res['true_reward']:.3f}")
        return 0
    ns = tuple(n for n in afd.BON_NS if n <= args.bon) or (args.bon,)
    if args.bon not in ns:
        ns = ns + (args.bon,)
    res = afd.run_afd(world, args.rm, bon_ns=ns, seed=args.seed)
    rows = res["best_of_n"]
    lines = [f"{args.rm} reward model on {world.name} (seed {args.seed}): Best-of-N from the SFT policy, "
             f"true reward"]
    lines += [f"  N={r['n']:<3} {r['true_reward']:.3f} (oracle {r['oracle']:.3f})" for r in rows]
    out = {k: v for k, v in res.items() if k not in ("samples", "chosen", "demonstrations")}
    if args.artifact_out:
        from explorer.model import artifact
        artifact.save(afd.reward_model(world, args.rm, seed=args.seed), args.artifact_out)
        out["artifact"] = args.artifact_out
        lines.append(f"reward model saved as an artifact: {args.artifact_out}")
    _emit(args, out, "\n".join(lines))
    return 0


def cmd_gui(args) -> int:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("explorer: no display found (DISPLAY is not set); the window needs one. "
              "Headless, use: explorer render --world cube --out cube.png", file=sys.stderr)
        return 2
    from explorer.app.main_window import run
    return run(world=args.world or "cube", artifact=args.artifact, session=args.session)


def _check_out(out: str, force: bool) -> None:
    p = Path(out)
    if p.exists() and not force and (not p.is_dir() or any(p.iterdir())):
        raise UsageError(f"--out {out}: already exists; choose a new directory or pass --force")


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="explorer", description=__doc__.splitlines()[0])
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command")

    def common(sp, json_flag=True):
        if json_flag:
            sp.add_argument("--json", action="store_true", help="print machine-readable results")
        sp.add_argument("--threads", type=_positive_int, default=1, help="torch threads (default 1)")
        sp.add_argument("--debug", action="store_true", help="show tracebacks on errors")

    g = sub.add_parser("gui", help="open the desktop explorer (default command)")
    g.add_argument("--world", help="built-in world name or path to a .toml (default cube)")
    g.add_argument("--artifact", help="open this reward artifact instead of training")
    g.add_argument("--session", help="session directory for versions (created if new, reopened if not)")
    g.add_argument("--debug", action="store_true")

    w = sub.add_parser("worlds", help="list the built-in worlds")
    w.add_argument("--json", action="store_true")
    w.add_argument("--debug", action="store_true")

    t = sub.add_parser("train", help="train a reward model from a world's expert samples")
    t.add_argument("--world", required=True, help="built-in world name or path to a .toml")
    t.add_argument("--out", required=True, help="artifact directory to create")
    t.add_argument("--steps", type=_positive_int, help="training steps (default from the world, 3000)")
    t.add_argument("--seed", type=_nonneg_int)
    t.add_argument("--experts", type=_positive_int)
    t.add_argument("--bottleneck", type=_positive_int, choices=[1, 2, 3])
    t.add_argument("--force", action="store_true", help="replace --out if it exists")
    common(t)

    r = sub.add_parser("refine", help="patch an artifact with flags; writes a new version")
    r.add_argument("--artifact", required=True)
    r.add_argument("--flags", required=True, help="flags JSON (see README)")
    r.add_argument("--out", required=True)
    r.add_argument("--method", choices=["local", "data"], default="local",
                   help="local: Gaussian suppression kernels; data: data-driven patching of E_theta")
    r.add_argument("--steps", type=_positive_int, default=1000, help="maximum steps for --method data (stops early when done)")
    r.add_argument("--world", help="world file, if the artifact's world is not built in")
    r.add_argument("--force", action="store_true")
    common(r)

    a = sub.add_parser("audit", help="Phase 1: search an artifact for spurious extrapolations")
    a.add_argument("--artifact", required=True)
    a.add_argument("--world", help="world file, if the artifact's world is not built in")
    a.add_argument("--constraints", action=argparse.BooleanOptionalAction, default=True,
                   help="verify against the world's norms (default) or, with --no-constraints, "
                        "judge novelty from the expert samples alone")
    a.add_argument("--rank", choices=["priority", "score"], default="priority",
                   help="rank findings by distance/novelty (the authors' choice) or by reward")
    a.add_argument("--seed", type=_nonneg_int, default=0)
    common(a)

    c = sub.add_parser("cycle", help="unattended flywheel turn(s): audit, accept, patch, check, release")
    c.add_argument("--artifact", required=True)
    c.add_argument("--accept", default="all", help="all | top:K (default all)")
    c.add_argument("--cycles", type=_positive_int, default=1, help="repeat; stops when nothing is released")
    c.add_argument("--out", help="artifact directory for the last released version")
    c.add_argument("--session", help="session directory: every released version is added to its history")
    c.add_argument("--fixed-bandwidth", action="store_true",
                   help="ablation: one bandwidth (0.3), no basin cap, no regression gate")
    c.add_argument("--constraints", action=argparse.BooleanOptionalAction, default=True)
    c.add_argument("--world", help="world file, if the artifact's world is not built in")
    c.add_argument("--seed", type=_nonneg_int, default=0)
    c.add_argument("--force", action="store_true")
    common(c)

    f = sub.add_parser("figure", help="render the paper's Figure 1 (audit, triage, refined) off-screen")
    f.add_argument("--world", help="world (default cube, or the artifact's)")
    f.add_argument("--artifact", help="start from this artifact (default: train one now)")
    f.add_argument("--out", required=True, help="PNG file")
    f.add_argument("--gif", help="also write the whole cycle as an animated GIF")
    f.add_argument("--cycles", type=_positive_int, default=10, help="unattended cycles to run (default 10)")
    f.add_argument("--accept", default="all")
    f.add_argument("--reverse", action="store_true")
    common(f)

    co = sub.add_parser("collapse", help="lesson: alignment collapse under iterative retraining, and FPO")
    co.add_argument("--world", default="linear", help="linear (the authors' controlled environment) or a world")
    co.add_argument("--rounds", type=_positive_int, default=300)
    co.add_argument("--arm", choices=["myopic", "relaxed", "practical", "all"], default="all")
    co.add_argument("--seeds", type=_positive_int, default=5)
    common(co)

    af = sub.add_parser("afd", help="lesson: alignment from demonstrations (Init-SFT reward models, Best-of-N)")
    af.add_argument("--world", default="cube")
    af.add_argument("--rm", choices=["init-sft", "init-demo", "sft-demo", "closed-form"], default="init-sft")
    af.add_argument("--bon", type=_positive_int, default=16, help="largest N of Best-of-N (default 16)")
    af.add_argument("--divergence", choices=["forward", "reverse"],
                    help="instead: fit one Gaussian policy by forward or reverse KL; report mass per mode")
    af.add_argument("--seed", type=_nonneg_int, default=0)
    af.add_argument("--artifact-out", help="also save the reward model as an artifact directory")
    common(af)

    h = sub.add_parser("history", help="list the versions in a session directory")
    h.add_argument("session")
    h.add_argument("--json", action="store_true")
    h.add_argument("--debug", action="store_true")

    d = sub.add_parser("render", help="render a landscape to PNG off-screen (no display needed)")
    d.add_argument("--world", help="world (default: the artifact's world, or cube)")
    d.add_argument("--artifact", help="artifact to render (default: train one now)")
    d.add_argument("--before", help="also render this artifact, side by side, as 'before'")
    d.add_argument("--flags", help="flags JSON to draw")
    d.add_argument("--out", required=True, help="PNG file")
    d.add_argument("--reverse", action="store_true", help="reverse colours (yellow = high)")
    d.add_argument("--resolution", type=_positive_int, help="grid points per axis")
    common(d)
    return p


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1 or v > 10_000_000:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 10000000, got {text!r}")
    return v


def _nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 0 or v >= 2**31:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 2^31-1, got {text!r}")
    return v


COMMANDS = {"gui": cmd_gui, "worlds": cmd_worlds, "train": cmd_train, "refine": cmd_refine,
            "render": cmd_render, "audit": cmd_audit, "cycle": cmd_cycle, "history": cmd_history,
            "figure": cmd_figure, "collapse": cmd_collapse, "afd": cmd_afd}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "cycle" and not (args.out or args.session):
        build_parser().error("cycle: give --out DIR, --session DIR, or both")
    if args.command is None:
        args = build_parser().parse_args(["gui", *(argv or [])])
    from worlds.errors import InputError
    from explorer.refine import RefinementError
    try:
        return COMMANDS[args.command](args)
    except (InputError, RefinementError, UsageError, FloatingPointError) as exc:
        if getattr(args, "debug", False):
            raise
        print(f"explorer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"explorer {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:            # e.g. `explorer ... --json | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
