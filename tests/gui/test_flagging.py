"""Flagging in the real window: a click places a flag where the person clicked,
a drag rotates and never flags, and undo/redo restore the flag list exactly."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtTest import QTest

from explorer.viz.picking import grid_spacing

from .conftest import front_visible_cells, settle, spurious_cell, to_qt

pytestmark = pytest.mark.gui

NO = Qt.KeyboardModifier.NoModifier
LEFT = Qt.MouseButton.LeftButton


def _visible_high_cell(window) -> int:
    """A high-reward spurious cell that the camera sees, inside the view."""
    land = window.session.land
    r = land.reward()
    score = r * land.flaw_mask(r) * land.distance
    candidates = np.argsort(-score)[:400]
    candidates = candidates[r[candidates] > 0.5]
    w, h = window.view.plotter.width(), window.view.plotter.height()
    for c in front_visible_cells(window, candidates):
        x, y = to_qt(window.view, land.points[c])
        if 20 < x < 0.75 * w and 20 < y < h - 20:      # clear of the edges and the colour bar
            return c
    raise AssertionError("no front-most high-reward cell in view")


def test_click_in_flag_mode_places_a_flag_on_the_clicked_cell(qtbot, window):
    cell = _visible_high_cell(window)
    target = window.session.land.points[cell]
    x, y = to_qt(window.view, target)
    window.act["flag_tool"].setChecked(True)
    assert "Flag tool ON" in window.mode_label.text()
    QTest.mouseClick(window.view.plotter, LEFT, NO, QPoint(x, y))
    qtbot.waitUntil(lambda: len(window.session.flags) == 1, timeout=3000)
    flag = window.session.flags[0]
    assert np.linalg.norm(np.asarray(flag.center) - target) <= grid_spacing(window.session.world) + 1e-6
    assert flag.radius == pytest.approx(window.flag_panel.radius.value())
    assert window.flag_panel.table.rowCount() == 1
    assert window.flag_panel.selected_id() == flag.id
    assert window.act["undo"].text() == f"Undo: add flag #{flag.id}"


def test_a_drag_rotates_and_places_no_flag_even_in_flag_mode(qtbot, window):
    window.act["flag_tool"].setChecked(True)
    plotter = window.view.plotter
    before = [tuple(v) for v in plotter.camera_position]
    start = QPoint(plotter.width() // 2, plotter.height() // 2)
    QTest.mousePress(plotter, LEFT, NO, start)
    for i in range(1, 9):
        QTest.mouseMove(plotter, start + QPoint(12 * i, 5 * i))
        qtbot.wait(5)
    QTest.mouseRelease(plotter, LEFT, NO, start + QPoint(96, 40))
    qtbot.wait(100)
    after = [tuple(v) for v in plotter.camera_position]
    assert not np.allclose(np.array(before), np.array(after)), "the camera did not move"
    assert len(window.session.flags) == 0


def test_a_plain_click_without_flag_mode_places_nothing_but_shift_click_does(qtbot, window):
    cell = _visible_high_cell(window)
    x, y = to_qt(window.view, window.session.land.points[cell])
    assert not window.act["flag_tool"].isChecked()
    QTest.mouseClick(window.view.plotter, LEFT, NO, QPoint(x, y))
    qtbot.wait(100)
    assert len(window.session.flags) == 0
    QTest.mouseClick(window.view.plotter, LEFT, Qt.KeyboardModifier.ShiftModifier, QPoint(x, y))
    qtbot.waitUntil(lambda: len(window.session.flags) == 1, timeout=3000)


def test_a_click_on_empty_space_says_so_and_places_nothing(qtbot, window):
    window.act["flag_tool"].setChecked(True)
    QTest.mouseClick(window.view.plotter, LEFT, NO, QPoint(3, 3))     # a corner: background
    qtbot.waitUntil(lambda: "No visible cell" in window.last_status, timeout=3000)
    assert len(window.session.flags) == 0


def test_undo_and_redo_restore_the_flag_list_exactly(qtbot, window):
    land = window.session.land
    cell = _visible_high_cell(window)
    x, y = to_qt(window.view, land.points[cell])
    window.act["flag_tool"].setChecked(True)
    plotter = window.view.plotter
    states = [window.session.flags]

    def record():
        settle(qtbot, window, 30)
        states.append(window.session.flags)

    # add two flags by clicking
    QTest.mouseClick(plotter, LEFT, NO, QPoint(x, y))
    qtbot.waitUntil(lambda: len(window.session.flags) == 1, timeout=3000)
    record()
    other = _other_visible_cell(window, cell)
    ox, oy = to_qt(window.view, land.points[other])
    QTest.mouseClick(plotter, LEFT, NO, QPoint(ox, oy))
    qtbot.waitUntil(lambda: len(window.session.flags) == 2, timeout=3000)
    record()
    second = window.flag_panel.selected_id()
    # change the selected flag's radius with the slider (one undo step)
    window.flag_panel.radius.setValue(0.5)          # as typed: committed after a short pause
    qtbot.waitUntil(lambda: window.session.get_flag(second).radius == pytest.approx(0.5),
                    timeout=3000)
    record()
    # move it with Ctrl+click onto the first cell
    QTest.mouseClick(plotter, LEFT, Qt.KeyboardModifier.ControlModifier, QPoint(x, y))
    qtbot.waitUntil(lambda: window.session.get_flag(second).center != states[-1][1].center,
                    timeout=3000)
    record()
    # delete the first flag from the panel
    window.flag_panel.select(states[1][0].id)
    qtbot.mouseClick(window.flag_panel.delete_button, LEFT)
    record()
    assert len(states[-1]) == 1
    assert window.act["undo"].text() == f"Undo: delete flag #{states[1][0].id}"

    # Undo all the way back, comparing each state, then redo all the way forward.
    for expected in reversed(states[:-1]):
        window.act["undo"].trigger()
        assert window.session.flags == expected
        assert window.flag_panel.table.rowCount() == len(expected)
    assert not window.act["undo"].isEnabled()
    for expected in states[1:]:
        window.act["redo"].trigger()
        assert window.session.flags == expected
    assert window.act["redo"].text() == "Nothing to redo"


def test_keyboard_shortcuts_toggle_the_flag_tool_and_undo(qtbot, window):
    window.activateWindow()
    window.view.plotter.setFocus()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=3000)
    qtbot.keyClick(window.view.plotter, Qt.Key.Key_F)
    assert window.act["flag_tool"].isChecked()
    assert not window.view.plotter._closed            # pyvista's 'q'/'e' never reach VTK
    qtbot.keyClick(window.view.plotter, Qt.Key.Key_Q)
    assert not window.view.plotter._closed
    window.session.flag(tuple(window.session.land.points[spurious_cell(window)]), 0.3)
    qtbot.keyClick(window.view.plotter, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(window.session.flags) == 0
    qtbot.keyClick(window.view.plotter, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(window.session.flags) == 1


def _other_visible_cell(window, first: int) -> int:
    land = window.session.land
    r = land.reward()
    vis = np.nonzero(window.view.visible)[0]
    far = vis[np.linalg.norm(land.points[vis] - land.points[first], axis=1) > 0.5]
    w, h = window.view.plotter.width(), window.view.plotter.height()
    for c in front_visible_cells(window, far[np.argsort(-r[far])][:3000]):
        x, y = to_qt(window.view, land.points[c])
        if 20 < x < 0.75 * w and 20 < y < h - 20:
            return c
    raise AssertionError("no second visible cell")


def test_dragging_the_radius_slider_is_one_undo_step(qtbot, window):
    from .conftest import slider_handle
    s = window.session
    s.flag(tuple(float(v) for v in s.land.points[spurious_cell(window)]), 0.3)
    window.flag_panel.select(1)
    inner, handle = slider_handle(window.flag_panel.radius)
    QTest.mousePress(inner, LEFT, NO, handle)
    for i in range(1, 8):
        QTest.mouseMove(inner, handle + QPoint(5 * i, 0))
        qtbot.wait(60)
    assert s.get_flag(1).radius == 0.3 and s.undo_text() == "Undo: add flag #1"
    QTest.mouseRelease(inner, LEFT, NO, handle + QPoint(35, 0))
    qtbot.waitUntil(lambda: s.get_flag(1).radius > 0.3, timeout=3000)
    assert s.undo_text().startswith("Undo: radius of flag #1 0.30 -> ")
    window.act["undo"].trigger()
    assert s.get_flag(1).radius == 0.3 and s.undo_text() == "Undo: add flag #1"
