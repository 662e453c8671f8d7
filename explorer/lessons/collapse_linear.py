"""Alignment collapse, part 1: the steering penalties and the authors' linear environment.

Iterative RLHF is a loop: the policy acts, the reward model (RM) is retrained on what
the policy did, the policy climbs the new RM. The policy is the Stackelberg *leader*
and the RM the *follower* (arXiv 2605.04266): the policy's true gradient is the usual
policy gradient minus a *parameter-steering* term, how its action moves the RM's next
parameters. Myopic RLHF drops that term; FPO puts it back as a penalty on the policy's
objective, with weight lambda:

    J(a) = r_phi(a) - lambda * e(a) * |grad_phi r_phi(a)|^2 - cost(a)

    myopic     e(a) = 0                    (standard iterative RLHF)
    relaxed    e(a) = r_phi(a) - U(a)      (first order; needs the utility oracle U)
    practical  e(a) = 1                    (oracle-free)

Why that form: one squared-loss SGD step of the RM on a (learning rate eta) changes the
RM's score at a by -2 eta (r_phi(a) - U(a)) |grad_phi r_phi(a)|^2. The relaxed penalty
is therefore the policy anticipating how retraining will *correct* the score it is
chasing: an action the RM overrates loses that overrating once the RM sees it. The
practical penalty keeps only the size of the steering effect |grad_phi r|^2.
|grad_phi r_phi(a)|^2 is computed with torch.func (a per-point parameter gradient), so
the same code serves the linear RM (where it equals |a|^2) and the MLP of the 3D worlds.

The linear controlled environment (the authors' published run, reproduced exactly):
action y in R^50 (coordinates 0-2 "signal", 3-49 "noise"); true utility
U(y) = 10 exp(-0.3 |y - y*|^2), y* = (2, 2, 2, 0, ...); RM r_w(y) = w . y with
w0 = (1, 1, 1, 0, ...) + N(0, 0.1^2) on *all* 50 coordinates. Each of 300 iterations:
one forward-difference gradient step of the policy on J (eps 0.05, step 0.02, action
cost 0.1 |y|^2), then one SGD step of the RM on the new action alone.

Choices where the issue is silent, taken from the authors' public notebook (github
GauthierE/fpo, simulations/linear) because they reproduce the figures exactly:
- y0 = 0; w0's noise is numpy's legacy generator ``RandomState(seed).normal(0, 0.1, 50)``
  (seed 0 is the published run);
- the finite difference differentiates the full objective J (reward of the *current*
  RM, penalty, action cost) one coordinate at a time; the oracle U is only evaluated,
  never differentiated;
- the RM's label is U(y) itself: loss (r_w(y) - U(y))^2, one plain SGD step (lr 0.005)
  on the newest action only, and weight decay is a decoupled shrink w <- (1 - 1e-4) w
  each step (not lr x 1e-4 as torch's SGD would apply it).
"""
from __future__ import annotations

from typing import Callable, Generator

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from explorer.generators import drive

ARMS = ("myopic", "relaxed", "practical")

# The published run (arXiv 2605.04266, linear environment; seed 0).
PUBLISHED_LINEAR = {
    "myopic": {"peak_utility": 6.0, "peak_iteration": 100, "final_utility": 3.9, "final_noise": 1.65},
    "relaxed": {"final_utility": 9.8, "final_noise": 0.17},
    "practical": {"final_utility": 5.5},
}

DIM = 50
SIGNAL = 3
TARGET = 2.0
FD_EPS = 0.05
POLICY_STEP = 0.02
ACTION_COST = 0.1
RM_LR = 0.005
RM_DECAY = 1e-4
LAMBDA = 0.1


# ---- the steering penalty (shared with the 3D worlds) ----------------------
def check_arm(arm: str) -> str:
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {', '.join(ARMS)}, got {arm!r}")
    return arm


def param_grad_sq_norm(model: nn.Module, points: torch.Tensor) -> torch.Tensor:
    """|grad_phi r_phi(a)|^2 for every row a of ``points`` (size of the steering effect).

    Models built from ``nn.Linear`` layers (alone or in an ``nn.Sequential`` with
    parameter-free activations) take one forward and one backward pass: a Linear layer's
    per-point weight gradient is delta (x) input, whose squared norm is
    |delta|^2 |input|^2. Anything else goes through ``torch.func`` (vmap of grad).
    """
    layers = [model] if isinstance(model, nn.Linear) else (
        list(model) if isinstance(model, nn.Sequential) else None)
    if layers is None or any(not isinstance(m, nn.Linear) and any(True for _ in m.parameters())
                             for m in layers):
        return param_grad_sq_norm_func(model, points)
    with torch.enable_grad():
        h, taps = points.detach(), []
        for m in layers:
            if isinstance(m, nn.Linear):
                inp, h = h, m(h)
                taps.append((m, inp, h))
            else:
                h = m(h)
        deltas = torch.autograd.grad(h.sum(), [t[2] for t in taps])
    total = torch.zeros(len(points), dtype=points.dtype)
    for (m, inp, _), d in zip(taps, deltas):
        d2 = d.detach().pow(2).sum(1)
        total = total + d2 * inp.detach().pow(2).sum(1) + (d2 if m.bias is not None else 0.0)
    return total


def param_grad_sq_norm_func(model: nn.Module, points: torch.Tensor) -> torch.Tensor:
    """The general route: per-point parameter gradients with torch.func."""
    params = {k: v.detach() for k, v in model.named_parameters()}

    def score(p: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, p, (x.unsqueeze(0),)).reshape(())

    grads = vmap(grad(score), in_dims=(None, 0))(params, points)
    return sum(g.reshape(len(points), -1).pow(2).sum(1) for g in grads.values())


def steering_penalty(arm: str, proxy: torch.Tensor, utility: torch.Tensor | None,
                     grad_sq: torch.Tensor, cap: float | None = None) -> torch.Tensor:
    """e(a) |grad_phi r|^2 of the module docstring (zero for the myopic arm).

    ``cap`` (relaxed arm only) bounds |grad_phi r|^2 so that lambda x it stays <= 1 when
    ``cap = 1 / lambda``: the anticipated retraining then moves the score at most to the
    label U, never past it (collapse_world explains when an MLP reward model needs it).
    """
    check_arm(arm)
    if arm == "myopic":
        return torch.zeros_like(proxy)
    if arm == "practical":
        return grad_sq
    if utility is None:
        raise ValueError("the relaxed penalty needs the utility oracle U")
    g = grad_sq if cap is None else grad_sq.clamp(max=cap)
    return (proxy - utility) * g


def fpo_objective(model: nn.Module, points: torch.Tensor, arm: str, lam: float,
                  utility: Callable[[torch.Tensor], torch.Tensor] | None,
                  cost: Callable[[torch.Tensor], torch.Tensor], cap: float | None = None) -> torch.Tensor:
    """J at every row of ``points``: the proxy the policy climbs, minus penalty and cost."""
    with torch.no_grad():
        proxy = model(points).reshape(-1)
    if arm == "myopic" or lam == 0.0:
        return proxy - cost(points)
    u = utility(points) if arm == "relaxed" and utility is not None else None
    pen = steering_penalty(arm, proxy, u, param_grad_sq_norm(model, points), cap)
    return proxy - lam * pen - cost(points)


def forward_difference(objective: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                       eps: float) -> torch.Tensor:
    """Forward-difference gradient of a batched objective at x (one batch of d + 1 points)."""
    d = x.shape[-1]
    pts = torch.cat([x.unsqueeze(0), x.unsqueeze(0) + eps * torch.eye(d, dtype=x.dtype)])
    j = objective(pts)
    return (j[1:] - j[0]) / eps


def rm_sgd_step(model: nn.Module, x: torch.Tensor, label: torch.Tensor, lr: float,
                decay: float) -> float:
    """One SGD step on the mean squared error to the labels, then a decoupled shrink."""
    model.zero_grad(set_to_none=True)
    loss = (model(x).reshape(-1) - label).pow(2).mean()
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.0 - decay).sub_(lr * p.grad)
    return float(loss.detach())


# ---- the linear controlled environment ---------------------------------------
def linear_target() -> np.ndarray:
    t = np.zeros(DIM)
    t[:SIGNAL] = TARGET
    return t


def linear_utility(y: torch.Tensor) -> torch.Tensor:
    """U(y) = 10 exp(-0.3 |y - y*|^2) for every row of y."""
    t = torch.as_tensor(linear_target(), dtype=y.dtype)
    return 10.0 * torch.exp(-0.3 * (y - t).pow(2).sum(-1))


def linear_initial_weights(seed: int = 0) -> np.ndarray:
    w = np.zeros(DIM)
    w[:SIGNAL] = 1.0
    return w + np.random.RandomState(seed).normal(0.0, 0.1, DIM)


def run_linear(arm: str, iterations: int = 300, seed: int = 0, lam: float = LAMBDA) -> dict:
    """One run of the authors' linear environment; arrays have ``iterations + 1`` entries
    (index 0 is the start, index t the state after iteration t).

    ``proxy_reward`` is the RM's score of the policy's new action before the RM is
    retrained on it (the score the policy chased); ``rm_noise_norm`` is |w[3:]|.
    """
    return drive(iter_linear(arm, iterations, seed, lam, every=0))


def iter_linear(arm: str, iterations: int = 300, seed: int = 0, lam: float = LAMBDA,
                every: int = 10) -> Generator[dict, None, dict]:
    """``run_linear`` step by step (one loop, the same numbers): yields the curves so far
    after iteration 0 and every ``every`` iterations (never when ``every`` is 0)."""
    check_arm(arm)
    rm = nn.Linear(DIM, 1, bias=False).double()
    with torch.no_grad():
        rm.weight.copy_(torch.as_tensor(linear_initial_weights(seed)).reshape(1, -1))
    target = torch.as_tensor(linear_target())

    def cost(p: torch.Tensor) -> torch.Tensor:
        return ACTION_COST * p.pow(2).sum(-1)

    def objective(p: torch.Tensor) -> torch.Tensor:
        return fpo_objective(rm, p, arm, lam, linear_utility, cost)

    y = torch.zeros(DIM, dtype=torch.float64)
    keys = ("true_utility", "proxy_reward", "noise_norm", "signal_norm", "distance",
            "rm_noise_norm", "penalty", "steering")
    out: dict[str, list] = {k: [] for k in keys}

    def log(y: torch.Tensor) -> None:
        yb = y.unsqueeze(0)
        with torch.no_grad():
            proxy = rm(yb).reshape(-1)
        u = linear_utility(yb)
        g = param_grad_sq_norm(rm, yb)
        pen = steering_penalty(arm, proxy, u, g)
        out["true_utility"].append(float(u[0]))
        out["proxy_reward"].append(float(proxy[0]))
        out["noise_norm"].append(float(y[SIGNAL:].norm()))
        out["signal_norm"].append(float(y[:SIGNAL].norm()))
        out["distance"].append(float((y - target).norm()))
        out["rm_noise_norm"].append(float(rm.weight.detach()[0, SIGNAL:].norm()))
        out["penalty"].append(float(pen[0]))
        out["steering"].append(float(g[0]))

    def partial(t: int) -> dict:
        return {"round": t, **{k: np.asarray(out[k]) for k in ("true_utility", "proxy_reward", "noise_norm")}}

    log(y)
    if every:
        yield partial(0)
    for t in range(1, iterations + 1):
        y = y + POLICY_STEP * forward_difference(objective, y, FD_EPS)
        log(y)                                      # before the RM sees the new action
        rm_sgd_step(rm, y.unsqueeze(0), linear_utility(y.unsqueeze(0)), RM_LR, RM_DECAY)
        if every and (t % every == 0 or t == iterations):
            yield partial(t)
    result = {k: np.asarray(v) for k, v in out.items()}
    result.update(arm=arm, seed=seed, lam=lam, iterations=iterations,
                  final_action=y.numpy().copy(), final_weights=rm.weight.detach().numpy()[0].copy())
    return result


def linear_summary(run: dict) -> dict:
    """The numbers the paper's figures show for one run."""
    u = run["true_utility"]
    return {"peak_utility": float(u.max()), "peak_iteration": int(u.argmax()),
            "final_utility": float(u[-1]), "final_noise": float(run["noise_norm"][-1])}
