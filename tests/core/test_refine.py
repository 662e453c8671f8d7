"""Phase 3 refinement: a local patch removes the spurious region, the basin keeps
its reward, data-driven patching lowers it too and keeps the expert's ranking."""
from __future__ import annotations

import numpy as np
import pytest

from explorer.refine.data_patch import DataDrivenPatch, data_patch
from explorer.model.flags import make_flags
from explorer.model.landscape import Landscape
from explorer.model.metrics import in_flags, spearman
from explorer.refine import RefinementError, local_patch, regression_check
from explorer.refine.regression import expert_rank_correlation


def _flags(center, radius=0.5):
    return make_flags([(center, radius)])


def test_local_patch_removes_the_flagged_region_and_keeps_the_basin(cube, cube_model, spurious_center):
    land = Landscape(cube_model, cube)
    before = land.reward()
    flags = _flags(spurious_center)
    inside = in_flags(land.points, flags)
    assert before[inside].max() > 0.5                  # it really was high
    new, report = local_patch(cube_model, land, flags)
    land.set_model(new, same_expertness=True)
    after = land.reward()
    assert after[inside].max() <= cube.floor
    check = regression_check(before, land)
    assert check["passed"], check
    assert check["basin_retention"] >= 0.9
    assert check["basin_worst_cell_loss"] <= 0.10 + 1e-6
    assert check["basin_cells_after"] == check["basin_cells_before"]
    assert check["flaws_after"] < check["flaws_before"]
    assert report.kernels_added == len(new.patches) > 0
    assert cube_model.patches.centers.shape[0] == 0     # the input model is untouched
    assert new.edits[-1]["op"] == "local_patch"


def test_one_patch_batch_over_the_whole_cube(cube, cube_model):
    """The authors' demo in one batch: flag everything, the cap protects the basin."""
    land = Landscape(cube_model, cube)
    before = land.reward()
    new, report = local_patch(cube_model, land, _flags((0.0, 0.0, 0.0), 2.0))
    land.set_model(new, same_expertness=True)
    check = regression_check(before, land)
    assert check["passed"]
    assert check["flaws_after"] < 0.1 * check["flaws_before"]
    assert report.refused                                # cells next to the basin cannot be patched


def test_a_flag_inside_the_basin_is_refused_with_a_reason(cube, cube_model):
    sample = tuple(float(v) for v in cube.expert_samples()[10])
    land = Landscape(cube_model, cube)
    with pytest.raises(RefinementError, match="basin"):
        local_patch(cube_model, land, _flags(sample, 0.1))


def test_empty_flags_and_flags_with_no_effect_get_clear_messages(cube, cube_model, spurious_center):
    land = Landscape(cube_model, cube)
    with pytest.raises(RefinementError, match="no flags"):
        local_patch(cube_model, land, [])
    tiny = _flags((0.013, 0.011, 0.017), 0.001)          # smaller than the grid spacing
    with pytest.raises(RefinementError, match="no grid cell"):
        local_patch(cube_model, land, tiny)


def test_data_driven_patching_lowers_the_region_and_keeps_the_ranking(cube, cube_model, spurious_center):
    land = Landscape(cube_model, cube)
    before = land.reward()
    flags = _flags(spurious_center)
    inside = in_flags(land.points, flags)
    new = data_patch(cube_model, land, flags)
    land.set_model(new)
    after = land.reward()
    assert after[inside].max() <= cube.floor
    assert expert_rank_correlation(cube_model, new) >= 0.95
    check = regression_check(before, land)
    assert check["passed"], check
    assert len(new.negatives) > 0 and new.edits[-1]["op"] == "data_patch"
    assert new.architecture.experts == cube_model.architecture.experts + 1


def test_data_driven_patching_can_stop_early_and_keeps_the_last_good_state(cube, cube_model, spurious_center):
    land = Landscape(cube_model, cube)
    job = DataDrivenPatch(cube_model, land, _flags(spurious_center))
    steps = job.steps(report_every=10)
    seen = [next(steps), next(steps)]
    steps.close()                                          # the user pressed Stop
    model = job.result()
    assert model.edits[-1]["steps"] == seen[-1].step == 20
    r = model.reward(land.points)
    assert np.isfinite(r).all()
    assert r[in_flags(land.points, job.flags)].max() <= land.reward()[in_flags(land.points, job.flags)].max() + 1e-6


def test_data_driven_divergence_rolls_back(cube, cube_model, spurious_center):
    land = Landscape(cube_model, cube)
    job = DataDrivenPatch(cube_model, land, _flags(spurious_center), lr=1e30, steps=50)
    reports = list(job.steps())
    model = job.result()
    assert "rolled back" in job.message
    assert reports[-1].done
    assert np.isfinite(model.reward(land.points)).all()


def test_rank_helpers():
    assert spearman(np.array([1, 2, 3.0]), np.array([10, 20, 30.0])) == pytest.approx(1.0)
    assert spearman(np.array([1, 2, 3.0]), np.array([3, 2, 1.0])) == pytest.approx(-1.0)
