"""open-model, export-onnx and agent as command modules: each registers its
subparser and runs from parsed arguments; bad input raises InputError (one
line, which the CLI prints before exiting 2)."""
from __future__ import annotations

import argparse
import json

import numpy as np
import onnx
import pytest

from explorer.cli import agent, export_onnx, open_model
from explorer.model import artifact
from worlds.errors import InputError


@pytest.fixture(scope="module")
def parser():
    p = argparse.ArgumentParser(prog="explorer")
    sub = p.add_subparsers(dest="command")
    for module in (open_model, export_onnx, agent):
        module.register(sub)
    return p


def _run(parser, argv, capsys):
    args = parser.parse_args(argv)
    capsys.readouterr()
    assert args.run(args) == 0
    return json.loads(capsys.readouterr().out)


def test_export_then_open_round_trip(parser, tmp_path, cube_model, capsys):
    art = artifact.save(cube_model, tmp_path / "v1")
    out = _run(parser, ["export-onnx", "--artifact", str(art), "--out", str(tmp_path / "r.onnx"),
                        "--random-states", "2000", "--json"], capsys)
    assert out["passed"] and out["max_abs_diff_random"] <= 1e-5 and out["random_states"] == 2000
    onnx.checker.check_model(onnx.load(str(tmp_path / "r.onnx")))
    again = parser.parse_args(["export-onnx", "--artifact", str(art), "--out", str(tmp_path / "r.onnx")])
    with pytest.raises(InputError, match="pass --force"):
        again.run(again)
    opened = _run(parser, ["open-model", str(tmp_path / "r.onnx"), "--world", "cube", "--out",
                           str(tmp_path / "imported"), "--json"], capsys)
    assert opened["output_range_source"] == "grid" and opened["audit"]["findings"] > 0
    assert "data_patch" in opened["disabled"]
    back = artifact.load(tmp_path / "imported")
    pts = np.random.default_rng(0).uniform(-1, 1, (500, 3)).astype(np.float32)
    lo, hi = opened["output_range"]
    assert np.max(np.abs(back.reward(pts) - np.clip((cube_model.reward(pts) - lo) / (hi - lo), 0, 1))) < 1e-5


def test_open_model_refuses_a_bad_file_in_one_line(parser, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    args = parser.parse_args(["open-model", str(bad), "--world", "cube"])
    with pytest.raises(InputError) as err:
        args.run(args)
    assert "bad.onnx" in str(err.value) and "\n" not in str(err.value)
    args = parser.parse_args(["open-model", str(bad)])
    with pytest.raises(InputError, match="world"):
        args.run(args)


def test_agent_prints_per_seed_ends_and_true_returns(parser, tmp_path, cube_model, capsys):
    pytest.importorskip("stable_baselines3")
    art = artifact.save(cube_model, tmp_path / "v1")
    out = _run(parser, ["agent", "--artifact", str(art), "--steps", "1024", "--seeds", "2",
                        "--episode-steps", "16", "--json"], capsys)
    assert [s["seed"] for s in out["seeds"]] == [0, 1]
    for s in out["seeds"]:
        assert s["end"] in ("goal", "basin", "spurious", "elsewhere") and np.isfinite(s["true_return"])
    assert sum(out["summary"]["ends"].values()) == 2 and out["start"] == [0.0, 1.0, -1.0]
    with pytest.raises(SystemExit):
        parser.parse_args(["agent", "--artifact", str(art), "--start", "1,2,x"])
