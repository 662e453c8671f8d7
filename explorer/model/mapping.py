"""g_psi: the monotone mapping from expertness L to reward in [0, 1].

    g_psi(L) = clip(exp(-k (L - l_min) / (l_max - l_min)), 0, 1),  psi = (l_min, l_max, k)

Low error (looks like the expert) -> reward near 1. Editing psi is *functional
sculpting*: it reshapes the whole landscape without touching E_theta, so a
landscape with cached L re-evaluates in one vectorised expression.

The landscape evaluates g_psi in float32 as ``exp(L * scale + shift)`` with
``scale = -k / (l_max - l_min)`` and ``shift = k l_min / (l_max - l_min)``. A psi
that is valid in float64 can still overflow there (k = 1e308 is inf in float32;
inf * 0 is NaN), so a Psi is only built if every one of those numbers is finite
in float32: then g_psi of a finite L is finite, by construction.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from explorer.model.errors import ModelError

F32_MAX = float(np.finfo(np.float32).max)


def psi_problem(l_min: Any, l_max: Any, k: Any) -> tuple[str, str, Any] | None:
    """The first reason (field, expected, got) these values cannot be a mapping, or None."""
    for name, v in (("l_min", l_min), ("l_max", l_max), ("k", k)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return name, "a finite number", v
        if abs(v) > F32_MAX:
            return name, f"a number that stays finite in float32 (at most {F32_MAX:.3g})", v
    if l_min < 0:
        return "l_min", "a number >= 0", l_min
    if not l_max > l_min:
        return "l_max", f"a number greater than l_min = {l_min!r}", l_max
    if not np.float32(l_max) > np.float32(l_min):
        return "l_max", f"a number distinct from l_min = {l_min!r} in float32", l_max
    if not (k > 0 and np.float32(k) > 0):
        return "k", "a number > 0 (and > 0 in float32)", k
    scale = k / (l_max - l_min)
    if not scale * max(1.0, l_min) <= F32_MAX:
        return "k", (f"k / (l_max - l_min) * max(1, l_min) finite in float32 (at most {F32_MAX:.3g}; "
                     f"here l_max - l_min = {l_max - l_min:g})"), k
    return None


@dataclass(frozen=True)
class Psi:
    l_min: float
    l_max: float
    k: float

    def __post_init__(self) -> None:
        problem = psi_problem(self.l_min, self.l_max, self.k)
        if problem:
            field, expected, got = problem
            raise ModelError("mapping", f"psi.{field}", expected, got)

    def to_dict(self) -> dict:
        return asdict(self)

    def error_at(self, reward: float) -> float:
        """The expertness L at which g_psi gives ``reward`` (inverse mapping)."""
        return self.l_min + (self.l_max - self.l_min) * math.log(1.0 / reward) / self.k


def g_psi(error: np.ndarray, psi: Psi) -> np.ndarray:
    x = (np.asarray(error, dtype=np.float32) - np.float32(psi.l_min)) / np.float32(psi.l_max - psi.l_min)
    return np.clip(np.exp(-np.float32(psi.k) * x), 0.0, 1.0)
