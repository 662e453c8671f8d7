"""Classroom-ready: the world is drawn before the model exists and the landscape
forms live, a cached model shows at once, the layout fits a 1280x720 projector
with no widget drawn over another, presenter mode reads from the back row, the
status never cuts a message off, stray keys never switch a checkbox, the flaw
overlay and the ghosts show what a refinement did, the slice plane reaches
interior cells, and closing during a job asks first and stops it."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtWidgets import QApplication, QMessageBox, QWidget

from .conftest import settle, spurious_cell, to_qt

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def _private_sessions(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def overlapping_siblings(root: QWidget) -> list[str]:
    """Pairs of visible sibling widgets whose rectangles intersect (a layout squeezed
    below its minimum draws widgets over each other)."""
    out = []
    for w in [root, *root.findChildren(QWidget)]:
        if not w.isVisible() or w.isWindow() and w is not root:
            continue
        kids = [c for c in w.children() if isinstance(c, QWidget) and c.isVisible() and not c.isWindow()
                and c.geometry().width() > 1 and c.geometry().height() > 1]
        for i, a in enumerate(kids):
            for b in kids[i + 1:]:
                inter = a.geometry().intersected(b.geometry())
                if inter.width() > 1 and inter.height() > 1:
                    out.append(f"{type(w).__name__}: {type(a).__name__}({a.objectName()}) x "
                               f"{type(b).__name__}({b.objectName()}) at {inter}")
    return out


@pytest.mark.parametrize("size", [(1280, 690), (1600, 1000)])
def test_the_layout_fits_and_no_widget_is_drawn_over_another(qtbot, window, size):
    window.resize(*size)
    for presenter in (False, True):
        window.set_presenter(presenter)
        window.dock.setVisible(True)
        for tab in (0, 1):
            window.tabs.setCurrentIndex(tab)
            qtbot.wait(60)
            assert window.width() <= size[0] and window.height() <= size[1], (window.size(), presenter)
            bad = overlapping_siblings(window)
            assert not bad, (size, presenter, tab, bad[:5])
    window.set_presenter(False)


def test_presenter_mode_reads_from_the_back_row_and_folds_the_side_panel(qtbot, window):
    point = window.view.scene.actor.GetProperty().GetPointSize()
    window.act["presenter"].trigger()
    qtbot.wait(50)
    assert window.presenter and not window.dock.isVisible()
    for label in [*window.readouts.labels.values(), window.status_label]:
        assert label.font().pointSizeF() >= 18 or QApplication.font().pointSizeF() >= 18
    assert QApplication.font().pointSizeF() >= 18
    assert window.view.scene.actor.GetProperty().GetPointSize() > point
    assert window.view.scene.legend.presenter
    window.act["side_panel"].trigger()               # F9: the panel comes back on demand
    assert window.dock.isVisible()
    window.act["presenter"].trigger()
    assert not window.presenter and QApplication.font().pointSizeF() < 18
    assert window.view.scene.actor.GetProperty().GetPointSize() == pytest.approx(point)


def test_a_long_status_is_elided_with_the_whole_text_in_its_tooltip_and_the_log(qtbot, window):
    text = "Cycle released v2: " + "a very long explanation of what happened " * 8 + "END"
    window.status(text)
    qtbot.wait(20)
    label = window.status_label
    assert window.last_status == text and label.full_text() == text
    assert label.elided() and label.toolTip() == text and label.shown_text().endswith("…")
    assert text in window.log.toPlainText()
    window.act["message_log"].trigger()
    assert window.log_dock.isVisible()


def test_stray_keys_in_the_3d_view_never_switch_auto_refine(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=3000)
    qtbot.mouseClick(window.refine_panel.auto, Qt.MouseButton.LeftButton)       # on by a click...
    qtbot.mouseClick(window.refine_panel.auto, Qt.MouseButton.LeftButton)       # ...and off again
    assert not window.refine_panel.auto.isChecked()
    plotter = window.view.plotter
    qtbot.mouseClick(plotter, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))    # the view takes the keys
    assert plotter.hasFocus()
    keys = [Qt.Key.Key_Tab, Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_K, Qt.Key.Key_Tab,
            Qt.Key.Key_Space, Qt.Key.Key_J, Qt.Key.Key_Down, Qt.Key.Key_Space, Qt.Key.Key_Backtab,
            Qt.Key.Key_Space, Qt.Key.Key_U, Qt.Key.Key_Tab, Qt.Key.Key_Tab, Qt.Key.Key_Space] * 3
    for k in keys:
        qtbot.keyClick(QApplication.focusWidget() or plotter, k)
    assert not window.refine_panel.auto.isChecked()
    assert len(window.session.versions) == 1 and not window.jobs.busy


def test_the_flaw_overlay_colours_flaws_red_and_a_refinement_leaves_ghosts(qtbot, window):
    s = window.session
    mesh = window.view.scene.mesh
    flawed = s.land.flaw_mask(s.reward())
    window.overlay_actions["flaws"].setChecked(True)
    settle(qtbot, window)
    shown = np.asarray(mesh["shown"])
    assert np.all(shown[flawed] > 1.5) and np.all(shown[~flawed] <= 1.0)
    assert np.allclose(np.asarray(mesh["reward"]), s.reward())           # the values stay the values
    assert "breaks" in window.view.scene.legend.marks.GetInput()
    s.cycle("all")
    settle(qtbot, window)
    marks = window.view.marks
    pushed = (s.reference_reward() > s.world.floor) & (s.reward() <= s.world.floor)
    assert marks.ghost_cells == int(pushed.sum()) > 1000
    assert marks.ghost_actor.GetVisibility() and "grey" in window.view.scene.legend.marks.GetInput()
    assert "ghost_cells" in window.view.plotter.actors and not marks.ghost_actor.GetPickable()
    window.overlay_actions["flaws"].setChecked(False)
    settle(qtbot, window)
    assert np.all(np.asarray(mesh["shown"]) <= 1.0)


def test_with_the_slice_plane_shown_a_click_flags_an_interior_cell(qtbot, window):
    view, s = window.view, window.session
    window.overlay_actions["slice"].setChecked(True)
    settle(qtbot, window)
    z = view.slice_z
    layer = np.nonzero(np.isclose(s.land.points[:, 2], s.land.points[np.argmin(np.abs(s.land.points[:, 2] - z)), 2]))[0]
    target = layer[np.argmin(np.linalg.norm(s.land.points[layer, :2], axis=1))]     # the centre of the plane
    point = s.land.points[target].copy()
    point[2] = z
    x, y = to_qt(view, point)
    qtbot.mouseClick(view.plotter, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, QPoint(x, y))
    qtbot.waitUntil(lambda: len(s.flags) == 1, timeout=3000)
    centre = np.asarray(s.flags[0].center)
    spacing = float(s.world.bounds_max[0] - s.world.bounds_min[0]) / (s.world.resolution - 1)
    assert abs(centre[2] - s.land.points[target, 2]) < 1e-6                 # on the plane, inside the cube
    assert np.linalg.norm(centre[:2] - s.land.points[target, :2]) <= 1.5 * spacing
    assert np.all(np.abs(centre) < 0.9)                                     # not on a face of the cube


def test_closing_during_a_job_asks_first_and_stops_the_job(qtbot, window, monkeypatch):
    s = window.session
    s.flag(tuple(float(v) for v in s.land.points[spurious_cell(window)]), 0.5)
    window.refine_panel.method.setCurrentIndex(window.refine_panel.method.findData("data"))
    window.refine()
    assert window.jobs.busy
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda *a, **k: asked.append(a[1]) or QMessageBox.StandardButton.Cancel))
    window.ask_on_close = True
    window.close()
    assert asked == ["A job is running"] and window.isVisible() and window.jobs.busy
    thread = window.jobs._thread
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    window.close()
    assert not window.isVisible() and window._closed
    assert thread is None or not thread.is_alive()


def test_a_finding_reads_with_a_reward_that_is_above_the_floor_and_counts_agree():
    # The audit writes the evidence (the panel shows it as written): as many decimals as
    # it takes to read above the floor, and for a cell found between grid points the
    # flawed state's reward, not the cell's own.
    from explorer.app.findings_panel import _n
    from explorer.flywheel.audit import _reward_evidence
    reason = _reward_evidence(0.0503, 0.0503, 0.05) + "; distance 1.39 > boundary 0.34"
    assert reason.startswith("reward 0.0503 > floor 0.05; distance 1.39")
    assert _reward_evidence(0.042287, 0.0731, 0.05) == \
        "reward 0.07 > floor 0.05 between grid points (at the cell itself 0.042)"
    assert _n(1, "region") == "1 region" and _n(5169, "flawed cell") == "5,169 flawed cells"
