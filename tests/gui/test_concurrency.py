"""Concurrency and bad input in the real window: a second refinement while one
runs, closing the window mid-refinement, switching worlds during training, Stop
at different moments, and malformed artifacts/sessions opened through the File
menu. Each leaves a consistent model (finite landscape, consistent version
numbers, flags intact); the autouse ``no_leaked_threads`` fixture (conftest)
fails any test that leaves a worker thread running after its window closed."""
from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from .conftest import open_window, settle, spurious_cell

pytestmark = pytest.mark.gui


def _flag_spurious(window, radius=0.9):
    s = window.session
    centre = tuple(float(v) for v in s.land.points[spurious_cell(window)])
    s.flag(centre, radius)
    return s.flags


def _use_data_driven(window):
    rp = window.refine_panel
    rp.method.setCurrentIndex(rp.method.findData("data"))


def _count_concurrent(window, monkeypatch):
    """Wrap the session's refinement jobs to record how many run at once."""
    s = window.session
    real = s.refine_job
    state = {"now": 0, "max": 0, "runs": 0}
    lock = threading.Lock()

    def counted(method="local", steps=1000):
        # What is tested is the queue, not the patch: 300 steps keep each job running
        # for seconds, long enough to be overlapped if the runner allowed it.
        job = real(method, min(steps, 300))
        inner_run = job.run

        def run(stop):
            def gen():
                with lock:
                    state["now"] += 1
                    state["runs"] += 1
                    state["max"] = max(state["max"], state["now"])
                try:
                    return (yield from inner_run(stop))
                finally:
                    with lock:
                        state["now"] -= 1
            return gen()
        job.run = run
        return job
    monkeypatch.setattr(s, "refine_job", counted)
    return state


def assert_consistent(window, flags):
    s = window.session
    r = s.reward()
    assert np.all(np.isfinite(r)) and r.min() >= 0 and r.max() <= 1
    assert np.allclose(r, s.model.reward(s.land.points), atol=1e-5)    # landscape == model
    assert s.flags == flags
    versions = sorted(s.versions.entries)
    assert s.version in versions
    for e in s.versions.ordered():
        assert e.parent is None or e.parent in versions
    assert s.model.parent is None or s.model.parent < s.model.version
    assert not window.jobs.busy


def test_a_second_refinement_while_one_runs_is_queued_never_concurrent(qtbot, window, monkeypatch):
    s = window.session
    flags = _flag_spurious(window)
    _use_data_driven(window)
    state = _count_concurrent(window, monkeypatch)
    v0 = s.model.version
    done = []
    window.jobDone.connect(done.append)
    window.refine()
    assert window.jobs.busy and window.jobs.kind == "data"
    window.refine()                                     # while it runs: queued, and said so
    assert "queued" in window.last_status
    window.flywheel.audit()                             # another kind of job: refused
    assert window.jobs.kind == "data" and "is running" in window.last_status
    with pytest.raises(RuntimeError, match="already running"):
        window.jobs.start(s.refine_job("local"))
    qtbot.waitUntil(lambda: len(done) >= 2, timeout=240_000)
    settle(qtbot, window)
    assert done[:2] == ["data", "data"] and state["runs"] == 2 and state["max"] == 1
    assert s.model.version > v0 and all(e.parent is not None for e in s.versions.ordered()[1:])
    assert_consistent(window, flags)


def test_closing_the_window_during_a_data_driven_refinement(qtbot, trained_cube):
    world, model = trained_cube
    w = open_window(qtbot, world, model)
    _flag_spurious(w)
    _use_data_driven(w)
    snaps = []
    w.jobs.snapshot.connect(snaps.append)
    w.refine()
    qtbot.waitUntil(lambda: len(snaps) >= 2, timeout=30_000)
    thread = w.jobs._thread
    assert thread is not None and thread.is_alive()
    w.close()                                           # stops the job and joins its thread
    assert not thread.is_alive() and w.jobs._done.is_set()
    qtbot.wait(100)                                     # queued results reach a closed window: ignored


def test_switching_worlds_during_training_is_refused_and_stop_keeps_the_model(qtbot, window, monkeypatch):
    import explorer.session.jobs as jobs
    from explorer.model.learning import config_for
    real = jobs.training
    monkeypatch.setattr(jobs, "training", lambda world, config, stop=None, report_every=100, **kw: real(
        world, config_for(world, steps=1500), stop=stop, report_every=20, **kw))
    s = window.session
    flags = _flag_spurious(window, 0.3)
    model0 = s.model
    snaps = []
    window.jobs.snapshot.connect(snaps.append)
    window.train_again()
    assert window.jobs.kind == "train"
    qtbot.waitUntil(lambda: len(snaps) >= 2, timeout=30_000)
    assert not window.files.switch_world("ridge")       # refused while training, and said so
    assert "Cannot open world 'ridge' now" in window.last_status
    assert s.world.name == "cube" and not window.world_combo.isEnabled()
    window.refine()
    assert "Cannot refine" in window.last_status and "training is running" in window.last_status
    with qtbot.waitSignal(window.jobDone, timeout=30_000):
        window.stop_job()
    assert "Training stopped" in window.last_status
    assert s.model is model0 and s.world.name == "cube"
    assert_consistent(window, flags)
    assert window.world_combo.isEnabled()


@pytest.mark.parametrize("when", ["at once", "first report", "middle", "after done"])
def test_stop_at_any_moment_keeps_a_consistent_model(qtbot, window, when):
    s = window.session
    flags = _flag_spurious(window)
    _use_data_driven(window)
    v0 = s.model.version
    seen = []

    def on_snap(snap):
        seen.append(snap.step)
        if (when == "first report" and len(seen) == 1) or (when == "middle" and len(seen) == 4):
            window.stop_job()
    window.jobs.snapshot.connect(on_snap)
    with qtbot.waitSignal(window.jobDone, timeout=90_000):
        window.refine()
        if when == "at once":
            window.stop_job()
    if when == "after done":
        window.stop_job()                               # nothing runs: a no-op
        settle(qtbot, window)
    if s.version == v0:
        # No version, and the window said why: stopped before anything changed, or the
        # regression check refused the result (never an unchecked version in History).
        assert "no new version" in window.last_status or "refused by the regression check" in \
            window.last_status, window.last_status
        assert len(s.versions) == 1
    else:
        edit = s.model.edits[-1]
        assert s.model.version == v0 + 1 and s.model.parent == v0
        if when in ("at once", "first report"):
            assert edit.get("stopped") and edit["steps"] < 1000
    assert_consistent(window, flags)
    settle(qtbot, window)
    assert np.allclose(np.asarray(window.view.scene.mesh["reward"]), s.reward(), atol=1e-6)


# ------------------------------------------------------------ bad input, File menu
def _intercept(monkeypatch):
    from PyQt6.QtWidgets import QMessageBox
    shown = []
    for name in ("critical", "warning"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(
            lambda parent, title, text, *a, _n=name, **k: shown.append((_n, title, text))
            or QMessageBox.StandardButton.Ok))
    return shown


def _menu_action(window, text):
    for act in window.menuBar().actions():
        if act.text() == "&File":
            for a in act.menu().actions():
                if a.text() == text:
                    return a
    raise AssertionError(f"no File menu item {text!r}")


def _state(window):
    s = window.session
    return (s.model, s.world, s.flags, window.windowTitle(), s.root, s.undo_text())


@pytest.mark.parametrize("damage", ["no artifact.json", "bad json", "wrong schema"])
def test_a_malformed_artifact_from_the_file_menu_names_the_file_and_keeps_the_state(
        qtbot, window, monkeypatch, tmp_path, damage):
    from PyQt6.QtWidgets import QFileDialog
    s = window.session
    _flag_spurious(window, 0.3)
    d = tmp_path / "art"
    s.save_artifact(d)
    meta = d / "artifact.json"
    if damage == "no artifact.json":
        meta.unlink()
    elif damage == "bad json":
        meta.write_text('{"format": "reward-explorer-artifact", ')
    else:
        data = json.loads(meta.read_text())
        data["format_version"] = 999
        meta.write_text(json.dumps(data))
    before = _state(window)
    shown = _intercept(monkeypatch)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(d)))
    _menu_action(window, "&Open artifact...").trigger()
    assert len(shown) == 1 and shown[0][1] == "Cannot open artifact", shown
    assert str(d) in shown[0][2]
    if damage == "wrong schema":
        assert "format_version" in shown[0][2]
    assert _state(window) == before and window.session.ready


@pytest.mark.parametrize("damage", ["no session.json", "bad json", "bad version entry", "deep nesting"])
def test_a_malformed_session_from_the_file_menu_names_the_file_and_keeps_the_state(
        qtbot, window, monkeypatch, tmp_path, damage):
    from PyQt6.QtWidgets import QFileDialog
    s = window.session
    root = tmp_path / "sess"
    s.save(root)
    s.flag((0.1, 0.0, 0.0), 0.2)                  # journalled in root
    s.close()
    other = tmp_path / "other"
    s.save(other)                                 # the window now works elsewhere
    sj = root / "session.json"
    if damage == "no session.json":
        sj.unlink()
        field = "session.json"
    elif damage == "bad json":
        sj.write_text("{not json")
        field = "session.json"
    elif damage == "bad version entry":
        data = json.loads(sj.read_text())
        data["versions"][0]["directory"] = "../../etc"
        sj.write_text(json.dumps(data))
        field = "$.versions[0].directory"
    else:
        sj.write_text("[" * 50_000 + "]" * 50_000)
        field = "nested at most"
    before = _state(window)
    shown = _intercept(monkeypatch)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(root)))
    _menu_action(window, "Open sessio&n...").trigger()
    assert len(shown) == 1 and shown[0][1] == "Cannot open session", shown
    assert str(root) in shown[0][2] and field in shown[0][2]
    assert _state(window) == before and window.session.root == other


def test_reopening_an_interrupted_session_says_what_was_recovered(qtbot, window, monkeypatch, tmp_path):
    """The window's File > Open session path replays the journal and says so."""
    from PyQt6.QtWidgets import QFileDialog
    s = window.session
    root = tmp_path / "sess"
    s.save(root)
    for i in range(3):
        s.flag((0.1 * i, 0.0, 0.0), 0.2)
    saved = root.with_name("copy")
    shutil.copytree(root, saved)                        # as a kill -9 would have left it
    window.session.close()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(saved)))
    _menu_action(window, "Open sessio&n...").trigger()
    qtbot.waitUntil(lambda: window.last_status.startswith("Recovered"), timeout=5000)
    assert window.last_status.startswith("Recovered: recovered 3 steps from an interrupted session")
    box = window.last_warning
    assert box is not None and box.isVisible() and not box.isModal()
    assert "recovered 3 steps" in box.text()
    assert len(window.session.flags) == 3 and window.flag_panel is not None
    box.close()
