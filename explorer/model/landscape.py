"""The landscape: the reward model evaluated on a world's grid, with the
expertness L(grid) cached.

Local patches and psi edits leave E_theta untouched, so they re-apply only the
mapping and the kernels to cached arrays (see docs/design.md, "live on a laptop
CPU"). Only data-driven patching, which changes E_theta, calls
``refresh_expertness()``.

The served reward is finite by construction, checked where it is cheap: each
new L array once (min and max, two passes next to a whole E_theta evaluation),
each new psi once (the two ends of the monotone mapping), and each new kernel
once (its parameters). A cache hit checks nothing and costs nothing extra.
A model that fails raises ModelError (NonFiniteReward when values were
served) and the landscape keeps the model it had.
"""
from __future__ import annotations

import math

import numpy as np

from worlds import Grid, World

from explorer.model.errors import ModelError, NonFiniteReward
from explorer.model.finite import diagnose, kernel_problem, require_finite, source_of
from explorer.model.mapping import g_psi
from explorer.model.patches import kernel_field
from explorer.model.reward_model import RewardModel

REWARD_CHUNK = 16384      # 64 KiB of float32: the temporaries stay in L2
# numpy's maximum/minimum against a scalar take a slow broadcast path here
# (measured 0.41 vs 0.15 ns/element); against an array they vectorise.
_ZEROS = np.zeros(REWARD_CHUNK, np.float32)
_ONES = np.ones(REWARD_CHUNK, np.float32)


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
        self._capped = None
        self._capped_at = -1
        self._base = None
        self._base_key = None
        self._clamped = None
        self._clamped_key = None
        self._patch_set = None
        self.sync_patches()

    @property
    def error(self) -> np.ndarray:
        """Cached expertness L on the grid."""
        return self._error

    @error.setter
    def error(self, value: np.ndarray) -> None:
        value = np.asarray(value, np.float32)
        # min and max are NaN or inf if any element is: two cheap passes prove all finite
        lo, hi = (float(value.min()), float(value.max())) if value.size else (0.0, 0.0)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            require_finite(value, self.model, "expertness L (and so the reward)", "grid states")
        self._error = value
        self._error_gen = getattr(self, "_error_gen", 0) + 1   # expires the caches built on it

    @property
    def points(self) -> np.ndarray:
        return self.grid.points

    def set_model(self, model: RewardModel, same_expertness: bool = False) -> None:
        """Show another model; skip re-running E_theta when it is known to be the same.
        A model that would serve NaN or inf is refused and the old one stays."""
        old = self.model
        self.model = model
        try:
            if not same_expertness:
                self.error = model.error(self.points)
            self.sync_patches()
        except ModelError:
            self.model = old
            raise

    def refresh_expertness(self) -> None:
        self.error = self.model.error(self.points)     # a new array: the caches keyed on it expire

    def sync_patches(self) -> None:
        """Bring the cached kernel field up to date, adding only new kernels.

        The field is always summed the same way: batch by batch, in the order the
        refinements placed them (``patch_batches``). So a field grown one
        refinement at a time, one rebuilt after an undo, and one built on opening
        a saved session are the same numbers, bit for bit."""
        ps = self.model.patches
        if ps is not self._patch_set:
            # A refined model carries a copy of its parent's kernels plus new ones:
            # if the cached kernels are a prefix of the new set, keep their field.
            old, n = self._patch_set, self._patched_count
            if old is None or not ps.starts_with(old, n):
                self._patch_field[:] = 0.0
                self._patched_count = 0
                self._capped_at = -1
            self._patch_set = ps
        if len(ps) > self._patched_count:
            new = slice(self._patched_count, len(ps))
            problem = kernel_problem(ps.centers[new], ps.bandwidths[new], ps.amplitudes[new],
                                     self._patched_count)
            if problem:     # such a kernel could add NaN to the field: refuse it before it does
                raise ModelError(source_of(self.model), *problem)
        start = self._patched_count
        for lo, hi in patch_batches(self.model, len(ps)):
            if hi <= start:
                continue
            if lo < start:                 # a batch boundary that does not match: rebuild
                self._patch_field[:] = 0.0
                self._patched_count = start = 0
                self._capped_at = -1
                return self.sync_patches()
            self._patch_field += kernel_field(self.points, ps.centers[lo:hi], ps.bandwidths[lo:hi],
                                              ps.amplitudes[lo:hi])
            self._patched_count = hi

    def unpatched(self) -> np.ndarray:
        return g_psi(self.error, self.model.psi)

    def reward(self, out: np.ndarray | None = None) -> np.ndarray:
        """Served reward on every grid cell (float32).

        The same arithmetic as ``g_psi`` + ``apply_patches``, arranged for speed:
        the unpatched reward is cached per psi (adding a patch then costs two
        passes), errors below l_min are clamped once per l_min (so the upper
        clip of g_psi is free: the exponent is never positive), and the grid is
        processed in cache-sized chunks with in-place operations so that memory
        traffic stays near the minimum."""
        self.sync_patches()
        base = self._unpatched_cached()
        capped = self._capped_field()
        if capped is None:
            return base.copy() if out is None else np.copyto(out, base) or out
        out = np.empty(len(base), np.float32) if out is None else out
        for i in range(0, len(out), REWARD_CHUNK):
            o = out[i:i + REWARD_CHUNK]
            np.subtract(base[i:i + REWARD_CHUNK], capped[i:i + REWARD_CHUNK], out=o)
            np.maximum(o, _ZEROS[:len(o)], out=o)
        return out

    def _unpatched_cached(self) -> np.ndarray:
        psi = self.model.psi
        key = (self._error_gen, psi)
        if self._base_key == key:
            return self._base
        if self._clamped_key != (self._error_gen, psi.l_min):
            self._clamped = np.maximum(self.error, np.full(len(self.error), psi.l_min, np.float32))
            self._clamped_key = (self._error_gen, psi.l_min)
        scale = np.float32(-psi.k / (psi.l_max - psi.l_min))
        shift = np.float32(psi.k * psi.l_min / (psi.l_max - psi.l_min))
        self._check_mapping(scale, shift)
        base = self._base if self._base is not None and len(self._base) == len(self.error) else \
            np.empty(len(self.error), np.float32)
        for i in range(0, len(base), REWARD_CHUNK):
            o = base[i:i + REWARD_CHUNK]
            np.multiply(self._clamped[i:i + REWARD_CHUNK], scale, out=o)
            o += shift                        # <= 0 because errors were clamped at l_min
            np.exp(o, out=o)
        self._base, self._base_key = base, key
        return base

    def _check_mapping(self, scale: np.float32, shift: np.float32) -> None:
        """With L finite and >= l_min >= 0 (clamped), a finite scale <= 0 and a
        finite shift, L * scale + shift is finite or -inf and never above ~0, so
        exp() of it is finite on every cell. O(1) per psi: three scalar tests."""
        if math.isfinite(scale) and math.isfinite(shift) and scale <= 0:
            return
        psi = self.model.psi
        with np.errstate(all="ignore"):
            base = np.exp(np.maximum(self.error, np.float32(psi.l_min)) * scale + shift)
        field, cause = diagnose(self.model)
        raise NonFiniteReward(source_of(self.model), "reward",
                              max(1, int(np.count_nonzero(~np.isfinite(base)))), len(base), "grid states",
                              field, cause)

    def _capped_field(self) -> np.ndarray | None:
        """min(kernel field, 1), cached until the patches change; None if no patch."""
        if self._patched_count == 0:
            return None
        if self._capped is None or self._capped_at != self._patched_count:
            f = self._patch_field
            if self._capped is None or len(self._capped) != len(f):
                self._capped = np.empty_like(f)
            for i in range(0, len(f), REWARD_CHUNK):
                np.minimum(f[i:i + REWARD_CHUNK], _ONES[:len(f[i:i + REWARD_CHUNK])],
                           out=self._capped[i:i + REWARD_CHUNK])
            self._capped_at = self._patched_count
        return self._capped

    def adopt(self, other: "Landscape") -> None:
        """Show what ``other`` (a fork a worker refined on) shows, taking its kernel
        field and caches instead of computing them again in this thread."""
        if other.grid.shape != self.grid.shape or other.world is not self.world:
            self.set_model(other.model)
            return
        keep = {k: getattr(self, k) for k in ("grid", "distance", "violates", "true", "world")}
        self.__dict__.update(other.__dict__)
        self.__dict__.update(keep)

    def fork(self) -> "Landscape":
        """A private copy for a worker thread: the grid, the teacher's arrays and the
        cached expertness are shared (never written in place); the kernel field and
        the reward caches are its own, so the worker never touches this landscape."""
        twin = object.__new__(Landscape)
        twin.__dict__.update(self.__dict__)
        twin._patch_field = self._patch_field.copy()
        twin._capped = None
        twin._capped_at = -1
        twin._base = twin._base_key = None
        twin._clamped = twin._clamped_key = None
        return twin

    def reward_with(self, psi=None, error: np.ndarray | None = None) -> np.ndarray:
        """The reward the current kernels give with another psi or another expertness
        array (a live psi preview, a data-driven job's progress), leaving the model
        and every cache as they are."""
        self.sync_patches()
        psi = self.model.psi if psi is None else psi
        err = self.error if error is None else np.asarray(error, np.float32)
        base = g_psi(err, psi)
        capped = self._capped_field()
        return base if capped is None else np.maximum(base - capped, 0.0).astype(np.float32)

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


def patch_batches(model: RewardModel, n: int) -> list[tuple[int, int]]:
    """(start, end) of each batch of kernels, in the order refinements added them
    (from the ``kernels_added`` their edits record); one batch if they do not add up."""
    try:
        sizes = [int(e.get("kernels_added", 0)) for e in model.edits
                 if isinstance(e, dict) and e.get("op") == "local_patch"]
    except (TypeError, ValueError, OverflowError):
        sizes = []
    if sum(sizes) != n or any(k < 0 for k in sizes):
        return [(0, n)] if n else []
    out, lo = [], 0
    for k in sizes:
        if k:
            out.append((lo, lo + k))
            lo += k
    return out
