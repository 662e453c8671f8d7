"""The Alignment Flywheel in the real window: the audit fills the findings panel
and draws numbered markers, the panel's buttons accept / reject / reset regions
(a decision propagates to its whole region), Apply releases a version into the
history only if the regression check passes, a rejected finding is not proposed
again for that version, the history shows / diffs / restores / exports versions,
the plot follows the cycles, the session directory reopens, and a policy's path
and the runtime gate show in the readouts."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFileDialog

from explorer.model import artifact
from explorer.flywheel.triage import ACCEPTED, PENDING, REJECTED

from .conftest import open_window, settle

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def _private_sessions(tmp_path, monkeypatch):
    """Automatic session directories go under tmp_path, not the user's data dir."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def _click(qtbot, button) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _run(qtbot, window, button, kind: str) -> None:
    """Click a button that starts a job and wait until that job is over."""
    with qtbot.waitSignal(window.jobDone, timeout=60_000, check_params_cb=lambda k: k == kind):
        _click(qtbot, button)


def _click_row(qtbot, tree, row: int) -> None:
    item = tree.topLevelItem(row)
    tree.scrollToItem(item)
    rect = tree.visualItemRect(item)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def _rows(tree) -> list[str]:
    return [tree.topLevelItem(i).text(1) for i in range(tree.topLevelItemCount())]


def _audit(qtbot, window):
    _run(qtbot, window, window.findings_panel.audit_button, "audit")
    return window.session.triage


def test_audit_then_accept_a_region_and_apply_releases_a_new_version(qtbot, window, record_property):
    s, fp, hp = window.session, window.findings_panel, window.history_panel
    flaws0, basin0 = s.readouts()["flaws"], s.readouts()["basin_cells"]
    t = _audit(qtbot, window)
    record_property("audit_seconds_in_gui", round(t.report.seconds, 3))
    print(f"\naudit of v1 in the GUI worker: {t.report.seconds:.3f} s, "
          f"{len(t.findings)} findings in {len(t.regions)} regions")
    assert window.tabs.currentIndex() == 1 and fp.isVisible()
    assert fp.tree.topLevelItemCount() == len(t.regions) >= 1
    assert _rows(fp.tree) == ["pending"] * len(t.regions)
    # Numbered, unpickable labels and red rings for the regions in the 3D view.
    actors = window.view.plotter.actors
    assert "finding_labels_pending-labels" in actors and "finding_rings_pending" in actors
    assert not actors["finding_labels_pending-points"].GetPickable()
    assert not actors["finding_rings_pending"].GetPickable()
    # The first region is selected and the camera flies to its representative.
    rep = t.regions[0]
    assert fp.selected_cluster() == rep.cluster
    qtbot.waitUntil(lambda: not window.findings_layer.flying, timeout=3000)
    assert np.allclose(window.view.plotter.camera.focal_point, rep.representative.center, atol=1e-4)
    assert "finding_selected" in window.view.plotter.actors

    # Accept on the representative accepts its whole region (the decision propagates).
    _click_row(qtbot, fp.tree, 0)
    _click(qtbot, fp.accept_button)
    assert t.region(rep.cluster).decision == ACCEPTED
    assert len(t.accepted_findings()) == len(rep.members)
    assert _rows(fp.tree)[0] == "accepted" and "finding_labels_accepted-labels" in window.view.plotter.actors
    assert window.act["undo"].text().startswith("Undo: accept region 1")

    _run(qtbot, window, fp.apply_button, "cycle")
    settle(qtbot, window)
    assert s.model.version == 2 and s.versions.entry(2).kind == "cycle"
    assert hp.versions() == [1, 2]
    assert "v2 *" == hp.tree.topLevelItem(1).text(0)
    m = s.readouts()
    assert m["flaws"] < flaws0 and m["basin_cells"] == basin0            # flaws drop, basin kept
    assert s.last_check["passed"] and "Cycle released v2" in window.last_status
    assert window.plot.points == 2
    assert s.triage is None and fp.tree.topLevelItemCount() == 0
    assert not [n for n in window.view.plotter.actors if n.startswith("finding_")]   # answered
    assert (s.root / "session.json").exists()
    assert "xdg" in s.root.parts and s.root.name.startswith("cube-")
    edit = s.model.edits[-1]
    assert edit["cycle"] and edit["audit_of_version"] == 1
    assert len(edit["findings"]) == len(t.region(rep.cluster).members)      # the accepted region's findings
    assert "session:" in window.session_label.text()
    # Ctrl+Z undoes the cycle (not a decision before it): v1 current, the triage back.
    assert window.act["undo"].text() == "Undo: apply accepted findings: v1 -> v2"
    window.act["undo"].trigger()
    settle(qtbot, window)
    assert s.version == 1 and s.triage is t and hp.versions() == [1, 2]
    window.act["redo"].trigger()
    assert s.version == 2


def test_three_cycles_with_triage_history_diff_restore_export_and_reopen(qtbot, window, tmp_path,
                                                                        monkeypatch):
    s, fp, hp = window.session, window.findings_panel, window.history_panel
    # Cycle 1: accept the two regions farthest from the support (the audit ranks them first).
    t = _audit(qtbot, window)
    assert len(t.regions) >= 5                      # cube's flaws come as a handful of regions
    for row in (0, 1):
        _click_row(qtbot, fp.tree, row)
        _click(qtbot, fp.accept_button)
    _run(qtbot, window, fp.apply_button, "cycle")
    basin = s.readouts()["basin_cells"]

    # Cycle 2: several regions left. Reject, reset, reject again; undo/redo through Edit.
    t = _audit(qtbot, window)
    assert t.version == 2 and len(t.regions) >= 3
    _click_row(qtbot, fp.tree, 0)
    first = t.regions[0]
    _click(qtbot, fp.reject_button)
    assert t.region(first.cluster).decision == REJECTED and _rows(fp.tree)[0] == "fine (rejected)"
    assert fp.selected_cluster() != first.cluster                      # moved on to the next pending
    _click_row(qtbot, fp.tree, 0)
    _click(qtbot, fp.reset_button)
    assert t.region(first.cluster).decision == PENDING
    _click(qtbot, fp.reject_button)
    assert s.reviews.for_version(2)                                      # stored at once
    window.act["undo"].trigger()
    assert t.region(first.cluster).decision == PENDING and not s.reviews.for_version(2)
    window.act["redo"].trigger()
    assert t.region(first.cluster).decision == REJECTED
    hidden_centre = first.representative.center

    # A rejected finding is not proposed again for this version.
    t = _audit(qtbot, window)
    assert t.version == 2 and t.counts()["hidden"] >= 1
    assert all(np.linalg.norm(np.subtract(f.center, hidden_centre)) > 1e-6 for f in t.findings)
    assert f"{t.counts()['hidden']} hidden" in fp.summary.text()

    # Adjust a radius before accepting, accept two regions, apply.
    _click_row(qtbot, fp.tree, 0)
    target = t.regions[0]
    fp.radius.setValue(0.15)
    _click(qtbot, fp.accept_button)
    assert abs(t.region(target.cluster).radius - 0.15) < 1e-9
    assert abs(t.accepted_findings()[0].radius - 0.15) < 1e-3
    _click_row(qtbot, fp.tree, 1)
    _click(qtbot, fp.accept_button)
    assert t.counts()["accepted"] == 2
    _run(qtbot, window, fp.apply_button, "cycle")
    assert s.model.version == 3 and s.model.edits[-1]["reviewed_fine"]

    # Cycle 3: a new version, so v2's rejection does not hide anything here.
    t = _audit(qtbot, window)
    assert t.version == 3 and t.counts()["hidden"] == 0
    _click(qtbot, fp.accept_all_button)
    _run(qtbot, window, fp.apply_button, "cycle")
    assert hp.versions() == [1, 2, 3, 4] and window.plot.points >= 3
    series = [e.metrics for e in s.versions.lineage(s.current)]
    assert series[-1]["flaws"] <= series[1]["flaws"] < series[0]["flaws"]
    assert all(m["basin_cells"] == basin for m in series[1:])          # the basin never shrank
    assert all("policy_true_return" in m for m in series)

    # Selecting an old version shows its landscape; Diff colours by the change since it.
    _click_row(qtbot, hp.tree, 0)
    settle(qtbot, window)
    assert window.layer.viewing == 1
    shown = np.asarray(window.view.scene.mesh["reward"])
    assert np.allclose(shown, s.versions.reward(1, s.land), atol=1e-6)
    assert int((shown > s.world.floor).sum()) > int((s.reward() > s.world.floor).sum())
    _click(qtbot, hp.diff_button)
    settle(qtbot, window)
    assert window.view.scene.mode == "difference" and window.layer.compare == "difference"
    diff = np.asarray(window.view.scene.mesh["reward"])
    assert np.nanmin(diff) < -0.5                                       # spurious reward fell
    window.act["show_after"].trigger()
    settle(qtbot, window)
    assert window.view.scene.mode == "reward"

    # Export a version through the (stubbed) directory dialog.
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path)))
    _click_row(qtbot, hp.tree, 2)
    _click(qtbot, hp.export_button)
    exported = artifact.load(tmp_path / "cube-v3")
    assert exported.version == 3 and exported.parent == 2

    # Restore v2: it becomes current; refining it again would branch.
    _click_row(qtbot, hp.tree, 1)
    _click(qtbot, hp.restore_button)
    settle(qtbot, window)
    assert s.model.version == 2
    assert s.readouts()["flaws"] == s.versions.entry(2).metrics["flaws"]
    assert hp.tree.topLevelItem(1).text(0) == "v2 *"
    root = s.root
    window.session.close()

    # The session directory reopens with the same versions (at the restored one).
    again = open_window(qtbot, s.world, None, session_dir=str(root), train=False)
    try:
        assert again.history_panel.versions() == [1, 2, 3, 4]
        assert again.session.model.version == 2
        assert again.session.reviews.for_version(2)                    # the rejection too
        assert again.plot.points == 2                                   # lineage of v2: v1, v2
    finally:
        again.close()


def test_a_failed_regression_check_keeps_the_parent_and_says_why(qtbot, window, monkeypatch):
    import explorer.flywheel.pipeline as pipeline
    s, fp = window.session, window.findings_panel
    _audit(qtbot, window)
    _click_row(qtbot, fp.tree, 0)
    _click(qtbot, fp.accept_button)                 # one region: the check runs once on it
    real = pipeline.regression_check

    def failing(before, land, *a, **k):
        out = real(before, land, *a, **k)
        out.update(passed=False, basin_worst_cell_loss=0.25,
                   reasons=["a basin state 0.11 from the support would lose 25.0% of its reward"])
        return out
    monkeypatch.setattr(pipeline, "regression_check", failing)
    _run(qtbot, window, fp.apply_button, "cycle")
    # nothing released (the session directory exists since the first decision: its journal)
    assert s.model.version == 1 and sorted(s.versions.entries) == [1]
    assert "not released" in window.last_status and "25.0%" in window.last_status
    assert window.last_warning is not None and window.last_warning.isVisible()
    assert s.triage is not None and s.triage.counts()["accepted"] >= 1  # decisions kept to retry
    window.last_warning.close()


def test_policy_path_outcome_and_runtime_gate_in_the_readouts(qtbot, window):
    s = window.session
    window.policy_combo.setCurrentIndex(window.policy_combo.findData("value"))
    actors = window.view.plotter.actors
    assert "policy_path" in actors and not actors["policy_path"].GetPickable()
    text = window.readouts.labels["policy"].text()
    assert text.startswith("value iteration:") and any(o in text for o in ("goal", "basin", "spurious"))
    assert "blocked" in window.readouts.labels["gate"].text()
    window.act["policy_cycle"].trigger()                                # G: gradient ascent
    assert window.policy.mode == "gradient"
    qtbot.waitUntil(lambda: window.readouts.labels["policy"].text().startswith("gradient ascent"),
                    timeout=20_000)
    assert window.policy.readout.kind == "gradient" and "escalated" in window.readouts.labels["gate"].text()
    # After a cycle the path is rolled out again on the new version.
    _audit(qtbot, window)
    _click(qtbot, window.findings_panel.accept_all_button)
    _run(qtbot, window, window.findings_panel.apply_button, "cycle")
    qtbot.waitUntil(lambda: not window.policy.busy and window.policy.readout is not None, timeout=20_000)
    assert s.model.version == 2
    window.policy_combo.setCurrentIndex(window.policy_combo.findData("off"))
    assert "policy_path" not in window.view.plotter.actors
    assert window.readouts.labels["policy"].text().startswith("off")


def test_the_triage_keyboard_flow_never_changes_a_decision_just_made(qtbot, window):
    """X on a region, N, Y: the rejection stays (the selection moves on down the list,
    never back to a row decided a moment ago)."""
    fp = window.findings_panel
    t = _audit(qtbot, window)
    assert len(t.regions) >= 3
    window.activateWindow()
    window.view.plotter.setFocus()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=3000)
    assert window.act["reject_finding"].isEnabled()
    fp.select_cluster(t.regions[1].cluster)              # start on the second row
    second = t.regions[1].cluster
    qtbot.keyClick(window.view.plotter, Qt.Key.Key_X)      # reject row 2
    assert t.region(second).decision == REJECTED
    assert fp.selected_cluster() == t.regions[2].cluster   # moved on to row 3, not back to row 1
    qtbot.keyClick(window.view.plotter, Qt.Key.Key_N)      # row 4 (or wraps)
    qtbot.keyClick(window.view.plotter, Qt.Key.Key_Y)
    assert t.region(second).decision == REJECTED           # the rejection was not overwritten
    assert t.counts()["accepted"] == 1
