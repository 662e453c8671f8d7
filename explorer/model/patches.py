"""Local patches: Gaussian suppression kernels placed by accepted flags.

    served(s) = max(0, r(s) - min(sum_i a_i exp(-|s - c_i|^2 / (2 bw_i^2)), 1))

Kernels only ever subtract, never touch E_theta, and are additive, so a landscape
keeps the kernel sum on its grid and adds only the new kernels' contribution.
Kernels are truncated at TRUNCATE bandwidths (exp(-8) = 3e-4 beyond), which makes
an update touch only the states near the new kernels. Amplitudes may exceed 1:
the sum is capped at 1 when served, so a tall kernel is a flat-topped suppressor
whose edge is sharper, relative to its bandwidth, than a kernel of amplitude 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRUNCATE = 4.0
DENSE_STATES = 512         # up to this many states: one dense (states x kernels) pass


@dataclass
class PatchSet:
    centers: np.ndarray      # (m, 3) float32
    bandwidths: np.ndarray   # (m,) float32
    amplitudes: np.ndarray   # (m,) float32
    flag_ids: np.ndarray     # (m,) int64: which flag placed each kernel (-1: none)

    @classmethod
    def empty(cls) -> "PatchSet":
        return cls(np.zeros((0, 3), np.float32), np.zeros(0, np.float32),
                   np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.bandwidths)

    def copy(self) -> "PatchSet":
        return PatchSet(self.centers.copy(), self.bandwidths.copy(), self.amplitudes.copy(),
                        self.flag_ids.copy())

    def extend(self, other: "PatchSet") -> None:
        self.centers = np.concatenate([self.centers, other.centers]).astype(np.float32)
        self.bandwidths = np.concatenate([self.bandwidths, other.bandwidths]).astype(np.float32)
        self.amplitudes = np.concatenate([self.amplitudes, other.amplitudes]).astype(np.float32)
        self.flag_ids = np.concatenate([self.flag_ids, other.flag_ids]).astype(np.int64)

    def starts_with(self, other: "PatchSet", n: int | None = None) -> bool:
        """Whether the first ``n`` (default: all of ``other``'s) kernels equal ``other``'s."""
        n = len(other) if n is None else n
        return len(self) >= n and len(other) >= n and all(
            np.array_equal(getattr(self, k)[:n], getattr(other, k)[:n])
            for k in ("centers", "bandwidths", "amplitudes"))

    def field(self, states: np.ndarray) -> np.ndarray:
        """Sum of kernels at ``states`` (before the min(., 1) cap)."""
        return kernel_field(states, self.centers, self.bandwidths, self.amplitudes)


def kernel_field(states: np.ndarray, centers: np.ndarray, bandwidths: np.ndarray,
                 amplitudes: np.ndarray, index: "StateIndex | None" = None) -> np.ndarray:
    """Kernel sum at ``states``. Few states: one dense pass; many: each kernel visits
    only the states in its truncation box (an index sorted along x, built here
    unless the caller keeps one)."""
    states = np.asarray(states, dtype=np.float32)
    if len(centers) == 0 or len(states) == 0:
        return np.zeros(len(states), np.float32)
    if index is None and len(states) <= DENSE_STATES and len(states) * len(centers) <= 1 << 20:
        return _dense_field(states, centers, bandwidths, amplitudes)
    return (index if index is not None else StateIndex(states)).field(centers, bandwidths, amplitudes)


def _dense_field(states, centers, bandwidths, amplitudes) -> np.ndarray:
    diff = states[:, None, :] - np.asarray(centers, np.float32)[None, :, :]
    q = np.sum(diff * diff, axis=2) / (np.asarray(bandwidths, np.float32) ** 2)[None, :]
    w = np.where(q <= TRUNCATE ** 2, np.exp(-0.5 * np.minimum(q, TRUNCATE ** 2)), 0.0)
    return (w @ np.asarray(amplitudes, np.float32)).astype(np.float32)


class StateIndex:
    """States sorted along x, so a kernel's truncation box is one slab lookup.

    Keep one per fixed state set (a grid, a probe set) and every later kernel
    costs only the states within its reach."""

    def __init__(self, states: np.ndarray):
        self.states = np.asarray(states, dtype=np.float32)
        self.order = np.argsort(self.states[:, 0], kind="stable")
        cols = np.ascontiguousarray(self.states[self.order].T)
        self.xs, self.ys, self.zs = cols[0], cols[1], cols[2]

    def __len__(self) -> int:
        return len(self.states)

    def _slab(self, center, reach: float) -> tuple[int, int, np.ndarray]:
        lo, hi = np.searchsorted(self.xs, [center[0] - reach, center[0] + reach + 1e-7])
        ok = (np.abs(self.ys[lo:hi] - center[1]) <= reach) & (np.abs(self.zs[lo:hi] - center[2]) <= reach)
        return int(lo), int(hi), ok

    def near(self, center: np.ndarray, reach: float) -> np.ndarray:
        """Indices (into the original states) inside the box of half-width ``reach``."""
        lo, hi, ok = self._slab(center, reach)
        return self.order[lo:hi][ok]

    def values(self, center: np.ndarray, bandwidth: float, amplitude: float) -> tuple[np.ndarray, np.ndarray]:
        """(indices, values) of one kernel over the states it reaches."""
        lo, hi, ok = self._slab(center, TRUNCATE * bandwidth)
        sel = np.nonzero(ok)[0] + lo
        dx, dy, dz = self.xs[sel] - center[0], self.ys[sel] - center[1], self.zs[sel] - center[2]
        q = (dx * dx + dy * dy + dz * dz) / np.float32(bandwidth * bandwidth)
        keep = q <= TRUNCATE ** 2
        return self.order[sel[keep]], (amplitude * np.exp(-0.5 * q[keep])).astype(np.float32)

    def field(self, centers, bandwidths, amplitudes) -> np.ndarray:
        out = np.zeros(len(self.states), np.float32)
        centers = np.asarray(centers, np.float32)
        bandwidths = np.asarray(bandwidths, np.float32)
        amplitudes = np.asarray(amplitudes, np.float32)
        for i in range(len(centers)):
            idx, v = self.values(centers[i], float(bandwidths[i]), float(amplitudes[i]))
            out[idx] += v
        return out


def apply_patches(reward: np.ndarray, field: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, reward - np.minimum(field, 1.0)).astype(np.float32)
