"""A real RL agent falls for the spurious peak, and stops falling for it after
the flywheel: Stable-Baselines3 PPO trained on a freshly trained reward model
(v1) and on its refined version, a few seeds each.

    python examples/ppo_before_after.py [--world ridge] [--steps 30000] [--seeds 3] [--cycles 3] [--small]

PPO sees only the served reward. Afterwards the world's true reward and norms
label where each greedy policy ends (goal, basin, spurious, elsewhere) and sum
its true return. ``--small`` (or EXPLORER_EXAMPLE_SMALL=1) runs it in seconds for
CI; the README's table uses the defaults. Needs: pip install -e ".[rl]".
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

import worlds
from explorer import Session
from explorer.policy.agent import AgentConfig, run_seeds, start_state, summary, with_overrides


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--world", default="ridge")
    p.add_argument("--steps", type=int, default=30_000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--cycles", type=int, default=3, help="unattended flywheel cycles for the refined version")
    p.add_argument("--small", action="store_true", default=os.environ.get("EXPLORER_EXAMPLE_SMALL") == "1")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    world = worlds.load(args.world)
    steps, seeds = (2048, 1) if args.small else (args.steps, args.seeds)
    config = AgentConfig() if not args.small else with_overrides(AgentConfig(), n_envs=4, n_steps=256, n_epochs=2)
    session = Session.train(world, steps=300 if args.small else None)
    v1 = session.model
    for _ in range(args.cycles):                   # unattended flywheel cycles: the window's pipeline
        if not session.cycle(accept="all").released:
            break
    refined = session.model
    start = start_state(world, config)
    print(f"{world.name}: PPO, {steps} steps x {seeds} seeds per version, episodes of {config.episode_steps} "
          f"steps from ({', '.join(f'{v:+.2f}' for v in start)})")
    table = {}
    for label, model in (("v1", v1), (f"refined v{refined.version}", refined)):
        results = run_seeds(model, world, steps, seeds, config)
        table[label] = {"seeds": [r.to_dict() for r in results], "summary": summary(results)}
        for r in results:
            print(f"  {label:<12} seed {r.seed}: {r.end:<9} true return {r.true_return:7.2f}"
                  f"{'  (passed through the goal)' if r.reached_goal and r.end != 'goal' else ''}")
        sm = table[label]["summary"]
        print(f"  {label:<12} " + ", ".join(f"{k} {v}" for k, v in sm["ends"].items() if v)
              + f"; mean true return {sm['mean_true_return']:.2f}; {sm['seconds_per_10k_steps']:.1f} s per 10k steps")
    return table


if __name__ == "__main__":
    main()
    sys.exit(0)
