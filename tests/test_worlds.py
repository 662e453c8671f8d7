"""World files: the built-ins load, sampling is deterministic, and every malformed
file is refused with a one-line ``WorldError`` naming the file and the field."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import worlds

BUILTINS = ["canyon", "cube", "ridge", "twin-goals"]
TERRAIN = ["canyon", "ridge", "twin-goals"]
BAD_NAME = "bad_world.toml"


def _text(name: str) -> str:
    return worlds.builtin_path(name).read_text(encoding="utf-8")


CUBE = _text("cube")          # a volume world with a curve route
CANYON = _text("canyon")      # a terrain world with a curve route, a hazard and an avoid norm
TWIN = _text("twin-goals")    # a terrain world with two polyline routes


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"test setup: {old!r} not in the base world"
    return text.replace(old, new, 1)


def _top(text: str, line: str) -> str:
    """Add a top-level key (TOML: before the first table header)."""
    return _replace(text, "schema_version = 1\n", f"schema_version = 1\n{line}\n")


# ---------------------------------------------------------------- built-ins
def test_available_lists_the_four_builtin_worlds():
    assert set(BUILTINS) <= set(worlds.available())
    assert worlds.DEFAULT_WORLD in worlds.available()


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_world_loads_with_a_card_and_its_declared_samples(name):
    w = worlds.load(name)
    assert w.name == name
    assert w.source == f"builtin:{name}"
    assert len(w.card) > 100                     # a real world card, not a placeholder
    assert w.kind == ("volume" if name == "cube" else "terrain")
    e = w.expert_samples()
    assert e.shape == (w.expert_count, 3) and e.dtype == np.float32
    assert np.all(np.isfinite(e))
    assert np.all(e >= w.bounds_min - 1e-6) and np.all(e <= w.bounds_max + 1e-6)
    assert np.isfinite(w.boundary) and w.boundary > 0
    assert w.floor == pytest.approx(0.05)
    assert w.goals


@pytest.mark.parametrize("name", TERRAIN)
def test_terrain_worlds_lie_on_their_surface_inside_the_z_bounds(name):
    w = worlds.load(name)
    assert w.is_terrain and w.terrain is not None
    g = w.grid()
    assert g.shape == (w.resolution, w.resolution) and 20 <= len(w.expert_samples()) <= 64
    z = g.points[:, 2]
    assert z.min() >= w.bounds_min[2] and z.max() <= w.bounds_max[2]
    e = w.expert_samples()
    np.testing.assert_allclose(e[:, 2], w.terrain.height(e[:, :2]), atol=1e-5)


@pytest.mark.parametrize("name", ["canyon", "ridge", "twin-goals"])
def test_terrain_worlds_with_a_hazard_name_it_in_an_avoid_region_norm(name):
    w = worlds.load(name)
    avoided = {n.region.name for n in w.norms if n.kind == "avoid_region"}
    assert {h.name for h in w.hazards} == avoided
    # the expert never walks through a hazard
    for h in w.hazards:
        assert not h.contains(w.expert_samples()).any()


@pytest.mark.parametrize("name", BUILTINS)
def test_expert_sampling_is_deterministic_across_loads(name):
    a = worlds.load(name).expert_samples()
    b = worlds.load(name).expert_samples()
    assert a.shape[0] == worlds.load(name).expert_count
    np.testing.assert_array_equal(a, b)


def test_jittered_sampling_is_seeded(tmp_path):
    def samples(seed: int) -> np.ndarray:
        p = tmp_path / f"jitter_{seed}.toml"
        p.write_text(_replace(CUBE, "seed = 0\n", f"seed = {seed}\njitter = 0.02\n"))
        return worlds.load(p).expert_samples()

    np.testing.assert_array_equal(samples(7), samples(7))
    assert not np.array_equal(samples(7), samples(8))
    assert samples(7).shape == (20, 3)


def test_twin_goals_splits_its_experts_between_two_routes_by_weight():
    w = worlds.load("twin-goals")
    assert len(w.routes) == 2 and len(w.goals) == 2
    e = w.expert_samples()
    # 32 samples at weights 0.6 / 0.4: 19 + 1 remainder west, 12 east; both
    # routes start at the shared trailhead x = 0.
    west, east, shared = (e[:, 0] < -1e-6).sum(), (e[:, 0] > 1e-6).sum(), (np.abs(e[:, 0]) <= 1e-6).sum()
    assert (west, east, shared) == (19, 11, 2)
    for g in w.goals:
        assert g.distance(e).min() < g.radius          # each mode reaches its goal


# ---------------------------------------------------------------- user files
def test_a_users_own_world_file_loads_by_path(tmp_path):
    p = tmp_path / "my_cube.toml"
    p.write_text(_replace(CUBE, 'name = "cube"', 'name = "my cube"'))
    w = worlds.load(p)
    assert w.name == "my cube" and w.source == str(p)
    np.testing.assert_array_equal(w.expert_samples(), worlds.load("cube").expert_samples())
    assert w.file_hash != worlds.load("cube").file_hash
    assert worlds.load(str(p)).name == "my cube"


def test_the_example_in_format_md_loads(tmp_path):
    doc = (Path(worlds.__file__).parent / "FORMAT.md").read_text(encoding="utf-8")
    example = re.findall(r"```toml\n(.*?)```", doc, re.S)[-1]
    p = tmp_path / "my_hill.toml"
    p.write_text(example)
    w = worlds.load(p)
    assert w.name == "my-hill" and w.is_terrain and w.resolution == 64
    assert w.model_defaults == {"steps": 2000}
    assert len(w.expert_samples()) == 24


def test_a_missing_file_names_the_path(tmp_path):
    with pytest.raises(worlds.WorldError) as exc:
        worlds.load(tmp_path / "nowhere.toml")
    assert "nowhere.toml" in str(exc.value) and "no such file" in str(exc.value)


def test_an_unknown_world_name_lists_the_builtins():
    with pytest.raises(worlds.WorldError) as exc:
        worlds.load("no-such-world")
    msg = str(exc.value)
    assert "no-such-world" in msg and all(n in msg for n in BUILTINS)


# ---------------------------------------------------------------- malformed files
# (id, world text, field named in the message, words of the expectation)
BAD = [
    # missing required keys
    ("missing-name", _replace(CUBE, 'name = "cube"\n', ""), "name", "required"),
    ("missing-bounds-max", _replace(CUBE, "max = [1.0, 1.0, 1.0]\n", ""), "bounds.max", "required"),
    ("missing-goal-radius", _replace(CUBE, "radius = 0.3\n", ""), "goals[0].radius", "required"),
    ("missing-expert-routes", CUBE.split("[[expert.routes]]")[0] + "\n[background]\nsamples = 10\n",
     "expert.routes", "at least 1"),
    ("missing-norm-boundary", _replace(CUBE, "boundary = 0.34\n", ""), "norms[0].boundary", "required"),
    ("missing-terrain-table", re.sub(r"\[terrain\].*?(?=\[\[goals\]\])", "", CANYON, flags=re.S),
     "terrain", "a [terrain] table in a terrain world"),
    # unknown keys, top level and nested
    ("unknown-top-level", _top(CUBE, 'colour = "red"'), "colour", "unknown keys are not ignored"),
    ("unknown-in-bounds", _replace(CUBE, "[bounds]\n", "[bounds]\ncenter = [0, 0, 0]\n"), "bounds.center",
     "unknown keys are not ignored"),
    ("unknown-in-route", _replace(CUBE, 'kind = "curve"\n', 'kind = "curve"\nspeed = 2\n'),
     "expert.routes[0].speed", "unknown keys are not ignored"),
    ("unknown-in-feature", _replace(CANYON, "slope = [0.15, 0.0]\n", "slope = [0.15, 0.0]\nwidth = 1\n"),
     "terrain.features[0].width", "unknown keys are not ignored"),
    ("unknown-in-model", CUBE + "\n[model]\ndropout = 0.1\n", "model.dropout", "unknown keys are not ignored"),
    ("z-in-terrain-curve", _replace(CANYON, 'y = "-0.12', 'z = "t"\ny = "-0.12'), "expert.routes[0].z",
     "unknown keys are not ignored"),
    ("center-with-region", _replace(CANYON, 'region = "quicksand"\n', 'region = "quicksand"\nradius = 0.2\n'),
     "norms[1].radius", "unknown keys are not ignored"),
    ("terrain-in-volume", _replace(CUBE, "[[goals]]", "[terrain]\nbase = 0.0\n\n[[goals]]"), "terrain",
     "no [terrain] table in a volume world"),
    # wrong types
    ("name-not-string", _replace(CUBE, 'name = "cube"', "name = 3"), "name", "a string"),
    ("kind-unknown", _replace(CUBE, 'kind = "volume"', 'kind = "sphere"'), "kind", "'volume', 'terrain'"),
    ("samples-string", _replace(CUBE, "samples = 20", 'samples = "twenty"'), "expert.samples", "a whole number"),
    ("samples-float", _replace(CUBE, "samples = 20", "samples = 20.0"), "expert.samples", "a whole number"),
    ("radius-bool", _replace(CUBE, "radius = 0.3", "radius = true"), "goals[0].radius", "a number"),
    ("bounds-two-numbers", _replace(CUBE, "min = [-1.0, -1.0, -1.0]", "min = [-1.0, -1.0]"), "bounds.min",
     "a list of 3 numbers"),
    ("goal-center-string", _replace(CUBE, "center = [1.0, 1.0, 0.2]", 'center = [1.0, "one", 0.2]'),
     "goals[0].center[1]", "a number"),
    ("goals-not-array", _replace(CUBE, "[[goals]]", "[goals]"), "goals", "[[goals]]"),
    ("terrain-point-dims", _replace(TWIN, "[[0.0, -0.85], [-0.7, 0.6]]", "[[0.0, -0.85, 0.0], [-0.7, 0.6, 0.1]]"),
     "expert.routes[0].points[0]", "a point of 2 numbers"),
    # NaN and infinities
    ("radius-nan", _replace(CUBE, "radius = 0.3", "radius = nan"), "goals[0].radius", "a finite number"),
    ("bounds-inf", _replace(CUBE, "max = [1.0, 1.0, 1.0]", "max = [1.0, inf, 1.0]"), "bounds.max[1]",
     "a finite number"),
    ("point-minus-inf", _replace(TWIN, "[-0.7, 0.6]]", "[-0.7, -inf]]"), "expert.routes[0].points[1][1]",
     "a finite number"),
    ("floor-nan", _replace(CUBE, "floor = 0.05", "floor = nan"), "landscape.floor", "a finite number"),
    ("curve-nan", _replace(CUBE, 'x = "-1 + 2*t"', 'x = "sqrt(-1 - t)"'), "expert.routes[0].x", "finite"),
    # ranges
    ("inverted-bounds", _replace(CUBE, "min = [-1.0, -1.0, -1.0]", "min = [-1.0, 2.0, -1.0]"), "bounds.max",
     "greater than bounds.min[1]"),
    ("flat-bounds", _replace(CUBE, "min = [-1.0, -1.0, -1.0]", "min = [-1.0, -1.0, 1.0]"), "bounds.max",
     "greater than bounds.min[2]"),
    ("samples-huge", _replace(CUBE, "samples = 20", f"samples = {10**9}"), "expert.samples", "<= 4096"),
    ("samples-one", _replace(CUBE, "samples = 20", "samples = 1"), "expert.samples", ">= 2"),
    ("radius-negative", _replace(CUBE, "radius = 0.3", "radius = -0.3"), "goals[0].radius", "> 0"),
    ("volume-resolution", _replace(CUBE, "resolution = 20", "resolution = 200"), "landscape.resolution",
     "at most 128"),
    ("floor-one", _replace(CUBE, "floor = 0.05", "floor = 1.0"), "landscape.floor", "<= 0.99"),
    ("model-experts-zero", CUBE + "\n[model]\nexperts = 0\n", "model.experts", ">= 1"),
    ("route-weight-zero", _replace(CUBE, 'kind = "curve"\n', 'kind = "curve"\nweight = 0\n'),
     "expert.routes[0].weight", "> 0"),
    ("empty-name", _replace(CUBE, 'name = "cube"', 'name = "  "'), "name", "non-empty"),
    ("future-schema", _replace(CUBE, "schema_version = 1", "schema_version = 2"), "schema_version",
     "this program reads format 1"),
    # geometry
    ("route-leaves-bounds", _replace(CUBE, 'x = "-1 + 2*t"', 'x = "-1 + 3*t"'), "expert.routes[0].kind",
     "stays inside the world's bounds"),
    ("polyline-leaves-bounds", _replace(TWIN, "[-0.7, 0.6]]", "[-1.7, 0.6]]"), "expert.routes[0].kind",
     "stays inside the world's bounds"),
    ("polyline-one-point", _replace(TWIN, "[[0.0, -0.85], [-0.7, 0.6]]", "[[0.0, -0.85], [0.0, -0.85]]"),
     "expert.routes[0].points", "not all the same"),
    ("terrain-above-z-bounds", _replace(CANYON, "max = [1.0, 1.0, 0.8]", "max = [1.0, 1.0, 0.0]"), "bounds",
     "contain the terrain heights"),
    ("hazard-outside-bounds", _replace(CANYON, "center = [0.1, 0.17]", "center = [1.1, 0.17]"),
     "hazards[0].center", "inside the bounds"),
    ("duplicate-goal-name", CUBE + '\n[[goals]]\nname = "goal"\ncenter = [0.0, 0.0, 0.0]\nradius = 0.1\n',
     "goals[1].name", "not used by another entry"),
    ("avoid-unknown-hazard", _replace(CANYON, 'region = "quicksand"', 'region = "quiksand"'), "norms[1].region",
     "the name of a hazard ('quicksand')"),
    ("duplicate-norm-name", CANYON + '\n[[norms]]\nkind = "avoid_region"\nname = "avoid quicksand"\n'
     'center = [0.5, 0.5]\nradius = 0.1\n', "norms[2].name", "a name not used by another norm"),
    ("norm-kind-unknown", _replace(CANYON, 'kind = "avoid_region"', 'kind = "avoid"'), "norms[1].kind",
     "'support_required', 'avoid_region'"),
    # unsafe or invalid expressions
    ("expr-import", _replace(CUBE, 'x = "-1 + 2*t"', "x = \"__import__('os')\""), "expert.routes[0].x",
     "only these functions are allowed"),
    ("expr-dunder-attribute", _replace(CUBE, 'x = "-1 + 2*t"', 'x = "t.__class__"'), "expert.routes[0].x",
     "Attribute is not allowed"),
    ("expr-subscript", _replace(CUBE, 'y = "clip', 'y = "(t, t)[0] + clip'), "expert.routes[0].y",
     "not allowed"),
    ("expr-lambda", _replace(CUBE, 'z = "clip', 'z = "(lambda: 1)() + clip'), "expert.routes[0].z",
     "only these functions are allowed"),
    ("expr-unknown-name", _replace(CUBE, 'x = "-1 + 2*t"', 'x = "-1 + 2*s"'), "expert.routes[0].x",
     "unknown name 's'"),
    ("expr-string", _replace(CUBE, 'x = "-1 + 2*t"', "x = \"'a' * 3\""), "expert.routes[0].x",
     "only numbers are allowed"),
    ("expr-syntax", _replace(CUBE, 'x = "-1 + 2*t"', 'x = "-1 + * t"'), "expert.routes[0].x",
     "not a valid expression"),
    ("expr-keyword", _replace(CUBE, 'x = "-1 + 2*t"', 'x = "clip(t, a_min=0, a_max=1)"'), "expert.routes[0].x",
     "keyword arguments are not allowed"),
    ("expr-too-long", _replace(CUBE, 'x = "-1 + 2*t"', 'x = "' + "+".join(["t"] * 300) + '"'),
     "expert.routes[0].x", "longer than 500"),
    ("expr-not-string", _replace(CUBE, 'x = "-1 + 2*t"', "x = 0.5"), "expert.routes[0].x", "a string"),
]


@pytest.mark.parametrize("text, field, expected", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_malformed_world_names_the_file_and_the_field(tmp_path, text, field, expected):
    p = tmp_path / BAD_NAME
    p.write_text(text, encoding="utf-8")
    with pytest.raises(worlds.WorldError) as exc:
        worlds.load(p)
    msg = str(exc.value)
    assert BAD_NAME in msg
    assert f"field '{field}'" in msg
    assert expected in msg
    assert "\n" not in msg                                  # one line a person can act on
    assert exc.value.field == field and exc.value.source == str(p)


@pytest.mark.parametrize("raw, expected", [
    (CUBE.encode().replace(b"The cube", b"The \xff\xfe cube"), "UTF-8 text"),
    (CUBE.encode()[: len(CUBE) // 2], "valid TOML"),           # truncated mid-file
    (b'schema_version = 1\nname = "unterminated\n', "valid TOML"),
    (b"[bounds\nmin = 1\n", "valid TOML"),
    (b"", "this field (it is required)"),                    # empty file: schema_version missing
    (CUBE.encode() + b"\n# " + b"x" * 1_000_001 + b"\n", "of at most 1,000,000 bytes"),
], ids=["non-utf8", "truncated", "unterminated-string", "bad-header", "empty", "too-large"])
def test_unreadable_world_files_name_the_file(tmp_path, raw, expected):
    p = tmp_path / BAD_NAME
    p.write_bytes(raw)
    with pytest.raises(worlds.WorldError) as exc:
        worlds.load(p)
    msg = str(exc.value)
    assert BAD_NAME in msg and expected in msg and "\n" not in msg


def test_an_unsafe_expression_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    for expr in (f"__import__('os').system('touch {marker}')",
                 f"open('{marker}', 'w')",
                 "[c for c in ().__class__.__base__.__subclasses__()]",
                 f"exec('open(\"{marker}\", \"w\")')"):
        p = tmp_path / BAD_NAME
        p.write_text(_replace(CUBE, 'x = "-1 + 2*t"', "x = '''" + expr + "'''"))   # a TOML literal string
        with pytest.raises(worlds.WorldError) as exc:
            worlds.load(p)
        assert "expert.routes[0].x" in str(exc.value) and BAD_NAME in str(exc.value)
    assert not marker.exists()


# ---------------------------------------------------------------- loader gaps found by these tests (fixed)
def test_a_curve_function_with_the_wrong_arity_is_a_world_error(tmp_path):
    p = tmp_path / BAD_NAME
    p.write_text(_replace(CUBE, 'x = "-1 + 2*t"', 'x = "min(t)"'))
    with pytest.raises(worlds.WorldError) as exc:
        worlds.load(p)
    assert "expert.routes[0].x" in str(exc.value)


def test_two_unnamed_inline_avoid_regions_are_both_enforced_or_refused(tmp_path):
    # Norms are enforced by name: two with one default name once hid the first.
    extra = ('\n[[norms]]\nkind = "avoid_region"\ncenter = [-0.5, -0.13]\nradius = 0.1\n'
             '\n[[norms]]\nkind = "avoid_region"\ncenter = [0.5, -0.13]\nradius = 0.1\n')
    p = tmp_path / BAD_NAME
    p.write_text(CANYON + extra)
    try:
        w = worlds.load(p)
    except worlds.WorldError as exc:                        # refusing duplicate names is a fix too
        assert "norms[3].name" in str(exc)
        return
    both = w.to_state(np.array([[-0.5, -0.13], [0.5, -0.13]]))
    assert w.violates(both).all()
