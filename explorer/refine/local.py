"""Local patches: flags become Gaussian suppression kernels (E_theta untouched).

Kernels are placed far-from-support last, each with the authors' "wide far,
narrow near" bandwidth, shrunk and then lowered until no basin cell loses more
than the cap of its reward (per patch and cumulatively).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explorer.model.flags import Flag
from explorer.model.landscape import Landscape
from explorer.model.metrics import in_flags
from explorer.model.patches import PatchSet, kernel_field
from explorer.model.reward_model import RewardModel

from .errors import RefinementError, check_flags
from .regression import BASIN_CAP

BW_MIN, BW_MAX = 0.03, 0.30
MIN_AMPLITUDE = 0.05
KERNEL_SHARE = 0.002       # a kernel may cost any basin cell at most 0.2% of its reward
                           # before its bandwidth is halved (see local_patch)


def bandwidth_for(distance: np.ndarray, boundary: float) -> np.ndarray:
    """'Wide far, narrow near': clip((d - B) * 0.5, 0.03, 0.30), as the authors do."""
    if not np.isfinite(boundary):
        boundary = 0.0
    return np.clip((np.asarray(distance) - boundary) * 0.5, BW_MIN, BW_MAX).astype(np.float32)


@dataclass
class PatchReport:
    kernels_added: int = 0
    cells_suppressed: int = 0
    refused: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"kernels_added": self.kernels_added, "cells_suppressed": self.cells_suppressed,
                "refused": self.refused, "messages": self.messages}


def local_patch(model: RewardModel, land: Landscape, flags: list[Flag],
                cap: float | None = BASIN_CAP, fixed_bandwidth: float | None = None,
                targets: np.ndarray | None = None) -> tuple[RewardModel, PatchReport]:
    """Place suppression kernels on the flagged cells that are above the floor.

    Candidates are handled far-from-support first. Each kernel's bandwidth follows
    the distance rule and is at most the flag's radius; if it would cost a basin
    cell more than ``cap`` of its reward (per patch, or cumulatively against the
    unpatched reward) its bandwidth is halved down to 0.03 and then its amplitude
    is lowered; a kernel that cannot stay within the cap at all is refused, with
    the reason.

    ``targets`` (a grid mask) limits candidates to those cells, e.g. the audit's
    verified flaws. ``cap=None`` and ``fixed_bandwidth`` give the ablation the authors compare
    against: one bandwidth everywhere and no basin protection."""
    check_flags(flags)
    world = land.world
    floor = world.floor
    report = PatchReport()
    base = land.unpatched()                 # reward before any kernel
    field = land.patch_field.copy()         # current kernel sum on the grid
    served = np.maximum(0.0, base - np.minimum(field, 1.0))
    served_before = served.copy()
    basin = land.basin_mask(served)
    bpts = land.points[basin]
    b_base, b_before = base[basin], served_before[basin]
    b_field0 = field[basin].copy()
    b_field = b_field0.copy()
    new = PatchSet.empty()
    cs, bws, amps, ids = [], [], [], []
    refused_near_basin = 0
    # Collect every flagged cell above the floor (each with the flag that asked).
    todo_cells, todo_flag = [], []
    already, empty, basin_refused = [], [], 0
    for flag in flags:
        inside = np.nonzero(in_flags(land.points, [flag]))[0]
        if len(inside) == 0:
            empty.append(flag.id)
            continue
        todo = inside[served[inside] > floor]
        if targets is not None:
            todo = todo[targets[todo]]
        if len(todo) == 0:
            already.append(flag.id)
            continue
        # The expert's basin is never patched: a flag there is refused, not obeyed.
        in_basin = basin[todo] if cap is not None else np.zeros(len(todo), bool)
        basin_refused += int(in_basin.sum())
        todo_cells.append(todo[~in_basin])
        todo_flag.append(np.full(int((~in_basin).sum()), flag.id))
    if empty:
        report.messages.append(f"{_ids(empty)}: no grid cell inside (radius smaller than the grid "
                               f"spacing); nothing to patch")
    if already:
        report.messages.append(f"{_ids(already)}: every {'targeted ' if targets is not None else ''}"
                               f"cell inside is already below the floor {floor:g}; no patch needed")
    if basin_refused:
        report.refused.append(f"{basin_refused} flagged cells above the floor lie in the expert's basin "
                              f"(within B = {world.boundary:g} of the support) and are not patched")
    cells = np.concatenate(todo_cells) if todo_cells else np.zeros(0, int)
    owners = np.concatenate(todo_flag) if todo_flag else np.zeros(0, int)
    # Nearest-to-support first: their kernels are narrow and cost the basin least,
    # so they are placed before wide far kernels use up the basin's 10% budget;
    # far cells can always shrink their bandwidth until they fit.
    order = np.argsort(land.distance[cells], kind="stable")
    radius_of = {f.id: f.radius for f in flags}
    for cell, fid in zip(cells[order], owners[order]):
        if served[cell] <= floor:          # an earlier kernel already covered it
            continue
        c = land.points[cell]
        if fixed_bandwidth is not None:
            bw = float(fixed_bandwidth)
        else:
            bw = float(min(bandwidth_for(land.distance[cell], world.boundary), max(radius_of[fid], BW_MIN)))
        if cap is None:
            amp, reason, cost = 1.0, "", 0.0
        else:
            amp, reason, cost = _fit_kernel(c, bw, bpts, b_base, b_before, b_field0, b_field, cap,
                                            floor * 1.001)
        # Shrink before spending: a kernel that would cost the basin more than a
        # small share halves its bandwidth (far cells can always afford to), so
        # the basin's 10% budget is left for narrow kernels right next to it.
        while cap is not None and fixed_bandwidth is None and bw > BW_MIN and (amp < 1.0 or cost > KERNEL_SHARE):
            bw = max(BW_MIN, bw / 2)
            amp, reason, cost = _fit_kernel(c, bw, bpts, b_base, b_before, b_field0, b_field, cap,
                                            floor * 1.001)
        if amp < MIN_AMPLITUDE:
            refused_near_basin += 1
            if refused_near_basin <= 3:
                report.refused.append(
                    f"flag #{fid}: no kernel at ({', '.join(f'{v:+.2f}' for v in c)}) "
                    f"{land.distance[cell]:.2f} from the support fits the basin cap: {reason}")
            continue
        cs.append(c)
        bws.append(bw)
        amps.append(amp)
        ids.append(fid)
        k = kernel_field(land.points, c[None], np.float32([bw]), np.float32([amp]))
        field += k
        b_field += k[basin]
        served = np.maximum(0.0, base - np.minimum(field, 1.0))
    if refused_near_basin > 3:
        report.refused.append(f"... {refused_near_basin} cells refused by the basin cap in all")
    if cs:
        new = PatchSet(np.float32(cs), np.float32(bws), np.float32(amps), np.int64(ids))
    report.kernels_added = len(new)
    report.cells_suppressed = int(((served_before > floor) & (served <= floor)).sum())
    if report.kernels_added == 0:
        raise RefinementError("the flags produced no patch: " + "; ".join(report.messages + report.refused))
    child = model.next_version()
    child.patches = model.patches.copy()
    child.patches.extend(new)
    child.edits.append({"op": "local_patch", "flags": [f.to_dict() for f in flags],
                        "kernels_added": report.kernels_added, "refused": len(report.refused),
                        "cap": cap})
    return child, report


def _ids(ids: list[int]) -> str:
    shown = ", ".join(f"#{i}" for i in ids[:8])
    return ("flag " if len(ids) == 1 else "flags ") + shown + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")


def _fit_kernel(c, bw, bpts, b_base, b_before, b_field0, b_field, cap,
                floor_margin) -> tuple[float, str, float]:
    """Largest amplitude (<= 1) for a kernel at c that keeps every basin cell within the
    cap, per patch (vs. the reward before this patch) and cumulatively (vs. unpatched)."""
    if len(bpts) == 0:
        return 1.0, "", 0.0
    k = np.exp(-np.sum((bpts - c) ** 2, axis=1) / (2 * bw * bw))
    # Loss of a cell = min(reward, field); keep field within the allowed budget.
    # ... and never push a basin cell below the floor (the basin must not shrink).
    cap = cap * 0.999           # float32 fields: stay a hair inside the cap
    allowed_total = np.minimum(cap * b_base, b_base - floor_margin) - b_field
    allowed_patch = cap * b_before - (b_field - b_field0)
    allowed = np.minimum(allowed_total, allowed_patch)
    # A contribution under 1e-4 of a reward unit is below anything the floor or
    # the cap can resolve; counting it would let far-away wide kernels use up a
    # basin cell's budget and refuse every later narrow kernel near the basin.
    touched = k > 1e-4
    cost = float(np.max(k / np.maximum(b_base, 1e-6)))
    if not touched.any():
        return 1.0, "", cost
    ratio = np.where(touched, np.maximum(allowed, 0.0) / np.maximum(k, 1e-12), np.inf)
    amp = float(min(1.0, ratio.min()))
    worst = int(np.argmin(ratio))
    reason = (f"basin cell at distance {np.linalg.norm(bpts[worst] - c):.2f} would lose more "
              f"than {cap:.0%} of its reward")
    return amp, reason, cost
