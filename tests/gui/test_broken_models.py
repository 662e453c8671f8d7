"""The window never shows a broken model as clean: a hostile artifact is refused
with a dialog and a line on stderr, and a refinement whose result is not a finite
reward model is rolled back under a warning that does not block."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from PyQt6.QtWidgets import QMessageBox
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from explorer.model import artifact
from explorer.model.patches import PatchSet

from .conftest import settle, spurious_cell

pytestmark = pytest.mark.gui


def _meta(d, fn):
    meta = json.loads((d / "artifact.json").read_text())
    fn(meta)
    (d / "artifact.json").write_text(json.dumps(meta))


def _huge_weights(d):
    tensors = dict(st_load((d / "weights.safetensors").read_bytes()))
    tensors["expertness.enc_w"] = np.full_like(tensors["expertness.enc_w"], 3e38)
    blob = st_save(tensors)
    (d / "weights.safetensors").write_bytes(blob)
    _meta(d, lambda m: m["weights"].update(sha256=hashlib.sha256(blob).hexdigest()))


CASES = {
    "psi.k = 1e308": (lambda d: _meta(d, lambda m: m["psi"].update(k=1e308)), "$.psi.k"),
    "weights 3e38": (_huge_weights, "expertness.enc_w"),
    "nested 100,000 deep": (lambda d: (d / "artifact.json").write_text("[" * 100_000 + "]" * 100_000),
                            "nested at most 64 levels deep"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_artifact_is_refused_with_a_dialog_and_a_line_on_stderr(qtbot, window, tmp_path, monkeypatch,
                                                                          capsys, case):
    breaks, says = CASES[case]
    d = artifact.save(window.session.model, tmp_path / "broken")
    breaks(d)
    dialogs = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a: dialogs.append((title, text)))
    capsys.readouterr()
    before = (window.session.world.name, window.session.current, window.session.model)
    assert window.files.open_artifact(str(d)) is False
    assert len(dialogs) == 1 and dialogs[0][0] == "Cannot open artifact" and says in dialogs[0][1]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(d) in err and says in err and "Traceback" not in err
    assert (window.session.world.name, window.session.current, window.session.model) == before


def test_a_refinement_that_would_serve_a_broken_model_is_rolled_back_under_a_warning(qtbot, window, monkeypatch,
                                                                                      capsys):
    import explorer.session.jobs as jobs
    s = window.session
    s.flag(tuple(float(v) for v in s.land.points[spurious_cell(window)]), 0.3)

    def broken_patch(model, land, flags, **kw):
        child = model.next_version()      # a kernel of bandwidth 1e-30: its field is inf/NaN
        child.patches = PatchSet(np.zeros((1, 3), np.float32), np.array([1e-30], np.float32),
                                 np.ones(1, np.float32), np.zeros(1, np.int64))
        return child, None
    monkeypatch.setattr(jobs, "local_patch", broken_patch)
    reward = s.land.reward().copy()
    versions = sorted(s.versions.entries)
    capsys.readouterr()
    with qtbot.waitSignal(window.jobDone, timeout=60_000):
        window.refine()
    settle(qtbot, window)
    assert sorted(s.versions.entries) == versions and s.current == versions[-1]   # nothing released
    assert np.array_equal(s.land.reward(), reward) and np.isfinite(s.land.reward()).all()
    box = window.last_warning
    assert box is not None and box.isVisible() and not box.isModal()
    assert "rolled back" in box.text() and "patches.bandwidths[0]" in box.text()
    assert f"v{s.current} stays" in box.text()
    assert "rolled back" in capsys.readouterr().err
    box.close()
