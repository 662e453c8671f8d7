"""The examples in examples/ run, at small sizes (their --small flag), so they
cannot rot. What they print is for people; here only their results are checked."""
from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _main(name: str):
    return runpy.run_path(str(EXAMPLES / name), run_name="example")["main"]


def test_own_reward_model_example_imports_audits_patches_and_exports(tmp_path):
    pytest.importorskip("onnxscript")           # torch's ONNX exporter
    res = _main("own_reward_model.py")(["--small", "--out", str(tmp_path)])
    assert res["findings"] > 0 and res["flaws_before"] > 0
    assert res["released"] and res["check"]["passed"] and res["check"]["flaws_after"] < res["check"]["flaws_before"]
    assert res["export"]["passed"] and (tmp_path / "corrected_reward.onnx").is_file()
    assert (tmp_path / "artifact" / "artifact.json").is_file()


def test_ppo_before_after_example_runs_both_versions():
    pytest.importorskip("stable_baselines3")
    table = _main("ppo_before_after.py")(["--small"])
    assert len(table) == 2
    for row in table.values():
        assert row["summary"]["agents"] == 1 and row["seeds"][0]["end"] in ("goal", "basin", "spurious", "elsewhere")


def test_flywheel_session_example_runs_the_whole_flywheel(tmp_path):
    res = _main("flywheel_session.py")(["--small", "--out", str(tmp_path)])
    assert res["rows"] and res["rows"][0]["released"]
    assert res["rows"][-1]["flaws"] < res["rows"][0]["flaws"] or len(res["rows"]) == 1
    assert res["after_undo"] == res["final_version"] - 1 or res["after_undo"] == res["final_version"]
    assert (tmp_path / "session" / "session.json").is_file()
