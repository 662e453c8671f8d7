"""The landscape: the reward model evaluated on a world's grid, with the
expertness L(grid) cached.

Local patches and psi edits leave E_theta untouched, so they re-apply only the
mapping and the kernels to cached arrays (see DESIGN.md, "live on a laptop
CPU"). Only data-driven patching, which changes E_theta, calls
``refresh_expertness()``.
"""
from __future__ import annotations

import numpy as np

from worlds import Grid, World

from .mapping import g_psi
from .patches import apply_patches, kernel_field
from .reward_model import RewardModel


class Landscape:
    def __init__(self, model: RewardModel, world: World, resolution: int | None = None):
        self.world = world
        self.grid: Grid = world.grid(resolution)
        points = self.grid.points
        # Teacher's knowledge about each cell, computed once per grid.
        self.distance = world.distance_to_support(points).astype(np.float32)
        self.violates = world.violates(points)
        self.true = world.true_reward(points).astype(np.float32)
        self.model = model
        self.error = model.error(points)
        self._patch_field = np.zeros(len(points), np.float32)
        self._patched_count = 0
        self._patch_set = None
        self.sync_patches()

    @property
    def points(self) -> np.ndarray:
        return self.grid.points

    def set_model(self, model: RewardModel, same_expertness: bool = False) -> None:
        """Show another model; skip re-running E_theta when it is known to be the same."""
        self.model = model
        if not same_expertness:
            self.error = model.error(self.points)
        self.sync_patches()

    def refresh_expertness(self) -> None:
        self.error = self.model.error(self.points)

    def sync_patches(self) -> None:
        """Bring the cached kernel field up to date, adding only new kernels."""
        ps = self.model.patches
        if ps is not self._patch_set:
            # A refined model carries a copy of its parent's kernels plus new ones:
            # if the cached kernels are a prefix of the new set, keep their field.
            old, n = self._patch_set, self._patched_count
            if old is None or len(ps) < n or not (
                    np.array_equal(ps.centers[:n], old.centers[:n])
                    and np.array_equal(ps.bandwidths[:n], old.bandwidths[:n])
                    and np.array_equal(ps.amplitudes[:n], old.amplitudes[:n])):
                self._patch_field[:] = 0.0
                self._patched_count = 0
            self._patch_set = ps
        if len(ps) > self._patched_count:
            new = slice(self._patched_count, len(ps))
            self._patch_field += kernel_field(self.points, ps.centers[new], ps.bandwidths[new],
                                              ps.amplitudes[new])
            self._patched_count = len(ps)

    def unpatched(self) -> np.ndarray:
        return g_psi(self.error, self.model.psi)

    def reward(self) -> np.ndarray:
        """Served reward on every grid cell (float32)."""
        self.sync_patches()
        return apply_patches(self.unpatched(), self._patch_field)

    @property
    def patch_field(self) -> np.ndarray:
        self.sync_patches()
        return self._patch_field

    def basin_mask(self, reward: np.ndarray | None = None) -> np.ndarray:
        """Cells within B of the support whose reward is above the floor and that
        break no norm (a hazard right next to the expert path is not basin)."""
        r = self.reward() if reward is None else reward
        return (self.distance <= self.world.boundary) & (r > self.world.floor) & ~self.violates

    def flaw_mask(self, reward: np.ndarray | None = None) -> np.ndarray:
        """Cells above the floor that violate a norm."""
        r = self.reward() if reward is None else reward
        return (r > self.world.floor) & self.violates
