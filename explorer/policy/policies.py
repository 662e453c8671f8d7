"""Policies that consume a reward artifact, and a runtime gate in front of them.

Two deliberately different policies, so "model-agnostic reuse" is visible: the
same artifact drives both, and neither knows how it was made.

* ``ValueIterationPolicy`` -- value iteration on the landscape grid (as the
  authors use): states are grid cells, actions move to a neighbouring cell or
  stay, the reward is the served reward of the cell.
* ``GradientAscentPolicy`` -- continuous hill climbing: finite-difference
  gradient of the served reward, a fixed step, stops at a local maximum.

``RuntimeGate`` blocks or escalates states whose served reward is too low or
whose expertness signal is too uncertain (experts disagree), the "runtime
safety" use of an inspectable reward model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worlds import World

from explorer.model.landscape import Landscape
from explorer.model.reward_model import RewardModel


@dataclass
class Rollout:
    path: np.ndarray            # (T, 3) states visited
    rewards: np.ndarray         # served reward at each
    destination: np.ndarray     # last state
    true_return: float          # sum of the world's true reward along the path (teacher's view)
    outcome: str                # "goal" | "spurious" | "basin" | "elsewhere"


def classify(world: World, state: np.ndarray, reward: float | None = None) -> str:
    """Where a policy ended: a goal, the expert's basin, a spurious region (a
    norm-violating place the learned reward scores above the floor), or
    elsewhere (e.g. a zero-reward plateau left by a patch)."""
    s = np.asarray(state, float)[None]
    if any(g.contains(s)[0] for g in world.goals):
        return "goal"
    if world.violates(s)[0]:
        return "spurious" if reward is None or reward > world.floor else "elsewhere"
    if world.distance_to_support(s)[0] <= world.boundary:
        return "basin"
    return "elsewhere"


def _finish(world: World, path: np.ndarray, rewards: np.ndarray) -> Rollout:
    return Rollout(path, rewards, path[-1], float(world.true_reward(path).sum()),
                   classify(world, path[-1], float(rewards[-1])))


class ValueIterationPolicy:
    def __init__(self, land: Landscape, gamma: float = 0.97, iterations: int = 500):
        self.land = land
        self.gamma = gamma
        shape = land.grid.shape
        self.shape = shape
        r = land.reward().reshape(shape).astype(np.float64)
        self.value = self._solve(r, iterations)

    def _neighbours(self, v: np.ndarray) -> list[np.ndarray]:
        out = [v]
        for axis in range(v.ndim):
            for shift in (1, -1):
                rolled = np.roll(v, shift, axis=axis)
                edge = [slice(None)] * v.ndim
                edge[axis] = 0 if shift == 1 else -1
                rolled[tuple(edge)] = -np.inf        # no wrap-around
                out.append(rolled)
        return out

    def _solve(self, r: np.ndarray, iterations: int) -> np.ndarray:
        v = r / (1 - self.gamma)
        for _ in range(iterations):
            best = np.max(np.stack(self._neighbours(v)), axis=0)
            new = r + self.gamma * best
            if np.max(np.abs(new - v)) < 1e-6:
                v = new
                break
            v = new
        return v

    def rollout(self, start: np.ndarray, max_steps: int = 400) -> Rollout:
        g = self.land.grid
        idx = [int(np.argmin(np.abs(axis - start[i]))) for i, axis in enumerate(g.axes)]
        pos = tuple(idx)
        path = [pos]
        steps = [np.eye(len(self.shape), dtype=int)[a] * s for a in range(len(self.shape)) for s in (1, -1)]
        for _ in range(max_steps):
            best, best_v = pos, self.value[pos]
            for st in steps:
                nb = tuple(int(p + d) for p, d in zip(pos, st))
                if all(0 <= n < m for n, m in zip(nb, self.shape)) and self.value[nb] > best_v + 1e-9:
                    best, best_v = nb, self.value[nb]
            if best == pos:
                break
            pos = best
            path.append(pos)
        flat = [int(np.ravel_multi_index(p, self.shape)) for p in path]
        pts = self.land.points[flat].astype(float)
        return _finish(self.land.world, pts, self.land.reward()[flat])


class GradientAscentPolicy:
    def __init__(self, model: RewardModel, world: World, step: float | None = None, eps: float | None = None):
        self.model = model
        self.world = world
        span = float(np.max(world.bounds_max - world.bounds_min))
        self.step = step or 0.02 * span
        self.eps = eps or 0.02 * span

    def rollout(self, start: np.ndarray, max_steps: int = 400) -> Rollout:
        dims = 2 if self.world.is_terrain else 3
        pos = np.asarray(start, float)[:dims].copy()
        path = [self.world.to_state(pos)]
        for _ in range(max_steps):
            probes = np.concatenate([pos + self.eps * np.eye(dims), pos - self.eps * np.eye(dims)])
            r = self.model.reward(self.world.to_state(probes).astype(np.float32))
            grad = (r[:dims] - r[dims:]) / (2 * self.eps)
            norm = np.linalg.norm(grad)
            if norm < 1e-4:
                break
            pos = pos + self.step * grad / norm
            state = self.world.to_state(pos)
            pos = state[:dims]
            path.append(state)
        pts = np.asarray(path)
        return _finish(self.world, pts, self.model.reward(pts.astype(np.float32)))


@dataclass
class RuntimeGate:
    """allow / escalate / block a state before a policy acts on it."""
    model: RewardModel
    min_reward: float = 0.05
    max_uncertainty: float | None = None

    def check(self, states: np.ndarray) -> np.ndarray:
        states = np.asarray(states, np.float32)
        r = self.model.reward(states)
        out = np.full(len(states), "allow", dtype=object)
        if self.max_uncertainty is not None:
            unc = self.model.expertness.disagreement_np(states)
            out[unc > self.max_uncertainty] = "escalate"
        out[r < self.min_reward] = "block"
        return out


# ------------------------------------------------------------------ readouts
POLICIES = ("value", "gradient")
POLICY_NAMES = {"value": "value iteration", "gradient": "gradient ascent"}


@dataclass
class PolicyReadout:
    """A policy's rollout on the current reward and the runtime gate's verdict on it."""
    kind: str                         # "value" | "gradient"
    rollout: Rollout
    start: np.ndarray
    gate: dict                        # allow / escalate / block -> number of path states
    end_reward: float

    def describe(self) -> str:
        r = self.rollout
        stalled = " (stalled: no reward to climb there)" if self.end_reward <= 0.0 and len(r.path) <= 2 else ""
        return (f"{POLICY_NAMES[self.kind]}: {r.outcome} after {len(r.path) - 1} steps{stalled}, "
                f"true return {r.true_return:.2f}")

    def describe_gate(self) -> str:
        n = sum(self.gate.values())
        return (f"{self.gate.get('block', 0)} of {n} path states blocked, "
                f"{self.gate.get('escalate', 0)} escalated")


def default_policy_start(land: Landscape) -> np.ndarray:
    """The grid cell farthest from the expert support: where spurious reward can lure."""
    return land.points[int(np.argmax(land.distance))].astype(float)


def run_policy(kind: str, model: RewardModel, world: World, land: Landscape | None,
               start: np.ndarray) -> PolicyReadout:
    """Roll a policy out on ``model`` (value iteration needs ``land`` showing it) and
    gate its path: block below the floor, escalate where E_theta's experts disagree
    more than on any expert sample."""
    if kind == "value":
        if land is None:
            raise ValueError("value iteration needs the landscape")
        rollout = ValueIterationPolicy(land).rollout(np.asarray(start, float))
    elif kind == "gradient":
        rollout = GradientAscentPolicy(model, world).rollout(np.asarray(start, float))
    else:
        raise ValueError(f"policy must be one of {POLICIES}, got {kind!r}")
    limit = float(model.expertness.disagreement_np(model.expert_samples).max())
    verdict = RuntimeGate(model, min_reward=world.floor, max_uncertainty=limit).check(rollout.path)
    gate = {k: int((verdict == k).sum()) for k in ("allow", "escalate", "block")}
    return PolicyReadout(kind, rollout, np.asarray(start, float), gate, float(rollout.rewards[-1]))
