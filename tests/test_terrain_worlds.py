"""The built-in terrain worlds teach what their cards say: trained with the
world's own settings, each shows its flaw, and a patch removes it while the
expert's basin keeps its reward."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

import worlds
from explorer.refine.data_patch import data_patch
from explorer.model.flags import make_flags
from explorer.model.landscape import Landscape
from explorer.model.learning import config_for, train
from explorer.model.metrics import in_flags, landscape_metrics
from explorer.refine import local_patch, regression_check
from explorer.model.reward_model import RewardModel

torch.set_num_threads(1)


@dataclass
class Trained:
    world: worlds.World
    model: RewardModel
    reward: np.ndarray          # the landscape's reward before any refinement

    def landscape(self, model: RewardModel | None = None) -> Landscape:
        land = Landscape(self.model, self.world)
        if model is not None:
            land.set_model(model, same_expertness=model.expertness is self.model.expertness)
        return land


def _train(name: str) -> Trained:
    w = worlds.load(name)
    m = train(w, config_for(w))          # the world's own [model] settings, seeded
    return Trained(w, m, Landscape(m, w).reward())


@pytest.fixture(scope="module")
def ridge() -> Trained:
    return _train("ridge")


@pytest.fixture(scope="module")
def canyon() -> Trained:
    return _train("canyon")


@pytest.fixture(scope="module")
def twin() -> Trained:
    return _train("twin-goals")


def _flags(center, radius):
    return make_flags([(tuple(float(v) for v in center), float(radius))])


def _lifted(world: worlds.World, xy) -> np.ndarray:
    return world.to_state(np.asarray(xy, dtype=float)[None])[0]


def _hazard(t: Trained, name: str) -> tuple[worlds.Region, np.ndarray]:
    land = t.landscape()
    hz = next(h for h in t.world.hazards if h.name == name)
    return hz, hz.contains(land.points)


def _patched(t: Trained, flags) -> tuple[Landscape, dict, dict]:
    land = t.landscape()
    child, _ = local_patch(t.model, land, flags)
    land.set_model(child, same_expertness=True)
    return land, regression_check(t.reward, land), landscape_metrics(land, t.reward, flags)


# ---------------------------------------------------------------- all three
@pytest.mark.parametrize("name", ["ridge", "canyon", "twin"])
def test_the_expert_samples_score_high_and_the_landscape_has_a_basin_and_flaws(name, request):
    t: Trained = request.getfixturevalue(name)
    assert t.model.reward(t.world.expert_samples()).min() >= 0.9
    land = t.landscape()
    assert land.basin_mask(t.reward).sum() > 100
    assert land.flaw_mask(t.reward).sum() > 100
    # the goals are reached by the expert, so they sit in high reward
    for g in t.world.goals:
        assert t.reward[g.contains(land.points)].mean() >= 0.7


# ---------------------------------------------------------------- ridge
def _beyond_the_chasm(t: Trained) -> np.ndarray:
    """Cells on the far side of the chasm, along the continuation of the expert's
    climb, and farther than B from the support: where no expert ever was."""
    land = t.landscape()
    chasm = next(h for h in t.world.hazards if h.name == "chasm")
    e = t.world.expert_samples()
    d = (e[-1, :2] - e[0, :2]) / np.linalg.norm(e[-1, :2] - e[0, :2])
    rel = land.points[:, :2] - np.asarray(chasm.center)
    along = rel @ d
    across = np.abs(rel @ np.array([-d[1], d[0]]))
    return (along > chasm.radius) & (across < 0.25) & (land.distance > t.world.boundary)


def _second_summit(t: Trained) -> np.ndarray:
    """The highest ground beyond the chasm (the card's second summit)."""
    land = t.landscape()
    region = _beyond_the_chasm(t)
    return land.points[np.flatnonzero(region)[np.argmax(land.points[region, 2])]]


def _ridge_flag(t: Trained):
    return _flags(_second_summit(t), 0.4)


def test_ridge_extrapolates_the_climb_across_the_chasm_to_the_second_summit(ridge):
    land = ridge.landscape()
    region = _beyond_the_chasm(ridge)
    r = ridge.reward[region]
    assert region.sum() > 100
    assert r.max() >= 0.7                           # nearly as high as the expert's route
    assert (r >= 0.5).sum() >= 100                  # a clear region, not a stray cell
    # ... up to the second summit: the highest ground beyond the chasm scores
    # high too, though no expert was ever there.
    summit2 = _second_summit(ridge)
    near = np.linalg.norm(land.points[:, :2] - summit2[:2], axis=1) < 0.2
    assert ridge.reward[near].max() >= 0.5
    assert np.all(land.violates[region])            # every such cell is a flaw if above the floor
    # the chasm itself, which the climb's straight line flies over, is lower
    _, chasm = _hazard(ridge, "chasm")
    assert ridge.reward[chasm].mean() < 0.6 * r.max()


def test_ridge_local_patch_on_the_second_summit_removes_it_and_keeps_the_basin(ridge):
    flags = _ridge_flag(ridge)
    land, check, metrics = _patched(ridge, flags)
    assert metrics["flag_max_reward"] <= ridge.world.floor
    assert check["passed"] and check["basin_retention"] >= 0.9
    assert check["basin_cells_after"] >= check["basin_cells_before"]
    assert check["flaws_after"] < check["flaws_before"]
    assert metrics["expert_min_reward"] >= 0.9
    # the high region beyond the chasm is gone, not just the flag's centre (a flag
    # is a ball: a few flank cells outside it may stay, lower than before)
    region = _beyond_the_chasm(ridge)
    high_before = (ridge.reward[region] >= 0.5).sum()
    high_after = (land.reward()[region] >= 0.5).sum()
    assert high_after <= 0.5 * high_before


def test_ridge_data_patch_lowers_the_second_summit_too(ridge):
    flags = _ridge_flag(ridge)
    land = ridge.landscape()
    before = ridge.reward[in_flags(land.points, flags)].max()
    child = data_patch(ridge.model, land, flags)
    land.set_model(child)
    after = land.reward()
    assert after[in_flags(land.points, flags)].max() <= min(ridge.world.floor, 0.1 * before)
    assert regression_check(ridge.reward, land)["basin_retention"] >= 0.9
    assert child.reward(ridge.world.expert_samples()).min() >= 0.9


# ---------------------------------------------------------------- canyon
def test_canyon_quicksand_next_to_the_trail_is_high_and_every_cell_of_it_a_flaw(canyon):
    land = canyon.landscape()
    hz, inside = _hazard(canyon, "quicksand")
    assert inside.sum() > 50
    # right next to the trail: beyond B, but within a couple of B
    assert canyon.world.boundary < land.distance[inside].min() < 0.25
    r = canyon.reward[inside]
    assert r.max() >= 0.7 and r.mean() >= 0.35
    flaws = land.flaw_mask(canyon.reward)
    assert flaws[inside].mean() >= 0.9
    # it is a flaw by the avoid-region norm (not only by distance)
    avoid = canyon.world.norm_violations(land.points)["avoid quicksand"]
    assert np.array_equal(avoid, inside)


def test_canyon_local_patch_on_the_quicksand_removes_it_and_keeps_the_trail(canyon):
    hz, inside = _hazard(canyon, "quicksand")
    flags = _flags(_lifted(canyon.world, hz.center), 0.25)
    land, check, metrics = _patched(canyon, flags)
    after = land.reward()
    assert after[inside].max() <= canyon.world.floor
    assert not land.flaw_mask(after)[inside].any()
    assert check["passed"] and check["basin_retention"] >= 0.9
    assert metrics["expert_min_reward"] >= 0.9


# ---------------------------------------------------------------- twin-goals
def test_twin_goals_keeps_both_modes_and_blends_them_over_the_crevasses(twin):
    land = twin.landscape()
    basin = land.basin_mask(twin.reward)
    for g in twin.world.goals:                          # each mode has its own arm of the basin
        assert (basin & g.contains(land.points)).sum() > 20
    hz, inside = _hazard(twin, "crevasses")
    assert np.all(land.distance[inside] > twin.world.boundary)     # no expert support at all
    assert twin.reward[inside].max() >= 0.7
    assert land.flaw_mask(twin.reward)[inside].mean() >= 0.9


def test_twin_goals_patch_on_the_crevasses_keeps_both_peaks(twin):
    hz, inside = _hazard(twin, "crevasses")
    flags = _flags(_lifted(twin.world, hz.center), hz.radius + 0.05)
    land, check, metrics = _patched(twin, flags)
    after = land.reward()
    assert after[inside].max() <= twin.world.floor
    assert check["passed"] and check["basin_retention"] >= 0.9
    for g in twin.world.goals:
        cells = g.contains(land.points)
        assert after[cells].sum() >= 0.9 * twin.reward[cells].sum()
