"""Phase 1 audit, unattended flywheel cycles, versions in a session, and the
policies and Gymnasium env that consume an artifact."""
from __future__ import annotations

import numpy as np
import pytest

from explorer.flywheel.audit import Auditor
from explorer.flywheel.pipeline import CycleSettings, run_cycle, run_cycles, select
from explorer.model.landscape import Landscape
from explorer.refine import RefinementError


@pytest.fixture(scope="module")
def cleaned(cube, cube_model):
    """The cube after unattended cycles (accept all) until nothing is found."""
    results = run_cycles(cube_model, Landscape(cube_model, cube), 10)
    released = [r for r in results if r.released]
    return results, released[-1].model


def test_audit_finds_the_spurious_region_in_its_top_clusters(cube, cube_model, spurious_center):
    for use_norms in (True, False):
        rep = Auditor(cube, use_norms=use_norms).run(cube_model)
        reps = rep.cluster_representatives()[:3]
        assert reps, rep.mode
        cells = [f for f in rep.findings if f.cluster in {r.cluster for r in reps}]
        assert any(np.linalg.norm(np.subtract(f.center, spurious_center)) <= f.radius for f in cells), rep.mode
        assert rep.evaluations >= rep.verified > 1000
        if use_norms:
            assert all("boundary 0.34" in f.reason for f in rep.findings)
        else:
            assert all(f.kind == "novelty" for f in rep.findings)


def test_audit_is_deterministic(cube, cube_model):
    a = Auditor(cube, seed=3).run(cube_model)
    b = Auditor(cube, seed=3).run(cube_model)
    assert [f.to_dict() for f in a.findings] == [f.to_dict() for f in b.findings]


def test_unattended_cycles_drive_flaws_to_zero_and_keep_the_basin(cube, cube_model, cleaned):
    results, final = cleaned
    land = Landscape(final, cube)
    assert land.flaw_mask().sum() == 0
    assert land.basin_mask().sum() == Landscape(cube_model, cube).basin_mask().sum()
    assert all(r.check.get("passed", True) for r in results if r.released)
    assert not results[-1].accepted                       # the last audit found nothing
    # A clean model yields no findings at all.
    assert Auditor(cube).run(final).findings == []
    assert final.edits[-1]["cycle"] and final.edits[-1]["findings"]


def test_fixed_bandwidth_ablation_erodes_the_basin(cube, cube_model):
    res = run_cycle(cube_model, Landscape(cube_model, cube), settings=CycleSettings(ablation="fixed-bandwidth"))
    assert res.released
    assert res.metrics["basin_cells"] < 0.5 * Landscape(cube_model, cube).basin_mask().sum()


def test_accept_parsing():
    class A:
        findings = list(range(5))
    assert select(A, "top:2") == [0, 1] and select(A, "all") == list(range(5))
    for bad in ("top:x", "top:0", "some"):
        with pytest.raises(RefinementError):
            select(A, bad)


def test_policies_and_gym_env_reuse_the_artifact(cube, cube_model, cleaned):
    from gymnasium.utils.env_checker import check_env

    from explorer.policy.gym_env import RewardWorldEnv
    from explorer.policy.policies import GradientAscentPolicy, RuntimeGate, ValueIterationPolicy

    _, final = cleaned
    check_env(RewardWorldEnv(cube, final), skip_render_check=True)
    env = RewardWorldEnv(cube, final)
    obs, _ = env.reset(seed=0, options={"start": cube.expert_samples()[3]})
    _, r, term, trunc, info = env.step(np.zeros(3, np.float32))
    assert r >= 0.9 and not term and "true_reward" in info
    start = np.array([0.9, -0.9, 0.9])
    for model in (cube_model, final):
        vi = ValueIterationPolicy(Landscape(model, cube)).rollout(start)
        assert vi.outcome in ("basin", "goal") and vi.rewards[-1] >= 0.9
        ga = GradientAscentPolicy(model, cube).rollout(cube.expert_samples()[3] + 0.05)
        assert len(ga.path) >= 1 and np.isfinite(ga.rewards).all()
    gate = RuntimeGate(final)
    assert list(gate.check(np.array([start, cube.expert_samples()[5]]))) == ["block", "allow"]


def test_on_ridge_the_policy_leaves_the_spurious_summit_for_the_goal_after_one_cycle():
    """Reward hacking made visible: before refinement value iteration heads for the
    unvisited second summit; after one unattended cycle it reaches the real goal.
    A second, different policy (gradient ascent) is driven by the same artifacts."""
    import worlds
    from explorer.model.learning import config_for, train
    from explorer.policy.policies import GradientAscentPolicy, ValueIterationPolicy

    ridge = worlds.load("ridge")
    model = train(ridge, config_for(ridge))
    res = run_cycle(model, Landscape(model, ridge))
    assert res.released
    start = ridge.to_state(np.array([1.0, -1.0]))          # the corner beyond the second summit
    before = ValueIterationPolicy(Landscape(model, ridge)).rollout(start)
    after = ValueIterationPolicy(Landscape(res.model, ridge)).rollout(start)
    assert before.outcome == "spurious" and after.outcome == "goal"
    assert after.true_return > before.true_return
    ga_before = GradientAscentPolicy(model, ridge).rollout(start)
    ga_after = GradientAscentPolicy(res.model, ridge).rollout(start)
    assert ga_before.outcome == "spurious" and ga_after.outcome != "spurious"
