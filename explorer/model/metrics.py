"""Readouts of a landscape: flaws, basin, flagged regions, agreement with truth."""
from __future__ import annotations

import numpy as np

from explorer.model.landscape import Landscape


def rank(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), as Spearman's rho needs."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_vals = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0
        i = j + 1
    return ranks


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    denom = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / denom) if denom > 0 else float("nan")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return pearson(rank(a), rank(b))


def in_flags(points: np.ndarray, flags) -> np.ndarray:
    mask = np.zeros(len(points), dtype=bool)
    for f in flags:
        mask |= np.linalg.norm(points - np.asarray(f.center, np.float32), axis=1) <= f.radius
    return mask


def landscape_metrics(land: Landscape, reference_reward: np.ndarray | None = None,
                      flags=()) -> dict:
    """What the readouts panel and the CLI's --json show.

    ``reference_reward`` is the landscape before the refinement being judged; basin
    retention is measured on the reference's basin cells, so cells that left the
    basin count as losses rather than disappearing from the average."""
    r = land.reward()
    basin = land.basin_mask(r)
    expert_r = land.model.reward(land.model.expert_samples)
    out = {
        "cells": int(r.size),
        "flaws": int(land.flaw_mask(r).sum()),
        "basin_cells": int(basin.sum()),
        "basin_mean_reward": float(r[basin].mean()) if basin.any() else 0.0,
        "expert_median_reward": float(np.median(expert_r)),
        "expert_min_reward": float(np.min(expert_r)),
        "true_correlation": pearson(r, land.true),
        "patches": len(land.model.patches),
    }
    if reference_reward is not None:
        ref_basin = land.basin_mask(reference_reward)
        if ref_basin.any():
            ref = reference_reward[ref_basin]
            out["reference_basin_cells"] = int(ref_basin.sum())
            out["basin_retention"] = float(r[ref_basin].sum() / ref.sum())
            out["basin_worst_cell_loss"] = float(np.max(1.0 - r[ref_basin] / ref))
        out["reference_flaws"] = int(land.flaw_mask(reference_reward).sum())
    flags = list(flags)
    if flags:
        m = in_flags(land.points, flags)
        out["flag_cells"] = int(m.sum())
        out["flag_max_reward"] = float(r[m].max()) if m.any() else 0.0
        out["flag_cells_above_floor"] = int((r[m] > land.world.floor).sum())
    return out
