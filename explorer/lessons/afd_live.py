"""The AfD lesson's run, streamed so a class sees it build up (no Qt here).

``stream`` yields an ``AfdResult`` as soon as the demonstrations and the SFT policy
exist (the routes to draw, the true reward of SFT and the best-of-N ceiling), then once
per fitted reward model, cheapest first: the closed-form ratio needs no training, so a
first curve arrives about a second after the routes. Every yielded result is a fresh
object; the numbers are ``afd.run_afd``'s own on one shared setup (a paired comparison).
"""
from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass, field, replace

import numpy as np

from explorer.lessons import afd

# Fitting order: the closed form (no training) first, then the paper's tailored model,
# then the two that see the demonstrations.
FIT_ORDER = ("closed-form", "init-sft", "init-demo", "sft-demo")
DRAW_DEMONSTRATIONS = 16


@dataclass
class AfdResult:
    world_name: str
    world: object
    bon_ns: tuple
    candidates: np.ndarray                 # (max N, K, 3): trial 0's SFT routes, Best-of-N picks among them
    demonstrations: np.ndarray             # (draw, K, 3)
    oracle: dict                           # N -> expected true reward of the true best of N
    sft_true: float                        # expected true reward of one SFT route (N = 1)
    runs: dict = field(default_factory=dict)        # rm -> afd.run_afd dict (fitted so far)
    landscapes: dict = field(default_factory=dict)  # rm -> served reward on world.grid().points
    step: int = 0
    steps: int = 1
    text: str = ""
    complete: bool = False


def served_landscape(model, points: np.ndarray) -> np.ndarray:
    """The reward the model serves (sigmoid of its logit) on ``points``, float32."""
    logit = np.asarray(afd.state_logits(model, points), float)
    return (1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))).astype(np.float32)


def stream(world_name: str, seed: int, stop: threading.Event,
           order: tuple = FIT_ORDER) -> Generator[AfdResult, None, AfdResult | None]:
    """Yields the lesson so far: first the routes, then one more reward model per yield;
    returns the complete result, or None when ``stop`` is set (checked between models)."""
    unknown = [rm for rm in order if rm not in afd.RM_NAMES]
    if unknown:
        raise ValueError(f"reward models: expected some of {', '.join(afd.RM_NAMES)}, got {unknown}")
    import worlds
    world = worlds.load(world_name)
    bon_ns = tuple(afd.BON_NS)
    st = afd.setup(world, seed, max_n=max(bon_ns))
    if stop.is_set():
        return None
    steps = len(order) + 1
    out = AfdResult(world_name, world, bon_ns, np.asarray(st.pool[0, :max(bon_ns)], float),
                    np.asarray(st.data["demo"][:DRAW_DEMONSTRATIONS], float),
                    {n: afd.oracle_reward(st, n) for n in bon_ns}, float(st.pool_true[:, 0].mean()),
                    step=1, steps=steps, text="demonstrations and SFT ready")
    yield out
    points = world.grid().points
    for i, rm in enumerate(order):
        if stop.is_set():
            return None
        model = afd.reward_model(world, rm, seed, st)
        done = i + 1 == len(order)
        # New dicts each time: the result yielded before is the window's now.
        out = replace(out, runs={**out.runs, rm: afd.run_afd(world, rm, bon_ns, seed, st)},
                      landscapes={**out.landscapes, rm: served_landscape(model, points)},
                      step=i + 2, text="done" if done else f"{rm} fitted", complete=done)
        if not done:
            yield out
    return out
