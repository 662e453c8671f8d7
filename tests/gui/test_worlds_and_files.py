"""Worlds, training and files in the real window: training at start runs in a
worker with progress, a malformed world file is refused with a dialog and the
current world stays, the world picker switches worlds, artifacts round-trip,
and closing with unsaved refinements asks first."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import QFileDialog, QMessageBox

import worlds

from .conftest import open_window, settle, spurious_cell

pytestmark = pytest.mark.gui


def test_training_at_start_runs_in_a_worker_with_progress(qtbot):
    from explorer.app.window import MainWindow
    snaps = []
    window = MainWindow("cube")                       # returns at once; training runs behind
    window.ask_on_close = False
    qtbot.addWidget(window)
    assert window.jobs.kind == "train" and not window.is_ready
    window.jobs.snapshot.connect(lambda s: snaps.append(s.step))
    window.show()
    ticks = []
    timer = QTimer(window)
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    with qtbot.waitSignal(window.modelReady, timeout=60_000):
        pass
    timer.stop()
    assert snaps and snaps == sorted(snaps)
    assert len(ticks) > 10                            # the event loop ran during training
    assert window.is_ready and window.session.model.version == 1
    assert "cube v1" in window.windowTitle() and not window.isWindowModified()
    assert "of 8,000 cells" in window.readouts.labels["flaws"].text()
    window.close()


def test_a_malformed_world_file_shows_an_error_and_keeps_the_current_world(
        qtbot, window, tmp_path, monkeypatch):
    bad = tmp_path / "broken.toml"
    bad.write_text('schema_version = 1\nname = "broken"\nkind = "volume"\n[bounds]\nmin = [0, 0]\n')
    shown = []
    monkeypatch.setattr(QMessageBox, "critical",
                        staticmethod(lambda parent, title, text, *a, **k: shown.append((title, text))))
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(bad), "World files (*.toml)")))
    world, model, scene = window.session.world, window.session.model, window.view.scene
    window.act["open_world"].trigger()
    assert len(shown) == 1
    title, text = shown[0]
    assert "broken.toml" in text and "\n" not in text               # one line naming the file
    assert window.session.world is world and window.session.model is model
    assert window.view.scene is scene and not window.jobs.busy
    assert window.world_combo.currentData() == "cube"


def test_picking_ridge_in_the_world_list_trains_and_shows_it(qtbot, window):
    if "ridge" not in worlds.available():
        pytest.skip("the built-in world 'ridge' is not there yet")
    combo = window.world_combo
    index = combo.findData("ridge")
    assert index >= 0
    combo.setCurrentIndex(index)
    statuses = []
    window.statusChanged.connect(statuses.append)
    with qtbot.waitSignal(window.modelReady, timeout=90_000):
        combo.activated.emit(index)
    # the status bar names the world being trained, not the one shown before
    training = [m for m in statuses if m.startswith("Training E_theta")]
    assert training and all("'ridge'" in m for m in training)
    _check_terrain_shown(qtbot, window, "ridge")


USER_TERRAIN = """
schema_version = 1
name = "my-hills"
kind = "terrain"
card = "A user's terrain world: one ridge, a hill, a goal, a pit."
[bounds]
min = [-1.0, -1.0, -0.5]
max = [1.0, 1.0, 1.0]
[landscape]
resolution = 48
[terrain]
[[terrain.features]]
kind = "ridge"
start = [-0.8, -0.6]
end = [0.8, 0.6]
height = 0.5
width = 0.25
[[terrain.features]]
kind = "hill"
center = [0.6, -0.6]
height = 0.3
width = 0.2
[[goals]]
name = "summit"
center = [0.7, 0.5]
radius = 0.2
[[hazards]]
name = "pit"
center = [-0.5, 0.6]
radius = 0.2
[expert]
samples = 20
[[expert.routes]]
kind = "polyline"
points = [[-0.8, -0.6], [0.0, 0.0], [0.7, 0.5]]
[[norms]]
kind = "support_required"
boundary = 0.3
[[norms]]
kind = "avoid_region"
region = "pit"
[model]
steps = 1500
"""


def test_a_user_terrain_world_file_opens_trains_and_takes_flags(qtbot, window, tmp_path,
                                                               monkeypatch):
    path = tmp_path / "my_hills.toml"
    path.write_text(USER_TERRAIN)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(path), "World files (*.toml)")))
    with qtbot.waitSignal(window.modelReady, timeout=90_000):
        window.act["open_world"].trigger()
    _check_terrain_shown(qtbot, window, "my-hills")
    assert window.world_combo.currentData() == str(path)     # listed next to the built-ins


def _check_terrain_shown(qtbot, window, name):
    from PyQt6.QtCore import QPoint
    from PyQt6.QtTest import QTest

    from .conftest import to_qt
    s = window.session
    assert s.world.name == name and s.world.is_terrain and window.view.world is s.world
    assert window.view.scene.mesh.n_points == len(s.land.points)
    assert len(s.flags) == 0 and f"{name} v1" in window.windowTitle()
    settle(qtbot, window)
    # Shift+click near the terrain's centre flags a surface point close to it.
    centre = (s.world.bounds_min + s.world.bounds_max) / 2
    target = s.land.points[np.argmin(np.linalg.norm(s.land.points[:, :2] - centre[:2], axis=1))]
    x, y = to_qt(window.view, target)
    QTest.mouseClick(window.view.plotter, Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ShiftModifier, QPoint(x, y))
    qtbot.waitUntil(lambda: len(s.flags) == 1, timeout=3000)
    spacing = float(np.max(s.world.bounds_max - s.world.bounds_min)) / (s.world.resolution - 1)
    assert np.linalg.norm(np.asarray(s.flags[0].center) - target) <= 1.5 * spacing


def test_artifact_save_and_open_round_trip(qtbot, window, tmp_path):
    s = window.session
    s.flag(tuple(float(v) for v in s.land.points[spurious_cell(window)]), 0.5)
    with qtbot.waitSignal(window.jobDone, timeout=30_000):
        window.refine()
    out = tmp_path / "cube-v2"
    assert window.files.save_artifact(str(out))
    assert "cube v2" in window.windowTitle() and "Saved v2" in window.last_status
    reward = s.reward().copy()
    window.train_again()
    qtbot.waitUntil(lambda: not window.jobs.busy and s.model.version == 1, timeout=60_000)
    assert window.files.open_artifact(str(out))
    assert s.model.version == 2 and np.allclose(s.reward(), reward, atol=1e-6)


def test_closing_never_asks_about_edits_that_are_stored_and_asks_about_the_rest(
        qtbot, trained_cube, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    world, model = trained_cube
    window = open_window(qtbot, world, model)
    window.ask_on_close = True
    s = window.session
    s.flag(tuple(float(v) for v in s.land.points[spurious_cell(window)]), 0.5)
    with qtbot.waitSignal(window.jobDone, timeout=30_000):
        window.refine()
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda *a, **k: asked.append(a[1]) or QMessageBox.StandardButton.Cancel))
    assert s.root is not None and not s.dirty            # every edit is in the session directory
    assert window.files.maybe_save("Open world 'ridge'") and asked == []
    s.autosave = False                                    # a session with edits on no disk asks first
    s.replace_with(type(s)(world, model.clone()))
    s.flag((0.1, 0.2, 0.3), 0.2)
    assert s.dirty
    window.close()
    assert asked == ["Unsaved changes"] and window.isVisible()
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard))
    window.close()
    assert not window.isVisible() and window._closed


def test_help_lists_shortcuts_and_about_names_the_method(qtbot, window, monkeypatch):
    seen = []
    monkeypatch.setattr(QMessageBox, "information",
                        staticmethod(lambda parent, title, text, *a: seen.append(text)))
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda parent, title, text: seen.append(text)))
    window.act["shortcuts"].trigger()
    window.act["about"].trigger()
    assert "Ctrl+Shift+Z" in seen[0] and "Shift+click" in seen[0]
    for word in ("Interactionless", "2602.14844", "E<sub>theta</sub>", "g<sub>psi</sub>"):
        assert word in seen[1]
    missing = [a.text() for a in window.act.values() if not a.toolTip()]
    assert not missing
