"""Artifacts round-trip bit-exactly and refuse anything damaged, foreign or hostile."""
from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save as st_save

from explorer.model import artifact
from explorer.model.artifact import ArtifactError
from explorer.model.flags import make_flags
from explorer.model.landscape import Landscape
from explorer.refine import local_patch


@pytest.fixture()
def patched(cube, cube_model, spurious_center):
    model, _ = local_patch(cube_model, Landscape(cube_model, cube), make_flags([(spurious_center, 0.5)]))
    return model


def test_round_trip_is_bit_exact(tmp_path, cube, patched):
    out = artifact.save(patched, tmp_path / "a")
    back = artifact.load(out)
    for (k, v), (k2, v2) in zip(patched.expertness.state_dict().items(), back.expertness.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    assert back.psi == patched.psi
    for name in ("centers", "bandwidths", "amplitudes", "flag_ids"):
        assert np.array_equal(getattr(back.patches, name), getattr(patched.patches, name))
    pts = cube.grid().points
    assert np.array_equal(back.reward(pts), patched.reward(pts))
    assert (back.version, back.parent) == (patched.version, patched.parent)
    assert back.edits == json.loads(json.dumps(patched.edits))
    assert back.world_hash == cube.file_hash


def test_existing_artifact_is_never_overwritten_silently(tmp_path, patched):
    artifact.save(patched, tmp_path / "a")
    with pytest.raises(ArtifactError, match="pass --force"):
        artifact.save(patched, tmp_path / "a")
    artifact.save(patched, tmp_path / "a", overwrite=True)
    assert artifact.load(tmp_path / "a").version == patched.version


def _rewrite(directory: Path, **changes) -> None:
    meta = json.loads((directory / "artifact.json").read_text())
    for k, v in changes.items():
        meta[k] = v
    (directory / "artifact.json").write_text(json.dumps(meta))


def test_tampered_weights_are_refused(tmp_path, patched):
    d = artifact.save(patched, tmp_path / "a")
    blob = bytearray((d / "weights.safetensors").read_bytes())
    blob[-5] ^= 0xFF
    (d / "weights.safetensors").write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match="sha256"):
        artifact.load(d)


def test_a_pickle_in_place_of_weights_is_refused_without_running(tmp_path, patched):
    d = artifact.save(patched, tmp_path / "a")
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.write_text, (marker, "executed"))

    blob = pickle.dumps(Evil())
    (d / "weights.safetensors").write_bytes(blob)
    meta = json.loads((d / "artifact.json").read_text())
    meta["weights"]["sha256"] = hashlib.sha256(blob).hexdigest()   # even with a matching hash
    (d / "artifact.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="safetensors"):
        artifact.load(d)
    assert not marker.exists()


@pytest.mark.parametrize("fname", ["../outside.safetensors", "/etc/passwd", "sub/weights.safetensors", ".."])
def test_metadata_cannot_point_outside_the_directory(tmp_path, patched, fname):
    d = artifact.save(patched, tmp_path / "a")
    meta = json.loads((d / "artifact.json").read_text())
    meta["weights"]["file"] = fname
    (d / "artifact.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="plain file name"):
        artifact.load(d)


def test_shapes_that_do_not_match_the_metadata_are_refused(tmp_path, patched):
    d = artifact.save(patched, tmp_path / "a")
    meta = json.loads((d / "artifact.json").read_text())
    meta["architecture"]["experts"] = patched.architecture.experts + 2
    (d / "artifact.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="shape"):
        artifact.load(d)


def test_a_crafted_weights_file_with_wrong_shapes_is_refused(tmp_path, patched):
    d = artifact.save(patched, tmp_path / "a")
    tensors = {k: np.zeros((2, 2), np.float32) for k in ("expertness.enc_w", "expertness.lo", "expertness.hi")}
    blob = st_save(tensors)
    (d / "weights.safetensors").write_bytes(blob)
    meta = json.loads((d / "artifact.json").read_text())
    meta["weights"]["sha256"] = hashlib.sha256(blob).hexdigest()
    (d / "artifact.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="expertness"):
        artifact.load(d)


@pytest.mark.parametrize("change, message", [
    ({"format_version": 99}, "newer version"),
    ({"format": "something-else"}, "not a reward artifact"),
    ({"psi": {"l_min": 0.0, "l_max": -1.0, "k": 3.0}}, "psi"),
    ({"patches": 12345}, "patches"),
])
def test_foreign_or_future_metadata_is_refused(tmp_path, patched, change, message):
    d = artifact.save(patched, tmp_path / "a")
    _rewrite(d, **change)
    with pytest.raises(ArtifactError, match=message):
        artifact.load(d)


def test_damaged_json_and_missing_directory(tmp_path, patched):
    d = artifact.save(patched, tmp_path / "a")
    (d / "artifact.json").write_bytes(b'{"format": "reward-explorer-art')
    with pytest.raises(ArtifactError, match="artifact.json"):
        artifact.load(d)
    with pytest.raises(ArtifactError, match="no such directory"):
        artifact.load(tmp_path / "missing")
