"""The optional slice plane and isosurface of a volume world: toggled from the
View menu, fed by the same reward values through a live VTK pipeline (a
refinement changes the image's scalars in place; no actor is re-added)."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from .conftest import settle, spurious_cell

pytestmark = pytest.mark.gui


def test_slice_and_isosurface_follow_the_landscape(qtbot, window):
    view = window.view
    vol = view.volume
    assert vol is not None
    assert not vol.slice_actor.GetVisibility() and not vol.iso_actor.GetVisibility()   # off by default
    window.overlay_actions["slice"].setChecked(True)
    window.overlay_actions["iso"].setChecked(True)
    settle(qtbot, window)
    assert vol.slice_actor.GetVisibility() and vol.iso_actor.GetVisibility()
    z0 = view.slice_z
    view.move_slice(3)
    assert view.slice_z > z0 and vol.plane.GetOrigin()[2] == pytest.approx(view.slice_z)
    image_array = vol.image["reward"]
    before = np.array(image_array)
    s = window.session
    s.flag(tuple(float(v) for v in s.land.points[spurious_cell(window)]), 0.5)
    slice_actor = vol.slice_actor
    with qtbot.waitSignal(window.jobDone, timeout=60_000):
        qtbot.mouseClick(window.refine_panel.refine_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    after = np.asarray(view.volume.image["reward"])
    assert view.volume.slice_actor is slice_actor                       # same actor, updated in place
    assert after.sum() < before.sum()                                   # the patched cells went down
    assert np.isclose(np.sort(after), np.sort(s.reward())).all()        # the same values, VTK order
