"""The regression check every refinement passes before it is released."""
from __future__ import annotations

import numpy as np

from explorer.model.landscape import Landscape
from explorer.model.metrics import spearman
from explorer.model.reward_model import RewardModel

BASIN_CAP = 0.10           # no basin cell may lose more than 10% of its reward


def regression_check(land_before_reward: np.ndarray, land: Landscape,
                     cap: float = BASIN_CAP) -> dict:
    """Re-evaluate the basin after a refinement and say what changed."""
    after = land.reward()
    ref_basin = land.basin_mask(land_before_reward)
    now_basin = land.basin_mask(after)
    ref = land_before_reward[ref_basin]
    loss = 1.0 - after[ref_basin] / np.maximum(ref, 1e-12) if ref_basin.any() else np.zeros(0)
    expert_before = None
    out = {
        "basin_cells_before": int(ref_basin.sum()),
        "basin_cells_after": int(now_basin.sum()),
        "basin_retention": float(after[ref_basin].sum() / ref.sum()) if ref_basin.any() else 1.0,
        "basin_worst_cell_loss": float(loss.max()) if loss.size else 0.0,
        "flaws_before": int(land.flaw_mask(land_before_reward).sum()),
        "flaws_after": int(land.flaw_mask(after).sum()),
    }
    del expert_before
    out["passed"] = bool(out["basin_worst_cell_loss"] <= cap + 1e-6
                         and out["basin_cells_after"] >= out["basin_cells_before"])
    return out


def expert_rank_correlation(before: RewardModel, after: RewardModel) -> float:
    s = before.expert_samples
    return spearman(before.reward(s), after.reward(s))
