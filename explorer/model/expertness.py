"""E_theta: the mixture-of-experts autoencoder whose reconstruction error L(s) is
the "expertness" signal (low error = looks like the expert).

Built as the IIRL authors build it (MoE-GUIDE, arXiv 2507.15287): each expert is a
Linear+ReLU encoder to a small bottleneck and a Linear decoder; a softmax gate
mixes their reconstructions. The experts are stored as stacked tensors so one
einsum evaluates all of them, which keeps a 64^3 grid evaluation a few batched
matrix products rather than a Python loop over experts.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

EVAL_BATCH = 65536


def normalise(states: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """World states -> [-1, 1]^3 by the world's bounds (every expertness module)."""
    return 2.0 * (states - lo) / (hi - lo) - 1.0


def batched(fn, states: np.ndarray, batch: int = EVAL_BATCH) -> np.ndarray:
    """Evaluate a per-state torch function on many states in batches, without
    autograd, as float32 numpy (a landscape grid can be millions of states)."""
    s = torch.as_tensor(np.asarray(states, dtype=np.float32))
    out = torch.empty(len(s), dtype=torch.float32)
    with torch.inference_mode():
        for i in range(0, len(s), batch):
            out[i:i + batch] = fn(s[i:i + batch])
    return out.numpy()


@dataclass(frozen=True)
class Architecture:
    dim: int = 3
    experts: int = 5
    bottleneck: int = 2

    def to_dict(self) -> dict:
        return asdict(self)


class MoEAutoencoder(nn.Module):
    """Input states are normalised to [-1, 1]^3 by the world's bounds (buffers
    ``lo``/``hi``), so one absolute error scale (l_max) means the same thing in
    every world."""

    def __init__(self, arch: Architecture, lo: np.ndarray, hi: np.ndarray):
        super().__init__()
        self.arch = arch
        e, b, d = arch.experts, arch.bottleneck, arch.dim
        self.enc_w = nn.Parameter(torch.empty(e, b, d))
        self.enc_b = nn.Parameter(torch.empty(e, b))
        self.dec_w = nn.Parameter(torch.empty(e, d, b))
        self.dec_b = nn.Parameter(torch.empty(e, d))
        self.gate_w = nn.Parameter(torch.empty(e, d))
        self.gate_b = nn.Parameter(torch.zeros(e))
        self.register_buffer("lo", torch.as_tensor(np.asarray(lo), dtype=torch.float32))
        self.register_buffer("hi", torch.as_tensor(np.asarray(hi), dtype=torch.float32))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # nn.Linear's default init, applied per expert.
        for w, bias, fan_in in ((self.enc_w, self.enc_b, self.arch.dim),
                                (self.dec_w, self.dec_b, self.arch.bottleneck)):
            bound = 1.0 / np.sqrt(fan_in)
            nn.init.uniform_(w, -bound, bound)
            nn.init.uniform_(bias, -bound, bound)
        nn.init.uniform_(self.gate_w, -1.0 / np.sqrt(self.arch.dim), 1.0 / np.sqrt(self.arch.dim))
        nn.init.zeros_(self.gate_b)

    def normalise(self, states: torch.Tensor) -> torch.Tensor:
        return normalise(states, self.lo, self.hi)

    def forward(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (reconstruction in normalised space, per-expert reconstructions)."""
        x = self.normalise(states)
        h = torch.relu(torch.einsum("nd,ebd->neb", x, self.enc_w) + self.enc_b)
        per_expert = torch.einsum("neb,edb->ned", h, self.dec_w) + self.dec_b
        gate = torch.softmax(x @ self.gate_w.T + self.gate_b, dim=-1)
        recon = torch.einsum("ne,ned->nd", gate, per_expert)
        return recon, per_expert

    def error(self, states: torch.Tensor) -> torch.Tensor:
        """L(s): mean squared reconstruction error in normalised coordinates."""
        recon, _ = self(states)
        return ((recon - self.normalise(states)) ** 2).mean(dim=-1)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """E_theta's representation of normalised states: each expert's bottleneck
        code weighted by its gate (what the audit measures novelty in; every module
        that can stand in the expertness slot has one, see ``afd_models``)."""
        h = torch.relu(torch.einsum("nd,ebd->neb", x, self.enc_w) + self.enc_b)
        gate = torch.softmax(x @ self.gate_w.T + self.gate_b, dim=-1)
        return (h * gate[..., None]).reshape(len(x), -1)

    def error_np(self, states: np.ndarray, batch: int = EVAL_BATCH) -> np.ndarray:
        """Batched L(s) for many states (a landscape grid), as float32 numpy."""
        return batched(self.error, states, batch)

    def disagreement_np(self, states: np.ndarray, batch: int = EVAL_BATCH) -> np.ndarray:
        """Spread of the experts' reconstructions: an uncertainty signal for audits."""
        return batched(lambda s: self(s)[1].std(dim=1).mean(dim=-1), states, batch)
