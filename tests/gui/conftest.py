"""GUI tests drive the real window (pyvistaqt + Qt) under an X server.

Run: ``xvfb-run -a .venv/bin/python -m pytest tests/gui``. Qt's offscreen
platform cannot host the VTK view, so without a DISPLAY every
test here is skipped with that reason.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

torch.set_num_threads(1)
# The window keeps trained models in the user's cache directory: never the real one
# in tests, and off unless a test turns it on (a test of training must train).
os.environ.setdefault("EXPLORER_CACHE_DIR", "off")

NO_DISPLAY = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
NO_DISPLAY_REASON = ("GUI tests need an X server (DISPLAY is not set): run them under "
                     "`xvfb-run -a`; QT_QPA_PLATFORM=offscreen cannot host the 3D view")


def pytest_collection_modifyitems(config, items):
    if not NO_DISPLAY:
        return
    here = os.path.dirname(__file__)
    skip = pytest.mark.skip(reason=NO_DISPLAY_REASON)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(skip)


def _python_threads() -> set:
    import threading
    # Qt's pool threads show up as _DummyThread once they touch threading: the
    # QThreadPool count below covers them.
    return {t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}


@pytest.fixture(autouse=True)
def no_leaked_threads(request):
    """Fail a GUI test if, after its windows are closed (pytest-qt closes them before
    fixture teardown) and events processed, a Qt worker thread is still running or a
    Python thread it started is still alive (as napari's test suite does)."""
    if "qtbot" not in request.fixturenames:
        yield
        return
    import time
    before = _python_threads()
    yield
    from PyQt6.QtCore import QThreadPool
    from PyQt6.QtWidgets import QApplication
    pool = QThreadPool.globalInstance()
    deadline = time.perf_counter() + 5.0
    while True:
        QApplication.processEvents()
        leaked = [t for t in _python_threads() - before if t.is_alive()]
        running = pool.activeThreadCount()
        if (not leaked and running == 0) or time.perf_counter() > deadline:
            break
        time.sleep(0.02)
    assert running == 0, f"{running} Qt worker thread(s) still running after the window closed"
    assert not leaked, f"Python threads left running by the test: {[t.name for t in leaked]}"


@pytest.fixture(scope="session")
def trained_cube():
    """One trained cube model for the whole GUI session (each window gets a clone)."""
    import worlds
    from explorer.model.learning import config_for, train
    world = worlds.load("cube")
    return world, train(world, config_for(world))


def open_window(qtbot, world, model=None, **kw):
    from explorer.app.window import MainWindow
    window = MainWindow(world, model=model.clone() if model is not None else None, **kw)
    window.ask_on_close = False
    qtbot.addWidget(window, before_close_func=lambda w: setattr(w, "ask_on_close", False))
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.is_ready, timeout=60_000)
    settle(qtbot, window)
    return window


def settle(qtbot, window, ms: int = 150) -> None:
    """Let queued snapshots, frames and paints happen, then draw synchronously."""
    qtbot.wait(ms)
    window.view.render_now()


@pytest.fixture
def window(qtbot, trained_cube):
    """The real main window on the cube world with its model shown."""
    world, model = trained_cube
    w = open_window(qtbot, world, model)
    yield w
    w.ask_on_close = False
    w.close()


def spurious_cell(window) -> int:
    """The clearest spurious extrapolation: the flaw with the highest reward x distance."""
    land = window.session.land
    r = land.reward()
    return int(np.argmax(r * land.flaw_mask(r) * land.distance))


def front_visible_cells(window, candidates: np.ndarray) -> list[int]:
    """Candidates that no other visible cell hides from the camera (checked here in
    numpy, independently of the window's own picking code), nearest the screen centre first."""
    view = window.view
    pts = window.session.land.points.astype(float)
    visible = view.visible
    eye = np.asarray(view.plotter.camera.position, float)
    tol = 0.75 * float(np.max(window.session.world.bounds_max - window.session.world.bounds_min)) \
        / (window.session.world.resolution - 1)
    out = []
    for c in candidates:
        d = pts[c] - eye
        dist = np.linalg.norm(d)
        d /= dist
        rel = pts[visible] - eye
        along = rel @ d
        perp = np.linalg.norm(rel - along[:, None] * d, axis=1)
        # Cells clearly in front of it (by half a spacing) near the ray would take the pick;
        # a neighbour at about the same depth may (it is within one spacing anyway).
        blockers = (along < dist - tol / 1.5) & (perp <= 1.1 * tol)
        if not blockers.any():
            out.append(int(c))
    return out


def to_qt(view, point) -> tuple[int, int]:
    """Project a world point to the plotter's Qt logical pixel coordinates with the
    renderer's WorldToDisplay (VTK: device pixels, y up; Qt: logical pixels, y down)."""
    ren = view.plotter.renderer
    ren.SetWorldPoint(float(point[0]), float(point[1]), float(point[2]), 1.0)
    ren.WorldToDisplay()
    dx, dy, _ = ren.GetDisplayPoint()
    dpr = view.plotter.devicePixelRatioF()
    return int(round(dx / dpr)), int(round(view.plotter.height() - 1 - dy / dpr))


def slider_handle(labeled_slider):
    """(inner slider, centre of its handle) of a superqt labeled slider."""
    from PyQt6.QtWidgets import QStyle, QStyleOptionSlider
    inner = labeled_slider._slider
    opt = QStyleOptionSlider()
    inner.initStyleOption(opt)
    rect = inner.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                        QStyle.SubControl.SC_SliderHandle, inner)
    return inner, rect.center()
