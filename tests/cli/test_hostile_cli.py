"""Every command on hostile or malformed input: exit 2, one line on stderr naming
the file, no traceback (tracebacks only with --debug)."""
from __future__ import annotations

import hashlib
import json
import shutil

import pytest
import torch
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from explorer.cli import main
from explorer.model import artifact
from explorer.model.learning import config_for, train

pytestmark = pytest.mark.render


@pytest.fixture(scope="module")
def base(tmp_path_factory, cube):
    torch.manual_seed(0)
    return artifact.save(train(cube, config_for(cube, steps=100)), tmp_path_factory.mktemp("cli") / "base")


def _meta(d, fn):
    meta = json.loads((d / "artifact.json").read_text())
    fn(meta)
    (d / "artifact.json").write_text(json.dumps(meta))


def _tensors(d, fn):
    tensors = dict(st_load((d / "weights.safetensors").read_bytes()))
    fn(tensors)
    blob = st_save(tensors)
    (d / "weights.safetensors").write_bytes(blob)
    _meta(d, lambda m: m["weights"].update(sha256=hashlib.sha256(blob).hexdigest()))


def _zero_samples(t):
    t["data.expert_samples"] = t["data.expert_samples"][:0]


CASES = {
    "psi lo == hi": lambda d: _meta(d, lambda m: m["psi"].update(l_max=m["psi"]["l_min"])),
    "psi.k = 1e308": lambda d: _meta(d, lambda m: m["psi"].update(k=1e308)),
    "weights 3e38": lambda d: _tensors(d, lambda t: t["expertness.enc_w"].fill(3e38)),
    "no expert samples": lambda d: _tensors(d, _zero_samples),
    "nested 100,000 deep": lambda d: (d / "artifact.json").write_text("[" * 100_000 + "]" * 100_000),
    "edits nested 50,000 deep": lambda d: (d / "artifact.json").write_text(
        (d / "artifact.json").read_text().replace('"edits": [', '"edits": [' + "[" * 50_000 + "]" * 50_000 + ",", 1)),
}


def _run(args, capsys):
    rc = main(args)
    captured = capsys.readouterr()
    return rc, captured.err


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("command", ["audit", "render", "cycle", "refine"])
def test_hostile_artifacts_exit_2_with_one_line(tmp_path, base, capsys, case, command):
    d = tmp_path / "runs" / "v2"
    shutil.copytree(base, d)
    CASES[case](d)
    flags = tmp_path / "flags.json"
    flags.write_text(json.dumps({"format": "reward-explorer-flags", "schema_version": 1,
                                 "flags": [{"center": [0.9, 0.9, 0.9], "radius": 0.3}]}))
    args = {"audit": ["audit", "--artifact", str(d)],
            "render": ["render", "--artifact", str(d), "--out", str(tmp_path / "x.png")],
            "cycle": ["cycle", "--artifact", str(d), "--out", str(tmp_path / "out")],
            "refine": ["refine", "--artifact", str(d), "--flags", str(flags), "--out", str(tmp_path / "r")]}[command]
    rc, err = _run(args, capsys)
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert str(d) in err and err.startswith(f"explorer {command}: error: ")
    assert not (tmp_path / "x.png").exists()


def test_debug_shows_the_traceback(tmp_path, base):
    d = tmp_path / "v2"
    shutil.copytree(base, d)
    CASES["psi.k = 1e308"](d)
    with pytest.raises(Exception, match="psi"):
        main(["audit", "--artifact", str(d), "--debug"])


@pytest.mark.parametrize("text, says", [
    ("x = " + "[" * 5000 + "]" * 5000, "nested at most"),
    ("x = " + "{a = " * 3000 + "1" + "}" * 3000, "nested at most"),
])
def test_hostile_world_files_exit_2_with_one_line(tmp_path, capsys, text, says):
    p = tmp_path / "hostile.toml"
    p.write_text(text)
    for args in (["train", "--world", str(p), "--out", str(tmp_path / "o")],
                 ["render", "--world", str(p), "--out", str(tmp_path / "o.png")]):
        rc, err = _run(args, capsys)
        assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err and says in err, err
        assert "hostile.toml" in err


def test_hostile_session_and_flags_files_exit_2(tmp_path, base, capsys):
    s = tmp_path / "sess"
    s.mkdir()
    (s / "session.json").write_text("{" * 60_000)
    rc, err = _run(["history", str(s)], capsys)
    assert rc == 2 and err.count("\n") == 1 and "session.json" in err
    flags = tmp_path / "deep.json"
    flags.write_text('{"flags": ' + "[" * 20_000 + "]" * 20_000 + "}")
    rc, err = _run(["refine", "--artifact", str(base), "--flags", str(flags), "--out", str(tmp_path / "r")],
                   capsys)
    assert rc == 2 and err.count("\n") == 1 and "deep.json" in err and "nested" in err
