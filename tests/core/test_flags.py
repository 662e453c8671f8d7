"""Flags: delta undo/redo that says what it reverts, and strict flag files."""
from __future__ import annotations

import json

import pytest

from explorer.model.flags import FlagSet, load_flags
from worlds.errors import InputError


def test_undo_redo_restore_the_list_exactly():
    fs = FlagSet()
    states = [fs.snapshot()]
    a = fs.add((0.1, 0.2, 0.3), 0.4)
    states.append(fs.snapshot())
    b = fs.add((0.5, 0.5, 0.5), 0.2)
    states.append(fs.snapshot())
    fs.move(a.id, (0.0, 0.0, 0.0))
    states.append(fs.snapshot())
    fs.set_radius(b.id, 0.9)
    states.append(fs.snapshot())
    fs.delete(a.id)
    states.append(fs.snapshot())
    assert fs.undo_text() == f"Undo: delete flag #{a.id}"
    for expected in reversed(states[:-1]):
        assert fs.undo()
        assert fs.snapshot() == expected
    assert not fs.undo()
    for expected in states[1:]:
        assert fs.redo()
        assert fs.snapshot() == expected
    fs.undo()
    fs.add((0.3, 0.3, 0.3), 0.1)                   # a new action clears the redo history
    assert not fs.can_redo()


def test_listeners_hear_every_change():
    fs = FlagSet()
    seen = []
    fs.listeners.append(lambda: seen.append(len(fs)))
    f = fs.add((0, 0, 0), 0.2)
    fs.undo()
    fs.redo()
    fs.delete(f.id)
    assert seen == [1, 0, 1, 0]


@pytest.mark.parametrize("radius", [0, -1, float("nan"), float("inf"), True, "0.3"])
def test_bad_radius_is_refused(radius):
    with pytest.raises(InputError, match="radius"):
        FlagSet().add((0, 0, 0), radius)


def test_flags_file_round_trip(tmp_path):
    fs = FlagSet()
    fs.add((0.1, 0.2, 0.3), 0.4)
    fs.save(tmp_path / "f.json", "cube")
    flags, world = load_flags(tmp_path / "f.json")
    assert flags == fs.snapshot() and world == "cube"


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
