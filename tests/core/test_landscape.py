"""Cached expertness: psi edits and patches re-evaluate without E_theta and
give exactly what a full re-evaluation gives."""
from __future__ import annotations

import numpy as np

from explorer.model.flags import make_flags
from explorer.model.landscape import Landscape
from explorer.model.mapping import Psi
from explorer.refine import local_patch, sculpt


def test_sculpting_uses_cached_expertness(cube, cube_model, monkeypatch):
    land = Landscape(cube_model, cube)
    new = sculpt(cube_model, Psi(cube_model.psi.l_min, 0.15, 4.0))
    calls = []
    monkeypatch.setattr(type(new.expertness), "error_np", lambda *a, **k: calls.append(1))
    land.set_model(new, same_expertness=True)
    cached = land.reward()
    assert calls == []
    monkeypatch.undo()
    np.testing.assert_allclose(cached, new.reward(land.points), atol=1e-6)
    assert new.version == cube_model.version + 1 and new.parent == cube_model.version
    assert new.edits[-1]["op"] == "sculpt"


def test_incremental_patch_field_equals_full_evaluation(cube, cube_model, spurious_center):
    land = Landscape(cube_model, cube)
    m2, _ = local_patch(cube_model, land, make_flags([(spurious_center, 0.4)]))
    land.set_model(m2, same_expertness=True)
    r = land.reward()
    second = land.points[int(np.argmax(r * land.flaw_mask(r) * land.distance))]
    m3, _ = local_patch(m2, land, make_flags([(tuple(float(v) for v in second), 0.3)]))
    land.set_model(m3, same_expertness=True)   # adds only m3's new kernels to the cached field
    assert land._patched_count == len(m3.patches)
    np.testing.assert_allclose(land.reward(), m3.reward(land.points), atol=1e-5)
    grown = land.reward().copy()
    # The same numbers, bit for bit, from a landscape that never saw m2 (a reopened session).
    assert np.array_equal(Landscape(m3, cube).reward(), grown)
    land.set_model(m2, same_expertness=True)   # an undo: rebuilt batch by batch
    land.set_model(m3, same_expertness=True)
    assert np.array_equal(land.reward(), grown)
    land.set_model(cube_model, same_expertness=True)   # back to no patches: recomputed
    np.testing.assert_allclose(land.reward(), cube_model.reward(land.points), atol=1e-6)


def test_psi_rejects_nonsense():
    import pytest
    for bad in [(0.0, 0.0, 1.0), (0.1, 0.05, 1.0), (0.0, 0.3, 0.0), (float("nan"), 0.3, 1.0), (-1, 0.3, 1)]:
        with pytest.raises(ValueError, match="psi"):
            Psi(*bad)
