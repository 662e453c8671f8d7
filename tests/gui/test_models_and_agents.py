"""Bring your own reward model in the real window: open an ONNX graph, see what it
cannot do (and why), patch it, export the corrected reward as ONNX; and a real RL
agent (PPO) trained on the current reward, drawn over the landscape."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtWidgets import QFileDialog

from .conftest import settle, spurious_cell

pytestmark = pytest.mark.gui


@pytest.fixture
def onnx_file(tmp_path, window):
    """Someone else's reward model: the cube's served reward, exported (any ONNX would do)."""
    path = tmp_path / "their_reward.onnx"
    window.session.export_onnx(path)
    return path


def test_open_an_onnx_model_patch_it_and_export_the_correction(qtbot, window, onnx_file, tmp_path, monkeypatch):
    import onnxruntime as ort
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(onnx_file), "")))
    window.act["open_model"].trigger()
    s = window.session
    qtbot.waitUntil(lambda: s.versions.entry(s.version).kind == "imported", timeout=10_000)
    assert "their_reward.onnx" in window.last_status and "Disabled:" in window.last_status
    # What an imported reward cannot do is disabled, with the reason where the person looks.
    rp = window.refine_panel
    data_item = rp.method.model().item(rp.method.findData("data"))
    assert not data_item.isEnabled() and "imported" in data_item.toolTip()
    assert not rp.l_max.isEnabled() and "outputs a reward" in rp.l_max.toolTip()
    # Flags and local patches work on it like on our own models.
    s.flag(tuple(float(v) for v in s.land.points[spurious_cell(window)]), 0.5)
    with qtbot.waitSignal(window.jobDone, timeout=60_000):
        window.refine()
    assert s.version == 2 and len(s.model.patches) > 0
    out = tmp_path / "corrected.onnx"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    window.act["export_onnx"].trigger()
    assert out.is_file() and "matches the explorer" in window.last_status
    served = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(
        ["reward"], {"states": s.land.points})[0]
    assert np.abs(served - s.reward()).max() <= 1e-5


def test_train_ppo_on_the_current_reward_and_draw_its_path(qtbot, window, monkeypatch):
    pytest.importorskip("stable_baselines3")
    import explorer.app.agent_controls as ac
    monkeypatch.setattr(ac, "STEPS", 2048)                 # a short run: the mechanics, not the skill
    seen = []
    window.jobs.snapshot.connect(lambda snap: seen.append(snap.stage))
    with qtbot.waitSignal(window.jobDone, timeout=180_000):
        window.act["train_ppo"].trigger()
    settle(qtbot, window)
    assert "ppo" in seen
    assert window.last_status.startswith("PPO (seed 0, 2,048 steps) on v1: ends ")
    assert "agent_path" in window.view.plotter.actors
    assert not window.view.plotter.actors["agent_path"].GetPickable()
