"""Height surfaces h(x, y) built from declared primitives.

A terrain world's states are 3D points (x, y, h(x, y)). Primitives add up, so a
world author composes hills, ridges, valleys and tilted planes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _segment_distance(xy: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    denom = float(ab @ ab)
    if denom == 0.0:
        return np.linalg.norm(xy - a, axis=-1)
    t = np.clip(((xy - a) @ ab) / denom, 0.0, 1.0)
    return np.linalg.norm(xy - (a + t[..., None] * ab), axis=-1)


@dataclass(frozen=True)
class Feature:
    kind: str                      # hill | ridge | valley | plane
    center: tuple[float, float] = (0.0, 0.0)
    start: tuple[float, float] = (0.0, 0.0)
    end: tuple[float, float] = (0.0, 0.0)
    height: float = 0.0            # hill/ridge height, valley depth (positive)
    width: float = 1.0             # hill radius or ridge/valley half-width
    slope: tuple[float, float] = (0.0, 0.0)
    offset: float = 0.0

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        if self.kind == "hill":
            d2 = np.sum((xy - np.asarray(self.center)) ** 2, axis=-1)
            return self.height * np.exp(-d2 / (2 * self.width ** 2))
        if self.kind in ("ridge", "valley"):
            d = _segment_distance(xy, np.asarray(self.start), np.asarray(self.end))
            sign = 1.0 if self.kind == "ridge" else -1.0
            return sign * self.height * np.exp(-d ** 2 / (2 * self.width ** 2))
        if self.kind == "plane":
            return xy @ np.asarray(self.slope) + self.offset
        raise ValueError(f"unknown terrain feature {self.kind!r}")


@dataclass(frozen=True)
class Terrain:
    base: float
    features: tuple[Feature, ...]

    def height(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=float)
        h = np.full(xy.shape[:-1], self.base, dtype=float)
        for f in self.features:
            h = h + f(xy)
        return h

    def lift(self, xy: np.ndarray) -> np.ndarray:
        """(n, 2) ground positions -> (n, 3) states on the surface."""
        xy = np.asarray(xy, dtype=float)
        return np.concatenate([xy, self.height(xy)[..., None]], axis=-1)
