"""ONNX in (any reward model), ONNX out (the served reward), and refusals that
name the input or output at fault."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from explorer.flywheel.audit import Auditor
from explorer.model import artifact
from explorer.model.artifact import ArtifactError
from explorer.model.flags import make_flags
from explorer.model.landscape import Landscape
from explorer.model.mapping import g_psi
from explorer.model.onnx_export import TOLERANCE, ExportError, export_onnx, run_exported
from explorer.model.onnx_model import (OnnxModelError, import_model,
                                       register_artifact_kind)
from explorer.refine.data_patch import DataDrivenPatch
from explorer.refine.sculpting import refusals
from explorer.refine import RefinementError, local_patch, regression_check

register_artifact_kind()
CENTER = np.float32([0.9, 0.9, -0.9])      # a bump far from the cube's expert route: a spurious peak
W = 0.18                                    # bump width: 2 sigma^2 with sigma 0.3


def bump_model(path, *, elem=TensorProto.FLOAT, dim=3, batch="n", out_shape=("n", 1), log_of_x=False,
               opset=17, external=False, extra_input=False) -> str:
    """out = exp(-|s - CENTER|^2 / W) + 0.5 exp(-|s - start|^2 / W): a reward with a
    real basin at the expert's start and a spurious peak far away."""
    ones = numpy_helper.from_array(np.ones((dim, 1), np.float32), "ones")
    c1 = numpy_helper.from_array(np.resize(CENTER, dim).astype(np.float32), "c1")
    c2 = numpy_helper.from_array(np.resize(np.float32([-1.0, -1.0, -0.2]), dim).astype(np.float32), "c2")
    half = numpy_helper.from_array(np.float32(0.5), "half")
    width = numpy_helper.from_array(np.float32(1 / W), "width")
    nodes = []
    for i, c in enumerate(("c1", "c2")):
        nodes += [helper.make_node("Sub", ["x", c], [f"d{i}"]), helper.make_node("Mul", [f"d{i}", f"d{i}"], [f"q{i}"]),
                  helper.make_node("MatMul", [f"q{i}", "ones"], [f"m{i}"]),
                  helper.make_node("Mul", [f"m{i}", "width"], [f"s{i}"]),
                  helper.make_node("Neg", [f"s{i}"], [f"n{i}"]),
                  helper.make_node("Exp", [f"n{i}"], [f"e{i}"])]
    nodes += [helper.make_node("Mul", ["e1", "half"], ["h1"]), helper.make_node("Add", ["e0", "h1"], ["sum"])]
    if log_of_x:      # NaN for negative first coordinates
        nodes += [helper.make_node("Slice", ["x", "st", "en", "ax"], ["x0"]), helper.make_node("Log", ["x0"], ["lx"]),
                  helper.make_node("Add", ["sum", "lx"], ["y"])]
    else:
        nodes += [helper.make_node("Identity", ["sum"], ["y"])]
    inits = [ones, c1, c2, half, width] + [numpy_helper.from_array(np.array([v], np.int64), n)
                                    for n, v in (("st", 0), ("en", 1), ("ax", 1))]
    inputs = [helper.make_tensor_value_info("x", elem, [batch, dim])]
    if extra_input:
        inputs.append(helper.make_tensor_value_info("t", TensorProto.FLOAT, [batch, 1]))
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape))
    graph = helper.make_graph(nodes, "bump", inputs, [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location="w.bin", size_threshold=0)
    else:
        onnx.save_model(model, str(path))
    return str(path)


def bump(states: np.ndarray) -> np.ndarray:
    s = np.asarray(states, np.float32)
    w = np.float32(1 / W)
    return np.exp(-(np.sum((s - CENTER) ** 2, 1) * w)) + \
        np.float32(0.5) * np.exp(-(np.sum((s - np.float32([-1, -1, -0.2])) ** 2, 1) * w))


@pytest.fixture(scope="module")
def imported(tmp_path_factory, cube):
    path = bump_model(tmp_path_factory.mktemp("onnx") / "bump.onnx")
    return import_model(path, cube)


def test_import_serves_the_output_mapped_from_its_measured_range(imported, cube):
    pts = cube.grid().points
    lo, hi = imported.metrics["output_range"]
    assert imported.metrics["output_range_source"] == "grid"
    assert "measured on the cube grid" in imported.metrics["import_notes"][0]
    want = np.clip((bump(pts) - lo) / (hi - lo), 0, 1)
    assert np.max(np.abs(imported.reward(pts) - want)) < 1e-5
    assert np.max(np.abs(Landscape(imported, cube).reward() - want)) < 1e-5


def test_sidecar_range_input_scaling_and_error_output(tmp_path, cube):
    path = bump_model(tmp_path / "m.onnx")
    (tmp_path / "m.json").write_text(json.dumps({"world": "cube", "output": {"range": [0.0, 2.0]},
                                                 "input": {"shift": [0.1, 0, 0], "scale": [1, 1, 1]}}))
    m = import_model(path)                                     # world from the sidecar
    pts = cube.grid().points
    shifted = pts - np.float32([0.1, 0, 0])
    assert np.max(np.abs(m.reward(pts) - np.clip(bump(shifted) / 2.0, 0, 1))) < 1e-5
    assert m.metrics["output_range_source"] == "sidecar"
    assert "sculpt" in refusals(m) and "data_patch" in refusals(m)
    # An error output: psi applies (and sculpting is allowed).
    (tmp_path / "m.json").write_text(json.dumps({"output": {"kind": "error", "range": [0.0, 2.0]},
                                                 "psi": {"l_min": 0.0, "l_max": 0.5, "k": 2.0}}))
    e = import_model(path, cube)
    assert np.max(np.abs(e.reward(pts) - g_psi(bump(pts), e.psi))) < 1e-5
    assert set(refusals(e)) == {"data_patch"}
    _check_export(e, cube, tmp_path, "error_kind")
    (tmp_path / "m.json").write_text(json.dumps({"output": {"kind": "error"}}))
    cal = import_model(path, cube)                              # psi calibrated on the expert samples
    assert cal.psi.l_max > cal.psi.l_min >= 0
    assert np.min(cal.reward(cube.expert_samples())) == pytest.approx(0.5, abs=1e-4)


@pytest.mark.parametrize("kw, field, expected", [
    ({"elem": TensorProto.INT64}, "input 'x'", "float32 states of shape (n, 3)"),
    ({"dim": 5}, "input 'x'", "float32 states of shape (n, 3)"),
    ({"extra_input": True}, "inputs", "exactly one input"),
    ({"out_shape": ("n", 2)}, "output 'y'", "(n,) or (n, 1)"),
    ({"log_of_x": True}, "output 'y'", "finite values"),
    ({"external": True}, "tensor 'ones'", "tensors stored inside the file"),
])
def test_wrong_models_are_refused_with_one_line_naming_the_fault(tmp_path, cube, kw, field, expected):
    path = bump_model(tmp_path / "bad.onnx", **kw)
    with pytest.raises(OnnxModelError) as err:
        import_model(path, cube)
    msg = str(err.value)
    assert "\n" not in msg and f"field '{field}'" in msg and expected in msg and "bad.onnx" in msg


def test_malformed_oversized_and_bad_sidecar_are_refused(tmp_path, cube, monkeypatch):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(OnnxModelError, match="junk.onnx"):
        import_model(junk, cube)
    good = bump_model(tmp_path / "g.onnx")
    from explorer.model import onnx_model
    monkeypatch.setattr(onnx_model, "MAX_MODEL_BYTES", 100)
    with pytest.raises(OnnxModelError, match="at most 100 bytes"):
        import_model(good, cube)
    monkeypatch.undo()
    (tmp_path / "g.json").write_text(json.dumps({"outptu": {}}))
    with pytest.raises(OnnxModelError, match="field 'outptu'"):
        import_model(good, cube)
    (tmp_path / "g.json").write_text(json.dumps({"world": "ridge"}))
    with pytest.raises(OnnxModelError, match="field 'world'"):
        import_model(good, cube)
    (tmp_path / "g.json").write_text(json.dumps({"output": {"range": [1, 0]}}))
    with pytest.raises(OnnxModelError, match="output.range"):
        import_model(good, cube)


def test_audit_flag_patch_and_regression_check_work_on_an_imported_model(imported, cube):
    land = Landscape(imported, cube)
    before = land.reward()
    for use_norms in (True, False):
        rep = Auditor(cube, use_norms=use_norms).run(imported, land)
        top = rep.cluster_representatives()[0]
        assert np.linalg.norm(np.subtract(top.center, CENTER)) < 0.8, (rep.mode, top)
    flags = make_flags([(tuple(float(v) for v in CENTER), 0.5)])
    child, report = local_patch(imported, land, flags)
    land.set_model(child, same_expertness=True)
    check = regression_check(before, land)
    assert report.kernels_added > 0 and check["passed"] and check["flaws_after"] < check["flaws_before"]
    with pytest.raises(RefinementError, match="different kind"):
        DataDrivenPatch(imported, land, flags)


def test_imported_artifact_round_trips_and_refuses_tampered_graph_bytes(tmp_path, imported, cube):
    out = artifact.save(imported, tmp_path / "a")
    back = artifact.load(out)
    pts = cube.grid().points
    assert np.array_equal(back.reward(pts), imported.reward(pts))
    assert back.expertness.model_bytes() == imported.expertness.model_bytes()
    meta = json.loads((out / "artifact.json").read_text())
    assert meta["architecture"]["kind"] == "onnx-model"
    meta["architecture"]["sha256"] = "0" * 64
    (out / "artifact.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="sha256"):
        artifact.load(out)


def _check_export(model, world, tmp_path, name):
    blob, rep = export_onnx(model, world, tmp_path / f"{name}.onnx", random_states=10_000)
    assert rep.passed and rep.max_abs_diff_grid <= TOLERANCE and rep.max_abs_diff_random <= TOLERANCE, rep
    assert rep.random_states == 10_000 and rep.grid_states == world.grid().size
    loaded = onnx.load(str(tmp_path / f"{name}.onnx"))
    props = {p.key: p.value for p in loaded.metadata_props}
    assert props["world"] == world.name and int(props["patches"]) == len(model.patches)
    return blob, rep


def test_export_of_our_patched_model_matches_the_explorer(tmp_path, cube, cube_model, spurious_center):
    flags = make_flags([(spurious_center, 0.5)])
    patched, _ = local_patch(cube_model, Landscape(cube_model, cube), flags)
    assert len(patched.patches) > 0
    blob, rep = _check_export(patched, cube, tmp_path, "ours")
    # Near a kernel's truncation sphere the cut is reproduced, not smoothed away.
    c, bw = patched.patches.centers[0], patched.patches.bandwidths[0]
    rng = np.random.default_rng(1)
    d = rng.normal(size=(2000, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    ring = (c + d * (4 * bw * rng.uniform(0.98, 1.02, (2000, 1)))).astype(np.float32)
    assert np.max(np.abs(run_exported(blob, ring) - patched.reward(ring))) <= TOLERANCE


def test_export_of_an_imported_model_with_kernels_matches(tmp_path, imported, cube):
    land = Landscape(imported, cube)
    flags = make_flags([(tuple(float(v) for v in CENTER), 0.5)])
    child, _ = local_patch(imported, land, flags)
    _check_export(child, cube, tmp_path, "imported")
    # Re-imported with its range stated, the export serves the same reward.
    (tmp_path / "imported.json").write_text(json.dumps({"output": {"range": [0.0, 1.0]}}))
    again = import_model(tmp_path / "imported.onnx", cube)
    pts = cube.grid().points
    assert np.max(np.abs(again.reward(pts) - child.reward(pts))) <= TOLERANCE


def test_fixed_batch_graphs_run_in_padded_batches_and_export(tmp_path, cube):
    m = import_model(bump_model(tmp_path / "fixed.onnx", batch=7, out_shape=(7, 1)), cube)
    assert m.expertness.arch.batch == 7
    pts = cube.grid().points[:100]
    lo, hi = m.metrics["output_range"]
    assert np.max(np.abs(m.reward(pts) - np.clip((bump(pts) - lo) / (hi - lo), 0, 1))) < 1e-5
    _check_export(m, cube, tmp_path, "fixed")


def test_export_of_afd_discriminators_matches(tmp_path, cube):
    import torch

    from explorer.model.discriminators import DiscriminatorArchitecture, DiscriminatorMLP, OccupancyRatio
    from explorer.model.mapping import Psi
    from explorer.model.patches import PatchSet
    from explorer.model.reward_model import RewardModel, TrainingConfig
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    mlp = DiscriminatorMLP(DiscriminatorArchitecture(hidden=16, members=3), cube.bounds_min, cube.bounds_max).eval()
    cov = np.stack([np.diag(rng.uniform(0.01, 0.1, 2)) for _ in range(4)])
    occ = OccupancyRatio.from_gaussians(cube.bounds_min, cube.bounds_max, (rng.uniform(-1, 1, (4, 2)), cov),
                                        (rng.uniform(-1, 1, (4, 2)), cov * 2))
    for net in (mlp, occ):
        model = RewardModel(net, Psi(0.0, 1.0, 1.0), PatchSet.empty(), cube.name, cube.file_hash, TrainingConfig(),
                            cube.expert_samples())
        _check_export(model, cube, tmp_path, type(net).__name__)


def test_export_refuses_imported_graphs_of_an_old_opset(tmp_path, cube):
    m = import_model(bump_model(tmp_path / "old.onnx", opset=8), cube)
    with pytest.raises(ExportError, match="opset"):
        export_onnx(m, cube, random_states=10)
