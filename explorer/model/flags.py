"""Flags: regions a person marks as wrong, and the flags file format.

A flag is a ball (centre, radius) with an id. Editing the flags of a session,
with undo, is the session's job (explorer.session: one command history for
every edit); here are the flag itself, its checks, and the file format.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explorer.safeio import read_json, write_json_atomic
from worlds.errors import InputError

FLAGS_FORMAT = "reward-explorer-flags"
FLAGS_SCHEMA = 1
FLAG_KINDS = ("spurious-high",)
MAX_FLAGS = 10_000


@dataclass(frozen=True)
class Flag:
    id: int
    center: tuple[float, float, float]
    radius: float
    kind: str = "spurious-high"

    def to_dict(self) -> dict:
        return {"id": self.id, "center": list(self.center), "radius": self.radius, "kind": self.kind}

    def describe(self) -> str:
        c = ", ".join(f"{v:+.2f}" for v in self.center)
        return f"#{self.id} ({c}) r={self.radius:.2f}"


def check_radius(radius: float, source: str = "flag", field: str = "radius") -> float:
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real) or not math.isfinite(radius) \
            or radius <= 0:
        raise InputError(source, field, "a finite radius > 0", radius)
    return float(radius)


def check_center(center: Any, source: str = "flag", field: str = "center") -> tuple[float, float, float]:
    if not isinstance(center, (list, tuple)) or len(center) != 3:
        raise InputError(source, field, "a list of 3 numbers", center)
    out = []
    for i, v in enumerate(center):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
            raise InputError(source, f"{field}[{i}]", "a finite number", v)
        out.append(float(v))
    return (out[0], out[1], out[2])


def default_flag_radius(world) -> float:
    """A flag's radius when none is given: 17.5% of the world's size (0.35 on cube)."""
    return round(0.175 * float(max(world.bounds_max - world.bounds_min)), 4)


def make_flags(items) -> list[Flag]:
    """Flags numbered 1..n from (center, radius) pairs, each checked (a script's or a
    test's way to build the list a refinement takes)."""
    return [Flag(i + 1, check_center(c), check_radius(r)) for i, (c, r) in enumerate(items)]


def flags_json(flags, world: str) -> dict:
    return {"format": FLAGS_FORMAT, "schema_version": FLAGS_SCHEMA, "world": world,
            "flags": [f.to_dict() for f in flags]}


def save_flags(path: str | Path, flags, world: str) -> None:
    """A flags file (the CLI's ``--flags`` format), written atomically."""
    write_json_atomic(Path(path), flags_json(flags, world))


def parse_flags(data: Any, source: str) -> tuple[list[Flag], str | None]:
    """Validate a flags document; return (flags, world name)."""
    if not isinstance(data, dict):
        raise InputError(source, "$", "a JSON object with 'format', 'schema_version' and 'flags'", data)
    allowed = {"format", "schema_version", "world", "flags"}
    extra = sorted(set(data) - allowed)
    if extra:
        raise InputError(source, f"$.{extra[0]}", "one of " + ", ".join(sorted(allowed)), extra[0])
    if data.get("format") != FLAGS_FORMAT:
        raise InputError(source, "$.format", repr(FLAGS_FORMAT), data.get("format"))
    version = data.get("schema_version")
    if version != FLAGS_SCHEMA:
        raise InputError(source, "$.schema_version", f"{FLAGS_SCHEMA} (this program reads version {FLAGS_SCHEMA})", version)
    world = data.get("world")
    if world is not None and not isinstance(world, str):
        raise InputError(source, "$.world", "a world name (string)", world)
    items = data.get("flags")
    if not isinstance(items, list):
        raise InputError(source, "$.flags", "a list of flags", items)
    if len(items) > MAX_FLAGS:
        raise InputError(source, "$.flags", f"at most {MAX_FLAGS} flags", f"{len(items)} flags")
    flags, ids = [], set()
    for i, item in enumerate(items):
        path = f"$.flags[{i}]"
        if not isinstance(item, dict):
            raise InputError(source, path, "an object with center, radius (and optional id, kind)", item)
        extra = sorted(set(item) - {"id", "center", "radius", "kind"})
        if extra:
            raise InputError(source, f"{path}.{extra[0]}", "one of id, center, radius, kind", extra[0])
        fid = item.get("id", i + 1)
        if isinstance(fid, bool) or not isinstance(fid, int) or fid < 1 or fid in ids:
            raise InputError(source, f"{path}.id", "a unique whole number >= 1", fid)
        ids.add(fid)
        if "center" not in item:
            raise InputError(source, f"{path}.center", "this field (it is required)", has_got=False)
        if "radius" not in item:
            raise InputError(source, f"{path}.radius", "this field (it is required)", has_got=False)
        kind = item.get("kind", "spurious-high")
        if kind not in FLAG_KINDS:
            raise InputError(source, f"{path}.kind", "one of " + ", ".join(FLAG_KINDS), kind)
        flags.append(Flag(fid, check_center(item["center"], source, f"{path}.center"),
                          check_radius(item["radius"], source, f"{path}.radius"), kind))
    return flags, world


MAX_FLAGS_BYTES = 8_000_000     # 10,000 flags with 17-digit coordinates are ~2 MB of JSON


def load_flags(path: str | Path) -> tuple[list[Flag], str | None]:
    """Read a flags file: size and nesting depth are checked before parsing."""
    path = Path(path)
    data = read_json(path, "flags file", InputError, max_bytes=MAX_FLAGS_BYTES, max_depth=8)
    return parse_flags(data, str(path))
