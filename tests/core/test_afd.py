"""Alignment from Demonstrations: the tailored Init-SFT reward model wins Best-of-N,
forward KL covers both modes of twin-goals and reverse KL locks onto one, and
discriminator reward models are artifacts the flywheel can audit and patch."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import worlds
from explorer.lessons import afd
from explorer.model import artifact
from explorer.lessons.afd_divergence import fit_divergence
from explorer.lessons.afd_routes import route_true_reward, states_of
from explorer.model.artifact import ArtifactError
from explorer.flywheel.pipeline import run_cycle
from explorer.model.landscape import Landscape

SEEDS = (0, 1, 2)
DEMO_BASED = ("init-demo", "sft-demo")


@pytest.fixture(scope="module")
def setups(cube):
    return {seed: afd.setup(cube, seed) for seed in SEEDS}


@pytest.fixture(scope="module")
def twin():
    return worlds.load("twin-goals")


@pytest.mark.parametrize("seed", SEEDS)
def test_init_sft_best_of_16_beats_the_demonstration_based_reward_models(cube, setups, seed):
    st = setups[seed]
    at16 = {rm: afd.run_afd(cube, rm, (1, 16), seed, st)["best_of_n"] for rm in afd.RM_NAMES}
    n1 = {rows[0]["true_reward"] for rows in at16.values()}
    assert len(n1) == 1                             # N = 1 is the SFT policy, whatever the scorer
    score = {rm: rows[1]["true_reward"] for rm, rows in at16.items()}
    for other in DEMO_BASED:
        assert score["init-sft"] > score[other], score
    assert score["init-sft"] > n1.pop()             # selection by Init-SFT helps
    assert score["closed-form"] > max(score[o] for o in DEMO_BASED)   # the sanity baseline agrees


def test_demonstration_style_is_what_sft_demo_learns(cube, setups):
    """The policy class cannot zig-zag: demonstrations and SFT samples are told
    apart state by state, although SFT keeps the demonstrator's plan."""
    st = setups[0]
    model = afd.reward_model(cube, "sft-demo", 0, st)
    demo = afd.route_scores(model, st.data["demo"])
    sft = afd.route_scores(model, st.data["sft"])
    assert np.mean(demo > np.median(sft)) > 0.9
    planned = route_true_reward(cube, states_of(cube, st.family, st.demos.theta)).mean()
    assert abs(route_true_reward(cube, st.data["sft"]).mean() - planned) < 0.1


def test_results_are_json_and_deterministic(cube, setups):
    a = afd.run_afd(cube, "init-sft", afd.BON_NS, 0, setups[0])
    json.dumps(a, allow_nan=False)
    assert [r["n"] for r in a["best_of_n"]] == list(afd.BON_NS)
    assert len(a["samples"]) == max(afd.BON_NS) and set(a["chosen"]) == {str(n) for n in afd.BON_NS}
    b = afd.run_afd(cube, "init-sft", afd.BON_NS, 0, afd.setup(cube, 0))
    assert a["best_of_n"] == b["best_of_n"]
    with pytest.raises(ValueError, match="reward model"):
        afd.run_afd(cube, "demo-demo", seed=0, setup_=setups[0])


@pytest.mark.parametrize("seed", SEEDS)
def test_forward_kl_covers_both_modes_and_reverse_kl_locks_onto_one(twin, seed):
    forward = fit_divergence(twin, "forward", seed)
    reverse = fit_divergence(twin, "reverse", seed)
    assert len(forward["masses"]) == 2
    assert min(forward["masses"].values()) >= 0.30, forward["masses"]
    assert reverse["max_mass"] >= 0.90, reverse["masses"]
    # Covering both modes means walking up the middle: through the crevasses.
    assert forward["hazard_fraction"] > reverse["hazard_fraction"]
    json.dumps(forward, allow_nan=False)
    json.dumps(reverse, allow_nan=False)


@pytest.mark.parametrize("rm", ["init-demo", "closed-form"])
def test_a_discriminator_reward_model_round_trips_bit_exactly(tmp_path, cube, setups, rm):
    model = afd.reward_model(cube, rm, 0, setups[0])
    back = artifact.load(artifact.save(model, tmp_path / rm))
    assert type(back.expertness) is type(model.expertness)
    for (k, v), (k2, v2) in zip(model.expertness.state_dict().items(), back.expertness.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    pts = cube.grid().points
    assert np.array_equal(back.reward(pts), model.reward(pts))
    assert np.array_equal(back.expertness.disagreement_np(pts), model.expertness.disagreement_np(pts))
    meta = json.loads((tmp_path / rm / "artifact.json").read_text())
    assert meta["architecture"]["kind"] in ("discriminator-mlp", "occupancy-ratio")
    assert back.edits == json.loads(json.dumps(model.edits))


def test_served_reward_is_the_sigmoid_of_the_logit(cube, setups):
    model = afd.reward_model(cube, "init-sft", 0, setups[0])
    pts = cube.grid().points
    logit = model.expertness.logit_np(pts).astype(np.float64)
    assert np.allclose(model.reward(pts), 1 / (1 + np.exp(-logit)), atol=1e-5)


def test_the_flywheel_audits_and_patches_a_discriminator(tmp_path, cube, setups):
    model = afd.reward_model(cube, "init-demo", 0, setups[0])
    cycle = run_cycle(model, Landscape(model, cube))
    assert cycle.audit.findings, "a demonstration-vs-initial discriminator extrapolates somewhere"
    assert cycle.released and len(cycle.model.patches) > 0
    assert cycle.metrics["flaws"] < cycle.metrics["reference_flaws"]
    back = artifact.load(artifact.save(cycle.model, tmp_path / "patched"))
    pts = cube.grid().points
    assert np.array_equal(back.reward(pts), cycle.model.reward(pts))
    # Best-of-N can score with the patched, served reward.
    res = afd.run_afd(cube, "init-demo", (1, 16), 0, setups[0], model=back)
    assert res["served"] and len(res["best_of_n"]) == 2


def _edit_meta(directory, fn):
    meta = json.loads((directory / "artifact.json").read_text())
    fn(meta)
    (directory / "artifact.json").write_text(json.dumps(meta))


def test_an_unknown_architecture_kind_is_refused(tmp_path, cube, setups):
    d = artifact.save(afd.reward_model(cube, "init-sft", 0, setups[0]), tmp_path / "a")
    _edit_meta(d, lambda m: m["architecture"].update(kind="transformer"))
    with pytest.raises(ArtifactError, match="architecture.kind.*moe-autoencoder.*discriminator-mlp"):
        artifact.load(d)


def test_a_discriminator_whose_shapes_do_not_match_is_refused(tmp_path, cube, setups):
    d = artifact.save(afd.reward_model(cube, "init-sft", 0, setups[0]), tmp_path / "a")
    _edit_meta(d, lambda m: m["architecture"].update(hidden=m["architecture"]["hidden"] + 1))
    with pytest.raises(ArtifactError, match="shape"):
        artifact.load(d)
    d2 = artifact.save(afd.reward_model(cube, "init-sft", 0, setups[0]), tmp_path / "b")
    _edit_meta(d2, lambda m: m["architecture"].update(kind="moe-autoencoder", experts=3, bottleneck=1))
    with pytest.raises(ArtifactError, match="expertness"):
        artifact.load(d2)


def test_a_closed_form_with_a_broken_covariance_is_refused(tmp_path, cube, setups):
    import hashlib

    from safetensors.numpy import load as st_load, save as st_save
    d = artifact.save(afd.reward_model(cube, "closed-form", 0, setups[0]), tmp_path / "a")
    tensors = dict(st_load((d / "weights.safetensors").read_bytes()))
    chol = tensors["expertness.pos_chol"].copy()
    chol[0, 0, 0] = -1.0
    tensors["expertness.pos_chol"] = chol
    blob = st_save(tensors)
    (d / "weights.safetensors").write_bytes(blob)
    _edit_meta(d, lambda m: m["weights"].update(sha256=hashlib.sha256(blob).hexdigest()))
    with pytest.raises(ArtifactError, match="positive diagonal"):
        artifact.load(d)


@pytest.mark.parametrize("rm", ["init-sft", "closed-form"])
def test_the_audit_reads_a_discriminator_through_its_codes(cube, setups, rm):
    from explorer.flywheel.audit import Auditor
    model = afd.reward_model(cube, rm, 0, setups[0])
    x = torch.linspace(-1, 1, 30).reshape(10, 3)
    codes = model.expertness.codes(x)
    assert codes.shape[0] == 10 and torch.isfinite(codes).all()
    # The norm-free audit measures novelty in this representation: it must run.
    report = Auditor(cube, use_norms=False).run(model)
    assert report.mode == "norm-free" and report.evaluations > 0
