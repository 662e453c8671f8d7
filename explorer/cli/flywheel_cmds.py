"""``explorer audit``, ``cycle``, ``history`` and ``figure``: the flywheel from a shell.

``cycle`` and ``figure`` run ``Session.cycle``: the same audit, patch, regression
check, red team and release the window's Audit and Apply accepted run.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import UsageError, check_out, common, emit, nonneg_int, positive_int, session_for, threads


def register(sub) -> None:
    a = sub.add_parser("audit", help="Phase 1: search an artifact for spurious extrapolations")
    a.add_argument("--artifact", required=True)
    a.add_argument("--world", help="world file, if the artifact's world is not built in")
    a.add_argument("--constraints", action=argparse.BooleanOptionalAction, default=True,
                   help="verify against the world's norms (default) or, with --no-constraints, "
                        "judge novelty from the expert samples alone")
    a.add_argument("--rank", choices=["priority", "score"], default="priority",
                   help="rank regions by distance/novelty (the authors' choice) or by reward")
    a.add_argument("--seed", type=nonneg_int, default=0)
    common(a)
    a.set_defaults(run=audit)

    c = sub.add_parser("cycle", help="unattended flywheel turn(s): audit, accept, patch, check, release")
    c.add_argument("--artifact", help="start from this artifact (not needed to continue a --session)")
    c.add_argument("--accept", default="all", help="all | top:K findings (default all)")
    c.add_argument("--cycles", type=positive_int, default=1, help="repeat; stops when nothing is released")
    c.add_argument("--out", help="artifact directory for the last released version")
    c.add_argument("--session", help="session directory: every version goes into its history "
                                     "(an existing session continues from its current version)")
    c.add_argument("--kernel-budget", type=positive_int,
                   help="at most N suppression kernels per cycle (the authors place at most 60)")
    c.add_argument("--ablation", choices=["authors-fixed-bandwidth", "fixed-bandwidth-0.3"],
                   help="authors-fixed-bandwidth: bandwidth 0.05, 60 kernels a cycle, a per-batch cap only, "
                        "no release gate (the authors' ablation); fixed-bandwidth-0.3: bandwidth 0.3, no cap, "
                        "no gate")
    c.add_argument("--fixed-bandwidth", action="store_true", help="the same as --ablation fixed-bandwidth-0.3")
    c.add_argument("--guard-band", type=float, help="delta for the certified figures (default: the world's, "
                                                    "else half the grid spacing)")
    c.add_argument("--probes", type=positive_int, default=100_000,
                   help="held-out uniform probe states for the certified figures (default 100000)")
    c.add_argument("--constraints", action=argparse.BooleanOptionalAction, default=True)
    c.add_argument("--world", help="world file, if the artifact's world is not built in")
    c.add_argument("--seed", type=nonneg_int, default=0)
    c.add_argument("--force", action="store_true")
    common(c)
    c.set_defaults(run=cycle, check=_check_cycle)

    h = sub.add_parser("history", help="list the versions in a session directory")
    h.add_argument("session")
    h.add_argument("--json", action="store_true")
    h.add_argument("--debug", action="store_true")
    h.set_defaults(run=history)

    f = sub.add_parser("figure", help="render the paper's Figure 1 (audit, triage, refined) off-screen")
    f.add_argument("--world", help="world (default cube, or the artifact's)")
    f.add_argument("--artifact", help="start from this artifact (default: train one now)")
    f.add_argument("--out", required=True, help="PNG file")
    f.add_argument("--gif", help="also write the whole cycle as an animated GIF")
    f.add_argument("--cycles", type=positive_int, default=10, help="unattended cycles to run (default 10)")
    f.add_argument("--accept", default="all")
    f.add_argument("--reverse", action="store_true")
    common(f)
    f.set_defaults(run=figure)


def _check_cycle(parser, args) -> None:
    if not (args.out or args.session):
        parser.error("cycle: give --out DIR, --session DIR, or both")
    if not args.artifact and not (args.session and (Path(args.session) / "session.json").exists()):
        parser.error("cycle: give --artifact DIR (or --session DIR of an existing session)")


def audit(args) -> int:
    from explorer.flywheel.pipeline import CycleSettings
    from explorer.session import Session

    threads(args)
    s = Session.from_artifact(args.artifact, args.world)
    s.settings = CycleSettings(use_norms=args.constraints, seed=args.seed)
    rep = s.audit()
    reps = rep.cluster_representatives(args.rank)
    lines = [f"audit of {s.world.name} v{s.version} ({rep.mode}): {len(rep.findings)} findings in "
             f"{rep.clusters} regions, {rep.verified} flawed cells, {rep.evaluations} model evaluations, "
             f"{rep.seconds:.2f} s"]
    for f in reps[:10]:
        lines.append(f"  region {f.cluster}: finding #{f.id} at ({', '.join(f'{v:+.2f}' for v in f.center)}) "
                     f"r={f.radius:.2f} score {f.score:.2f}: {f.reason}")
    emit(args, {**rep.to_dict(), "representatives": [f.id for f in reps]}, "\n".join(lines))
    return 0


def cycle(args) -> int:
    from explorer.flywheel.pipeline import CycleSettings
    from explorer.session import Session

    threads(args)
    existing = args.session and (Path(args.session) / "session.json").exists()
    if existing:
        s = Session.open(args.session, args.world)
    else:
        s = Session.from_artifact(args.artifact, args.world)
        if args.session:
            s.save(args.session)
    if args.out:
        check_out(args.out, args.force)
    s.settings = CycleSettings(use_norms=args.constraints, seed=args.seed, kernel_budget=args.kernel_budget,
                               ablation=args.ablation or ("fixed-bandwidth-0.3" if args.fixed_bandwidth else None),
                               guard_band=args.guard_band, probe_states=args.probes)
    rows = []
    try:
        for i in range(args.cycles):
            res = s.cycle(accept=args.accept)
            m, chk = res.metrics, res.check
            cert = res.certified or m.get("certified") or {}
            rows.append({"cycle": i + 1, "released": res.released, "version": s.version,
                         "findings": len(res.audit.findings), "regions": res.audit.clusters,
                         "accepted": len(res.accepted),
                         "flaws_before": chk.get("flaws_before", m.get("flaws")),
                         "flaws_after": chk.get("flaws_after", m.get("flaws")),
                         "basin_cells": m["basin_cells"], "basin_retention": m.get("basin_retention", 1.0),
                         "kernels": res.kernels, "certified": cert,
                         "unremovable": [{k: (list(map(float, v)) if k in ("state", "blocking_basin_state") else v)
                                          for k, v in u.items()} for u in res.unremovable],
                         "audit_evaluations": m.get("audit_evaluations"), "messages": res.messages})
            if not res.released or res.stalled:
                break
        if args.out:
            s.save_artifact(args.out, overwrite=args.force)
    finally:
        s.close()
    def line(r: dict) -> str:
        c = r["certified"]
        cert = (f"; certified (probes {c['probes']:,}, delta {c['delta']:.3f}): flaws {c['flaws']:,}, basin "
                f"worst loss {c['basin_worst_loss']:.1%}" if c else "")
        return (f"cycle {r['cycle']}: {'v' + str(r['version']) if r['released'] else 'not released'}; findings "
                f"{r['findings']} in {r['regions']} regions (accepted {r['accepted']}); {r['kernels']} kernels; grid "
                f"flaws {r['flaws_before']:,} -> {r['flaws_after']:,}, basin {r['basin_cells']} cells, retention "
                f"{r['basin_retention']:.1%}{cert}" + "".join(f"; {msg}" for msg in r["messages"]))
    text = "\n".join(line(r) for r in rows)
    emit(args, {"cycles": rows, "artifact": args.out, "session": args.session, "version": s.version}, text)
    return 0


def history(args) -> int:
    from explorer.session.store import SessionStore
    _, state, _ = SessionStore.open(args.session)
    lines = [f"session {args.session}: world {state.world_name}, current v{state.current}"]
    for e in state.versions:
        m = e.metrics
        lines.append(f"  {'*' if e.version == state.current else ' '} v{e.version:<3} parent "
                     f"{'-' if e.parent is None else 'v' + str(e.parent):<5} {e.created}  {e.label}"
                     + (f"  flaws {m['flaws']}, basin {m['basin_cells']}" if "flaws" in m else ""))
    emit(args, {"world": state.world_name, "current": state.current,
                "versions": [e.to_dict() for e in state.versions]}, "\n".join(lines))
    return 0


def figure(args) -> int:
    from explorer.viz.figure import render_flywheel, render_flywheel_gif

    threads(args)
    s = session_for(args)
    world, start = s.world, s.version
    before = s.reward().copy()
    results = []
    for _ in range(args.cycles):
        res = s.cycle(accept=args.accept)
        results.append(res)
        if not res.released:
            break
    first = results[0]
    if not first.accepted:
        raise UsageError(f"the audit found no spurious region in {world.name} v{start}: nothing to show")
    after = s.reward()
    released = sum(r.released for r in results)
    highlight = first.audit.cluster_representatives()[0]
    m0 = first.check.get("flaws_before", first.metrics.get("flaws"))
    m1 = s.metrics()["flaws"]
    png = render_flywheel(world, s.land.points, before, after, highlight, first.accepted, args.out,
                          f"v{s.version}, flaws {m0} -> {m1}", reverse=args.reverse)
    gif = render_flywheel_gif(world, s.land.points, before, after, highlight, first.accepted, args.gif,
                              reverse=args.reverse) if args.gif else None
    emit(args, {"png": str(png), "gif": str(gif) if gif else None, "world": world.name, "flaws_before": m0,
                "flaws_after": m1, "cycles": released, "version": s.version},
         f"wrote {png}" + (f" and {gif}" if gif else "") + f" ({world.name}: flaws {m0} -> {m1} in "
         f"{released} cycles)")
    return 0
