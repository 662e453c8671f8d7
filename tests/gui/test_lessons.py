"""The lessons, opened as a new user would: from the real main window's Lessons menu.

Collapse: both arms run in a worker thread, both views show the reward model's
landscape and the policy's path, the plot has both arms' curves, the round slider
rewrites the landscape in place, the linear choice shows the published comparison,
and closing (even mid-run) leaves no worker behind.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PyQt6.QtCore import Qt, QThreadPool

pytestmark = pytest.mark.gui


def _open_collapse(qtbot, window):
    menu_texts = [a.text() for a in window.menuBar().actions()]
    assert "&Lessons" in menu_texts
    act = window.act["lesson_collapse"]
    assert act in window.lessons_menu.actions() and act.isEnabled()
    act.trigger()
    lesson = window.lesson_windows["collapse"]
    qtbot.waitExposed(lesson)
    assert "What to watch" in lesson.explain.text()
    return lesson


def _run(qtbot, lesson, world: str, rounds: int, seeds: int) -> None:
    lesson.world_combo.setCurrentIndex(lesson.world_combo.findData(world))
    lesson.rounds_spin.setValue(rounds)
    lesson.seeds_spin.setValue(seeds)
    with qtbot.waitSignal(lesson.runDone, timeout=60_000) as blocker:
        qtbot.mouseClick(lesson.run_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [True], lesson.error


def test_collapse_lesson_from_the_menu(qtbot, window):
    threads_before = threading.active_count()
    lesson = _open_collapse(qtbot, window)
    try:
        _run(qtbot, lesson, "cube", rounds=60, seeds=1)
        res = lesson.result
        assert res.world_name == "cube" and set(res.arms) == {"myopic", "relaxed", "practical"}
        n_grid = res.world.grid().points.shape[0]
        # both views: a landscape on the whole grid and a path up to the shown round
        assert lesson.views_box.isVisible()
        for view, arm in zip(lesson.views, ("myopic", "relaxed")):
            assert view.run.arm == arm
            assert view.scene.mesh.n_points == n_grid
            shown = np.asarray(view.scene.mesh["reward"])
            assert np.isfinite(shown).sum() > 0.05 * n_grid
            assert view.round == 60 and view.path_mesh.n_points == 61
            assert "landscape" in view.plotter.actors and "path" in view.plotter.actors
        # the plot: both arms, 61 rounds each, the slider's round marked
        assert set(lesson.plot.series) == {"myopic", "relaxed"}
        for run in lesson.plot.series.values():
            assert len(run.true_utility) == len(run.proxy_reward) == len(run.noise_norm) == 61
        assert lesson.plot.marker == 60
        # FPO-relaxed ends above myopic (docs/collapse.md), and both rose from the start
        assert res.arms["relaxed"].true_utility[-1] > res.arms["myopic"].true_utility[-1]

        # the round slider rewrites the landscape in place
        view = lesson.views[0]
        mesh, actor = view.scene.mesh, view.plotter.actors["landscape"]
        before = np.array(mesh["reward"])
        lesson.slider.setValue(lesson.slider.minimum())
        assert view.scene.mesh is mesh and view.plotter.actors["landscape"] is actor
        after = np.asarray(mesh["reward"])
        assert not np.allclose(np.nan_to_num(before), np.nan_to_num(after))
        assert view.round == 0 and lesson.plot.marker == 0
        assert lesson.round_label.text() == "round 0"
        lesson.slider.setValue(lesson.slider.maximum() // 2)
        mid = view.round
        assert 0 < mid < 60 and view.path_mesh.n_points == mid + 1 and lesson.plot.marker == mid

        # the toggle: FPO-practical in the right view, without recomputing
        lesson.arm_combo.setCurrentIndex(lesson.arm_combo.findData("practical"))
        assert lesson.views[1].run.arm == "practical" and "practical" in lesson.plot.series
        assert lesson.views[1].round == mid

        # linear: the authors' environment, plot only, next to the published figures
        _run(qtbot, lesson, "linear", rounds=300, seeds=1)
        assert not lesson.views_box.isVisible() and lesson.linear_note.isVisible()
        assert lesson.plot.published is not None
        assert "measured" in lesson.linear_note.text() and "9.8" in lesson.linear_note.text()
        myopic = lesson.plot.series["myopic"]
        assert abs(myopic.true_utility.max() - 6.0) < 0.2 and abs(myopic.true_utility[-1] - 3.9) < 0.15
        lesson.grab()                           # paints without error
    finally:
        lesson.close()
    assert lesson.is_closed and not lesson.busy
    assert QThreadPool.globalInstance().waitForDone(5_000)
    assert threading.active_count() <= threads_before


def test_closing_a_lesson_mid_run_stops_its_worker(qtbot, window):
    lesson = _open_collapse(qtbot, window)
    lesson.world_combo.setCurrentIndex(lesson.world_combo.findData("cube"))
    lesson.rounds_spin.setValue(300)
    lesson.seeds_spin.setValue(5)
    qtbot.mouseClick(lesson.run_button, Qt.MouseButton.LeftButton)
    assert lesson.busy and not lesson.run_button.isEnabled()
    lesson.close()                              # stops between runs, then closes the views
    assert lesson.jobs._done.is_set()
    assert QThreadPool.globalInstance().waitForDone(5_000)
    # reopening from the menu gives a fresh window
    again = _open_collapse(qtbot, window)
    assert again is not lesson and not again.busy
    again.close()


def test_lessons_close_with_the_main_window(qtbot, window):
    lesson = _open_collapse(qtbot, window)
    window.ask_on_close = False
    window.close()
    qtbot.waitUntil(lambda: lesson.is_closed, timeout=5_000)


def test_afd_lesson_from_the_menu(qtbot, window):
    from explorer.app.lessons import afd_available
    if not afd_available():
        pytest.skip("the AfD core (explorer.lessons.afd) is not importable")
    act = window.act["lesson_afd"]
    assert act in window.lessons_menu.actions() and act.isEnabled()
    act.trigger()
    lesson = window.lesson_windows["afd"]
    qtbot.waitExposed(lesson)
    try:
        lesson.world_combo.setCurrentIndex(lesson.world_combo.findData("cube"))
        with qtbot.waitSignal(lesson.runDone, timeout=60_000) as blocker:
            qtbot.mouseClick(lesson.run_button, Qt.MouseButton.LeftButton)
        assert blocker.args == [True], lesson.error
        res = lesson.result
        assert set(lesson.plot.runs) == set(res.runs) and len(res.runs) >= 2
        assert "landscape" in lesson.plotter.actors and "chosen" in lesson.plotter.actors
        mesh = lesson.scene.mesh
        before = np.array(mesh["reward"])
        lesson.rm_combo.setCurrentIndex((lesson.rm_combo.currentIndex() + 1) % lesson.rm_combo.count())
        assert lesson.scene.mesh is mesh
        assert not np.allclose(np.nan_to_num(before), np.nan_to_num(np.asarray(mesh["reward"])))
        lesson.n_slider.setValue(0)
        assert lesson.n == 1 and lesson.plot.n == 1
    finally:
        lesson.close()
    assert QThreadPool.globalInstance().waitForDone(5_000)
