"""Typed, path-tracking access to a parsed TOML table.

Every read names its dotted field path, so an error says exactly which value is
wrong. ``finish()`` turns any key that was never read into an error: unknown keys
are typos far more often than intentions, and silently ignoring them hides bugs.
"""
from __future__ import annotations

import math
from typing import Any

from .errors import WorldError

_MISSING = object()


class Table:
    def __init__(self, data: Any, source: str, path: str = ""):
        if not isinstance(data, dict):
            raise WorldError(source, path, "a table", data)
        self.data = data
        self.source = source
        self.path = path
        self._read: set[str] = set()

    def _field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str, default: Any) -> Any:
        self._read.add(key)
        if key not in self.data:
            if default is _MISSING:
                raise WorldError(self.source, self._field(key), "this field (it is required)",
                                 has_got=False)
            return default
        return self.data[key]

    def error(self, key: str, expected: str, got: Any) -> WorldError:
        return WorldError(self.source, self._field(key), expected, got)

    def str(self, key: str, default: Any = _MISSING, choices: tuple[str, ...] = ()) -> str:
        v = self._get(key, default)
        if not isinstance(v, str):
            raise self.error(key, "a string", v)
        if choices and v not in choices:
            raise self.error(key, "one of " + ", ".join(repr(c) for c in choices), v)
        return v

    def num(self, key: str, default: Any = _MISSING, lo: float | None = None,
            hi: float | None = None, lo_open: bool = False) -> float:
        v = self._get(key, default)
        return self.check_num(key, v, lo, hi, lo_open)

    def check_num(self, key: str, v: Any, lo: float | None = None, hi: float | None = None,
                  lo_open: bool = False) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.error(key, "a number", v)
        v = float(v)
        if not math.isfinite(v):
            raise self.error(key, "a finite number", v)
        if lo is not None and (v <= lo if lo_open else v < lo):
            raise self.error(key, f"a number {'>' if lo_open else '>='} {lo:g}", v)
        if hi is not None and v > hi:
            raise self.error(key, f"a number <= {hi:g}", v)
        return v

    def int(self, key: str, default: Any = _MISSING, lo: int | None = None,
            hi: int | None = None) -> int:
        v = self._get(key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(key, "a whole number", v)
        if lo is not None and v < lo:
            raise self.error(key, f"a whole number >= {lo}", v)
        if hi is not None and v > hi:
            raise self.error(key, f"a whole number <= {hi}", v)
        return v

    def vec(self, key: str, n: int, default: Any = _MISSING) -> tuple[float, ...]:
        v = self._get(key, default)
        if not isinstance(v, list) or len(v) != n:
            raise self.error(key, f"a list of {n} numbers", v)
        return tuple(self.check_num(f"{key}[{i}]", x) for i, x in enumerate(v))

    def points(self, key: str, n: int, min_count: int = 1) -> list[tuple[float, ...]]:
        v = self._get(key, _MISSING)
        if not isinstance(v, list) or len(v) < min_count:
            raise self.error(key, f"a list of at least {min_count} points of {n} numbers", v)
        out = []
        for i, p in enumerate(v):
            if not isinstance(p, list) or len(p) != n:
                raise self.error(f"{key}[{i}]", f"a point of {n} numbers", p)
            out.append(tuple(self.check_num(f"{key}[{i}][{j}]", x) for j, x in enumerate(p)))
        return out

    def table(self, key: str, optional: bool = False) -> "Table | None":
        v = self._get(key, None if optional else _MISSING)
        if v is None:
            return None
        return Table(v, self.source, self._field(key))

    def tables(self, key: str, min_count: int = 0) -> list["Table"]:
        v = self._get(key, [])
        if not isinstance(v, list) or len(v) < min_count:
            raise self.error(key, f"an array of at least {min_count} tables ([[{key}]])", v)
        return [Table(t, self.source, f"{self._field(key)}[{i}]") for i, t in enumerate(v)]

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self._read)
        if unknown:
            known = ", ".join(sorted(self._read)) or "none"
            raise WorldError(self.source, self._field(unknown[0]),
                             f"one of the known keys ({known}); unknown keys are not ignored",
                             unknown[0])
