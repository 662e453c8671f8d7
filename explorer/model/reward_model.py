"""The reward model: reward(s) = g_psi(L(s)) patched by suppression kernels.

Three editable parts, kept apart because the paper's editing operations act on
them separately: ``expertness`` (E_theta, a torch module), ``psi`` (the mapping),
``patches`` (local kernels). ``edits`` records every refinement applied, in order,
and travels with the artifact.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from explorer.model.expertness import Architecture, MoEAutoencoder
from explorer.model.finite import require_finite
from explorer.model.mapping import Psi, g_psi
from explorer.model.patches import PatchSet, apply_patches


@dataclass
class TrainingConfig:
    experts: int = 5
    bottleneck: int = 1
    steps: int = 3000
    lr: float = 0.01
    seed: int = 0
    l_max: float = 0.3     # absolute error scale, as the authors use (not a percentile)
    k: float = 3.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class RewardModel:
    expertness: MoEAutoencoder
    psi: Psi
    patches: PatchSet
    world_name: str
    world_hash: str
    config: TrainingConfig
    expert_samples: np.ndarray               # D_E, kept so refinements can anchor to it
    negatives: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))  # D_neg
    edits: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    version: int = 1
    parent: int | None = None
    source: str = ""                         # the artifact directory it was loaded from, for messages

    @property
    def architecture(self) -> Architecture:
        return self.expertness.arch

    def error(self, states: np.ndarray) -> np.ndarray:
        """Expertness signal L(s) (reconstruction error)."""
        return self.expertness.error_np(states)

    def unpatched(self, states: np.ndarray, where: str = "states") -> np.ndarray:
        """g_psi(L(s)); L is checked finite first (an overflowing E_theta would
        otherwise map inf to a plausible-looking reward of 0)."""
        error = require_finite(self.error(states), self, "expertness L (and so the reward)", where)
        return g_psi(error, self.psi)

    def reward(self, states: np.ndarray, where: str = "states") -> np.ndarray:
        """The served reward any policy can query: numpy (n, 3) -> (n,) in [0, 1].
        Never NaN or inf: a model that would serve one raises NonFiniteReward
        (``where`` names the states in that message, e.g. "grid states")."""
        states = np.asarray(states, dtype=np.float32)
        served = apply_patches(self.unpatched(states, where), self.patches.field(states))
        return require_finite(served, self, "reward", where)

    def clone(self) -> "RewardModel":
        """A deep copy: refinements work on a clone so 'before' stays intact."""
        return copy.deepcopy(self)

    def next_version(self) -> "RewardModel":
        child = self.clone()
        child.parent = self.version
        child.version = self.version + 1
        child.source = ""                    # not saved yet: named by world and version
        return child
