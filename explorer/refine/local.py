"""Local patches: flags become Gaussian suppression kernels (E_theta untouched).

The kernels are placed by the greedy cover in ``placement`` (wide far first,
tall flat-topped kernels, centres pushed off the grid away from the support,
predictive coverage), within a kernel budget, and never cost a basin state more
than the cap of its reward -- per patch and, unless the caller turns it off for
an ablation, cumulatively against the kernel-free reward.

With ``fit`` (off-grid states, see ``probes.fit_states``) the patch also covers
the flawed states between grid points beyond B + FIT_TARGET_BAND * delta and
protects the basin states within B - FIT_PROTECT_BAND * delta (each allowed
FIT_CAP_MARGIN of the cap), and every kernel is also checked at the certified
basin's point nearest to it (within B - delta, where it is largest) together
with every kernel already there, so the cap holds between grid points too.
Both margins were set by measurement (benchmarks/flywheel_bench.py): with the
target band at 0.8 delta a few held-out probes just beyond B + delta stayed
above the floor; with the fit cap at 95% a few probes within B - delta lost
10.3-10.5% on twin-goals.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explorer.model.flags import Flag
from explorer.model.landscape import Landscape
from explorer.model.patches import PatchSet, StateIndex, kernel_field
from explorer.model.reward_model import RewardModel

from .errors import RefinementError, check_flags
from .placement import AMP_MAX, Placement, Protected, Targets, Zone, place, unremovable
from .probes import (ProbeSet, basin_worst_point, clear_of_norms, deep_violation, grid_spacing, in_balls,
                     nearest_support)
from .regression import BASIN_CAP

BW_MIN, BW_MAX = 0.03, 0.30
FIT_TARGET_BAND = 0.6      # fit states beyond B + 0.6 delta are covered ...
FIT_PROTECT_BAND = 0.8     # ... and those within B - 0.8 delta protected
FIT_CAP_MARGIN = 0.9       # a fit state may lose 90% of what the cap allows
TARGET_MARGIN = 0.9        # grid targets are brought to 0.9 x the floor, ...
FIT_TARGET_MARGIN = 0.5    # ... fit states to half of it, so the states between them follow
UNREMOVABLE_KERNELS = 4096 # the kernel count the unremovability bound assumes when unbudgeted


def bandwidth_for(distance: np.ndarray, boundary: float) -> np.ndarray:
    """'Wide far, narrow near': clip((d - B) * 0.5, 0.03, 0.30), the authors' rule."""
    if not np.isfinite(boundary):
        boundary = 0.0
    return np.clip((np.asarray(distance) - boundary) * 0.5, BW_MIN, BW_MAX).astype(np.float32)


def min_bandwidth(land: Landscape, delta: float | None = None) -> float:
    """The narrowest kernel: half the guard band (or a quarter of the grid spacing),
    at most the authors' 0.03, so a flaw next to a basin cell can always be reached."""
    d = 0.5 * grid_spacing(land.world, land.grid.shape[0]) if delta is None or delta <= 0 else delta
    return float(min(BW_MIN, 0.5 * d))


class NoPatch(RefinementError):
    """The flags produced no kernel; ``report`` says why (and names unremovable states)."""

    def __init__(self, message: str, report: "PatchReport"):
        super().__init__(message)
        self.report = report


@dataclass
class PatchReport:
    kernels_added: int = 0
    cells_suppressed: int = 0
    refused: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    targets: int = 0                      # grid cells + fit states the patch had to cover
    open_targets: int = 0                 # left open (budget or stuck)
    budget_exhausted: bool = False
    unremovable: list[dict] = field(default_factory=list)   # provably out of reach under the cap

    def to_dict(self) -> dict:
        return {"kernels_added": self.kernels_added, "cells_suppressed": self.cells_suppressed,
                "refused": self.refused, "messages": self.messages, "targets": self.targets,
                "open_targets": self.open_targets, "budget_exhausted": self.budget_exhausted,
                "unremovable": self.unremovable}


def local_patch(model: RewardModel, land: Landscape, flags: list[Flag],
                cap: float | None = BASIN_CAP, fixed_bandwidth: float | None = None,
                targets: np.ndarray | None = None, kernel_budget: int | None = None,
                fit: ProbeSet | list[ProbeSet] | None = None, cumulative: bool = True,
                caution: float = 1.0) -> tuple[RewardModel, PatchReport]:
    """Place suppression kernels on the flagged states that are above the floor.

    ``targets`` (a grid mask) limits grid candidates to those cells, e.g. the
    audit's verified flaws. ``kernel_budget`` caps the kernels placed. ``fit`` adds
    off-grid states (module docstring). ``cumulative=False`` checks the cap per
    patch only. ``caution`` > 1 divides what off-grid basin states may lose (a
    retry after the regression check refused a patch). ``cap=None`` with
    ``fixed_bandwidth`` is the ablation with no basin protection;
    ``fixed_bandwidth`` alone places one kernel of that bandwidth and amplitude
    <= 1 per open flagged cell, farthest first (the authors' ablation).
    Raises RefinementError when the flags produce no kernel at all."""
    check_flags(flags)
    if kernel_budget is not None and int(kernel_budget) < 1:
        raise RefinementError(f"kernel budget: expected a whole number >= 1, got {kernel_budget!r}")
    world = land.world
    floor = world.floor
    report = PatchReport()
    base = land.unpatched()
    field0 = land.patch_field.copy()
    served = np.maximum(0.0, base - np.minimum(field0, 1.0))
    basin = land.basin_mask(served)
    grid_t = _grid_targets(land, flags, served, basin, targets, cap, report)
    fits = [] if fit is None else list(fit) if isinstance(fit, (list, tuple)) else [fit]
    bw_min = min_bandwidth(land, fits[0].delta if fits else None)
    tg, pr = _problem(land, flags, base, field0, served, basin, grid_t, fits, cap, cumulative, float(caution))
    report.targets = len(tg.points)
    if fixed_bandwidth is not None:
        pl = place(tg, pr, kernel_budget, bw_min, fixed_bandwidth=float(fixed_bandwidth), cap_free=cap is None)
    else:
        pl = place(tg, pr, kernel_budget, bw_min)
    _report_open(report, pl, tg, pr, land, grid_t, bw_min, kernel_budget, cap)
    if len(pl) == 0:
        why = "; ".join(report.messages + report.refused) or "nothing above the floor to suppress"
        raise NoPatch("the flags produced no patch: " + why, report)
    new = PatchSet(np.asarray(pl.centers, np.float32), np.asarray(pl.bandwidths, np.float32),
                   np.asarray(pl.amplitudes, np.float32), np.asarray(pl.owners, np.int64))
    report.kernels_added = len(new)
    child = model.next_version()
    child.patches = model.patches.copy()
    child.patches.extend(new)
    after = np.maximum(0.0, base - np.minimum(field0 + new.field(land.points), 1.0))
    report.cells_suppressed = int(((served > floor) & (after <= floor)).sum())
    child.edits.append({"op": "local_patch", "flags": [f.to_dict() for f in flags],
                        "kernels_added": report.kernels_added, "refused": len(report.refused),
                        "cap": cap, "kernel_budget": kernel_budget,
                        "guard_band": fits[0].delta if fits else None})
    return child, report


def _grid_targets(land, flags, served, basin, targets, cap, report) -> np.ndarray:
    """Flagged grid cells above the floor (within ``targets``), the basin refused."""
    floor = land.world.floor
    mask = np.zeros(land.grid.size, bool)
    empty, already = [], []
    basin_refused = 0
    index = StateIndex(land.points)
    for flag in flags:
        inside = in_balls(index, [flag])
        if not inside.any():
            empty.append(flag.id)
            continue
        todo = inside & (served > floor)
        if targets is not None:
            todo &= targets
        if not todo.any():
            already.append(flag.id)
            continue
        if cap is not None:
            basin_refused += int((todo & basin & ~mask).sum())
            todo &= ~basin
        mask |= todo
    if empty:
        report.messages.append(f"{_ids(empty)}: no grid cell inside (radius smaller than the grid "
                               f"spacing); nothing to patch")
    if already:
        report.messages.append(f"{_ids(already)}: every {'targeted ' if targets is not None else ''}"
                               f"cell inside is already below the floor {floor:g}; no patch needed")
    if basin_refused:
        report.refused.append(f"{basin_refused} flagged cells above the floor lie in the expert's basin "
                              f"(within B = {land.world.boundary:g} of the support) and are not patched")
    return mask


def _problem(land, flags, base, field0, served, basin, grid_t, fits, cap, cumulative, caution=1.0):
    """Targets (grid cells, then fit states) and protected states with their allowances."""
    world, floor = land.world, land.world.floor
    B = world.boundary if np.isfinite(world.boundary) else 0.0
    cap_v = np.inf if cap is None else cap
    g_pts = land.points[grid_t]
    g_dist = land.distance[grid_t]
    # Grid cells seed first: the grid figure is the one a person reads.
    parts = [(g_pts, base[grid_t] - TARGET_MARGIN * floor - field0[grid_t], g_dist + 1e3,
              nearest_support(world, g_pts)[1], _owner(StateIndex(g_pts), flags), g_dist - B, g_dist,
              np.ones(len(g_pts), bool))]
    protected = [(land.points[basin], _allowance(base[basin], field0[basin], served[basin], floor, cap_v,
                                                  cumulative), base[basin], served[basin])]
    zone = None
    for fit in fits if cap is not None else []:
        if fit.world is not world:
            raise RefinementError(f"fit states of world {fit.world.name!r} cannot patch world {world.name!r}")
        delta = fit.delta
        f_base = fit.unpatched(land.model)
        f_field = fit.field(land.model.patches) if len(land.model.patches) else np.zeros(len(fit), np.float32)
        f_served = np.maximum(0.0, f_base - np.minimum(f_field, 1.0))
        deep = deep_violation(world, fit.points, fit.distance, FIT_TARGET_BAND * delta)
        owners = _owner(fit.index, flags)
        ft = deep & (owners >= 0) & (f_served > floor)
        parts.append((fit.points[ft], f_base[ft] - FIT_TARGET_MARGIN * floor - f_field[ft], fit.distance[ft],
                      fit.outward[ft], owners[ft], fit.distance[ft] - (B - FIT_PROTECT_BAND * delta),
                      fit.distance[ft], fit.flaw_zone[ft]))
        # The basin between grid points: states it still holds (above the floor now).
        fp = clear_of_norms(world, fit.points, fit.distance, FIT_PROTECT_BAND * delta) & (f_served > floor * 1.001)
        margin = FIT_CAP_MARGIN / caution
        protected.append((fit.points[fp], margin * _allowance(f_base[fp], f_field[fp], f_served[fp], floor, cap_v,
                                                              cumulative), f_base[fp], f_served[fp]))
        patches = land.model.patches
        zone = Zone(worst_point=basin_worst_point(world, delta), existing=patches.field,
                    base=land.model.unpatched, cap=margin * cap_v if cumulative else np.inf,
                    per_patch=margin * cap_v)
    cols = [np.concatenate([p[k] for p in parts]) for k in range(8)]
    tg = Targets(cols[0].astype(np.float32), cols[1].astype(np.float32), cols[2].astype(np.float32),
                 cols[3].astype(np.float32), cols[4].astype(np.int64), gap=cols[5].astype(np.float32),
                 distance=cols[6].astype(np.float32), flaw=cols[7].astype(bool))
    if cap is None:                      # the ablation without basin protection
        return tg, Protected(np.zeros((0, 3), np.float32), np.zeros(0, np.float32))
    pcols = [np.concatenate([p[k] for p in protected]).astype(np.float32) for k in range(4)]
    return tg, Protected(pcols[0], pcols[1], base=pcols[2], served=pcols[3], zone=zone)


def _allowance(base, field, served, floor, cap, cumulative) -> np.ndarray:
    """Kernel sum a protected state may still take: the cap per patch (against its
    reward now) and, cumulatively, against its kernel-free reward; never below the floor."""
    per_patch = np.minimum(cap * served, served - floor * 1.001)
    if not cumulative:
        return per_patch
    total = np.minimum(cap * 0.999 * base, base - floor * 1.001) - field
    return np.minimum(per_patch, total)


def _owner(index: StateIndex, flags: list[Flag]) -> np.ndarray:
    """The first flag whose ball holds each indexed state (-1: none; flags can overlap)."""
    return in_balls(index, flags, owner=True)


def _report_open(report, pl: Placement, tg: Targets, pr: Protected, land, grid_t, bw_min, budget, cap):
    n_grid = int(grid_t.sum())
    open_ = ~pl.covered
    report.open_targets = int(open_.sum())
    report.budget_exhausted = pl.exhausted
    if pl.exhausted:
        report.messages.append(f"kernel budget {budget} used up: {int(open_[:n_grid].sum())} flagged cells "
                               f"and {int(open_[n_grid:].sum())} off-grid states left for the next cycle")
    if pl.stuck.any() and cap is not None:
        # What each stuck target still lacks, and what each protected state may still lose.
        short, allow_now = tg.need.copy(), pr.allow.copy()
        if len(pl):
            kernels = (np.asarray(pl.centers), np.asarray(pl.bandwidths), np.asarray(pl.amplitudes))
            short -= kernel_field(tg.points, *kernels)
            allow_now -= kernel_field(pr.points, *kernels)
        stuck_pr = Protected(pr.points, allow_now)
        kernels = budget if budget is not None else UNREMOVABLE_KERNELS
        # Only flaws count: a stuck state inside the guard band was covered for margin.
        found = unremovable(tg, stuck_pr, short, pl.stuck & open_ & tg.flaw, bw_min, kernels, AMP_MAX)
        for u in found:
            t, j = u.pop("target"), u.pop("blocker")
            u.update({"state": [round(float(v), 4) for v in tg.points[t]],
                      "distance": round(float(tg.distance[t]), 4),
                      "grid_cell": bool(t < n_grid),
                      "blocking_basin_state": [round(float(v), 4) for v in pr.points[j]],
                      "reason": (f"a basin state {u['gap']:.3f} away can lose only {max(u['allowance'], 0):.4f} "
                                 f"more; any {kernels} kernels of bandwidth >= {bw_min:.3f} that bring this "
                                 f"state to the floor cost it at least {u['least_cost']:.4f}")})
        report.unremovable = found
        n_stuck = int((pl.stuck & open_).sum())
        report.refused.append(f"{n_stuck} flagged states no kernel could reach within the basin cap"
                              + (f" ({len(found)} provably unremovable)" if found else ""))


def _ids(ids: list[int]) -> str:
    shown = ", ".join(f"#{i}" for i in ids[:8])
    return ("flag " if len(ids) == 1 else "flags ") + shown + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
