"""A policy before and after a refinement, from the same start: where the
spurious reward lured it, and where it goes once that reward is gone."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.policy.policies import PolicyReadout, run_policy

CANDIDATES = 40           # flawed cells tried as starts, best first


@dataclass
class PolicyPair:
    kind: str
    start: np.ndarray
    before_version: int
    after_version: int
    before: PolicyReadout
    after: PolicyReadout
    before_spurious: np.ndarray       # per path state: breaks a norm with reward above the floor
    after_spurious: np.ndarray

    @property
    def before_spurious_steps(self) -> int:
        return int(self.before_spurious.sum())

    @property
    def after_spurious_steps(self) -> int:
        return int(self.after_spurious.sum())

    def describe(self, which: str) -> str:
        r = self.before if which == "before" else self.after
        v = self.before_version if which == "before" else self.after_version
        n = self.before_spurious_steps if which == "before" else self.after_spurious_steps
        where = {"spurious": "in the spurious region", "goal": "at the goal", "basin": "in the expert's basin",
                 "elsewhere": "where there is no reward"}[r.rollout.outcome]
        states = len(r.rollout.path)           # the start and one state per step
        steps = states - 1
        return (f"v{v}: ends {where} after {steps} step{'s' if steps != 1 else ''}, "
                f"{n} of its {states} states on spurious reward")


def compare(session, before_version: int | None = None, kind: str = "value") -> PolicyPair | None:
    """The same policy on the version before (default: the current one's parent) and
    on the current version, from the start that shows the difference best: a cell
    of spurious reward (in the version before) from which that policy ends in the
    spurious region, if there is one, else the clearest spurious cell."""
    s = session
    before_version = s.reference_version if before_version is None else before_version
    if before_version is None or before_version == s.current:
        return None
    land_before = s.land.fork()
    land_before.set_model(s.versions.model(before_version))
    r_before = land_before.reward()
    score = r_before * land_before.flaw_mask(r_before) * land_before.distance
    order = np.argsort(-score)[:CANDIDATES]
    order = order[score[order] > 0]
    if not len(order):
        return None
    model_before = land_before.model
    chosen, before = None, None
    for i in order:
        ro = run_policy(kind, model_before, s.world, land_before if kind == "value" else None, s.land.points[i])
        if chosen is None:
            chosen, before = i, ro
        if ro.rollout.outcome == "spurious":
            chosen, before = i, ro
            break
    start = s.land.points[chosen].astype(float)
    after = run_policy(kind, s.model, s.world, s.land if kind == "value" else None, start)
    return PolicyPair(kind, start, before_version, s.current, before, after,
                      spurious_states(land_before, before), spurious_states(s.land, after))


def spurious_states(land, readout: PolicyReadout) -> np.ndarray:
    """Which states of a rollout collect spurious reward (break a norm, reward above the floor)."""
    path = np.asarray(readout.rollout.path, np.float32)
    served = np.asarray(readout.rollout.rewards, np.float32)
    return (served > land.world.floor) & np.asarray(land.world.violates(path), bool)
