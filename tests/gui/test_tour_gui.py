"""The guided tour in the real window: Next runs a step's actions in the worker
and outlines the control it is about, Back reverts through the undo history,
Restart goes to the first step, and autoplay exports one PNG per step with a
manifest (slides)."""
from __future__ import annotations

import json

import pytest
from PyQt6.QtGui import QImage

from explorer.tour import parse

pytestmark = pytest.mark.gui

SHORT = {"format": "explorer-tour", "schema_version": 1, "title": "Short flywheel", "world": "cube",
         "steps": [{"title": "The world", "text": "{expert_samples} expert samples.", "highlight": "view",
                    "overlays": {"flaws": True}},
                   {"title": "Audit", "text": "{findings} in {regions}.",
                    "highlight": "findings", "do": ["audit"], "tab": "flywheel"},
                   {"title": "Accept", "text": "{notes}.", "highlight": "accept", "do": ["accept:1"]},
                   {"title": "Apply", "text": "Flaws {flaws_before} -> {flaws_after}, check {check}.",
                    "highlight": "check", "do": ["apply"]},
                   {"title": "Policy", "text": "Before: {policy_before}. After: {policy_after}.",
                    "highlight": "policy", "policy": "compare"}]}


@pytest.fixture(autouse=True)
def _private_sessions(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def _wait_step(qtbot, panel, index: int) -> None:
    qtbot.waitUntil(lambda: panel.run.index == index and not panel.busy, timeout=60_000)
    qtbot.wait(120)


def test_next_back_and_restart_walk_the_session_through_its_undo_history(qtbot, window):
    s = window.session
    panel = window.open_tour(parse(SHORT, "short"))
    _wait_step(qtbot, panel, 0)
    assert panel.title.text() == "The world" and panel.text.text() == "20 expert samples."
    assert panel.highlighted() is window.view and window.overlay_actions["flaws"].isChecked()
    for i in (1, 2, 3):
        panel.next()
        _wait_step(qtbot, panel, i)
    assert s.version == 2 and panel.highlighted() is window.readouts.labels["check"]
    assert "check passed" in panel.text.text() and window.dock.isVisible()
    assert "3px solid" in window.readouts.labels["check"].styleSheet()
    panel.next()
    _wait_step(qtbot, panel, 4)
    assert panel.pair is not None and "v1: ends" in panel.text.text() and "v2: ends" in panel.text.text()
    assert "policy_ref_path" in window.view.plotter.actors and "policy_path" in window.view.plotter.actors
    panel.back()                                  # nothing to undo for a view step
    assert panel.run.index == 3 and s.version == 2
    panel.back()                                  # the apply is undone: v1 again, decisions kept
    assert panel.run.index == 2 and s.version == 1 and s.triage.counts()["accepted"] == 1
    assert "3px solid" not in window.readouts.labels["check"].styleSheet()
    panel.back()
    assert s.triage.counts()["accepted"] == 0
    panel.next()                                  # forward again runs the step again
    _wait_step(qtbot, panel, 2)
    assert s.triage.counts()["accepted"] == 1
    panel.restart()
    _wait_step(qtbot, panel, 0)
    assert s.triage is None and s.version == 1 and not s.commands.done
    panel.close()
    assert window.tour is None and panel.highlighted() is None


def test_help_opens_the_tour_of_the_world_shown(qtbot, window):
    window.act["tour"].trigger()
    panel = window.tour
    assert panel is not None and panel.tour.world == "cube" and len(panel.run) == 8
    qtbot.waitUntil(lambda: panel.run.index == 0, timeout=10_000)
    assert panel.title.text().startswith("1.") and not panel.back_button.isEnabled()
    panel.close()


def test_autoplay_exports_one_png_per_step_and_a_manifest(qtbot, window, tmp_path):
    tour = parse({**SHORT, "steps": SHORT["steps"][:2]}, "short")
    panel = window.open_tour(tour, autoplay=True)
    panel.export_dir = tmp_path / "slides"
    with qtbot.waitSignal(panel.finished, timeout=60_000):
        pass
    manifest = json.loads((tmp_path / "slides" / "manifest.json").read_text())
    assert [st["title"] for st in manifest["steps"]] == ["The world", "Audit"]
    for st in manifest["steps"]:
        img = QImage(str(tmp_path / "slides" / st["png"]))
        assert img.width() == window.frameGeometry().width() and img.height() > 300
        assert st["text"] and "{" not in st["text"]
    panel.close()
