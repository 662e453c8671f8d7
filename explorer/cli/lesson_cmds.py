"""``explorer collapse`` and ``explorer afd``: the two lessons, headless."""
from __future__ import annotations

import worlds

from .common import common, emit, nonneg_int, positive_int, threads


def register(sub) -> None:
    co = sub.add_parser("collapse", help="lesson: alignment collapse under iterative retraining, and FPO")
    co.add_argument("--world", default="linear", help="linear (the authors' controlled environment) or a world")
    co.add_argument("--rounds", type=positive_int, default=300)
    co.add_argument("--arm", choices=["myopic", "relaxed", "practical", "all"], default="all")
    co.add_argument("--seeds", type=positive_int, default=5)
    common(co)
    co.set_defaults(run=collapse)

    af = sub.add_parser("afd", help="lesson: alignment from demonstrations (Init-SFT reward models, Best-of-N)")
    af.add_argument("--world", default="cube")
    af.add_argument("--rm", choices=["init-sft", "init-demo", "sft-demo", "closed-form"], default="init-sft")
    af.add_argument("--bon", type=positive_int, default=16, help="largest N of Best-of-N (default 16)")
    af.add_argument("--divergence", choices=["forward", "reverse"],
                    help="instead: fit one Gaussian policy by forward or reverse KL; report mass per mode")
    af.add_argument("--seed", type=nonneg_int, default=0)
    af.add_argument("--artifact-out", help="also save the reward model as an artifact directory")
    common(af)
    af.set_defaults(run=afd)


def collapse(args) -> int:

    from explorer.lessons import collapse

    threads(args)
    world = None if args.world == "linear" else worlds.load(args.world)
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
    emit(args, collapse.as_json(payload), "\n".join(lines))
    return 0


def afd(args) -> int:

    from explorer.lessons import afd

    threads(args)
    world = worlds.load(args.world)
    if args.divergence:
        from explorer.lessons.afd_divergence import fit_divergence
        res = fit_divergence(world, args.divergence, seed=args.seed)
        masses = ", ".join(f"{k} {v:.0%}" for k, v in res["masses"].items())
        emit(args, res, f"{args.divergence}-KL fit on {world.name}: mass per mode: {masses}; "
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
    emit(args, out, "\n".join(lines))
    return 0


