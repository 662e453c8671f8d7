"""Parse and validate world files (TOML). See ``worlds/FORMAT.md``.

Validation is strict: every value is type- and range-checked, unknown keys are
errors, and each error names the file, the dotted field and what was expected.
"""
from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import numpy as np

from .errors import WorldError
from .expr import ExpressionError, compile_expression
from .reader import Table
from .terrain import Feature, Terrain
from .world import Norm, Region, Route, TrueReward, World

SCHEMA_VERSION = 1
MAX_FILE_BYTES = 1_000_000
MAX_EXPERT_SAMPLES = 4096
MAX_BACKGROUND = 200_000
MAX_RESOLUTION = 512
MODEL_KEYS = {"l_max": (1e-6, 100.0), "k": (1e-3, 100.0), "experts": (1, 32),
              "bottleneck": (1, 3), "steps": (1, 100_000), "seed": (0, 2**31 - 1),
              "lr": (1e-6, 1.0)}


def load_file(path: str | Path, source: str | None = None) -> World:
    path = Path(path)
    src = source or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise WorldError(src, "", "a readable world file", exc.strerror or str(exc)) from None
    return parse_bytes(raw, src)


def parse_bytes(raw: bytes, source: str) -> World:
    if len(raw) > MAX_FILE_BYTES:
        raise WorldError(source, "", f"a world file under {MAX_FILE_BYTES} bytes", f"{len(raw)} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WorldError(source, "", "UTF-8 text", f"byte 0x{raw[exc.start]:02x} at offset {exc.start}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WorldError(source, "", "valid TOML", str(exc)) from None
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
    for i, axis in enumerate("xyz"):
        if not lo[i] < hi[i]:
            raise b.error("max", f"bounds.max[{i}] ({axis}) greater than bounds.min[{i}] = {lo[i]:g}", hi.tolist())
    b.finish()

    land = top.table("landscape", optional=True) or Table({}, src, "landscape")
    resolution = land.int("resolution", 20 if kind == "volume" else 96, lo=4, hi=MAX_RESOLUTION)
    if kind == "volume" and resolution > 128:
        raise land.error("resolution", "at most 128 for a volume world (128^3 cells)", resolution)
    floor = land.num("floor", 0.05, lo=0.0, hi=0.99)
    land.finish()

    terrain = _terrain(top.table("terrain", optional=True), kind, src) if kind == "terrain" else None
    if kind == "volume" and top.has("terrain"):
        raise top.error("terrain", "no [terrain] table in a volume world (set kind = \"terrain\")", "[terrain]")

    goals = [_region(t, dims) for t in top.tables("goals")]
    hazards = [_region(t, dims) for t in top.tables("hazards")]
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
    norms = [_norm(t, hazards, dims, i) for i, t in enumerate(norm_tables)]
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
        route_sigma=tr.num("route_sigma", 0.2, lo=0.0, lo_open=True),
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
                  terrain=terrain, model_defaults=model_defaults)
    _check_geometry(world, route_tables)
    return world


def _unique_names(top: Table, key: str, regions: list[Region]) -> None:
    seen: set[str] = set()
    for i, r in enumerate(regions):
        if r.name in seen:
            raise top.error(f"{key}[{i}].name", "a name not used by another entry", r.name)
        seen.add(r.name)


def _region(t: Table, dims: int) -> Region:
    name = t.str("name")
    center = t.vec("center", dims)
    radius = t.num("radius", lo=0.0, lo_open=True)
    t.finish()
    return Region(name, center, radius)


def _route(t: Table, dims: int) -> Route:
    kind = t.str("kind", choices=("curve", "polyline"))
    weight = t.num("weight", 1.0, lo=0.0, lo_open=True)
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


def _norm(t: Table, hazards: list[Region], dims: int, index: int) -> Norm:
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
                        t.num("radius", lo=0.0, lo_open=True))
    name = t.str("name", f"avoid {region.name}")
    t.finish()
    return Norm(kind, name, region=region)


def _terrain(t: Table | None, kind: str, src: str) -> Terrain:
    if t is None:
        raise WorldError(src, "terrain", "a [terrain] table in a terrain world", has_got=False)
    base = t.num("base", 0.0)
    feats = []
    for ft in t.tables("features"):
        fk = ft.str("kind", choices=("hill", "ridge", "valley", "plane"))
        if fk == "hill":
            f = Feature(fk, center=ft.vec("center", 2), height=ft.num("height"),
                        width=ft.num("width", lo=0.0, lo_open=True))
        elif fk in ("ridge", "valley"):
            f = Feature(fk, start=ft.vec("start", 2), end=ft.vec("end", 2),
                        height=ft.num("depth" if fk == "valley" else "height", lo=0.0),
                        width=ft.num("width", lo=0.0, lo_open=True))
        else:
            f = Feature(fk, slope=ft.vec("slope", 2), offset=ft.num("offset", 0.0))
        ft.finish()
        feats.append(f)
    t.finish()
    return Terrain(base, tuple(feats))


def _check_geometry(world: World, route_tables: list[Table]) -> None:
    """Routes must stay inside the bounds and produce finite states; terrain must fit in z."""
    dims = 2 if world.is_terrain else 3
    lo, hi = world.bounds_min[:dims], world.bounds_max[:dims]
    slack = 1e-6 * np.max(world.bounds_max - world.bounds_min)
    for rt, route in zip(route_tables, world.routes):
        pos = route.path(np.linspace(0, 1, 200))
        if not np.all(np.isfinite(pos)):
            raise rt.error("kind", "a route whose positions are finite for all t in [0, 1]", "NaN/inf")
        if np.any(pos < lo - slack) or np.any(pos > hi + slack):
            raise rt.error("kind", "a route that stays inside the world's bounds",
                           f"positions from {pos.min(axis=0).round(3).tolist()} to {pos.max(axis=0).round(3).tolist()}")
    if world.terrain is not None:
        z = world.grid().points[:, 2]
        if not np.all(np.isfinite(z)):
            raise WorldError(world.source, "terrain.features", "a finite height everywhere", "NaN/inf")
        if z.min() < world.bounds_min[2] - slack or z.max() > world.bounds_max[2] + slack:
            raise WorldError(world.source, "bounds", f"z bounds that contain the terrain heights "
                             f"[{z.min():.3g}, {z.max():.3g}]",
                             [float(world.bounds_min[2]), float(world.bounds_max[2])])
    for i, g in enumerate(world.goals + world.hazards):
        c = np.asarray(g.center)
        if np.any(c < lo - slack) or np.any(c > hi + slack):
            which = "goals" if i < len(world.goals) else "hazards"
            j = i if i < len(world.goals) else i - len(world.goals)
            raise WorldError(world.source, f"{which}[{j}].center", "a centre inside the bounds", c.tolist())
