"""``explorer agent --artifact DIR --algo ppo --steps N --seeds K``: a real RL agent.

Trains Stable-Baselines3 PPO on the artifact's served reward (needs the
optional extra: pip install -e ".[rl]") once per seed, and reports where each
greedy policy ends (goal, basin, spurious, elsewhere) and its true return; the
world's true reward and norms only label, they never train.
"""
from __future__ import annotations

import argparse
import json
import sys


from explorer.cli.export_onnx import load_artifact_and_world

from .common import positive_int


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("agent", help="train PPO on an artifact's reward; report where it ends",
                              description=__doc__.splitlines()[0])
    p.add_argument("--artifact", required=True, help="artifact directory (ours or an imported model's)")
    p.add_argument("--algo", choices=["ppo"], default="ppo", help="RL algorithm (default ppo)")
    p.add_argument("--steps", type=positive_int, default=30_000, help="environment steps per seed (default 30000)")
    p.add_argument("--seeds", type=positive_int, default=3, help="agents to train, seeds 0..K-1 (default 3)")
    p.add_argument("--world", help="world file, if the artifact's world is not built in")
    p.add_argument("--start", type=_coords, help="episode start x,y[,z] (default: the world's scenario start)")
    p.add_argument("--episode-steps", type=positive_int, help="steps per episode (default 64)")
    p.add_argument("--json", action="store_true", help="print machine-readable results")
    p.add_argument("--threads", type=positive_int, default=1, help="torch threads (default 1)")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    import torch

    from explorer.policy.agent import AgentConfig, require_sb3, start_state, summary, train_agent, with_overrides

    require_sb3()
    torch.set_num_threads(args.threads)
    model, world = load_artifact_and_world(args.artifact, args.world)
    config = with_overrides(AgentConfig(), start=args.start, episode_steps=args.episode_steps)
    start = start_state(world, config)
    results = []
    for seed in range(args.seeds):
        r = train_agent(model, world, args.steps, seed, config,
                        progress=None if args.json else _progress(seed, args.seeds))
        results.append(r)
        if not args.json:
            print(f"\rseed {seed}: {r.end:<9} true return {r.true_return:7.2f}  learned return "
                  f"{r.learned_return:6.2f}  ends at ({', '.join(f'{v:+.2f}' for v in r.final_state)})"
                  f"{'  passed through the goal' if r.reached_goal and r.end != 'goal' else ''}  "
                  f"[{r.seconds:.0f} s]", flush=True)
    s = summary(results)
    if args.json:
        print(json.dumps({"seeds": [r.to_dict() for r in results], "summary": s, "world": world.name,
                          "artifact": args.artifact, "version": model.version, "algo": args.algo,
                          "steps": args.steps, "start": [float(v) for v in start],
                          "config": config.to_dict()}, indent=2, default=float))
        return 0
    print(f"{world.name} v{model.version}, PPO {args.steps} steps x {args.seeds} seeds from "
          f"({', '.join(f'{v:+.2f}' for v in start)}): " + ", ".join(f"{k} {v}" for k, v in s["ends"].items() if v)
          + f"; mean true return {s['mean_true_return']:.2f}; {s['seconds_per_10k_steps']:.1f} s per 10,000 steps")
    return 0


def _progress(seed: int, seeds: int):
    def show(p) -> None:
        if sys.stderr.isatty():
            print(f"\rseed {seed + 1}/{seeds}: step {p.step}/{p.total}, mean reward {p.mean_reward:.3f}, "
                  f"heading for: {p.end}   ", end="", file=sys.stderr, flush=True)
    return show


def _coords(text: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected x,y or x,y,z numbers, got {text!r}") from None
    if len(vals) not in (2, 3) or not all(abs(v) < 1e6 for v in vals):
        raise argparse.ArgumentTypeError(f"expected x,y or x,y,z finite numbers, got {text!r}")
    return vals


__all__ = ["register", "run"]
