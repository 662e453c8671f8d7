"""Recall that means something: how much of the off-grid truth a search finds.

The audit's own recall is 100% by construction when it is measured on the grid
it sweeps completely. Here the truth is the held-out probe set: every probe
beyond the guard band (B + delta) whose reward is above the floor. A search
*finds* a true flaw when it evaluated a flawed state within delta of it (a
kernel placed on the found state reaches it). Three searches spend the same
number of model evaluations:

* the **audit** (grid sweep, red team around earlier flaws, blue team, and the
  off-grid fit states when given) -- its own evaluation count sets the budget;
* a **grid-only sweep** at the resolution that spends the same budget;
* **random search**: that many uniform states.

Recall is also reported for the true flaws near the boundary (within 3 delta of
B + delta), where a patch's edge must be right and a coarse sweep misses most.
"""
from __future__ import annotations

import numpy as np

from worlds import World

from explorer.model.landscape import Landscape
from explorer.model.reward_model import RewardModel
from explorer.refine.probes import ProbeSet, within

from .audit import Auditor


def search_recall(model: RewardModel, world: World, probes: ProbeSet, fit=None, seed: int = 0,
                  land: Landscape | None = None) -> dict:
    """Recall of the audit, a grid-only sweep and random search at the audit's
    evaluation budget, against the probes' flaws beyond the guard band."""
    land = land if land is not None else Landscape(model, world)
    r = probes.reward(model)
    truth = probes.flaw_zone & ((r > world.floor) | ~np.isfinite(r))
    rep = Auditor(world, seed=seed).run(model, land, fit=fit)
    budget = int(rep.evaluations)
    dims = 2 if world.is_terrain else 3
    n = max(int(round(budget ** (1.0 / dims))), 2)
    grid = world.grid(n).points
    rng = np.random.default_rng([seed, 104729])
    rand = world.to_state(rng.uniform(world.bounds_min[:dims], world.bounds_max[:dims], (budget, dims)))
    # Near the boundary (B + delta .. B + 3 delta for the support norm), where a patch's edge must be right.
    near = truth & (probes.distance <= world.boundary + 3 * probes.delta)
    rows = {"truth": int(truth.sum()), "truth_near_boundary": int(near.sum()), "delta": probes.delta,
            "budget": budget}
    for name, found, spent in (("audit", rep.verified_states, budget),
                               ("grid", _flawed(model, world, grid), len(grid)),
                               ("random", _flawed(model, world, rand), budget)):
        hit = np.zeros(len(truth), bool)
        hit[truth] = within(probes.points[truth], found, probes.delta)
        missed = r[truth & ~hit]
        rows[name] = {"evaluations": int(spent), "found": int(len(found)),
                      "recall": float(hit[truth].mean()) if truth.any() else 1.0,
                      "recall_near_boundary": float(hit[near].mean()) if near.any() else 1.0,
                      "missed_max_reward": float(missed.max()) if len(missed) else 0.0}
    rows["grid"]["resolution"] = n
    return rows


def _flawed(model: RewardModel, world: World, states: np.ndarray) -> np.ndarray:
    states = np.asarray(states, np.float32)
    r = model.reward(states)
    return states[world.violates(states) & ((r > world.floor) | ~np.isfinite(r))]
