"""Local patches: Gaussian suppression kernels placed by accepted flags.

    served(s) = max(0, r(s) - min(sum_i a_i exp(-|s - c_i|^2 / (2 bw_i^2)), 1))

Kernels only ever subtract, never touch E_theta, and are additive, so a landscape
keeps the kernel sum on its grid and adds only the new kernels' contribution.
Kernels are truncated at TRUNCATE bandwidths (exp(-8) = 3e-4 beyond), which makes
the incremental update touch only the cells near the new kernel.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRUNCATE = 4.0
CHUNK = 4096


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

    def field(self, states: np.ndarray) -> np.ndarray:
        """Sum of kernels at ``states`` (before the min(., 1) cap)."""
        return kernel_field(states, self.centers, self.bandwidths, self.amplitudes)


def kernel_field(states: np.ndarray, centers: np.ndarray, bandwidths: np.ndarray,
                 amplitudes: np.ndarray) -> np.ndarray:
    states = np.asarray(states, dtype=np.float32)
    out = np.zeros(len(states), dtype=np.float32)
    if len(centers) == 0 or len(states) == 0:
        return out
    # Only cells inside a kernel's truncation box can receive anything from it.
    reach = TRUNCATE * bandwidths
    box_lo = (centers - reach[:, None]).min(axis=0)
    box_hi = (centers + reach[:, None]).max(axis=0)
    near = np.nonzero(np.all((states >= box_lo) & (states <= box_hi), axis=1))[0]
    inv = (-0.5 / bandwidths.astype(np.float32) ** 2)
    c2 = np.sum(centers ** 2, axis=1)
    for i in range(0, len(near), CHUNK):
        idx = near[i:i + CHUNK]
        s = states[idx]
        d2 = np.sum(s ** 2, axis=1)[:, None] - 2.0 * s @ centers.T + c2[None, :]
        np.maximum(d2, 0.0, out=d2)
        w = np.exp(d2 * inv[None, :])
        w[d2 > (reach ** 2)[None, :]] = 0.0
        out[idx] = w @ amplitudes
    return out


def apply_patches(reward: np.ndarray, field: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, reward - np.minimum(field, 1.0)).astype(np.float32)
