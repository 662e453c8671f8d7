"""Phase 1 audit, unattended flywheel cycles, versions in a session, and the
policies and Gymnasium env that consume an artifact."""
from __future__ import annotations

import numpy as np
import pytest

from explorer.flywheel.audit import AuditReport, Auditor
from explorer.flywheel.pipeline import (AUTHORS, FIXED_03, CycleSettings, patch_accepted, run_cycle, run_cycles,
                                        select)
from explorer.model.landscape import Landscape
from explorer.model.flags import Flag
from explorer.refine import RefinementError, regression_check, sculpt

SMALL = CycleSettings(probe_states=2000)        # a small held-out probe set: tests stay fast


@pytest.fixture(scope="module")
def cleaned(cube, cube_model):
    """The cube after unattended cycles (accept all) until nothing is found."""
    results = run_cycles(cube_model, Landscape(cube_model, cube), 20, settings=SMALL)
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
    # A clean model yields no findings at all, on the grid.
    assert Auditor(cube).run(final).findings == []
    assert final.edits[-1]["cycle"] and final.edits[-1]["findings"]
    # Between grid points too: the held-out probes beyond B + delta are below the floor,
    # and no probe within B - delta lost more than the cap to all kernels together.
    from explorer.flywheel.pipeline import probes_for
    probes = probes_for(cube, SMALL)
    cert = probes.certify(probes.reward(final), probes.reward(cube_model), cap=0.10)
    assert cert["flaws"] == 0 and cert["basin_worst_loss"] <= 0.10 and cert["basin_lost"] == 0
    for r in results:
        assert r.metrics["kernels"] == r.kernels and r.certified["probes"] == len(probes)
        assert 0.0 <= r.certified["basin_worst_loss"] <= 1.0


def test_kernel_budget_is_honoured_and_reported(cube, cube_model):
    res = run_cycle(cube_model, Landscape(cube_model, cube), settings=CycleSettings(kernel_budget=12,
                                                                                    probe_states=2000))
    assert res.released and res.kernels == 12 == res.metrics["kernels"] == len(res.model.patches)
    assert any("kernel budget 12 used up" in m for m in res.messages)
    c = res.certified
    assert {"flaws", "basin_worst_loss", "probes", "delta"} <= set(c)
    assert c["basin_worst_loss"] <= 0.10 and res.check["certified"] == c
    assert res.model.edits[-1]["kernel_budget"] == 12
    # The findings this cycle confirmed are counted in its own version's metrics
    # (the plot's "max reward, spurious" row starts at the first released cycle).
    assert res.metrics["confirmed_findings"] == len(res.accepted) > 0
    r = res.model.reward(Landscape(res.model, cube).points)
    assert 0.0 <= res.metrics["spurious_max_reward"] <= float(r.max())
    with pytest.raises(RefinementError, match="kernel_budget"):
        CycleSettings(kernel_budget=0)


def test_the_first_cube_audit_offers_a_handful_of_regions(cube, cube_model):
    rep = Auditor(cube).run(cube_model)
    assert 3 <= rep.clusters <= 8 and rep.clusters == len(rep.regions)
    ids = {r["id"] for r in rep.regions}
    assert {f.cluster for f in rep.findings} == ids
    assert sum(r["cells"] for r in rep.regions) == rep.verified
    for r in rep.regions:
        members = [f for f in rep.findings if f.cluster == r["id"]]
        assert r["worst_reward"] == pytest.approx(max(f.score for f in members), abs=1e-6)
        assert len(r["representative"]) == 3 and r["label"]
    from explorer.flywheel.triage import Triage
    assert len(Triage(rep, 1).regions) == rep.clusters


def test_every_finding_quotes_a_reward_that_is_above_the_floor(cube, cube_model):
    """A finding found between grid points stands on a cell whose own grid reward may be
    below the floor: its evidence is then the flawed state's reward, said as such."""
    import re

    from explorer.flywheel import pipeline
    land = Landscape(cube_model, cube)
    rep = pipeline.audit(cube_model, land)
    off = 0
    for f in rep.findings:
        quoted = float(re.match(r"reward ([0-9.]+) > floor", f.reason).group(1))
        assert quoted > cube.floor, f.reason
        if "between grid points" in f.reason:
            off += 1
            at_cell = float(re.search(r"at the cell itself ([0-9.]+)", f.reason).group(1))
            assert at_cell <= cube.floor + 5e-4, f.reason
    assert off > 0              # the cube's first audit has such findings (region 3 did)


def test_ablations(cube, cube_model):
    assert CycleSettings(ablation="fixed-bandwidth").ablation == FIXED_03
    with pytest.raises(RefinementError, match="ablation"):
        CycleSettings(ablation="wide")
    base = Landscape(cube_model, cube).basin_mask().sum()
    fixed = run_cycle(cube_model, Landscape(cube_model, cube), settings=CycleSettings(ablation=FIXED_03,
                                                                                      probe_states=2000))
    assert fixed.released
    assert fixed.metrics["basin_cells"] < 0.5 * base                  # bandwidth 0.3 and no cap: the basin erodes
    authors = run_cycle(cube_model, Landscape(cube_model, cube), settings=CycleSettings(ablation=AUTHORS,
                                                                                        probe_states=2000))
    assert authors.released and authors.kernels == 60
    assert np.allclose(authors.model.patches.bandwidths, 0.05)
    assert authors.metrics["basin_cells"] == base and authors.metrics["basin_worst_cell_loss"] <= 0.10 + 1e-6
    assert authors.model.edits[-1]["ablation"] == AUTHORS


def test_the_regression_check_refuses_new_flaws_outside_the_flags(cube, cube_model):
    land = Landscape(cube_model, cube)
    before = land.reward().copy()
    wider = sculpt(cube_model, type(cube_model.psi)(cube_model.psi.l_min, cube_model.psi.l_max * 3,
                                                      cube_model.psi.k))
    land.set_model(wider, same_expertness=True)
    check = regression_check(before, land, flagged=[])
    assert not check["passed"] and check["new_flaws"] > 0
    assert any("new flaw outside the flagged regions" in r and "from the support" in r for r in check["reasons"])
    everywhere = [Flag(1, (0.0, 0.0, 0.0), 2.0)]
    check = regression_check(before, land, flagged=everywhere)
    assert check["new_flaws"] == 0 and check["new_flaws_inside_flags"] > 0
    for key in ("basin_cells_before", "basin_cells_after", "basin_retention", "basin_worst_cell_loss",
                "flaws_before", "flaws_after", "passed", "reasons"):
        assert key in check


def test_unremovable_states_end_the_cycle_and_are_not_proposed_again(cube, cube_model):
    land = Landscape(cube_model, cube)
    first = Auditor(cube).run(cube_model, land)
    cell = land.points[int(np.argmax(land.flaw_mask() * land.distance))]
    first.unremovable = [{"state": [float(v) for v in cell], "reason": "test"}]
    again = Auditor(cube).run(cube_model, land, previous=first)
    assert len(again.unremovable_left) == 1 and again.notes
    assert not any(np.allclose(f.center, cell) for f in again.findings)
    empty = AuditReport([], "norms", 0, 0.0, 0, 0, unremovable_left=again.unremovable_left)
    res = patch_accepted(cube_model, land, empty, [], SMALL)
    assert not res.released and res.stalled and res.unremovable == again.unremovable_left
    assert "provably unremovable" in res.messages[0]


def test_search_recall_compares_at_equal_budgets(cube, cube_model):
    from explorer.flywheel.recall import search_recall
    from explorer.flywheel.pipeline import probes_for
    rows = search_recall(cube_model, cube, probes_for(cube, SMALL))
    assert rows["truth"] > 0
    for name in ("audit", "grid", "random"):
        assert 0.0 <= rows[name]["recall"] <= 1.0
        assert abs(rows[name]["evaluations"] - rows["budget"]) <= 0.1 * rows["budget"]
    assert rows["audit"]["recall"] < 1.0        # the grid audit misses flaws between grid points


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


def test_on_ridge_the_policy_leaves_the_spurious_summit_for_the_climb_after_one_cycle():
    """Reward hacking made visible: before refinement value iteration heads for the
    unvisited second summit; after one unattended cycle it climbs the expert's route.
    A second, different policy (gradient ascent) is driven by the same artifacts."""
    import worlds
    from explorer.model.learning import config_for, train
    from explorer.policy.policies import GradientAscentPolicy, ValueIterationPolicy

    ridge = worlds.load("ridge")
    model = train(ridge, config_for(ridge))
    res = run_cycle(model, Landscape(model, ridge), settings=SMALL)
    assert res.released
    start = ridge.to_state(np.array([1.0, -1.0]))          # the corner beyond the second summit
    before = ValueIterationPolicy(Landscape(model, ridge)).rollout(start)
    after = ValueIterationPolicy(Landscape(res.model, ridge)).rollout(start)
    # It leaves the spurious summit for the expert's climb (the goal, or the climb just below it).
    assert before.outcome == "spurious" and after.outcome in ("goal", "basin")
    assert after.true_return > before.true_return
    ga_before = GradientAscentPolicy(model, ridge).rollout(start)
    ga_after = GradientAscentPolicy(res.model, ridge).rollout(start)
    assert ga_before.outcome == "spurious" and ga_after.outcome != "spurious"
