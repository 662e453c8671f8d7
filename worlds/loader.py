"""Parse and validate world files (TOML). See ``worlds/FORMAT.md``.

Validation is strict: every value is type- and range-checked, unknown keys are
errors, and each error names the file, the dotted field and what was expected.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import tomllib

from .errors import WorldError
from .expr import ExpressionError, compile_expression
from .limits import MAX_TOML_DEPTH, read_bounded, toml_depth
from .reader import Table
from .terrain import Feature, Terrain
from .world import ROUTE_POINTS, Norm, Region, Route, TrueReward, World

SCHEMA_VERSION = 1
MAX_FILE_BYTES = 1_000_000
MAX_EXPERT_SAMPLES = 4096
MAX_BACKGROUND = 200_000
MAX_RESOLUTION = 512
MAX_COORDINATE = 1e6        # |bounds|: far inside float32, so grids, distances and squares stay finite
MIN_FEATURE = 1e-6          # widths and radii below this fraction of the world's extent are degenerate
MAX_ROUTE_WEIGHT = 1e6
MODEL_KEYS = {"l_max": (1e-6, 100.0), "k": (1e-3, 100.0), "experts": (1, 32),
              "bottleneck": (1, 3), "steps": (1, 100_000), "seed": (0, 2**31 - 1),
              "lr": (1e-6, 1.0)}


def load_file(path: str | Path, source: str | None = None) -> World:
    """Load a world file: its size is checked from the file system before reading."""
    src = source or str(path)
    raw = read_bounded(path, src, "world file", MAX_FILE_BYTES, WorldError)
    return parse_bytes(raw, src)


def parse_bytes(raw: bytes, source: str) -> World:
    """Parse and validate world-file bytes; nesting depth is checked before tomllib
    sees the text (it recurses once per level of arrays and inline tables)."""
    if len(raw) > MAX_FILE_BYTES:
        raise WorldError(source, "", f"a world file of at most {MAX_FILE_BYTES:,} bytes", f"{len(raw):,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WorldError(source, "", "UTF-8 text", f"byte 0x{raw[exc.start]:02x} at offset {exc.start}") from None
    depth = toml_depth(text)
    if depth > MAX_TOML_DEPTH:
        raise WorldError(source, "", f"arrays, inline tables and dotted keys nested at most {MAX_TOML_DEPTH} levels deep",
                         f"{depth:,} levels")
    try:
        data = tomllib.loads(text)
    except ValueError as exc:        # TOMLDecodeError, or int()'s digit limit on a huge integer
        raise WorldError(source, "", "valid TOML", str(exc)) from None
    except RecursionError:           # not reachable within MAX_TOML_DEPTH; kept as a last guard
        raise WorldError(source, "", f"TOML nested at most {MAX_TOML_DEPTH} levels deep",
                         "deeper nesting") from None
    return _build(Table(data, source), hashlib.sha256(raw).hexdigest())


def _build(top: Table, file_hash: str) -> World:
    src = top.source
    version = top.int("schema_version")
    if version != SCHEMA_VERSION:
        raise top.error("schema_version", f"{SCHEMA_VERSION} (this program reads format {SCHEMA_VERSION})", version)
    name = top.str("name")
    if not name.strip() or len(name) > 64:
        raise top.error("name", "a non-empty name of at most 64 characters", name)
    kind = top.str("kind", choices=("volume", "terrain"))
    card = top.str("card", "")
    dims = 2 if kind == "terrain" else 3

    b = top.table("bounds")
    lo, hi = np.array(b.vec("min", 3)), np.array(b.vec("max", 3))
    for key, v in (("min", lo), ("max", hi)):
        for i in range(3):
            if abs(v[i]) > MAX_COORDINATE:
                raise b.error(f"{key}[{i}]", f"a coordinate within +-{MAX_COORDINATE:g}", float(v[i]))
    for i, axis in enumerate("xyz"):
        if not lo[i] < hi[i]:
            raise b.error("max", f"bounds.max[{i}] ({axis}) greater than bounds.min[{i}] = {lo[i]:g}", hi.tolist())

    land = top.table("landscape", optional=True) or Table({}, src, "landscape")
    resolution = land.int("resolution", 20 if kind == "volume" else 96, lo=4, hi=MAX_RESOLUTION)
    if kind == "volume" and resolution > 128:
        raise land.error("resolution", "at most 128 for a volume world (128^3 cells)", resolution)
    floor = land.num("floor", 0.05, lo=0.0, hi=0.99)
    # delta: the guard band of the certified figures (default: half the grid spacing).
    guard_band = land.num("guard_band", None, lo=0.0, hi=float(np.max(hi - lo))) \
        if land.has("guard_band") else None
    land.finish()
    for i, axis in enumerate("xyz"):
        # The grid is float32 and the models normalise by (max - min): bounds so
        # close that grid points coincide would divide by zero downstream.
        if np.any(np.diff(np.linspace(lo[i], hi[i], resolution).astype(np.float32)) <= 0):
            raise b.error("max", f"bounds.max[{i}] ({axis}) far enough above bounds.min[{i}] = {lo[i]:g} "
                          f"that the {resolution} grid points along {axis} are distinct in float32",
                          hi.tolist())
    b.finish()
    tiny = MIN_FEATURE * float(np.max(hi - lo))    # smaller widths and radii are numerically degenerate

    terrain = _terrain(top.table("terrain", optional=True), kind, src, tiny) if kind == "terrain" else None
    if kind == "volume" and top.has("terrain"):
        raise top.error("terrain", "no [terrain] table in a volume world (set kind = \"terrain\")", "[terrain]")

    goals = [_region(t, dims, tiny) for t in top.tables("goals")]
    hazards = [_region(t, dims, tiny) for t in top.tables("hazards")]
    _unique_names(top, "goals", goals)
    _unique_names(top, "hazards", hazards)

    ex = top.table("expert")
    count = ex.int("samples", 20, lo=2, hi=MAX_EXPERT_SAMPLES)
    seed = ex.int("seed", 0, lo=0, hi=2**31 - 1)
    jitter = ex.num("jitter", 0.0, lo=0.0, hi=float(np.max(hi - lo)))
    route_tables = ex.tables("routes", min_count=1)
    routes = [_route(t, dims) for t in route_tables]
    ex.finish()

    bg = top.table("background", optional=True) or Table({}, src, "background")
    bg_count = bg.int("samples", 2000, lo=1, hi=MAX_BACKGROUND)
    bg_seed = bg.int("seed", 1, lo=0, hi=2**31 - 1)
    bg.finish()

    norm_tables = top.tables("norms")
    norms = [_norm(t, hazards, dims, i, tiny) for i, t in enumerate(norm_tables)]
    seen_norms: set[str] = set()
    for t, n in zip(norm_tables, norms):
        if n.name in seen_norms:
            # Norms are reported (and enforced) by name: two with one name would hide one.
            raise t.error("name", "a name not used by another norm", n.name)
        seen_norms.add(n.name)

    tr = top.table("true_reward", optional=True) or Table({}, src, "true_reward")
    true_spec = TrueReward(
        goal_weight=tr.num("goal_weight", 1.0, lo=0.0, hi=10.0),
        route_weight=tr.num("route_weight", 0.0, lo=0.0, hi=10.0),
        route_sigma=_size(tr, "route_sigma", tiny, 0.2),
        hazard_penalty=tr.num("hazard_penalty", 1.0, lo=0.0, hi=10.0))
    tr.finish()

    model = top.table("model", optional=True) or Table({}, src, "model")
    model_defaults = {}
    for key, (mlo, mhi) in MODEL_KEYS.items():
        if model.has(key):
            if isinstance(mlo, int) and isinstance(mhi, int):
                model_defaults[key] = model.int(key, lo=mlo, hi=mhi)
            else:
                model_defaults[key] = model.num(key, lo=mlo, hi=mhi)
    model.finish()
    top.finish()

    world = World(name=name, kind=kind, card=card.strip(), source=src, file_hash=file_hash,
                  bounds_min=lo, bounds_max=hi, resolution=resolution, floor=floor,
                  goals=goals, hazards=hazards, routes=routes, expert_count=count,
                  expert_seed=seed, expert_jitter=jitter, background_count=bg_count,
                  background_seed=bg_seed, norms=norms, true_reward_spec=true_spec,
                  terrain=terrain, model_defaults=model_defaults, guard_band=guard_band)
    _check_geometry(world, route_tables)
    return world


def _unique_names(top: Table, key: str, regions: list[Region]) -> None:
    seen: set[str] = set()
    for i, r in enumerate(regions):
        if r.name in seen:
            raise top.error(f"{key}[{i}].name", "a name not used by another entry", r.name)
        seen.add(r.name)


def _size(t: Table, key: str, tiny: float, default=None) -> float:
    """A width or radius: > 0, and not so small that squaring it underflows (a hill
    of width 1e-300 is NaN at its centre) or that no grid could ever show it."""
    v = t.num(key, lo=0.0, lo_open=True) if default is None else t.num(key, default, lo=0.0, lo_open=True)
    if v < tiny:
        raise t.error(key, f"a number >= {tiny:g} (a millionth of the world's extent; smaller is "
                      "numerically degenerate)", v)
    return v


def _region(t: Table, dims: int, tiny: float) -> Region:
    name = t.str("name")
    center = t.vec("center", dims)
    radius = _size(t, "radius", tiny)
    t.finish()
    return Region(name, center, radius)


def _route(t: Table, dims: int) -> Route:
    kind = t.str("kind", choices=("curve", "polyline"))
    weight = t.num("weight", 1.0, lo=0.0, hi=MAX_ROUTE_WEIGHT, lo_open=True)
    if kind == "curve":
        fns = []
        for axis in "xyz"[:dims]:
            text = t.str(axis)
            try:
                fn = compile_expression(text)
                fn(np.linspace(0.0, 1.0, 3))        # evaluation errors (wrong arity, ...) surface here
                fns.append(fn)
            except ExpressionError as exc:
                raise t.error(axis, f"an expression in t ({exc})", text) from None

        def path(tt: np.ndarray, fns=tuple(fns)) -> np.ndarray:
            return np.stack([f(tt) for f in fns], axis=-1)
    else:
        pts = np.array(t.points("points", dims, min_count=2), dtype=float)
        seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        if seg.sum() == 0:
            raise t.error("points", "points that are not all the same", pts.tolist())
        arc = np.concatenate([[0.0], np.cumsum(seg)]) / seg.sum()

        def path(tt: np.ndarray, pts=pts, arc=arc) -> np.ndarray:
            tt = np.asarray(tt, dtype=float)
            return np.stack([np.interp(tt, arc, pts[:, i]) for i in range(pts.shape[1])], axis=-1)
    t.finish()
    return Route(path, weight)


def _norm(t: Table, hazards: list[Region], dims: int, index: int, tiny: float) -> Norm:
    kind = t.str("kind", choices=("support_required", "avoid_region"))
    if kind == "support_required":
        boundary = t.num("boundary", lo=0.0, lo_open=True)
        name = t.str("name", "support_required")
        t.finish()
        return Norm(kind, name, boundary=boundary)
    if t.has("region"):
        ref = t.str("region")
        match = [h for h in hazards if h.name == ref]
        if not match:
            names = ", ".join(repr(h.name) for h in hazards) or "none declared"
            raise t.error("region", f"the name of a hazard ({names})", ref)
        region = match[0]
    else:
        region = Region(t.str("name", f"avoid region #{index + 1}"), t.vec("center", dims),
                        _size(t, "radius", tiny))
    name = t.str("name", f"avoid {region.name}")
    t.finish()
    return Norm(kind, name, region=region)


def _terrain(t: Table | None, kind: str, src: str, tiny: float) -> Terrain:
    if t is None:
        raise WorldError(src, "terrain", "a [terrain] table in a terrain world", has_got=False)
    base = _height(t, "base", default=0.0)
    feats = []
    for ft in t.tables("features"):
        fk = ft.str("kind", choices=("hill", "ridge", "valley", "plane"))
        if fk == "hill":
            f = Feature(fk, center=ft.vec("center", 2), height=_height(ft, "height"),
                        width=_size(ft, "width", tiny))
        elif fk in ("ridge", "valley"):
            f = Feature(fk, start=ft.vec("start", 2), end=ft.vec("end", 2),
                        height=_height(ft, "depth" if fk == "valley" else "height", lo=0.0),
                        width=_size(ft, "width", tiny))
        else:
            f = Feature(fk, slope=ft.vec("slope", 2), offset=_height(ft, "offset", default=0.0))
            for i, v in enumerate(f.slope):
                if abs(v) > MAX_COORDINATE:
                    raise ft.error(f"slope[{i}]", f"a slope within +-{MAX_COORDINATE:g}", v)
        ft.finish()
        feats.append(f)
    t.finish()
    return Terrain(base, tuple(feats))


def _height(t: Table, key: str, lo: float | None = None, default=None) -> float:
    v = t.num(key, lo=lo) if default is None else t.num(key, default, lo=lo)
    if abs(v) > MAX_COORDINATE:
        raise t.error(key, f"a number within +-{MAX_COORDINATE:g}", v)
    return v


def _check_geometry(world: World, route_tables: list[Table]) -> None:
    """Routes must stay inside the bounds and be finite at every t the world ever
    evaluates; the terrain must be finite on the grid and fit in z."""
    dims = 2 if world.is_terrain else 3
    lo, hi = world.bounds_min[:dims], world.bounds_max[:dims]
    slack = 1e-6 * np.max(world.bounds_max - world.bounds_min)
    for rt, route, n in zip(route_tables, world.routes, world.route_counts()):
        # the geometry check's, the drawn polyline's and this route's expert samples' t
        t = np.unique(np.concatenate([np.linspace(0, 1, 200), np.linspace(0, 1, ROUTE_POINTS),
                                      np.linspace(0, 1, max(int(n), 1))]))
        pos = route.path(t)
        bad = ~np.isfinite(pos)
        if bad.any():
            row, col = (int(v) for v in np.argwhere(bad)[0])
            curve = rt.data.get("kind") == "curve"
            raise rt.error("xyz"[col] if curve else "points",
                           "an expression in t that is finite for every t in [0, 1]" if curve
                           else "finite points", f"NaN or inf at t = {t[row]:g}")
        if np.any(pos < lo - slack) or np.any(pos > hi + slack):
            raise rt.error("kind", "a route that stays inside the world's bounds",
                           f"positions from {pos.min(axis=0).round(3).tolist()} to {pos.max(axis=0).round(3).tolist()}")
    if world.terrain is not None:
        _check_terrain(world)
    for i, g in enumerate(world.goals + world.hazards):
        c = np.asarray(g.center)
        if np.any(c < lo - slack) or np.any(c > hi + slack):
            which = "goals" if i < len(world.goals) else "hazards"
            j = i if i < len(world.goals) else i - len(world.goals)
            raise WorldError(world.source, f"{which}[{j}].center", "a centre inside the bounds", c.tolist())
    if not np.all(np.isfinite(world.expert_samples())):       # unreachable after the checks above
        raise WorldError(world.source, "expert", "finite expert samples", "NaN or inf")


def _check_terrain(world: World) -> None:
    """Every feature finite on the grid (named when one is not); heights inside z bounds."""
    assert world.terrain is not None
    slack = 1e-6 * np.max(world.bounds_max - world.bounds_min)
    z = world.grid().points[:, 2]
    if not np.all(np.isfinite(z)):
        n = world.resolution
        axes = [np.linspace(world.bounds_min[i], world.bounds_max[i], n) for i in range(2)]
        xy = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
        with np.errstate(all="ignore"):
            for i, f in enumerate(world.terrain.features):
                bad = int((~np.isfinite(f(xy))).sum())
                if bad:
                    raise WorldError(world.source, f"terrain.features[{i}]",
                                     "a feature whose height is finite on the whole grid",
                                     f"NaN or inf at {bad:,} of {len(xy):,} grid points")
        raise WorldError(world.source, "terrain.features", "a finite height everywhere on the grid",
                         f"NaN or inf at {int((~np.isfinite(z)).sum()):,} of {len(z):,} grid points")
    if z.min() < world.bounds_min[2] - slack or z.max() > world.bounds_max[2] + slack:
        raise WorldError(world.source, "bounds", f"z bounds that contain the terrain heights "
                         f"[{z.min():.3g}, {z.max():.3g}]",
                         [float(world.bounds_min[2]), float(world.bounds_max[2])])
