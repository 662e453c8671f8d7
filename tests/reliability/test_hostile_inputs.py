"""A hostile-input corpus, generated at test time (no large files are checked in).

Every case is one a tester handed the program: an artifact whose rewards are NaN
though every value in it is "valid", files nested 100,000 deep, a 100 MB
metadata file, worlds whose surface is NaN at one point. Each must be refused
with one line that names the file and the field or limit; none may crash with a
traceback, and no model with a non-finite reward may be shown or audited as clean.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

import worlds
from explorer.flywheel.audit import Auditor
from explorer.model import artifact
from explorer.model.errors import ModelError, NonFiniteReward
from explorer.model.expertness import Architecture, MoEAutoencoder
from explorer.model.finite import prove_finite
from explorer.model.flags import load_flags
from explorer.model.landscape import Landscape
from explorer.model.learning import config_for, train
from explorer.model.mapping import Psi
from explorer.model.patches import PatchSet
from explorer.model.reward_model import RewardModel
from worlds.errors import InputError

CUBE_TEXT = worlds.builtin_path("cube").read_text()
CANYON_TEXT = worlds.builtin_path("canyon").read_text()


# ------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def small_model(cube) -> RewardModel:
    torch.manual_seed(0)
    return train(cube, config_for(cube, steps=100))


@pytest.fixture(scope="module")
def saved(tmp_path_factory, small_model) -> Path:
    return artifact.save(small_model, tmp_path_factory.mktemp("artifact") / "base")


def _copy(saved: Path, tmp_path: Path) -> Path:
    d = tmp_path / "runs" / "v2"
    shutil.copytree(saved, d)
    return d


def _edit_meta(d: Path, fn: Callable[[dict], None]) -> None:
    meta = json.loads((d / "artifact.json").read_text())
    fn(meta)
    (d / "artifact.json").write_text(json.dumps(meta))


def _edit_tensors(d: Path, fn: Callable[[dict], None]) -> None:
    tensors = dict(st_load((d / "weights.safetensors").read_bytes()))
    fn(tensors)
    blob = st_save(tensors)
    (d / "weights.safetensors").write_bytes(blob)
    # a matching hash: the file is hostile, not merely damaged
    _edit_meta(d, lambda m: m["weights"].update(sha256=hashlib.sha256(blob).hexdigest()))


def _one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def _set(**values):
    return lambda t: t.update({k: v(t) for k, v in values.items()})


def _nest_edits(d: Path, depth: int) -> None:
    meta = json.loads((d / "artifact.json").read_text())
    meta["edits"] = "HOLE"
    text = json.dumps(meta).replace('"HOLE"', "[" * depth + "]" * depth)
    (d / "artifact.json").write_text(text)


def _kernel(bandwidth: float):
    def fn(t):
        t.update({"patches.centers": np.zeros((1, 3), np.float32),
                  "patches.bandwidths": np.array([bandwidth], np.float32),
                  "patches.amplitudes": np.ones(1, np.float32),
                  "patches.flag_ids": np.zeros(1, np.int64)})
    return fn


# (id, how to break a saved artifact, the error type, what its message must say)
ARTIFACT_CASES = [
    ("psi-lo-equals-hi", lambda d: _edit_meta(d, lambda m: m["psi"].update(l_max=m["psi"]["l_min"])),
     ModelError, ["artifact.json", "field '$.psi.l_max'", "greater than l_min"]),
    ("psi-k-1e308", lambda d: _edit_meta(d, lambda m: m["psi"].update(k=1e308)),
     ModelError, ["field '$.psi.k'", "finite in float32", "1e+308"]),
    ("psi-k-underflows", lambda d: _edit_meta(d, lambda m: m["psi"].update(k=1e-60)),
     ModelError, ["field '$.psi.k'", "> 0 in float32"]),
    ("normalisation-lo-equals-hi",
     lambda d: _edit_tensors(d, _set(**{"expertness.hi": lambda t: t["expertness.lo"].copy()})),
     ModelError, ["weights.safetensors", "field 'expertness.hi'", "divides by zero"]),
    ("weights-3e38",
     lambda d: _edit_tensors(d, _set(**{"expertness.enc_w": lambda t: np.full_like(t["expertness.enc_w"], 3e38)})),
     ModelError, ["field 'expertness.enc_w'", "values up to 3e+38"]),
    ("weights-1e17-overflow-in-forward-pass",
     lambda d: _edit_tensors(d, _set(**{k: (lambda t, k=k: np.full_like(t[k], 1e17))
                                        for k in ("expertness.enc_w", "expertness.dec_w")})),
     NonFiniteReward, ["v2: expertness L (and so the reward) is NaN or inf at", "probe states",
                       "expertness.enc_w has values up to 1e+17"]),
    ("weights-nan",
     lambda d: _edit_tensors(d, _set(**{"expertness.gate_w": lambda t: np.full_like(t["expertness.gate_w"], np.nan)})),
     ModelError, ["field 'expertness.gate_w'", "finite values"]),
    ("weights-float64-1e300-is-inf-in-float32",
     lambda d: _edit_tensors(d, _set(**{"expertness.gate_b": lambda t: np.full(t["expertness.gate_b"].shape, 1e300)})),
     ModelError, ["field 'expertness.gate_b'", "finite values (in float32)"]),
    ("weights-bool-dtype",
     lambda d: _edit_tensors(d, _set(**{"expertness.gate_b": lambda t: np.ones(t["expertness.gate_b"].shape, bool)})),
     ModelError, ["field 'expertness.gate_b'", "a tensor of numbers"]),
    ("weights-empty",
     lambda d: _edit_tensors(d, _set(**{"expertness.enc_w": lambda t: np.zeros((0,), np.float32)})),
     ModelError, ["field 'expertness.enc_w'", "shape"]),
    ("zero-expert-samples",
     lambda d: _edit_tensors(d, _set(**{"data.expert_samples": lambda t: np.zeros((0, 3), np.float32)})),
     ModelError, ["field 'data.expert_samples'", "at least 2 expert samples", "(0, 3)"]),
    ("expert-samples-inf",
     lambda d: _edit_tensors(d, _set(**{"data.expert_samples": lambda t: np.full((4, 3), np.inf, np.float32)})),
     ModelError, ["field 'data.expert_samples'", "finite"]),
    ("kernel-bandwidth-1e-30", lambda d: (_edit_tensors(d, _kernel(1e-30)), _edit_meta(d, lambda m: m.update(patches=1))),
     ModelError, ["field 'patches.bandwidths[0]'", "a bandwidth from 1e-09"]),
    ("metadata-nested-100000", lambda d: (d / "artifact.json").write_text("[" * 100_000 + "]" * 100_000),
     ModelError, ["artifact.json", "nested at most 64 levels deep", "100,000 levels"]),
    ("edits-nested-50000", lambda d: _nest_edits(d, 50_000),
     ModelError, ["artifact.json", "nested at most 64 levels deep", "50,001 levels"]),
]


@pytest.mark.parametrize("case, breaks, error, says", ARTIFACT_CASES, ids=[c[0] for c in ARTIFACT_CASES])
def test_a_hostile_artifact_is_refused_in_one_line(tmp_path, saved, case, breaks, error, says):
    d = _copy(saved, tmp_path)
    breaks(d)
    with pytest.raises(error) as exc:
        artifact.load(d)
    msg = _one_line(exc.value)
    assert str(d) in msg
    for part in says:
        assert part in msg, (part, msg)


def test_a_100_mb_metadata_file_is_refused_before_it_is_read(tmp_path, saved):
    d = _copy(saved, tmp_path)
    with open(d / "artifact.json", "r+b") as fh:
        fh.truncate(100_000_000)             # sparse: no 100 MB written or stored
    tracemalloc.start()
    try:
        with pytest.raises(ModelError) as exc:
            artifact.load(d)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "at most 20,000,000 bytes" in _one_line(exc.value) and "100,000,000 bytes" in str(exc.value)
    assert peak < 1_000_000                  # refused from the file system's size, not after reading


def test_a_huge_weights_file_is_refused_before_it_is_read(tmp_path, saved):
    d = _copy(saved, tmp_path)
    with open(d / "weights.safetensors", "r+b") as fh:
        fh.truncate(600_000_000)
    with pytest.raises(ModelError, match="weights file of at most 512,000,000 bytes"):
        artifact.load(d)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_in_place_of_the_metadata_is_refused_without_blocking(tmp_path, saved):
    d = _copy(saved, tmp_path)
    (d / "artifact.json").unlink()
    os.mkfifo(d / "artifact.json")
    with pytest.raises(ModelError, match="a regular artifact metadata file"):
        artifact.load(d)


def test_a_broken_model_is_never_saved(tmp_path, small_model):
    bad = small_model.clone()
    with torch.no_grad():
        bad.expertness.enc_w.fill_(1e17)
        bad.expertness.dec_w.fill_(1e17)
    with pytest.raises(NonFiniteReward, match="probe states"):
        artifact.save(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------ NaN hidden between probe points
def _hat_model(cube, small_model, centre: float, half_width: float = 0.04) -> RewardModel:
    """An E_theta whose every weight is finite and at most 1e18, and whose L
    overflows only on a thin slab x = centre +- half_width: three ReLU units
    make a hat there (h1 - 2 h2 + h3), decoded with gain 1e3. The probe lattice
    misses the slab; the world's grid has a plane of cells in it."""
    m, gain = 1e18, 1e3
    net = MoEAutoencoder(Architecture(dim=3, experts=1, bottleneck=3), cube.bounds_min, cube.bounds_max)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.enc_w[0, :, 0] = m
        net.enc_b[0] = torch.tensor([-m * (centre - half_width), -m * centre, -m * (centre + half_width)])
        net.dec_w[0, 0] = torch.tensor([gain, -2 * gain, gain])
    samples = np.array([[0.5, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.2]], np.float32)
    return RewardModel(expertness=net, psi=small_model.psi, patches=PatchSet.empty(),
                       world_name=cube.name, world_hash=cube.file_hash, config=small_model.config,
                       expert_samples=samples)


@pytest.fixture()
def hidden_nan(cube, small_model) -> RewardModel:
    centre = float(cube.grid().axes[0][1])           # a grid plane the probe lattice does not touch
    return _hat_model(cube, small_model, centre)


def test_load_with_a_world_proves_the_reward_finite_on_its_grid(tmp_path, cube, hidden_nan):
    d = artifact.save(hidden_nan, tmp_path / "runs" / "v2")   # the probe misses the slab: saved
    artifact.load(d)                                          # world-independent checks pass
    with pytest.raises(NonFiniteReward) as exc:
        artifact.load(d, world=cube)
    msg = _one_line(exc.value)
    n = cube.resolution
    assert exc.value.bad == n * n and exc.value.total == n ** 3      # one plane of the 20^3 grid
    assert msg.startswith(f"{d}: expertness L (and so the reward) is NaN or inf at {n * n:,} of {n ** 3:,} "
                          "grid states (")


def test_a_landscape_prove_finite_and_the_audit_refuse_a_hidden_nan(cube, hidden_nan):
    with pytest.raises(NonFiniteReward, match="400 of 8,000 grid states"):
        Landscape(hidden_nan, cube)
    with pytest.raises(NonFiniteReward, match="400 of 8,000 grid states"):
        prove_finite(hidden_nan, cube)
    with pytest.raises(NonFiniteReward):              # never "0 findings, 0 flawed cells"
        Auditor(cube, seed=0).run(hidden_nan)


def test_a_landscape_keeps_its_model_when_a_broken_one_is_set(cube, small_model, hidden_nan):
    land = Landscape(small_model, cube)
    before = land.reward().copy()
    with pytest.raises(NonFiniteReward):
        land.set_model(hidden_nan)
    assert land.model is small_model
    assert np.array_equal(land.reward(), before)


def test_the_audit_never_reports_clean_for_nan_rewards(cube, small_model, monkeypatch):
    land = Landscape(small_model, cube)
    nan = land.reward()
    nan[::5] = np.nan                                  # as if a cache had gone bad
    monkeypatch.setattr(land, "reward", lambda out=None: nan.copy())
    with pytest.raises(NonFiniteReward, match=r"reward is NaN or inf at 1,600 of 8,000 grid states"):
        Auditor(cube, seed=0).run(small_model, land)


def test_the_gym_env_never_serves_nan(cube, hidden_nan):
    pytest.importorskip("gymnasium")
    from explorer.policy.gym_env import RewardWorldEnv
    env = RewardWorldEnv(cube, hidden_nan, max_steps=5)
    centre = float(cube.grid().axes[0][1])
    env.reset(seed=0, options={"start": [centre, 0.0, 0.0]})
    with pytest.raises(NonFiniteReward, match="NaN or inf at 1 of 1 states"):
        env.step(np.zeros(3, np.float32))


def test_psi_that_overflows_float32_cannot_be_built():
    for bad, field in (((0.0, 0.3, 1e308), "psi.k"), ((0.1, 0.1, 3.0), "psi.l_max"),
                       ((0.0, 1e-44, 3.0), "psi.k"), ((1e39, 2e39, 1.0), "psi.l_min")):
        with pytest.raises(ModelError, match=re.escape(field)):
            Psi(*bad)


def test_kernels_that_would_add_nan_are_refused_by_the_landscape(cube, small_model):
    land = Landscape(small_model, cube)
    child = small_model.next_version()
    child.patches = PatchSet(np.zeros((1, 3), np.float32), np.array([1e-30], np.float32),
                             np.ones(1, np.float32), np.zeros(1, np.int64))
    with pytest.raises(ModelError, match=r"patches\.bandwidths\[0\]"):
        land.set_model(child, same_expertness=True)
    with pytest.raises(ModelError, match=r"cube model v2: field 'patches\.bandwidths\[0\]'"):
        Landscape(child, cube)


# ------------------------------------------------------------------ worlds
def _world_cases():
    deep_dotted = CUBE_TEXT.replace("[bounds]\n", "[bounds]\nmin." + ".".join(["a"] * 100_000) + " = 1\n", 1)
    hill = re.sub(r"width = [0-9.]+", "width = 1e-300", CANYON_TEXT, count=1)
    return [
        ("array-nested-5000", CUBE_TEXT + "\nzz = " + "[" * 5000 + "]" * 5000 + "\n", "",
         "nested at most 32 levels deep, got '5,000 levels'"),
        ("inline-tables-nested-3000", CUBE_TEXT + "\nzz = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n", "",
         "nested at most 32 levels deep, got '3,000 levels'"),
        ("dotted-key-100000-parts", deep_dotted, "", "nested at most 32 levels deep"),
        ("hill-width-1e-300", hill, "terrain.features[", "numerically degenerate"),
        ("curve-1-over-t-minus-t", CUBE_TEXT.replace('x = "-1 + 2*t"', 'x = "1/(t-t)"'),
         "expert.routes[0].x", "finite for every t in [0, 1]"),
        ("curve-nan-only-at-an-expert-sample",       # t = 0.5 is not among the 200 checked t but is a sample's t
         CUBE_TEXT.replace("samples = 20\n", "samples = 21\n").replace('x = "-1 + 2*t"', 'x = "-1 + 2*t + 0/(t - 0.5)"'),
         "expert.routes[0].x", "got 'NaN or inf at t = 0.5'"),
        ("bounds-numerically-degenerate", CUBE_TEXT.replace("max = [1.0, 1.0, 1.0]", "max = [1e-300, 1.0, 1.0]")
         .replace("min = [-1.0, -1.0, -1.0]", "min = [0.0, -1.0, -1.0]"), "bounds.max", "distinct in float32"),
        ("bounds-1e308", CUBE_TEXT.replace("max = [1.0, 1.0, 1.0]", "max = [1e308, 1.0, 1.0]"),
         "bounds.max[0]", "within +-1e+06"),
        ("goal-radius-1e-300", CUBE_TEXT.replace("radius = 0.3", "radius = 1e-300"), "goals[0].radius",
         "numerically degenerate"),
        ("route-sigma-1e-300", CUBE_TEXT.replace("route_sigma = 0.17", "route_sigma = 1e-300"),
         "true_reward.route_sigma", "numerically degenerate"),
        ("integer-of-5000-digits", CUBE_TEXT + "\nzz = " + "1" * 5000 + "\n", "", "valid TOML"),
    ]


@pytest.mark.parametrize("case, text, field, says", _world_cases(), ids=[c[0] for c in _world_cases()])
def test_a_hostile_world_is_refused_in_one_line(tmp_path, case, text, field, says):
    p = tmp_path / "hostile.toml"
    p.write_text(text)
    with pytest.raises(worlds.WorldError) as exc:
        worlds.load(p)
    msg = _one_line(exc.value)
    assert msg.startswith(str(p))
    assert field in exc.value.field and says in msg, msg


def test_a_huge_world_file_is_refused_from_its_size(tmp_path):
    p = tmp_path / "huge.toml"
    with open(p, "wb") as fh:
        fh.truncate(50_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(worlds.WorldError, match="a world file of at most 1,000,000 bytes, got '50,000,000"):
            worlds.load(p)
        assert tracemalloc.get_traced_memory()[1] < 1_000_000
    finally:
        tracemalloc.stop()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_is_not_read_as_a_world(tmp_path):
    from worlds.loader import load_file
    p = tmp_path / "pipe.toml"
    os.mkfifo(p)
    with pytest.raises(worlds.WorldError, match="a regular world file"):
        load_file(p)


# ------------------------------------------------------------------ flags
@pytest.mark.parametrize("raw, says", [
    (b'{"flags": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", "nested at most 8 levels deep"),
    (b'{"format": "reward-explorer-flags", "schema_version": 1, '
     + b'"flags": [{"center": [Infinity, 0, 0], "radius": 1}]}', "without NaN or Infinity"),
], ids=["nested-20000", "infinity"])
def test_a_hostile_flags_file_is_refused_in_one_line(tmp_path, raw, says):
    p = tmp_path / "flags.json"
    p.write_bytes(raw)
    with pytest.raises(InputError) as exc:
        load_flags(p)
    assert str(p) in _one_line(exc.value) and says in str(exc.value)


def test_a_huge_flags_file_is_refused_from_its_size(tmp_path):
    p = tmp_path / "flags.json"
    with open(p, "wb") as fh:
        fh.truncate(100_000_000)
    with pytest.raises(InputError, match="at most 8,000,000 bytes"):
        load_flags(p)
