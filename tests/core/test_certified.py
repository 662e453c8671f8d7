"""Certified figures: held-out probes with a guard band, the kernel index, the
placement's cap and budget, and the unremovability bound. Small sizes: fast."""
from __future__ import annotations

import numpy as np
import pytest

from explorer.model.flags import Flag
from explorer.model.metrics import in_flags
from explorer.model.patches import PatchSet, StateIndex, _dense_field, kernel_field
from explorer.refine import RefinementError
from explorer.refine.placement import Protected, Targets, place, unremovable
from explorer.refine.probes import (FINE, SHELL_SRC, UNIFORM_SRC, ProbeSet, fit_states, grid_spacing, guard_band,
                                    in_balls, nearest_support, within)


def test_guard_band_defaults_to_half_the_grid_spacing_and_can_be_set(cube):
    assert grid_spacing(cube) == pytest.approx(2 / 19)
    assert guard_band(cube) == pytest.approx(1 / 19)
    assert guard_band(cube, override=0.02) == 0.02
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(RefinementError, match="guard_band"):
            guard_band(cube, override=bad)


def test_a_world_may_declare_its_own_guard_band():
    import worlds
    w = worlds.load("cube")
    w.guard_band = 0.07                   # what a world file's [landscape] guard_band would set
    assert guard_band(w) == 0.07
    w.guard_band = -1.0
    with pytest.raises(RefinementError, match="guard_band"):
        guard_band(w)


def test_probes_are_seeded_held_out_and_cover_the_boundary_shell(cube):
    p = ProbeSet.build(cube, seed=0, uniform=2000, shell=1500)
    again = ProbeSet.build(cube, seed=0, uniform=2000, shell=1500)
    assert np.array_equal(p.points, again.points)
    counts = np.bincount(p.source, minlength=3)
    assert counts[FINE] == 39 ** 3 - 20 ** 3          # twice as fine, less the landscape's own points
    assert counts[UNIFORM_SRC] == 2000 and counts[SHELL_SRC] == 1500
    grid = {tuple(np.round(x, 5)) for x in cube.grid().points}
    assert not any(tuple(np.round(x, 5)) in grid for x in p.points[p.source == FINE][:2000])
    shell = p.source == SHELL_SRC
    assert np.all(np.abs(p.distance[shell] - cube.boundary) <= 3 * p.delta + 1e-6)
    fit = ProbeSet.build(cube, seed=1_000_003, uniform=2000, shell=1500, fine=False)
    assert len(np.intersect1d(p.points[:, 0], fit.points[:, 0])) < 50     # different states
    # Zones: a flaw is counted beyond B + delta, the basin promised within B - delta.
    assert np.all(p.distance[p.flaw_zone] > cube.boundary + p.delta)
    assert np.all(p.distance[p.basin_zone] <= cube.boundary - p.delta)
    d, _ = nearest_support(cube, p.points[:500])
    assert np.allclose(d, cube.distance_to_support(p.points[:500]), atol=1e-5)


def test_certify_counts_flaws_beyond_the_band_and_nan_is_never_clean(cube):
    p = ProbeSet.build(cube, seed=3, uniform=3000, shell=1000, fine=False)
    high = np.ones(len(p), np.float32)
    c = p.certify(high, reference=high)
    assert c["flaws"] == int(p.flaw_zone.sum()) > 0 and c["basin_worst_loss"] == 0.0
    assert c["probes"] == len(p) and c["delta"] == pytest.approx(p.delta, abs=1e-5)
    low = np.where(p.flaw_zone, 0.0, 1.0).astype(np.float32)
    assert p.certify(low)["flaws"] == 0
    low[np.nonzero(p.flaw_zone)[0][0]] = np.nan
    assert p.certify(low)["flaws"] == 1
    hurt = high.copy()
    b = np.nonzero(p.basin_zone)[0]
    hurt[b[0]] = 0.85
    hurt[b[1]] = np.nan
    c = p.certify(hurt, reference=high, cap=0.10)
    assert c["basin_worst_loss"] == 1.0 and c["basin_over_cap"] == 2 and c["basin_lost"] == 1


def test_state_index_matches_the_dense_kernel_sum():
    rng = np.random.default_rng(0)
    states = rng.uniform(-1, 1, (3000, 3)).astype(np.float32)
    c = rng.uniform(-1, 1, (40, 3)).astype(np.float32)
    bw = rng.uniform(0.02, 0.3, 40).astype(np.float32)
    a = rng.uniform(0, 30, 40).astype(np.float32)
    dense = _dense_field(states, c, bw, a)
    assert np.allclose(StateIndex(states).field(c, bw, a), dense, atol=1e-4)
    assert np.allclose(kernel_field(states, c, bw, a), dense, atol=1e-4)
    assert np.allclose(kernel_field(states[:100], c, bw, a), dense[:100], atol=1e-4)
    index = StateIndex(states)
    assert np.array_equal(kernel_field(states, c, bw, a, index=index), index.field(c, bw, a))
    ps = PatchSet(c, bw, a, np.zeros(40, np.int64))
    more = ps.copy()
    more.extend(ps)
    assert len(more) == 80 and more.starts_with(ps) and not ps.starts_with(more)


def test_within_and_in_balls_agree_with_brute_force():
    rng = np.random.default_rng(1)
    pts = rng.uniform(-1, 1, (4000, 3))
    refs = rng.uniform(-1, 1, (200, 3))
    brute = np.sqrt(((pts[:, None] - refs[None]) ** 2).sum(-1)).min(1) <= 0.1
    assert np.array_equal(within(pts, refs, 0.1), brute)
    flags = [Flag(1, (0.2, 0.1, 0.0), 0.3), Flag(2, (-0.5, 0.5, 0.5), 0.2)]
    assert np.array_equal(in_balls(StateIndex(pts), flags), in_flags(pts.astype(np.float32), flags))


def _plane_problem():
    """Targets beyond x = 0.3 on a slab; protected states below x = 0."""
    rng = np.random.default_rng(2)
    t = rng.uniform([0.3, -0.5, -0.5], [1.0, 0.5, 0.5], (1500, 3)).astype(np.float32)
    p = rng.uniform([-0.5, -0.5, -0.5], [0.0, 0.5, 0.5], (1500, 3)).astype(np.float32)
    out = np.tile(np.float32([1, 0, 0]), (len(t), 1))
    targets = Targets(t, np.full(len(t), 0.9, np.float32), t[:, 0].copy(), out, np.ones(len(t), np.int64),
                      gap=t[:, 0].copy())
    protected = Protected(p, np.full(len(p), 0.05, np.float32))
    return targets, protected


def test_placement_keeps_every_protected_state_within_its_allowance_and_the_budget():
    targets, protected = _plane_problem()
    few = place(targets, protected, budget=5, bw_min=0.01)
    assert len(few) == 5 and few.exhausted
    full = place(targets, protected, budget=None, bw_min=0.01)
    kernels = (np.asarray(full.centers), np.asarray(full.bandwidths), np.asarray(full.amplitudes))
    assert full.covered.all() and not full.stuck.any()
    assert kernel_field(targets.points, *kernels).min() >= 0.9 - 1e-5
    assert kernel_field(protected.points, *kernels).max() <= 0.05 + 1e-6
    assert len(full) < 0.05 * len(targets.points)       # far fewer kernels than targets


def test_a_target_next_to_an_exhausted_basin_state_is_provably_unremovable():
    pts = np.float32([[0.0, 0.0, 0.0], [0.8, 0.0, 0.0]])
    targets = Targets(pts, np.float32([0.9, 0.9]), np.float32([1, 1]), np.float32([[1, 0, 0], [1, 0, 0]]),
                      np.int64([1, 1]))
    protected = Protected(np.float32([[-0.005, 0.0, 0.0]]), np.float32([0.0]))
    found = unremovable(targets, protected, targets.need, np.array([True, True]), bw_min=0.01, kernels=60)
    assert [u["target"] for u in found] == [0]
    assert found[0]["gap"] == pytest.approx(0.005, abs=1e-6)
    roomy = Protected(protected.points, np.float32([0.5]))
    assert unremovable(targets, roomy, targets.need, np.array([True, True]), bw_min=0.01, kernels=60) == []


def test_fit_states_are_not_the_probes(cube):
    fit = fit_states(cube, uniform=500, shell=500)
    probes = ProbeSet.build(cube, seed=0, uniform=500, shell=500, fine=False)
    assert not np.array_equal(fit.points[:10], probes.points[:10])
