"""Flags: regions a person marks as wrong, with undo/redo kept as deltas.

Undo history lives here as plain Python (as napari's labels layer keeps its
own): each command stores only what it changed, so a long session costs a few
bytes per action, and ``undo_text()`` says exactly what undo will revert.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

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


class FlagSet:
    """The flags of a session, with grouped, delta-based undo/redo."""

    def __init__(self, flags: list[Flag] | None = None):
        self._flags: list[Flag] = list(flags or [])
        self._next_id = max((f.id for f in self._flags), default=0) + 1
        self._undo: list[tuple[str, Any]] = []
        self._redo: list[tuple[str, Any]] = []
        self.listeners: list[Callable[[], None]] = []

    # ---- reading --------------------------------------------------------
    def __iter__(self):
        return iter(list(self._flags))

    def __len__(self) -> int:
        return len(self._flags)

    def get(self, flag_id: int) -> Flag:
        for f in self._flags:
            if f.id == flag_id:
                return f
        raise KeyError(f"no flag #{flag_id}")

    def snapshot(self) -> list[Flag]:
        return list(self._flags)

    # ---- editing (each is one undoable command) ---------------------------
    def add(self, center, radius: float, kind: str = "spurious-high") -> Flag:
        if kind not in FLAG_KINDS:
            raise InputError("flag", "kind", "one of " + ", ".join(FLAG_KINDS), kind)
        if len(self._flags) >= MAX_FLAGS:
            raise InputError("flag", "", f"at most {MAX_FLAGS} flags", len(self._flags) + 1)
        flag = Flag(self._next_id, check_center(center), check_radius(radius), kind)
        self._next_id += 1
        self._do(("add", flag))
        return flag

    def delete(self, flag_id: int) -> None:
        flag = self.get(flag_id)
        self._do(("delete", (flag, self._flags.index(flag))))

    def move(self, flag_id: int, center) -> None:
        flag = self.get(flag_id)
        self._do(("move", (flag_id, flag.center, check_center(center))))

    def set_radius(self, flag_id: int, radius: float) -> None:
        flag = self.get(flag_id)
        self._do(("radius", (flag_id, flag.radius, check_radius(radius))))

    def clear(self) -> None:
        for f in reversed(self._flags):
            self.delete(f.id)

    # ---- undo / redo ------------------------------------------------------
    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo_text(self) -> str:
        return "Undo: " + _describe(self._undo[-1]) if self._undo else "Nothing to undo"

    def redo_text(self) -> str:
        return "Redo: " + _describe(self._redo[-1]) if self._redo else "Nothing to redo"

    def undo(self) -> bool:
        if not self._undo:
            return False
        cmd = self._undo.pop()
        self._apply(cmd, reverse=True)
        self._redo.append(cmd)
        self._changed()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        cmd = self._redo.pop()
        self._apply(cmd, reverse=False)
        self._undo.append(cmd)
        self._changed()
        return True

    def _do(self, cmd: tuple[str, Any]) -> None:
        self._apply(cmd, reverse=False)
        self._undo.append(cmd)
        self._redo.clear()
        self._changed()

    def _apply(self, cmd: tuple[str, Any], reverse: bool) -> None:
        op, data = cmd
        if op == "add":
            if reverse:
                self._flags.remove(data)
            else:
                self._flags.append(data)
        elif op == "delete":
            flag, index = data
            if reverse:
                self._flags.insert(index, flag)
            else:
                self._flags.remove(flag)
        elif op in ("move", "radius"):
            flag_id, old, new = data
            value = old if reverse else new
            i = self._flags.index(self.get(flag_id))
            field = "center" if op == "move" else "radius"
            self._flags[i] = replace(self._flags[i], **{field: value})

    def _changed(self) -> None:
        for fn in list(self.listeners):
            fn()

    # ---- files ------------------------------------------------------------
    def to_json(self, world: str) -> dict:
        return {"format": FLAGS_FORMAT, "schema_version": FLAGS_SCHEMA, "world": world,
                "flags": [f.to_dict() for f in self._flags]}

    def save(self, path: str | Path, world: str) -> None:
        write_json_atomic(Path(path), self.to_json(world))


def _describe(cmd: tuple[str, Any]) -> str:
    op, data = cmd
    if op == "add":
        return f"add flag #{data.id}"
    if op == "delete":
        return f"delete flag #{data[0].id}"
    if op == "move":
        return f"move flag #{data[0]}"
    return f"radius of flag #{data[0]} {data[1]:.2f} -> {data[2]:.2f}"


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
