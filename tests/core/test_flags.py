"""Flags: checked centres and radii, and strict flag files (their undo is the
session's: tests/core/test_session.py)."""
from __future__ import annotations

import json

import pytest

from explorer.model.flags import load_flags, make_flags, save_flags
from worlds.errors import InputError


@pytest.mark.parametrize("radius", [0, -1, float("nan"), float("inf"), True, "0.3"])
def test_bad_radius_is_refused(radius):
    with pytest.raises(InputError, match="radius"):
        make_flags([((0, 0, 0), radius)])


def test_flags_file_round_trip(tmp_path):
    made = make_flags([((0.1, 0.2, 0.3), 0.4)])
    save_flags(tmp_path / "f.json", made, "cube")
    flags, world = load_flags(tmp_path / "f.json")
    assert flags == made and world == "cube"


@pytest.mark.parametrize("doc, field", [
    ([], "$"),
    ({"format": "x", "schema_version": 1, "flags": []}, "$.format"),
    ({"format": "reward-explorer-flags", "schema_version": 2, "flags": []}, "$.schema_version"),
    ({"format": "reward-explorer-flags", "schema_version": 1, "flags": {}}, "$.flags"),
    ({"format": "reward-explorer-flags", "schema_version": 1, "flags": [{"center": [0, 0], "radius": 1}]}, "$.flags[0].center"),
    ({"format": "reward-explorer-flags", "schema_version": 1, "flags": [{"center": [0, 0, "a"], "radius": 1}]}, "$.flags[0].center[2]"),
    ({"format": "reward-explorer-flags", "schema_version": 1, "flags": [{"center": [0, 0, 0]}]}, "$.flags[0].radius"),
    ({"format": "reward-explorer-flags", "schema_version": 1, "flags": [{"center": [0, 0, 0], "radius": 1, "colour": 1}]}, "$.flags[0].colour"),
    ({"format": "reward-explorer-flags", "schema_version": 1, "flags": [{"center": [0, 0, 0], "radius": 1, "kind": "nice"}]}, "$.flags[0].kind"),
    ({"format": "reward-explorer-flags", "schema_version": 1, "flags": [{"id": 1, "center": [0, 0, 0], "radius": 1}, {"id": 1, "center": [0, 0, 0], "radius": 1}]}, "$.flags[1].id"),
])
def test_malformed_flag_files_name_the_field(tmp_path, doc, field):
    p = tmp_path / "flags.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError) as exc:
        load_flags(p)
    assert str(p) in str(exc.value) and f"'{field}'" in str(exc.value)


@pytest.mark.parametrize("raw, expected", [
    (b"\xff\xfe not utf8", "UTF-8"),
    (b'{"format": "reward-explorer-flags", "schema_version": 1, "flags": [{"center": [NaN, 0, 0], "radius": 1}]}', "NaN"),
    (b'{"format": "reward-explo', "valid JSON"),
])
def test_undecodable_flag_files(tmp_path, raw, expected):
    p = tmp_path / "flags.json"
    p.write_bytes(raw)
    with pytest.raises(InputError, match=expected):
        load_flags(p)
