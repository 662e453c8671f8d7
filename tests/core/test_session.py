"""The session model, without Qt: one command history, events, versions, the
scripting API, and the session directory (save, open, migrate)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.flywheel.pipeline import CycleSettings
from explorer.model import artifact
from explorer.refine import RefinementError
from explorer.session import Session, SessionBusy, SessionError


@pytest.fixture
def s(cube, cube_model):
    return Session(cube, cube_model.clone())


def test_the_readme_example_runs_and_save_then_open_is_equal(tmp_path, cube, cube_model):
    s = Session(cube, cube_model.clone())
    s.flag((-0.47, 1.0, -0.89), radius=0.5)
    v = s.refine("local")
    assert v == 2 and s.version == 2 and len(s.flags) == 1
    s.undo()
    assert s.version == 1
    s.redo()
    assert s.version == 2
    report = s.audit()
    assert report.findings and report.evaluations > 0
    res = s.cycle(accept="top:4")
    assert res.released and s.version == 3
    m = s.metrics()
    assert {"version", "flaws", "basin_cells"} <= set(m) and m["version"] == 3
    s.save(tmp_path / "demo")
    t = Session.open(tmp_path / "demo")
    assert t.flags == s.flags and t.version == s.version and t.metrics() == s.metrics()
    assert t.undo_text() == s.undo_text()
    assert np.array_equal(t.reward(), s.reward())
    # the command history came back: undo goes on where the saved session stopped
    t.undo()
    assert t.version == 2 and t.triage is not None


def test_undoing_a_refinement_makes_the_parent_current_and_the_child_stays(s):
    r1 = s.reward().copy()
    s.flag((-0.47, 1.0, -0.89), 0.5)
    assert s.undo_text() == "Undo: add flag #1"
    s.refine("local")
    r2 = s.reward().copy()
    assert s.undo_text() == "Undo: refine (local patch): v1 -> v2"
    s.undo()
    assert s.version == 1 and np.array_equal(s.reward(), r1)
    assert 2 in s.versions and len(s.flags) == 1           # the child stays in the history
    assert s.undo_text() == "Undo: add flag #1"            # not the flag before the refinement
    s.redo()
    assert s.version == 2 and np.array_equal(s.reward(), r2)


def test_a_psi_edit_is_one_undoable_version(s):
    r1 = s.reward().copy()
    base = s.model.psi
    s.preview_psi(base.l_max * 0.5, base.k)             # a drag shows, commits nothing
    assert s.version == 1 and not s.can_undo()
    v = s.set_psi(base.l_max * 0.5, base.k)
    assert v == 2 and s.model.psi.l_max == pytest.approx(base.l_max * 0.5)
    assert s.undo_text().startswith("Undo: psi edit")
    s.undo()
    assert s.version == 1 and np.array_equal(s.reward(), r1)
    assert s.set_psi(base.l_max, base.k) is None         # unchanged: no version


def test_triage_decisions_are_commands_and_rejections_are_remembered(s):
    s.audit()
    t = s.triage
    c = t.regions[0].cluster
    s.decide("reject", c)
    assert t.region(c).decision == "rejected" and s.reviews.for_version(1)
    assert s.undo_text().startswith("Undo: reject region 1")
    s.undo()
    assert t.region(c).decision == "pending" and not s.reviews.for_version(1)
    s.decide("accept", c, 0.3)
    assert t.region(c).radius == pytest.approx(0.3)
    s.undo()
    s.undo()                                            # the audit itself
    assert s.triage is None
    s.redo()
    assert s.triage is t


def test_apply_accepted_releases_and_undo_brings_the_triage_back(s):
    s.audit()
    t = s.triage
    s.decide("accept", t.regions[0].cluster)
    out = s.apply_accepted()
    assert out.released and s.version == 2 and s.triage is None
    assert s.versions.entry(2).kind == "cycle"
    s.undo()
    assert s.version == 1 and s.triage is t and t.counts()["accepted"] == 1


def test_events_tell_views_what_changed(s):
    seen = []
    s.events.flags.connect(lambda f: seen.append(("flags", len(f))))
    s.events.model.connect(lambda m: seen.append(("model", m.version)))
    s.events.commands.connect(lambda: seen.append(("commands",)))
    s.flag((0.5, 0.5, 0.5), 0.3)
    s.refine("local")
    s.undo()
    assert ("flags", 1) in seen and ("model", 2) in seen and ("model", 1) in seen
    assert seen.count(("commands",)) == 3


def test_nothing_to_refine_and_busy_edits_are_refused(s):
    with pytest.raises(RefinementError, match="no flags"):
        s.refine("local")
    s.flag((0.5, 0.5, 0.5), 0.3)
    s.job_started("data")
    with pytest.raises(SessionBusy):
        s.restore(1) if s.version != 1 else s.execute(__import__(
            "explorer.session.commands", fromlist=["ChangeVersion"]).ChangeVersion("restore", 1, 1))
    s.flag((0.1, 0.5, 0.5), 0.3)                        # a flag does not touch the landscape
    s.job_ended()
    assert len(s.flags) == 2


def test_stopping_data_driven_patching_before_a_step_makes_no_version(s):
    import threading
    s.flag((-0.47, 1.0, -0.89), 0.5)
    stop = threading.Event()
    stop.set()
    job = s.refine_job("data", steps=50)
    from explorer.session.jobs import drive
    out = job.finish(drive(job.run(stop)))
    assert out.version is None and s.version == 1 and len(s.versions) == 1


def test_a_failed_regression_check_refuses_the_refinement(s, monkeypatch):
    import explorer.session.jobs as jobs
    real = jobs.regression_check

    def failing(before, land, **kw):
        out = real(before, land, **kw)
        out["passed"] = False
        out["reasons"] = ["a basin state 0.11 from the support would lose 25.0% of its reward"]
        return out
    monkeypatch.setattr(jobs, "regression_check", failing)
    s.flag((-0.47, 1.0, -0.89), 0.5)
    r1 = s.reward().copy()
    with pytest.raises(RefinementError, match="refused by the regression check: a basin state 0.11"):
        s.refine("local")
    assert s.version == 1 and len(s.versions) == 1 and np.array_equal(s.reward(), r1)


def test_the_cli_and_the_session_give_the_same_flaw_trajectory(tmp_path, cube, cube_model, capsys):
    from explorer.cli import main
    artifact.save(cube_model, tmp_path / "v1")
    assert main(["cycle", "--artifact", str(tmp_path / "v1"), "--accept", "top:10", "--cycles", "3",
                 "--out", str(tmp_path / "out"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["cycles"]
    s = Session(cube, cube_model.clone())
    flaws = []
    for _ in range(3):
        res = s.cycle(accept="top:10")
        flaws.append(res.check["flaws_after"])
    assert [r["flaws_after"] for r in rows] == flaws
    assert 5169 > flaws[0] > flaws[1] > flaws[2]         # 5,169 flaws after training on cube
    # one metrics schema: a version made by the CLI has the keys one made by the session has
    cli = artifact.load(tmp_path / "out").metrics
    assert set(s.model.metrics) == set(cli)


def test_the_previous_audit_feeds_the_next(s):
    s.settings = CycleSettings()
    first = s.cycle(accept="top:4")
    assert s.answered[s.version] is first.audit
    second = s.audit()
    assert second.candidates > first.audit.candidates - first.audit.verified  # dense samples added


def test_restore_branches_and_export(tmp_path, s):
    s.flag((-0.47, 1.0, -0.89), 0.5)
    s.refine("local")
    s.restore(1)
    assert s.version == 1 and s.undo_text() == "Undo: restore: v2 -> v1"
    s.flag((0.9, 0.9, 0.9), 0.3)
    v = s.refine("local")
    assert v == 3 and s.versions.entry(3).parent == 1
    assert [e.version for e in s.versions.lineage(3)] == [1, 3]
    out = s.export(2, tmp_path / "v2")
    assert artifact.load(out).version == 2


def test_save_open_keeps_flags_triage_psi_and_history(tmp_path, s):
    s.flag((-0.47, 1.0, -0.89), 0.5)
    s.set_psi(s.model.psi.l_max * 0.8, 2.5)
    s.audit()
    c = s.triage.regions[0].cluster
    s.decide("accept", c, 0.25)
    s.save(tmp_path / "s")
    t = Session.open(tmp_path / "s")
    assert t.flags == s.flags and t.model.psi == s.model.psi
    assert t.triage.region(c).decision == "accepted" and t.triage.region(c).radius == pytest.approx(0.25)
    assert [c.text for c in t.commands.done] == [c.text for c in s.commands.done]
    assert not t.dirty and s.dirty is False


def test_edits_after_save_are_journalled_and_recovered(tmp_path, s):
    s.save(tmp_path / "s")
    s.flag((0.1, 0.2, 0.3), 0.2)
    s.flag((0.4, 0.2, 0.3), 0.2)
    s.undo()
    lines = (tmp_path / "s" / "journal.jsonl").read_text().splitlines()
    assert [json.loads(ln)["step"] for ln in lines] == ["do", "do", "undo"]
    # no close(): as after a crash
    t = Session.open(tmp_path / "s")
    assert len(t.flags) == 1 and t.recovery.startswith("Recovered: recovered 3 steps")
    assert t.redo_text() == "Redo: add flag #2"


def test_a_schema_1_session_is_migrated_and_keeps_its_files(tmp_path, cube, cube_model):
    root = tmp_path / "old"
    artifact.save(cube_model, root / "versions/v0001")
    (root / "session.json").write_text(json.dumps({
        "format": "reward-explorer-session", "schema_version": 1,
        "world": {"name": "cube", "sha256": cube.file_hash}, "current": 1,
        "versions": [{"version": 1, "parent": None, "label": "trained", "created": "2026-11-01T00:00:00+00:00",
                      "directory": "versions/v0001", "metrics": {}}]}))
    (root / "flags.json").write_text(json.dumps({"format": "reward-explorer-flags", "schema_version": 1,
                                                 "flags": [{"id": 1, "center": [0.1, 0.2, 0.3], "radius": 0.2}]}))
    t = Session.open(root)
    assert t.version == 1 and [f.id for f in t.flags] == [1]
    assert (root / "session-v1.json").exists()
    assert json.loads((root / "session.json").read_text())["schema_version"] == 2


def test_bad_session_files_are_one_clear_error(tmp_path):
    (tmp_path / "session.json").write_text('{"format": "reward-explorer-session", "schema_version": 9}')
    with pytest.raises(SessionError, match="schema_version"):
        Session.open(tmp_path)
    (tmp_path / "session.json").write_text("[" * 100_000)
    with pytest.raises(SessionError, match="nested"):
        Session.open(tmp_path)
