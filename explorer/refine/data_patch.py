"""Data-driven patching: flagged states join D_neg and E_theta is fine-tuned.

E_theta grows by one expert per patching batch, and only that expert and its
gate row are trained; the existing experts are frozen. Why: E_theta's experts
share the work through soft gating, so fine-tuning all of them to push D_neg
up also scrambles the expert samples' reconstruction errors (measured on
``cube``: rank correlation of reward on D_E fell to 0.12-0.94 whenever the
flagged region reached the floor). A new expert starts with a gate logit of
-10 (no effect: E_theta's output is unchanged to ~1e-8), and learns to claim the
flagged states and reconstruct them badly, while the anchors keep it away from
the expert's route.

The objective is Eq. 2 with D_neg no longer empty, written as losses:

    loss = mean L(D_E)                                 keep reconstructing the expert
         + w_neg   * mean relu(margin - L(D_neg))      push flagged states' error up
         + w_basin * mean relu(L(basin) - L_allowed)   basin keeps >= 90% of its reward
         + w_rank  * mean relu(L(D_E)_i - L(D_E)_i+1) / s  keep the expert samples' order

``margin`` is the error at which g_psi gives half the floor, so a negative that
meets it is below the floor. ``L_allowed`` per basin cell is the error at which
its reward would lose 80% of the cap (a safety margin under the 10% cap). The
last term keeps consecutive expert samples (sorted by their error before the
edit) in order, so the ranking a policy trained on this reward relies on
survives the edit; it constrains order, not values.

``DataDrivenPatch.steps()`` is a generator: a caller shows progress, stops
early, and takes ``result()``, which is always the last state whose loss was
finite (divergence rolls back and says so).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from explorer.model.expertness import Architecture, MoEAutoencoder
from explorer.model.flags import Flag
from explorer.model.landscape import Landscape
from explorer.model.metrics import in_flags
from explorer.refine.errors import RefinementError, check_flags
from explorer.refine.regression import BASIN_CAP
from explorer.model.reward_model import RewardModel

NEGATIVES_PER_FLAG = 256
PLATEAU_STEPS = 300       # no flagged state newly below the floor for this long: stop


@dataclass(frozen=True)
class DataStep:
    step: int
    total_steps: int
    loss: float
    negatives_max_reward: float
    negatives_above_floor: int
    basin_cells_over_cap: int
    done: bool = False
    message: str = ""


class DataDrivenPatch:
    def __init__(self, model: RewardModel, land: Landscape, flags: list[Flag],
                 steps: int = 1000, lr: float = 3e-2, seed: int = 0,
                 w_neg: float = 10.0, w_basin: float = 10.0, w_rank: float = 5.0,
                 cap: float = BASIN_CAP):
        check_flags(flags)
        if not isinstance(model.expertness, MoEAutoencoder):
            raise RefinementError("data-driven patching fine-tunes E_theta, a mixture-of-experts "
                                  "autoencoder; this model is a different kind "
                                  f"({type(model.expertness).__name__}): use a local patch")
        self.world = land.world
        self.flags = list(flags)
        self.total = int(steps)
        if self.total < 1:
            raise RefinementError(f"data-driven patching needs at least 1 step, got {steps}")
        self.lr, self.w_neg, self.w_basin, self.w_rank = lr, w_neg, w_basin, w_rank
        self.child = model.next_version()
        self.child.expertness = grow(model.expertness, seed)
        floor = self.world.floor
        psi = model.psi
        self.margin = psi.error_at(floor / 2)

        # D_neg: flagged grid cells above the floor plus seeded random states in each
        # flag's ball, minus anything inside the norm boundary (those would fight the
        # basin anchor: flag the basin and nothing can honestly be removed there).
        reward = land.reward()
        rng = np.random.default_rng(seed)
        cells = land.points[in_flags(land.points, flags) & (reward > floor)]
        extra = []
        for f in flags:
            dirs = rng.normal(size=(NEGATIVES_PER_FLAG, 3))
            dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
            radii = f.radius * rng.uniform(0, 1, NEGATIVES_PER_FLAG) ** (1 / 3)
            pos = np.asarray(f.center) + dirs * radii[:, None]
            extra.append(self.world.to_state(pos if not self.world.is_terrain else pos[:, :2]))
        neg = np.concatenate([cells, *extra]).astype(np.float32)
        dist = self.world.distance_to_support(neg)
        self.excluded = int((dist <= self.world.boundary).sum())
        neg = neg[dist > self.world.boundary]
        if len(neg) == 0:
            raise RefinementError("every flagged state lies within the norm boundary of the expert "
                                  "support (the basin); data-driven patching will not push the "
                                  "expert's own region down")
        self.negatives = neg
        # Nothing to learn: every flagged state is already below the floor. Training a
        # new expert could then only disturb E_theta, so the job ends before it starts.
        served = model.reward(neg)
        self.nothing_to_learn = "" if float(served.max()) > floor else (
            f"every flagged state is already below the floor {floor:g} (highest reward inside the flags "
            f"{float(served.max()):.3f}): nothing to learn")
        # Anchors.
        self.expert = model.expert_samples
        basin = land.basin_mask(reward)
        self.basin_pts = land.points[basin]
        r_basin = np.maximum(reward[basin], 1e-6)
        self.basin_allowed = np.array([psi.error_at(max(min(v * (1 - 0.8 * cap), 1.0), 1e-6))
                                       for v in r_basin], dtype=np.float32) if len(r_basin) else \
            np.zeros(0, np.float32)
        # Grid reward uses min(.,1): cells at reward 1 allow error up to error_at(0.9).
        self.expert_err0 = model.error(self.expert)
        self.rank_scale = float(max(np.std(self.expert_err0), 1e-8))
        self.rank_order = torch.as_tensor(np.argsort(self.expert_err0, kind="stable"))
        self._good_state = copy.deepcopy(self.child.expertness.state_dict())
        self._stopped_at = 0
        self.message = ""

    def steps(self, report_every: int = 10) -> Iterator[DataStep]:
        net = self.child.expertness
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        # Only the newest expert learns: zero the gradient of every other row.
        hooks = [p.register_hook(_last_row_only) for p in net.parameters()]
        neg = torch.as_tensor(self.negatives)
        exp = torch.as_tensor(self.expert)
        bpts = torch.as_tensor(self.basin_pts)
        ballow = torch.as_tensor(self.basin_allowed)
        floor = self.world.floor
        best, best_step = None, 0
        for step in range(1, self.total + 1):
            opt.zero_grad()
            l_exp = net.error(exp)
            loss = l_exp.mean()
            loss = loss + self.w_neg * torch.relu(self.margin - net.error(neg)).mean()
            if len(bpts):
                # A sum, not a mean: one basin cell over its cap must not be cheap.
                loss = loss + self.w_basin * torch.relu(net.error(bpts) - ballow).sum()
            # Order, not values: consecutive expert samples (sorted by their error
            # before refinement) must keep their order; values may move together.
            ordered = l_exp[self.rank_order]
            loss = loss + self.w_rank * torch.relu(ordered[:-1] - ordered[1:]).mean() / self.rank_scale
            value = float(loss.detach())
            if not np.isfinite(value) or value > 1e6:
                net.load_state_dict(self._good_state)
                self.message = (f"refinement diverged at step {step} (loss {value:.3g}); "
                                f"rolled back to the last good state (step {self._stopped_at})")
                yield self._report(step, value, done=True)
                break
            loss.backward()
            opt.step()
            self._stopped_at = step
            if step % report_every == 0 or step == self.total:
                self._good_state = copy.deepcopy(net.state_dict())
                rep = self._report(step, value, done=step == self.total)
                yield rep
                if rep.negatives_above_floor == 0 and rep.basin_cells_over_cap == 0 and rep.step >= 20:
                    self.message = f"all flagged states below the floor {floor:g} after {step} steps"
                    self._good_state = copy.deepcopy(net.state_dict())
                    yield self._report(step, value, done=True)
                    break
                # A plateau: the states still above the floor are ones the basin anchor
                # holds up (they lie next to the expert's basin). More steps would only
                # spend time; the result is the same.
                if best is None or rep.negatives_above_floor < best:
                    best, best_step = rep.negatives_above_floor, step
                elif step - best_step >= PLATEAU_STEPS and step < self.total:
                    self.message = (f"stopped at step {step}: {rep.negatives_above_floor} of {len(self.negatives)} "
                                    f"flagged states stay above the floor {floor:g} (none went below it for "
                                    f"{PLATEAU_STEPS} steps; they lie next to the basin the refinement protects)")
                    yield self._report(step, value, done=True)
                    break
        for h in hooks:
            h.remove()

    def _report(self, step: int, loss: float, done: bool = False) -> DataStep:
        self.child.expertness.eval()
        r = self.child.reward(self.negatives)
        over = int((self.child.error(self.basin_pts) > self.basin_allowed).sum()) if len(self.basin_pts) else 0
        self.child.expertness.train()
        return DataStep(step, self.total, loss, float(r.max()), int((r > self.world.floor).sum()),
                        over, done, self.message)

    def result(self) -> RewardModel:
        """The refined model at its last good state (also after an early stop)."""
        self.child.expertness.load_state_dict(self._good_state)
        self.child.expertness.eval()
        self.child.negatives = merge_negatives(self.child.negatives, self.negatives)
        self.child.edits.append({"op": "data_patch", "flags": [f.to_dict() for f in self.flags],
                                 "negatives": int(len(self.negatives)),
                                 "excluded_in_basin": self.excluded,
                                 "steps": self._stopped_at, "message": self.message})
        return self.child


def merge_negatives(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """D_neg after a patch: the parent's rows and the new ones, each state once.
    Patching again with the same flags draws the same seeded states; appending
    them again grew D_neg (and every later version and artifact) without end."""
    both = np.concatenate([np.asarray(old, np.float32).reshape(-1, 3), np.asarray(new, np.float32)])
    _, first = np.unique(both, axis=0, return_index=True)
    return both[np.sort(first)]                    # the order they were added in


def _last_row_only(grad: torch.Tensor) -> torch.Tensor:
    mask = torch.zeros_like(grad)
    mask[-1] = 1.0
    return grad * mask


def grow(net: MoEAutoencoder, seed: int = 0) -> MoEAutoencoder:
    """A copy of ``net`` with one more expert that is switched off (gate logit -10,
    zero decoder), so the grown E_theta computes the same L(s) until trained.

    The new expert's encoder is initialised from ``seed``, not from torch's global
    generator: the same flags on the same model give the same patch whatever ran before."""
    a = net.arch
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        bigger = MoEAutoencoder(Architecture(a.dim, a.experts + 1, a.bottleneck),
                                net.lo.numpy(), net.hi.numpy())
    with torch.no_grad():
        for name in ("enc_w", "enc_b", "dec_w", "dec_b", "gate_w", "gate_b"):
            getattr(bigger, name)[:-1] = getattr(net, name)
        bigger.gate_w[-1] = 0.0
        bigger.gate_b[-1] = -10.0
        bigger.dec_w[-1] = 0.0
        bigger.dec_b[-1] = 0.0
    bigger.eval()
    return bigger


def data_patch(model: RewardModel, land: Landscape, flags: list[Flag], **kw) -> RewardModel:
    job = DataDrivenPatch(model, land, flags, **kw)
    if job.nothing_to_learn:
        raise RefinementError(job.nothing_to_learn)
    for _ in job.steps():
        pass
    return job.result()
