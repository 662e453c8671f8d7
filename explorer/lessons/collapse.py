"""Alignment collapse in iterative RLHF, and foresighted policy optimisation (FPO).

The public face of the lesson (arXiv 2605.04266; docs/research.md). The parts:

- ``collapse_linear``: the steering penalties (myopic / relaxed / practical, via
  per-point gradients over the RM's parameters) and the authors' linear environment, which
  reproduces their published run;
- ``collapse_world``: the same loop in a 3D world with an MLP reward model retrained on
  the policy's own samples.

    >>> import worlds
    >>> from explorer.lessons import collapse
    >>> run = collapse.run_linear("myopic")               # per-iteration arrays
    >>> stats = collapse.run_seeds("relaxed", seeds=5, world=worlds.load("cube"))
    >>> collapse.summary(stats["mean"])["final_utility"]

Every result is a dict of numpy arrays and plain values; ``as_json`` turns it into
JSON-ready lists.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from explorer.generators import drive as finish     # run iter_linear / iter_world to their end
from explorer.lessons.collapse_linear import (ARMS, LAMBDA, PUBLISHED_LINEAR, iter_linear, linear_summary,
                                              param_grad_sq_norm, run_linear, steering_penalty)
from explorer.lessons.collapse_world import HiddenUtility, WorldLoop, iter_world, reward_on, run_world

__all__ = ["ARMS", "LAMBDA", "PUBLISHED_LINEAR", "HiddenUtility", "WorldLoop", "as_json",
           "compare_arms", "finish", "iter_linear", "iter_world", "linear_summary", "param_grad_sq_norm", "reward_on", "run_linear",
           "run_seeds", "run_world", "steering_penalty", "summary", "METRICS"]

# Per-round metrics that both environments report (same names, same meaning).
METRICS = ("true_utility", "proxy_reward", "noise_norm", "distance", "rm_noise_norm", "penalty",
           "steering")
_EXTRA = {"linear": ("signal_norm",), "world": ("goal_distance", "world_reward")}


def run_seeds(arm: str, seeds: int | Iterable[int] = 5, world=None, **kwargs) -> dict:
    """Several seeds of one arm: mean, std, min and max per metric, and every seed's curve.

    ``world=None`` runs the linear environment (``run_linear``), else ``run_world`` in
    that world; ``kwargs`` go to the run function (``iterations``/``rounds``, ``lam``...).
    """
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("run_seeds needs at least one seed")
    kind = "linear" if world is None else "world"
    runs = [run_linear(arm, seed=s, **kwargs) if world is None else run_world(world, arm, seed=s, **kwargs)
            for s in seed_list]
    names = METRICS + _EXTRA[kind]
    per_seed = {k: np.stack([r[k] for r in runs]) for k in names}
    out = {"arm": arm, "kind": kind, "seeds": seed_list,
           "mean": {k: v.mean(0) for k, v in per_seed.items()},
           "std": {k: v.std(0) for k, v in per_seed.items()},
           "min": {k: v.min(0) for k, v in per_seed.items()},
           "max": {k: v.max(0) for k, v in per_seed.items()},
           "per_seed": per_seed}
    if world is not None:
        out["world"] = world.name
        out["positions"] = np.stack([r["positions"] for r in runs])      # (seeds, rounds + 1, 3)
        out["first_run"] = runs[0]                                          # landscapes, RM weights
    return out


def compare_arms(world=None, seeds: int | Iterable[int] = 5, arms: Iterable[str] = ARMS, **kwargs) -> dict:
    """``run_seeds`` for every arm: the lesson's whole comparison."""
    return {arm: run_seeds(arm, seeds, world, **kwargs) for arm in arms}


def summary(curves: dict) -> dict:
    """Peak, when, and the end of one curve set (a run, or ``run_seeds(...)["mean"]``)."""
    u = np.asarray(curves["true_utility"])
    noise = np.asarray(curves["noise_norm"])
    return {"start_utility": float(u[0]), "peak_utility": float(u.max()), "peak_iteration": int(u.argmax()),
            "final_utility": float(u[-1]), "final_proxy": float(np.asarray(curves["proxy_reward"])[-1]),
            "peak_noise": float(noise[int(u.argmax())]), "final_noise": float(noise[-1]),
            "final_distance": float(np.asarray(curves["distance"])[-1])}


def as_json(obj):
    """Numpy arrays and scalars to lists and Python numbers, recursively."""
    if isinstance(obj, dict):
        return {str(k): as_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [as_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
