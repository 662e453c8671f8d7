"""The command line end to end: train -> refine -> render, --json, and errors
that are one clear line with a non-zero exit code."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from explorer.__main__ import main

pytestmark = pytest.mark.render


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    assert main(["train", "--world", "cube", "--out", str(d / "v1"), "--json"]) == 0
    return d


def _flags(path, center, radius=0.5, world="cube"):
    path.write_text(json.dumps({"format": "reward-explorer-flags", "schema_version": 1, "world": world,
                                "flags": [{"id": 1, "center": list(center), "radius": radius}]}))
    return path


def test_train_refine_render(trained, spurious_center, capsys):
    d = trained
    flags = _flags(d / "flags.json", spurious_center)
    capsys.readouterr()
    assert main(["refine", "--artifact", str(d / "v1"), "--flags", str(flags), "--out", str(d / "v2"),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["version"] == 2 and out["parent"] == 1
    assert out["regression_check"]["passed"]
    assert out["metrics"]["flag_max_reward"] <= 0.05
    assert main(["refine", "--artifact", str(d / "v1"), "--flags", str(flags), "--out", str(d / "v2d"),
                 "--method", "data", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metrics"]["flag_max_reward"] <= 0.05
    png = d / "before_after.png"
    assert main(["render", "--artifact", str(d / "v2"), "--before", str(d / "v1"), "--flags", str(flags),
                 "--out", str(png)]) == 0
    assert png.stat().st_size > 10_000


def test_errors_are_one_line_and_nonzero(trained, capsys, tmp_path):
    d = trained
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    rc = main(["refine", "--artifact", str(d / "v1"), "--flags", str(bad), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and "bad.json" in err and "valid JSON" in err and "Traceback" not in err
    assert err.count("\n") == 1
    rc = main(["train", "--world", "no-such-world", "--out", str(tmp_path / "y")])
    assert rc == 2 and "no-such-world" in capsys.readouterr().err
    rc = main(["train", "--world", "cube", "--out", str(d / "v1")])         # exists
    assert rc == 2 and "--force" in capsys.readouterr().err
    other = _flags(tmp_path / "ridge.json", (0, 0, 0), world="ridge")
    rc = main(["refine", "--artifact", str(d / "v1"), "--flags", str(other), "--out", str(tmp_path / "z")])
    assert rc == 2 and "ridge" in capsys.readouterr().err


def test_gui_without_display_says_so_in_one_line():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    p = subprocess.run([sys.executable, "-m", "explorer"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2
    assert "no display" in p.stderr and "explorer render" in p.stderr
    assert p.stderr.strip().count("\n") == 0


def test_worlds_json():
    p = subprocess.run([sys.executable, "-m", "explorer", "worlds", "--json"], capture_output=True,
                       text=True, timeout=60)
    data = json.loads(p.stdout)
    assert data["default"] == "cube" and "cube" in [w["name"] for w in data["worlds"]]


def test_audit_cycle_history_and_collapse(trained, capsys, tmp_path):
    d = trained
    assert main(["audit", "--artifact", str(d / "v1"), "--json"]) == 0
    audit = json.loads(capsys.readouterr().out)
    assert audit["findings"] and audit["mode"] == "norms" and audit["evaluations"] > 0
    assert all({"center", "radius", "score", "reason", "kind"} <= set(f) for f in audit["findings"])
    assert main(["audit", "--artifact", str(d / "v1"), "--no-constraints", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mode"] == "norm-free"
    s = tmp_path / "session"
    assert main(["cycle", "--artifact", str(d / "v1"), "--accept", "all", "--cycles", "5", "--session", str(s),
                 "--out", str(tmp_path / "clean"), "--json"]) == 0
    cycles = json.loads(capsys.readouterr().out)["cycles"]
    released = [c for c in cycles if c["released"]]
    assert released[-1]["flaws_after"] == 0
    assert {c["basin_cells"] for c in released} == {released[0]["basin_cells"]}
    assert main(["history", str(s), "--json"]) == 0
    hist = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in hist["versions"]] == list(range(1, len(released) + 2))
    assert main(["collapse", "--world", "linear", "--seeds", "1", "--json"]) == 0
    col = json.loads(capsys.readouterr().out)
    assert abs(col["summary"]["myopic"]["final_utility"] - 3.9) < 0.2
    assert col["summary"]["relaxed"]["final_utility"] > 9.5


def test_afd_command(capsys, tmp_path):
    assert main(["afd", "--world", "twin-goals", "--divergence", "reverse", "--json"]) == 0
    rev = json.loads(capsys.readouterr().out)
    assert max(rev["masses"].values()) >= 0.9
    assert main(["afd", "--world", "cube", "--rm", "init-sft", "--bon", "4", "--json",
                 "--artifact-out", str(tmp_path / "rm")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["n"] for r in out["best_of_n"]] == [1, 2, 4]
    from explorer.model import artifact
    assert artifact.load(tmp_path / "rm").architecture is not None
