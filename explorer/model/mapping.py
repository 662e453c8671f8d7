"""g_psi: the monotone mapping from expertness L to reward in [0, 1].

    g_psi(L) = clip(exp(-k (L - l_min) / (l_max - l_min)), 0, 1),  psi = (l_min, l_max, k)

Low error (looks like the expert) -> reward near 1. Editing psi is *functional
sculpting*: it reshapes the whole landscape without touching E_theta, so a
landscape with cached L re-evaluates in one vectorised expression.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Psi:
    l_min: float
    l_max: float
    k: float

    def __post_init__(self) -> None:
        for name in ("l_min", "l_max", "k"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"psi.{name}: expected a finite number, got {v!r}")
        if self.l_min < 0:
            raise ValueError(f"psi.l_min: expected >= 0, got {self.l_min!r}")
        if not self.l_max > self.l_min:
            raise ValueError(f"psi.l_max: expected greater than l_min={self.l_min:g}, got {self.l_max!r}")
        if not self.k > 0:
            raise ValueError(f"psi.k: expected > 0, got {self.k!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    def error_at(self, reward: float) -> float:
        """The expertness L at which g_psi gives ``reward`` (inverse mapping)."""
        return self.l_min + (self.l_max - self.l_min) * math.log(1.0 / reward) / self.k


def g_psi(error: np.ndarray, psi: Psi) -> np.ndarray:
    x = (np.asarray(error, dtype=np.float32) - np.float32(psi.l_min)) / np.float32(psi.l_max - psi.l_min)
    return np.clip(np.exp(-np.float32(psi.k) * x), 0.0, 1.0)
