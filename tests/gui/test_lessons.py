"""The lessons, opened as a new user would: from the real main window's Lessons menu.

Collapse: both arms run in a worker thread and are drawn while they run (a partial
result first), both views show the reward model's landscape and the policy's path,
the plot has both arms' curves, the round slider rewrites the landscape in place, the
linear choice shows the published comparison, and closing (even mid-run) leaves no
worker behind. AfD: the routes and each fitted model are drawn as they come. Both:
something meaningful is drawn before Run, Esc and Ctrl+W close the window, presenter
mode reads at 18 pt, and the layout holds at 1280x720 and 1600x1000.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PyQt6.QtCore import Qt, QThreadPool
from PyQt6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLabel

from .geometry import layout_problems

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


def _run(qtbot, lesson, world: str, rounds: int, seeds: int) -> list[bool]:
    """Run; returns the ``complete`` flag of every result drawn on the way."""
    lesson.world_combo.setCurrentIndex(lesson.world_combo.findData(world))
    lesson.rounds_spin.setValue(rounds)
    lesson.seeds_spin.setValue(seeds)
    drawn: list[bool] = []
    lesson.resultDrawn.connect(drawn.append)
    with qtbot.waitSignal(lesson.runDone, timeout=120_000) as blocker:
        qtbot.mouseClick(lesson.run_button, Qt.MouseButton.LeftButton)
    lesson.resultDrawn.disconnect(drawn.append)
    assert blocker.args == [True], lesson.error
    return drawn


def _standalone(qtbot, cls, world: str = "cube"):
    lesson = cls(world)
    qtbot.addWidget(lesson)
    lesson.show()
    qtbot.waitExposed(lesson)
    return lesson


def _painted_fraction(plotter) -> float:
    """Share of a 3D view's pixels that are not the white background."""
    plotter.render()
    img = np.asarray(plotter.screenshot(return_img=True), float)
    return float(np.mean(np.any(img < 235, axis=-1)))


def test_collapse_lesson_from_the_menu(qtbot, window):
    threads_before = threading.active_count()
    lesson = _open_collapse(qtbot, window)
    try:
        drawn = _run(qtbot, lesson, "cube", rounds=60, seeds=1)
        # drawn as it ran: a partial result (seed 0's first rounds) before the complete one
        assert drawn[0] is False and drawn[-1] is True
        res = lesson.result
        assert res.complete and res.world_name == "cube" and set(res.arms) == {"myopic", "relaxed", "practical"}
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
        # the plot: both arms, 61 rounds each, the slider's round marked with both values
        assert set(lesson.plot.series) == {"myopic", "relaxed"}
        for run in lesson.plot.series.values():
            assert len(run.true_utility) == len(run.proxy_reward) == len(run.noise_norm) == 61
        assert lesson.plot.marker == 60
        u = {a: f"{lesson.plot.series[a].true_utility[60]:.1f}" for a in ("myopic", "relaxed")}
        assert set(u.values()) <= set(lesson.plot.marker_texts())
        assert lesson.plot.caption_text(lesson.plot.main) == ""          # the placeholder is gone
        # FPO-relaxed ends above myopic (docs/collapse.md)
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
    lesson.close()                              # stops between steps, then closes the views
    assert lesson.jobs._done.is_set()
    assert QThreadPool.globalInstance().waitForDone(5_000)
    # reopening from the menu gives a fresh window
    again = _open_collapse(qtbot, window)
    assert again is not lesson and not again.busy
    again.close()


def test_stop_keeps_what_was_drawn(qtbot):
    from explorer.app.lessons.collapse_lesson import CollapseLesson
    lesson = _standalone(qtbot, CollapseLesson)
    lesson.rounds_spin.setValue(1000)
    lesson.seeds_spin.setValue(2)
    lesson.start()
    qtbot.waitUntil(lambda: lesson.result is not None and lesson.result.arms["myopic"].last_round > 0,
                    timeout=60_000)
    with qtbot.waitSignal(lesson.runDone, timeout=60_000) as blocker:
        lesson.stop_button.click()
    assert blocker.args == [False] and not lesson.busy
    partial = lesson.result
    assert partial is not None and not partial.complete
    assert 0 < partial.arms["myopic"].last_round < 1000
    assert lesson.views[0].scene is not None and "stopped" in lesson.status.full_text()
    lesson.close()


def test_lessons_close_with_the_main_window(qtbot, window):
    lesson = _open_collapse(qtbot, window)
    window.ask_on_close = False
    window.close()
    qtbot.waitUntil(lambda: lesson.is_closed, timeout=5_000)


def test_afd_lesson_from_the_menu(qtbot, window):
    from explorer.app.lessons import afd_available
    assert afd_available()
    act = window.act["lesson_afd"]
    assert act in window.lessons_menu.actions() and act.isEnabled()
    act.trigger()
    lesson = window.lesson_windows["afd"]
    qtbot.waitExposed(lesson)
    try:
        lesson.world_combo.setCurrentIndex(lesson.world_combo.findData("cube"))
        # the reward-model box lists the models before any run
        assert [lesson.rm_combo.itemData(i) for i in range(lesson.rm_combo.count())] == \
            ["init-sft", "init-demo", "sft-demo", "closed-form"]
        lesson.fit_order = ("closed-form", "init-sft")      # the two cheapest: a short test
        drawn: list[bool] = []
        lesson.resultDrawn.connect(drawn.append)
        with qtbot.waitSignal(lesson.runDone, timeout=120_000) as blocker:
            qtbot.mouseClick(lesson.run_button, Qt.MouseButton.LeftButton)
        assert blocker.args == [True], lesson.error
        assert drawn[0] is False and drawn[-1] is True     # the routes came before the models
        res = lesson.result
        assert set(lesson.plot.runs) == set(res.runs) == {"closed-form", "init-sft"}
        assert {"closed-form", "init-sft", "ceiling"} <= set(lesson.plot.end_label_texts())
        assert lesson.rm_combo.currentData() == "init-sft"          # it followed the newest model
        assert "landscape" in lesson.plotter.actors and "chosen" in lesson.plotter.actors
        assert "demonstrations" in lesson.plotter.actors and "candidates" in lesson.plotter.actors
        mesh = lesson.scene.mesh
        before = np.array(mesh["reward"])
        lesson.rm_combo.setCurrentIndex(lesson.rm_combo.findData("closed-form"))
        assert lesson.scene.mesh is mesh
        assert not np.allclose(np.nan_to_num(before), np.nan_to_num(np.asarray(mesh["reward"])))
        lesson.n_slider.setValue(0)
        assert lesson.n == 1 and lesson.plot.n == 1
        # N = 1 keeps the one route there is: every model scores the same as the ceiling
        row = lesson.plot.values_at(1)
        assert row["closed-form"] == row["init-sft"] == row["ceiling"]
        # a model not fitted in this run: the routes stay, its landscape is not pretended
        lesson.rm_combo.setCurrentIndex(lesson.rm_combo.findData("sft-demo"))
        assert not lesson.scene.actor.GetVisibility() and "chosen" not in lesson.plotter.actors
        assert "sft-demo" in lesson.view.caption
    finally:
        lesson.close()
    assert QThreadPool.globalInstance().waitForDone(5_000)


# ----------------------------------------------------------------- classroom-ready
def _lesson_classes():
    from explorer.app.lessons.afd_lesson import AfdLesson
    from explorer.app.lessons.collapse_lesson import CollapseLesson
    return {"collapse": CollapseLesson, "afd": AfdLesson}


@pytest.mark.parametrize("key", ["collapse", "afd"])
def test_a_lesson_draws_something_before_run(qtbot, key):
    lesson = _standalone(qtbot, _lesson_classes()[key], "ridge")
    try:
        if key == "collapse":
            views = [v.plotter for v in lesson.views]
            for v in lesson.views:
                assert "terrain" in v.plotter.actors and "path_start" in v.plotter.actors
                assert "press Run" in v.title.text()
            plot, item = lesson.plot, lesson.plot.main
        else:
            views = [lesson.plotter]
            assert "expert_routes" in lesson.plotter.actors and "terrain" in lesson.plotter.actors
            assert lesson.rm_combo.count() == 4 and lesson.rm_combo.currentText()
            plot, item = lesson.plot, lesson.plot.item
        for plotter in views:
            assert _painted_fraction(plotter) > 0.05          # the world, not a white box
        assert "Run" in plot.caption_text(item)               # a caption over real axes
        assert item.getAxis("bottom").isVisible() and item.getAxis("left").isVisible()
    finally:
        lesson.close()


@pytest.mark.parametrize("key", ["collapse", "afd"])
@pytest.mark.parametrize("keys", ["esc", "ctrl+w"])
def test_esc_and_ctrl_w_close_a_lesson(qtbot, key, keys):
    lesson = _standalone(qtbot, _lesson_classes()[key])
    lesson.activateWindow()
    qtbot.waitUntil(lesson.isActiveWindow, timeout=5_000)
    target = lesson.views[0].plotter if key == "collapse" else lesson.plotter   # even from the 3D view
    target.setFocus()
    if keys == "esc":
        qtbot.keyClick(target, Qt.Key.Key_Escape)
    else:
        qtbot.keyClick(target, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: lesson.is_closed, timeout=5_000)
    assert not lesson.isVisible()


def _text_widgets(lesson):
    return [w for w in lesson.findChildren((QLabel, QAbstractButton, QComboBox, QAbstractSpinBox))
            if w.isVisible()]


@pytest.mark.parametrize("key", ["collapse", "afd"])
def test_presenter_mode_reads_at_18_pt(qtbot, key):
    lesson = _standalone(qtbot, _lesson_classes()[key])
    try:
        normal = {id(w): w.font().pointSizeF() for w in _text_widgets(lesson)}
        lesson.set_presenter(True)
        qtbot.wait(50)
        small = [(type(w).__name__, w.font().pointSizeF()) for w in _text_widgets(lesson)
                 if w.font().pointSizeF() < 18]
        assert not small, small
        plot = lesson.plot
        assert plot.presenter and plot.sizes.font_pt >= 18 and plot.sizes.line >= 4
        for item in plot.plots:
            for side in ("left", "bottom"):
                assert item.getAxis(side).style["tickFont"].pointSizeF() >= 18
        views = lesson.views if key == "collapse" else [lesson.view]
        assert all(v.presenter for v in views)
        lesson.set_presenter(False)
        assert all(w.font().pointSizeF() == normal[id(w)] for w in _text_widgets(lesson) if id(w) in normal)
        assert plot.sizes.font_pt < 18
    finally:
        lesson.close()


@pytest.mark.parametrize("key", ["collapse", "afd"])
@pytest.mark.parametrize("size", [(1280, 720), (1600, 1000)])
@pytest.mark.parametrize("presenter", [False, True])
def test_the_layout_holds_at_projector_sizes(qtbot, key, size, presenter):
    lesson = _standalone(qtbot, _lesson_classes()[key])
    try:
        lesson.set_presenter(presenter)
        lesson.resize(*size)
        qtbot.wait(100)
        assert (lesson.width(), lesson.height()) == size, "the window's minimum size does not fit"
        problems = layout_problems(lesson)
        assert not problems, "\n".join(problems)
        # the plot keeps room for its data: at least a quarter of the window's height
        assert lesson.plot.height() >= size[1] // 4
        # hiding the 'what to watch' text gives its room to the views and the plot
        before = lesson.plot.height() + (lesson.views[0] if key == "collapse" else lesson.view).height()
        lesson.explain_toggle.click()
        qtbot.wait(50)
        assert not lesson.explain_area.isVisible() and lesson.explain_toggle.text() == "What to watch"
        after = lesson.plot.height() + (lesson.views[0] if key == "collapse" else lesson.view).height()
        assert after > before
        assert not layout_problems(lesson)
    finally:
        lesson.close()


def test_the_layout_check_finds_cut_off_and_overlapping_widgets(qtbot):
    from PyQt6.QtWidgets import QPushButton, QWidget
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.resize(200, 100)
    QLabel("a text far too long for fifty pixels", parent).setGeometry(0, 0, 50, 20)
    QPushButton("overlaps", parent).setGeometry(20, 5, 90, 30)
    QPushButton("outside", parent).setGeometry(180, 80, 90, 30)
    parent.show()
    qtbot.waitExposed(parent)
    problems = "\n".join(layout_problems(parent))
    assert "text is cut off" in problems and "overlap" in problems and "cut off by its parent" in problems
