"""The regression check every refinement passes before it is released.

It checks both ways, on the grid and, given a probe set, between grid points:

* the basin keeps its reward: no basin state loses more than the cap and the
  basin does not shrink (on the grid: cells within B above the floor; on the
  probes: the certified basin, within B - delta);
* the refinement creates no flaw outside the flagged regions (a data-driven
  patch or a psi edit can raise the reward elsewhere; a refinement that creates
  flaws is a regression).

Every failure is a reason naming the state, so a refused refinement says where.
"""
from __future__ import annotations

import numpy as np

from explorer.model.landscape import Landscape
from explorer.model.metrics import in_flags, spearman
from explorer.model.reward_model import RewardModel

from .probes import in_balls

BASIN_CAP = 0.10           # no basin cell may lose more than 10% of its reward
NAMED = 5                  # states named per reason


def regression_check(land_before_reward: np.ndarray, land: Landscape, cap: float = BASIN_CAP,
                     flagged=None, probes=None, before_model: RewardModel | None = None,
                     cumulative: bool = False) -> dict:
    """Re-evaluate the basin and the flaws after a refinement and say what changed.

    ``land`` shows the refined model; ``land_before_reward`` is the grid reward
    before. ``flagged`` (flags or findings: anything with centre and radius) are
    the places the refinement was asked to change: a flaw that appears there is
    reported, one that appears elsewhere fails the check. ``probes`` (a
    ``ProbeSet``) with ``before_model`` repeats the checks between grid points.
    ``cumulative`` also holds the certified basin to the cap against the
    kernel-free reward (the cap on a lineage of kernel patches)."""
    after = land.reward()
    ref_basin = land.basin_mask(land_before_reward)
    now_basin = land.basin_mask(after)
    ref = land_before_reward[ref_basin]
    loss_all = np.zeros(land.grid.size, np.float32)
    loss_all[ref_basin] = 1.0 - _finite(after[ref_basin]) / np.maximum(ref, 1e-12)
    flaws_before = land.flaw_mask(land_before_reward) | (~np.isfinite(land_before_reward) & land.violates)
    flaws_after = land.flaw_mask(after) | (~np.isfinite(after) & land.violates)
    inside = in_flags(land.points, list(flagged)) if flagged else np.zeros(land.grid.size, bool)
    new = flaws_after & ~flaws_before
    out = {
        "basin_cells_before": int(ref_basin.sum()),
        "basin_cells_after": int(now_basin.sum()),
        "basin_retention": float(_finite(after[ref_basin]).sum() / ref.sum()) if ref_basin.any() else 1.0,
        "basin_worst_cell_loss": float(loss_all[ref_basin].max()) if ref_basin.any() else 0.0,
        "flaws_before": int(flaws_before.sum()),
        "flaws_after": int(flaws_after.sum()),
        "new_flaws": int((new & ~inside).sum()),
        "new_flaws_inside_flags": int((new & inside).sum()),
    }
    reasons: list[str] = []
    over = ref_basin & (loss_all > cap + 1e-6)
    reasons += _name(f"basin cell loses more than {cap:.0%} of its reward", land.points, over,
                     loss_all, land.distance, "loss")
    lost = ref_basin & ~now_basin
    reasons += _name("basin cell dropped out of the basin", land.points, lost, after, land.distance, "reward")
    reasons += _name("new flaw outside the flagged regions", land.points, new & ~inside, after,
                     land.distance, "reward")
    if probes is not None:
        if before_model is None:
            raise ValueError("regression_check: probes need before_model (the parent) to compare against")
        cert = _probe_check(probes, before_model, land.model, cap, flagged, cumulative)
        out["certified"] = cert.pop("summary")
        reasons += cert["reasons"]
    out["reasons"] = reasons
    out["passed"] = not reasons
    return out


def _probe_check(probes, before: RewardModel, after_model: RewardModel, cap: float, flagged,
                 cumulative: bool) -> dict:
    floor = probes.world.floor
    r0 = probes.reward(before)
    r1 = probes.reward(after_model)
    origin = probes.unpatched(after_model) if cumulative else None
    summary = probes.certify(r1, r0, origin, cap=cap)
    hot0 = probes.flaw_zone & ((r0 > floor) | ~np.isfinite(r0))
    summary["flaws_before"] = int(hot0.sum())
    inside = in_balls(probes.index, flagged) if flagged else np.zeros(len(probes), bool)
    hot1 = probes.flaw_zone & ((r1 > floor) | ~np.isfinite(r1))
    new = hot1 & ~hot0
    summary["new_flaws"] = int((new & ~inside).sum())
    basin = probes.basin_zone & (r0 > floor)
    loss = np.where(basin, 1.0 - _finite(r1) / np.maximum(r0, 1e-12), 0.0)
    reasons = _name(f"state within B - delta (delta {probes.delta:.3f}) between grid points loses more than "
                    f"{cap:.0%}", probes.points, basin & (loss > cap + 1e-6), loss, probes.distance, "loss")
    reasons += _name("state within B - delta dropped below the floor", probes.points, basin & ~(r1 > floor),
                     r1, probes.distance, "reward")
    reasons += _name("new flaw between grid points outside the flagged regions", probes.points,
                     new & ~inside, r1, probes.distance, "reward")
    if origin is not None:
        o_basin = probes.basin_zone & (origin > floor)
        total = np.where(o_basin, 1.0 - _finite(r1) / np.maximum(origin, 1e-12), 0.0)
        reasons += _name(f"state within B - delta has lost more than {cap:.0%} to all kernels together",
                         probes.points, o_basin & (total > cap + 1e-6), total, probes.distance, "loss")
    return {"summary": summary, "reasons": reasons}


def _finite(a: np.ndarray) -> np.ndarray:
    """NaN or inf rewards count as zero reward kept: never as clean."""
    return np.where(np.isfinite(a), a, 0.0)


def _name(what: str, points: np.ndarray, mask: np.ndarray, value: np.ndarray, distance: np.ndarray,
          label: str) -> list[str]:
    """One reason naming the worst few states of ``mask`` (empty if none)."""
    idx = np.nonzero(mask)[0]
    if len(idx) == 0:
        return []
    v = np.nan_to_num(value[idx], nan=np.inf)
    worst = idx[np.argsort(-v, kind="stable")[:NAMED]]
    fmt = (lambda x: f"{x:.1%}") if label == "loss" else (lambda x: f"{x:.2f}" if np.isfinite(x) else "NaN")
    named = "; ".join(f"({', '.join(f'{c:+.2f}' for c in points[i])}) {label} {fmt(float(value[i]))}, "
                      f"{float(distance[i]):.2f} from the support" for i in worst)
    more = f" and {len(idx) - NAMED} more" if len(idx) > NAMED else ""
    return [f"{len(idx)} {what}: {named}{more}"]


def expert_rank_correlation(before: RewardModel, after: RewardModel) -> float:
    s = before.expert_samples
    return spearman(before.reward(s), after.reward(s))
