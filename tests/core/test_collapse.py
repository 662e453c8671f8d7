"""Alignment collapse and FPO (arXiv 2605.04266): the linear environment reproduces the
published run; in the cube, myopic iterative RLHF collapses and FPO-relaxed does not.

Tolerance for the published figures: they are printed to two or three significant
figures (about 6, 3.9, 9.8, 5.5, 1.65, 0.17) and read off plots for the peak's iteration
("around 100"). We allow +-3% relative on values (our runs differ from them by under
1.1%, i.e. within the rounding of the printed numbers) and +-10 iterations on the peak.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import worlds
from explorer.lessons import collapse
from explorer.lessons.collapse_linear import (param_grad_sq_norm, param_grad_sq_norm_func,
                                           steering_penalty)

REL = 0.03


def close(measured: float, published: float, rel: float = REL) -> bool:
    return abs(measured - published) <= rel * abs(published)


@pytest.fixture(scope="module")
def linear_runs():
    return {arm: collapse.run_linear(arm) for arm in collapse.ARMS}


@pytest.fixture(scope="module")
def cube_arms(cube):
    return collapse.compare_arms(cube, seeds=5)


# ---- the linear environment against the published figures ----------------------
def test_linear_myopic_rlhf_peaks_near_6_around_100_then_settles_near_3_9(linear_runs):
    s = collapse.linear_summary(linear_runs["myopic"])
    pub = collapse.PUBLISHED_LINEAR["myopic"]
    assert close(s["peak_utility"], pub["peak_utility"]), s
    assert abs(s["peak_iteration"] - pub["peak_iteration"]) <= 10, s
    assert close(s["final_utility"], pub["final_utility"]), s
    assert close(s["final_noise"], pub["final_noise"]), s


def test_linear_fpo_relaxed_reaches_9_8_with_noise_0_17(linear_runs):
    s = collapse.linear_summary(linear_runs["relaxed"])
    pub = collapse.PUBLISHED_LINEAR["relaxed"]
    assert close(s["final_utility"], pub["final_utility"]), s
    assert close(s["final_noise"], pub["final_noise"]), s


def test_linear_fpo_practical_settles_near_5_5(linear_runs):
    s = collapse.linear_summary(linear_runs["practical"])
    assert close(s["final_utility"], collapse.PUBLISHED_LINEAR["practical"]["final_utility"]), s


def test_linear_arms_rank_relaxed_over_practical_over_myopic(linear_runs):
    final = {a: r["true_utility"][-1] for a, r in linear_runs.items()}
    assert final["relaxed"] > final["practical"] > final["myopic"]
    assert linear_runs["relaxed"]["noise_norm"][-1] < 0.2 * linear_runs["myopic"]["noise_norm"][-1]


def test_linear_proxy_stays_close_to_truth_where_the_policy_stands(linear_runs):
    r = linear_runs["myopic"]
    gap = np.abs(r["proxy_reward"] - r["true_utility"])[-100:]
    assert gap.max() < 0.1


# ---- the steering penalty -----------------------------------------------------------
def test_steering_size_of_a_linear_reward_model_is_the_squared_action():
    torch.manual_seed(0)
    rm = nn.Linear(50, 1, bias=False).double()
    y = torch.randn(7, 50, dtype=torch.float64)
    g = param_grad_sq_norm(rm, y)
    assert torch.allclose(g, y.pow(2).sum(1))
    proxy, u = rm(y).detach().reshape(-1), torch.rand(7, dtype=torch.float64)
    assert torch.allclose(steering_penalty("relaxed", proxy, u, g), (proxy - u) * y.pow(2).sum(1))
    assert torch.allclose(steering_penalty("practical", proxy, None, g), y.pow(2).sum(1))
    assert torch.all(steering_penalty("myopic", proxy, None, g) == 0)


def test_fast_steering_size_matches_torch_func_for_an_mlp():
    torch.manual_seed(1)
    for rm in (nn.Sequential(nn.Linear(11, 32), nn.Tanh(), nn.Linear(32, 1)).double(),
               nn.Sequential(nn.Linear(4, 8), nn.Softplus(), nn.Linear(8, 8, bias=False),
                             nn.Tanh(), nn.Linear(8, 1)).double()):
        x = torch.randn(12, rm[0].in_features, dtype=torch.float64)
        assert torch.allclose(param_grad_sq_norm(rm, x), param_grad_sq_norm_func(rm, x))


def test_relaxed_cap_bounds_the_anticipated_correction():
    proxy, u = torch.tensor([5.0, 1.0]), torch.tensor([2.0, 4.0])
    g = torch.tensor([30.0, 30.0])
    pen = steering_penalty("relaxed", proxy, u, g, cap=10.0)
    assert torch.allclose(proxy - 0.1 * pen, u)       # lambda g capped at 1: score -> U


def test_unknown_arm_is_refused(cube):
    with pytest.raises(ValueError, match="arm"):
        collapse.run_linear("exact")
    with pytest.raises(ValueError, match="arm"):
        collapse.run_world(cube, "greedy", rounds=2)


# ---- the 3D world (seed means over 5 seeds, the cube) -------------------------------
def test_world_myopic_utility_rises_then_falls_while_distractors_grow(cube_arms):
    m = cube_arms["myopic"]["mean"]
    u, z = m["true_utility"], m["noise_norm"]
    peak = int(np.argmax(u))
    assert u[peak] > u[0] + 3.0                      # it rises (0.27 -> 7.9 at round 144)
    assert peak <= len(u) - 101                      # ... peaks with 100+ rounds still to go
    assert u[peak] - u[-1] > 0.1 * u[peak]           # ... then falls (-> 6.5 at round 300)
    assert z[peak] > z[0] + 0.3 and z[-1] > z[peak] + 0.2   # distractors keep growing
    # retraining on its own samples first *reinforces* the RM's distractor slope
    assert m["rm_noise_norm"].max() > 2.0 * m["rm_noise_norm"][0]
    # and the proxy at the policy stays close to the truth there
    assert np.abs(m["proxy_reward"] - u)[-100:].max() < 0.5


def test_world_fpo_relaxed_keeps_true_utility_high(cube_arms):
    rel, myo = cube_arms["relaxed"]["mean"], cube_arms["myopic"]["mean"]
    assert rel["true_utility"][-1] > 9.0
    assert rel["true_utility"][-1] > myo["true_utility"][-1] + 2.0
    assert rel["noise_norm"][-1] < 0.25 * myo["noise_norm"][-1]
    assert cube_arms["relaxed"]["min"]["true_utility"][-1] > cube_arms["myopic"]["max"]["true_utility"][-1]


def test_world_fpo_practical_ends_above_myopic(cube_arms):
    assert (cube_arms["practical"]["mean"]["true_utility"][-1]
            > cube_arms["myopic"]["mean"]["true_utility"][-1] + 0.5)


def test_world_seed_statistics_have_one_entry_per_round(cube_arms):
    st = cube_arms["myopic"]
    assert st["seeds"] == [0, 1, 2, 3, 4]
    for key in collapse.METRICS + ("goal_distance", "world_reward"):
        assert st["mean"][key].shape == (301,)
        assert np.all(st["min"][key] <= st["mean"][key] + 1e-12)
        assert np.all(st["mean"][key] <= st["max"][key] + 1e-12)
    assert st["positions"].shape == (5, 301, 3)


def test_world_run_gives_path_landscapes_and_a_reloadable_reward_model(cube):
    run = collapse.run_world(cube, "myopic", rounds=20, seed=3, snapshot_rounds=(0, 10, 20))
    assert run["positions"].shape == (21, 3)
    assert np.all(run["positions"] >= cube.bounds_min - 1e-9)
    assert np.all(run["positions"] <= cube.bounds_max + 1e-9)
    grid = cube.grid()
    assert run["landscapes"].shape == (3, grid.size)
    assert run["utility_landscapes"].shape == (3, grid.size)
    reloaded = json.loads(json.dumps(collapse.as_json(run)))
    r = collapse.reward_on(cube, reloaded, grid.points)
    assert np.allclose(r, run["landscapes"][-1], atol=1e-5)


def test_runs_are_deterministic_for_a_seed(cube):
    a = collapse.run_world(cube, "practical", rounds=15, seed=2)
    b = collapse.run_world(cube, "practical", rounds=15, seed=2)
    assert np.array_equal(a["true_utility"], b["true_utility"])
    assert not np.array_equal(a["true_utility"], collapse.run_world(cube, "practical", rounds=15,
                                                                  seed=4)["true_utility"])


def test_linear_seeds_give_a_band_and_seed_0_is_the_published_run(linear_runs):
    st = collapse.run_seeds("myopic", seeds=3)
    assert st["kind"] == "linear" and st["mean"]["true_utility"].shape == (301,)
    assert np.array_equal(st["per_seed"]["true_utility"][0], linear_runs["myopic"]["true_utility"])
    assert np.any(st["max"]["true_utility"] > st["min"]["true_utility"])
    json.dumps(collapse.as_json(st))


TERRAIN = b"""
schema_version = 1
name = "test-hill"
kind = "terrain"
[bounds]
min = [-1.0, -1.0, -0.5]
max = [1.0, 1.0, 1.0]
[terrain]
base = 0.0
[[terrain.features]]
kind = "hill"
center = [0.5, 0.5]
height = 0.6
width = 0.4
[[goals]]
name = "top"
center = [0.5, 0.5]
radius = 0.25
[[goals]]
name = "other"
center = [-0.7, 0.6]
radius = 0.2
[expert]
samples = 20
[[expert.routes]]
kind = "polyline"
points = [[-0.9, -0.9], [0.5, 0.5]]
"""


def test_terrain_world_policy_walks_on_the_ground_and_relaxed_stays_high():
    world = worlds.parse_bytes(TERRAIN, "test")
    run = collapse.run_world(world, "relaxed", rounds=120, seed=0, snapshot_rounds=(120,))
    pos = run["positions"]
    assert np.allclose(pos[:, 2], world.terrain.height(pos[:, :2]))
    assert run["landscapes"].shape == (1, world.grid().size)
    assert run["true_utility"][-1] > 9.0


def test_relaxed_cap_keeps_a_large_lambda_from_running_away():
    world = worlds.parse_bytes(TERRAIN, "test")
    capped = collapse.WorldLoop(cap_relaxed=True)
    run = collapse.run_world(world, "relaxed", seed=0, lam=0.3, config=capped, snapshot_rounds=())
    assert run["true_utility"][-1] > 9.5


@pytest.mark.parametrize("name", [n for n in worlds.available() if n != "cube"])
def test_other_built_in_worlds_run(name):
    world = worlds.load(name)
    run = collapse.run_world(world, "myopic", rounds=10, seed=0, snapshot_rounds=())
    assert run["positions"].shape == (11, 3) and np.all(np.isfinite(run["true_utility"]))
