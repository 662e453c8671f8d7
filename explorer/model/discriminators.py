"""State-level signals that can stand where E_theta stands in a RewardModel.

A RewardModel serves ``g_psi(L(s))`` and only needs four things from its
``expertness`` module: ``error`` (torch), ``error_np``, ``disagreement_np`` and
``arch.to_dict()`` (plus the ``lo``/``hi`` buffers the artifact stores). The
Alignment-from-Demonstrations lesson (``afd.py``) makes reward models out of
discriminators, so it needs two more modules with that interface:

* ``DiscriminatorMLP`` (artifact kind ``discriminator-mlp``): a small ensemble of
  MLP classifiers on a state, positives vs negatives; logit = the members' mean.
* ``OccupancyRatio`` (artifact kind ``occupancy-ratio``): the closed form
  log d_pos(s) - log d_neg(s) of two Gaussian route policies' state occupancies,
  which is what the Init-SFT discriminator converges to with unlimited data.

Both use the same monotone map from logit to expertness,

    L(s) = softplus(-logit(s)) = -log sigmoid(logit(s))     (>= 0, decreasing in logit)

so with ``psi = (l_min=0, l_max=1, k=1)`` the served reward g_psi(L) = exp(-L) is
exactly sigmoid(logit): a probability in [0, 1], monotone in the logit, and the
world's floor, audits, patches and psi edits mean what they mean for E_theta.

``codes`` is the representation the audit measures novelty in. The properties
``enc_w``/``enc_b``/``gate_w``/``gate_b`` present it through the MoE layout the
audit reads today (one relu layer, uniform gate); they are views, not stored.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.model.expertness import EVAL_BATCH, batched, normalise

IDENTITY_PSI = (0.0, 1.0, 1.0)    # (l_min, l_max, k): served reward = sigmoid(logit)


class _LogitSignal(nn.Module):
    """Shared plumbing: normalisation, logit -> L, batched numpy evaluation."""

    KIND = ""
    SIGNAL = ("L(s) = softplus(-logit(s)); with psi = (0, 1, 1) the served reward is "
              "sigmoid(logit(s))")

    def normalise(self, states: torch.Tensor) -> torch.Tensor:
        return normalise(states, self.lo, self.hi)

    def logit(self, states: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def error(self, states: torch.Tensor) -> torch.Tensor:
        return F.softplus(-self.logit(states))

    def _batched(self, fn, states: np.ndarray, batch: int) -> np.ndarray:
        return batched(fn, states, batch)

    def logit_np(self, states: np.ndarray, batch: int = EVAL_BATCH) -> np.ndarray:
        return self._batched(self.logit, states, batch)

    def error_np(self, states: np.ndarray, batch: int = EVAL_BATCH) -> np.ndarray:
        return self._batched(self.error, states, batch)

    def validate(self) -> str | None:
        """A reason the loaded tensors are unusable, or None (artifact loading)."""
        return None


# ---------------------------------------------------------------- discriminator
@dataclass(frozen=True)
class DiscriminatorArchitecture:
    dim: int = 3
    hidden: int = 32
    members: int = 3

    def to_dict(self) -> dict:
        return asdict(self)


class DiscriminatorMLP(_LogitSignal):
    """``members`` independent MLPs (dim -> hidden -> hidden -> 1, ReLU), stacked so
    one einsum evaluates all of them. Disagreement = spread of their probabilities."""

    KIND = "discriminator-mlp"

    def __init__(self, arch: DiscriminatorArchitecture, lo: np.ndarray, hi: np.ndarray):
        super().__init__()
        self.arch = arch
        m, h, d = arch.members, arch.hidden, arch.dim
        self.w1 = nn.Parameter(torch.empty(m, h, d))
        self.b1 = nn.Parameter(torch.empty(m, h))
        self.w2 = nn.Parameter(torch.empty(m, h, h))
        self.b2 = nn.Parameter(torch.empty(m, h))
        self.w3 = nn.Parameter(torch.empty(m, h))
        self.b3 = nn.Parameter(torch.zeros(m))
        self.register_buffer("lo", torch.as_tensor(np.asarray(lo), dtype=torch.float32))
        self.register_buffer("hi", torch.as_tensor(np.asarray(hi), dtype=torch.float32))
        for w, b, fan_in in ((self.w1, self.b1, d), (self.w2, self.b2, h)):
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(w, -bound, bound)
            nn.init.uniform_(b, -bound, bound)
        nn.init.uniform_(self.w3, -1.0 / math.sqrt(h), 1.0 / math.sqrt(h))

    def member_logits(self, states: torch.Tensor) -> torch.Tensor:
        x = self.normalise(states)
        h = torch.relu(torch.einsum("nd,mhd->nmh", x, self.w1) + self.b1)
        h = torch.relu(torch.einsum("nmh,mkh->nmk", h, self.w2) + self.b2)
        return torch.einsum("nmh,mh->nm", h, self.w3) + self.b3

    def logit(self, states: torch.Tensor) -> torch.Tensor:
        return self.member_logits(states).mean(dim=1)

    def disagreement_np(self, states: np.ndarray, batch: int = EVAL_BATCH) -> np.ndarray:
        """Standard deviation of the members' probabilities (0 .. 0.5)."""
        fn = (lambda s: torch.sigmoid(self.member_logits(s)).std(dim=1, unbiased=False))
        return self._batched(fn, states, batch)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """First hidden layer of every member, for normalised states ``x``."""
        h = torch.relu(torch.einsum("nd,mhd->nmh", x, self.w1) + self.b1)
        return (h / self.arch.members).reshape(len(x), -1)

    # The MoE layout the audit's novelty measure reads (a single relu layer with
    # a uniform gate over members gives exactly ``codes``).
    @property
    def enc_w(self) -> torch.Tensor:
        return self.w1

    @property
    def enc_b(self) -> torch.Tensor:
        return self.b1

    @property
    def gate_w(self) -> torch.Tensor:
        return torch.zeros(self.arch.members, self.arch.dim)

    @property
    def gate_b(self) -> torch.Tensor:
        return torch.zeros(self.arch.members)


def train_discriminator(positives: np.ndarray, negatives: np.ndarray, lo: np.ndarray,
                        hi: np.ndarray, seed: int, arch: DiscriminatorArchitecture | None = None,
                        steps: int = 250, lr: float = 0.01,
                        weight_decay: float = 1e-4) -> DiscriminatorMLP:
    """Class-balanced logistic regression of positives vs negatives, full batch.
    Each member sees its own bootstrap weights, so their spread is an uncertainty."""
    torch.manual_seed(seed)
    arch = arch or DiscriminatorArchitecture()
    net = DiscriminatorMLP(arch, lo, hi)
    x = torch.as_tensor(np.concatenate([positives, negatives]).astype(np.float32))
    y = torch.cat([torch.ones(len(positives)), torch.zeros(len(negatives))])
    balance = torch.cat([torch.full((len(positives),), 0.5 / len(positives)),
                         torch.full((len(negatives),), 0.5 / len(negatives))])
    boot = torch.distributions.Poisson(torch.ones(len(x), arch.members)).sample()
    w = balance[:, None] * boot
    w = w / w.sum(dim=0, keepdim=True)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    target = y[:, None].expand(-1, arch.members)
    for _ in range(steps):
        opt.zero_grad()
        loss = (F.binary_cross_entropy_with_logits(net.member_logits(x), target,
                                                   reduction="none") * w).sum()
        loss.backward()
        opt.step()
    if not torch.isfinite(loss):
        raise FloatingPointError("discriminator training diverged")
    net.eval()
    return net


# ------------------------------------------------------------ closed form
@dataclass(frozen=True)
class OccupancyArchitecture:
    dim: int = 3           # state dimension
    ground: int = 2        # leading coordinates the densities live on (2: terrain)
    components: int = 12   # waypoints per route: one Gaussian each

    def to_dict(self) -> dict:
        return asdict(self)


class OccupancyRatio(_LogitSignal):
    """logit(s) = log d_pos(g) - log d_neg(g), g = the state's ground coordinates,
    each d an equal mixture of one Gaussian per waypoint (mean, Cholesky factor)."""

    KIND = "occupancy-ratio"
    SIGNAL = ("L(s) = softplus(-logit(s)), logit(s) = log d_pos(s) - log d_neg(s) of two Gaussian "
              "waypoint mixtures; with psi = (0, 1, 1) the served reward is sigmoid(logit(s))")

    def __init__(self, arch: OccupancyArchitecture, lo: np.ndarray, hi: np.ndarray):
        super().__init__()
        self.arch = arch
        k, g = arch.components, arch.ground
        self.register_buffer("lo", torch.as_tensor(np.asarray(lo), dtype=torch.float32))
        self.register_buffer("hi", torch.as_tensor(np.asarray(hi), dtype=torch.float32))
        eye = torch.eye(g).expand(k, g, g).clone()
        self.register_buffer("pos_mean", torch.zeros(k, g))
        self.register_buffer("pos_chol", eye.clone())
        self.register_buffer("neg_mean", torch.zeros(k, g))
        self.register_buffer("neg_chol", eye)

    @classmethod
    def from_gaussians(cls, lo, hi, pos: tuple[np.ndarray, np.ndarray],
                       neg: tuple[np.ndarray, np.ndarray], dim: int = 3) -> "OccupancyRatio":
        """From (means (K, g), covariances (K, g, g)) of the positive and negative policy."""
        k, g = pos[0].shape
        net = cls(OccupancyArchitecture(dim=dim, ground=g, components=k), lo, hi)
        with torch.no_grad():
            for name, (mean, cov) in (("pos", pos), ("neg", neg)):
                getattr(net, f"{name}_mean").copy_(torch.as_tensor(mean, dtype=torch.float32))
                chol = np.linalg.cholesky(np.asarray(cov, dtype=np.float64))
                getattr(net, f"{name}_chol").copy_(torch.as_tensor(chol, dtype=torch.float32))
        return net.eval()

    @staticmethod
    def _log_mixture(g: torch.Tensor, mean: torch.Tensor, chol: torch.Tensor) -> torch.Tensor:
        diff = (g[:, None, :] - mean[None]).unsqueeze(-1)                     # (n, K, g, 1)
        z = torch.linalg.solve_triangular(chol.expand(len(g), -1, -1, -1), diff, upper=False)
        maha = (z.squeeze(-1) ** 2).sum(-1)                                  # (n, K)
        logdet = torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)   # (K,)
        d = mean.shape[-1]
        logp = -0.5 * maha - logdet - 0.5 * d * math.log(2 * math.pi)
        return torch.logsumexp(logp, dim=1) - math.log(mean.shape[0])

    def logit(self, states: torch.Tensor) -> torch.Tensor:
        g = states[:, : self.arch.ground]
        return (self._log_mixture(g, self.pos_mean, self.pos_chol)
                - self._log_mixture(g, self.neg_mean, self.neg_chol))

    def disagreement_np(self, states: np.ndarray, batch: int = EVAL_BATCH) -> np.ndarray:
        """An exact formula has no members to disagree."""
        return np.zeros(len(states), np.float32)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.relu(x), torch.relu(-x)], dim=-1)

    @property
    def enc_w(self) -> torch.Tensor:
        eye = torch.eye(self.arch.dim)
        return torch.cat([eye, -eye])[None]

    @property
    def enc_b(self) -> torch.Tensor:
        return torch.zeros(1, 2 * self.arch.dim)

    @property
    def gate_w(self) -> torch.Tensor:
        return torch.zeros(1, self.arch.dim)

    @property
    def gate_b(self) -> torch.Tensor:
        return torch.zeros(1)

    def validate(self) -> str | None:
        for name in ("pos_chol", "neg_chol"):
            c = getattr(self, name)
            if not torch.equal(c, torch.tril(c)):
                return f"{name}: lower-triangular Cholesky factors"
            if not torch.all(torch.diagonal(c, dim1=-2, dim2=-1) > 0):
                return f"{name}: Cholesky factors with a positive diagonal"
        return None
