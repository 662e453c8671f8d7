"""Property and fuzz tests for everything a person can hand the program: world
files, flag files, artifact metadata and tensors. Valid inputs load and
round-trip; invalid ones raise the documented error type (never crash with
another), and an artifact that loads serves finite rewards on its world's grid."""
from __future__ import annotations

import hashlib
import json
import math
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from safetensors.numpy import load as st_load, save as st_save

import worlds
from explorer.model import artifact
from explorer.model.errors import ModelError
from explorer.model.flags import load_flags, make_flags, parse_flags, save_flags
from explorer.model.landscape import Landscape
from explorer.model.learning import config_for, train
from worlds.errors import InputError

CUBE_TEXT = worlds.builtin_path("cube").read_text()
CUBE = tomllib.loads(CUBE_TEXT)
# 200 examples a property: enough to find the gaps these tests were written for,
# few enough that the file runs in CI in about a minute.
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ARTIFACT_FUZZ = settings(max_examples=150, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TOP_LEVEL_KEYS = {"schema_version", "name", "kind", "card", "bounds", "landscape", "terrain", "goals",
                  "hazards", "expert", "background", "norms", "true_reward", "model"}

text = st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), max_size=12)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), text)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(text, inner, max_size=3)),
                      max_leaves=8)


def _toml_value(v) -> str:
    if v is None:
        return '""'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and math.isnan(v):
            return "nan"
        if isinstance(v, float) and math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)} = {_toml_value(x)}" for k, x in v.items()) + "}"


def _mutate(path: list[str], value) -> str:
    """The cube world file with one field (at ``path``) replaced by ``value``."""
    data = json.loads(json.dumps(CUBE))
    node = data
    for key in path[:-1]:
        node = node[key] if not isinstance(node, list) else node[int(key)]
    if isinstance(node, list):
        node[int(path[-1])] = value
    else:
        node[path[-1]] = value
    return _dump(data)


def _dump(data: dict, prefix: str = "") -> str:
    lines, tables = [], []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append((k, v))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            tables.append((k, v))
        else:
            lines.append(f"{json.dumps(k, ensure_ascii=False)} = {_toml_value(v)}")
    out = "\n".join(lines) + "\n"
    for k, v in tables:
        name = f"{prefix}{json.dumps(k, ensure_ascii=False)}"
        if isinstance(v, dict):
            out += f"[{name}]\n" + _dump(v, name + ".")
        else:
            for item in v:
                out += f"[[{name}]]\n" + _dump(item, name + ".")
    return out


FIELDS = [["name"], ["kind"], ["schema_version"], ["bounds", "min"], ["bounds", "max"],
          ["landscape", "resolution"], ["landscape", "floor"], ["expert", "samples"], ["expert", "seed"],
          ["background", "samples"], ["true_reward", "route_sigma"], ["card"]]


def test_the_serialiser_round_trips_the_cube():
    assert tomllib.loads(_dump(CUBE)) == CUBE
    w = worlds.parse_bytes(_dump(CUBE).encode(), "cube-copy.toml")
    assert w.expert_samples().shape == (20, 3)


@FUZZ
@given(field=st.sampled_from(FIELDS), value=values)
def test_any_value_in_any_field_loads_or_raises_world_error(field, value):
    text = _mutate(field, value)
    try:
        world = worlds.parse_bytes(text.encode(), "fuzz.toml")
    except worlds.WorldError as exc:
        assert "fuzz.toml" in str(exc)
        return
    # Valid: it behaves like a world.
    assert world.expert_samples().shape[1] == 3
    assert world.grid().points.shape[1] == 3


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_never_crash_the_loader(data):
    try:
        worlds.parse_bytes(data, "bytes.toml")
    except worlds.WorldError:
        pass


@FUZZ
@given(junk=st.dictionaries(text.filter(lambda k: len(k) > 0).filter(lambda k: k not in TOP_LEVEL_KEYS), values,
                            min_size=1, max_size=2))
def test_unknown_top_level_keys_are_errors(junk):
    data = {**json.loads(json.dumps(CUBE)), **junk}
    with pytest.raises(worlds.WorldError, match="unknown keys are not ignored"):
        worlds.parse_bytes(_dump(data).encode(), "extra.toml")


flag_item = st.fixed_dictionaries(
    {"center": st.lists(st.floats(-2, 2, allow_nan=False), min_size=3, max_size=3),
     "radius": st.floats(0.001, 3, allow_nan=False)})


@FUZZ
@given(items=st.lists(flag_item, max_size=20))
def test_valid_flag_files_round_trip(tmp_path_factory, items):
    d = tmp_path_factory.mktemp("flags")
    made = make_flags([(it["center"], it["radius"]) for it in items])
    save_flags(d / "f.json", made, "cube")
    flags, world = load_flags(d / "f.json")
    assert flags == made and world == "cube"


@FUZZ
@given(doc=values)
def test_any_json_document_is_a_flags_error_or_valid(doc):
    try:
        parse_flags(doc, "doc.json")
    except InputError as exc:
        assert "doc.json" in str(exc)


@pytest.mark.parametrize("text, field", [
    ("expert.samples = 1000000000", "expert.samples"),
    ("landscape.floor = -1", "landscape.floor"),
    ("bounds.min = [1, -1, -1]", "bounds.max"),
])
def test_huge_and_inverted_values(text, field):
    key, value = text.split(" = ")
    path = key.split(".")
    mutated = _mutate(path, json.loads(value))
    with pytest.raises(worlds.WorldError, match=field.replace(".", r"\.")):
        worlds.parse_bytes(mutated.encode(), "x.toml")


def test_truncated_world_file(tmp_path: Path):
    raw = CUBE_TEXT.encode()
    for cut in range(0, len(raw), max(1, len(raw) // 40)):
        try:
            worlds.parse_bytes(raw[:cut], "cut.toml")
        except worlds.WorldError as exc:
            assert "cut.toml" in str(exc)


# ---------------------------------------------------------------- artifacts
@pytest.fixture(scope="module")
def fuzz_base(tmp_path_factory, cube) -> Path:
    torch.manual_seed(0)
    return artifact.save(train(cube, config_for(cube, steps=50)), tmp_path_factory.mktemp("fuzz") / "base")


def _fresh(base: Path, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("case") / "v2"
    shutil.copytree(base, d)
    return d


def _loads_finite_or_refuses(d: Path, cube) -> None:
    """The property: a model error in one line naming the artifact, or a model
    whose served reward is finite on the world's whole grid."""
    try:
        model = artifact.load(d, world=cube)
    except ModelError as exc:
        msg = str(exc)
        assert str(d) in msg and "\n" not in msg
        event(f"refused: {type(exc).__name__}")
        return
    event("loaded")
    assert np.isfinite(model.reward(cube.grid().points)).all()
    assert np.isfinite(Landscape(model, cube).reward()).all()


META_FIELDS = [["psi", "l_min"], ["psi", "l_max"], ["psi", "k"], ["architecture", "kind"],
               ["architecture", "experts"], ["architecture", "bottleneck"], ["architecture", "dim"],
               ["training", "steps"], ["training", "lr"], ["world", "name"], ["world", "sha256"],
               ["weights", "file"], ["weights", "sha256"], ["patches"], ["negatives"], ["edits"],
               ["metrics"], ["version"], ["parent"], ["format"], ["format_version"], ["psi"], ["weights"]]
psi_numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(
    [0.0, 1e-45, 1e-300, 3.4e38, 3.5e38, 1e308, -1.0, 0.3, 0.30000000000000004]))


@ARTIFACT_FUZZ
@given(field=st.sampled_from(META_FIELDS), value=st.one_of(values, psi_numbers), delete=st.booleans())
def test_any_metadata_value_loads_finite_or_is_a_model_error(tmp_path_factory, fuzz_base, cube, field,
                                                             value, delete):
    d = _fresh(fuzz_base, tmp_path_factory)
    meta = json.loads((d / "artifact.json").read_text())
    node = meta
    for key in field[:-1]:
        node = node[key]
    if delete:
        node.pop(field[-1], None)
    else:
        node[field[-1]] = value
    (d / "artifact.json").write_text(json.dumps(meta))     # NaN and Infinity are written as such
    _loads_finite_or_refuses(d, cube)


TENSOR_NAMES = ["expertness.enc_w", "expertness.enc_b", "expertness.dec_w", "expertness.dec_b",
                "expertness.gate_w", "expertness.gate_b", "expertness.lo", "expertness.hi",
                "patches.centers", "patches.bandwidths", "patches.amplitudes", "data.expert_samples",
                "data.negatives"]
tensor_values = st.one_of(
    st.floats(-10, 10, width=32),                                    # finite, ordinary
    st.sampled_from([1e17, -1e17, 1e30, 3e38, -3e38, 1e-45, 0.0]),   # huge, tiny, zero
    st.floats(allow_nan=True, allow_infinity=True, width=32))        # anything, NaN and inf included


@st.composite
def replacement(draw, shape: tuple[int, ...]):
    how = draw(st.sampled_from(["same", "same", "other", "empty"]))
    if how == "other":
        shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    elif how == "empty":
        shape = (0,) + tuple(shape[1:])
    dtype = draw(st.sampled_from([np.float32, np.float32, np.float64, np.float16, np.int32]))
    if dtype is np.int32:
        return draw(arrays(dtype, shape, elements=st.integers(-1000, 1000)))
    with np.errstate(over="ignore"):
        return draw(arrays(np.float32, shape, elements=tensor_values)).astype(dtype)


@ARTIFACT_FUZZ
@given(name=st.sampled_from(TENSOR_NAMES), data=st.data())
def test_any_tensor_loads_finite_or_is_a_model_error(tmp_path_factory, fuzz_base, cube, name, data):
    d = _fresh(fuzz_base, tmp_path_factory)
    tensors = dict(st_load((d / "weights.safetensors").read_bytes()))
    tensors[name] = data.draw(replacement(tensors[name].shape), label=name)
    blob = st_save(tensors)
    (d / "weights.safetensors").write_bytes(blob)
    meta = json.loads((d / "artifact.json").read_text())
    meta["weights"]["sha256"] = hashlib.sha256(blob).hexdigest()      # hostile, not merely damaged
    (d / "artifact.json").write_text(json.dumps(meta))
    _loads_finite_or_refuses(d, cube)
