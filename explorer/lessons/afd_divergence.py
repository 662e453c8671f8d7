"""Forward vs reverse KL: one Gaussian route policy fitted to multi-modal demonstrations.

Both fits use the same unimodal policy class (``GaussianPolicy`` over the route
parameters theta, see ``afd_routes``) and the same demonstrations, seen through
that class (their least-squares theta: the zig-zag style is not representable).

* forward KL, KL(p_demo || q): maximum likelihood, i.e. SFT. The unique optimum
  matches the demonstrations' mean and covariance: on ``twin-goals`` its mean
  lies between the two peaks and its spread covers both (mass-covering), so
  many of its routes walk up the middle.
* reverse KL, KL(q || p_demo) = E_q[log q - log p_demo]: needs the density of the
  demonstrations, which only a discriminator gives. A route-level discriminator
  D(theta) is trained once, demonstrations vs the initial policy; with the
  density-ratio identity log p_demo = D + log q_init (q_init known in closed
  form), the fit minimises E_q[-D - log q_init] - H(q) by reparameterised
  gradients (H is the Gaussian's entropy, exact). Its optima sit on single
  modes (mode-seeking). From a broad start the gradient flow can linger on a
  plateau that straddles the modes (at the symmetric point of two equal modes
  the curvature along the line between them is about zero), so the fit runs a
  few restarts, each narrow at a route drawn from the initial policy, and keeps
  the one with the lowest estimated reverse KL; every restart is reported.

"Mass on a mode": the fraction of routes sampled from the fitted policy whose
end point lies within the mode's neighbourhood: within half the distance to
the nearest other goal of that goal's centre (ground coordinates; a world with
one goal uses half its span). Neighbourhoods never overlap; mass outside all
of them is reported as ``elsewhere``.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from worlds import World

from explorer.lessons.afd_routes import (AfdConfig, GaussianPolicy, RouteFamily, demonstrate, family_for, fit_sft,
                         initial_policy, route_true_reward, span, states_of)

DIVERGENCES = ("forward", "reverse")
MODE_DEFINITION = ("fraction of sampled routes whose end point is within half the distance to the "
                   "nearest other goal of a goal's centre")


def mode_masses(world: World, ends: np.ndarray) -> tuple[dict[str, float], float, dict[str, float]]:
    """(mass per goal, mass elsewhere, neighbourhood radius per goal) of end points."""
    if not world.goals:
        return {}, 1.0, {}
    centres = np.array([g.center for g in world.goals], float)
    ends = np.asarray(ends, float)[:, : centres.shape[1]]
    if len(centres) > 1:
        gap = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        np.fill_diagonal(gap, np.inf)
        radius = 0.5 * gap.min(axis=1)
    else:
        radius = np.array([0.5 * span(world)])
    dist = np.linalg.norm(ends[:, None] - centres[None], axis=-1)
    inside = dist <= radius[None]
    masses = {g.name: float(inside[:, i].mean()) for i, g in enumerate(world.goals)}
    return masses, float((~inside.any(axis=1)).mean()), \
        {g.name: float(r) for g, r in zip(world.goals, radius)}


class _RouteDiscriminator(nn.Module):
    def __init__(self, lo: np.ndarray, hi: np.ndarray, hidden: int = 64):
        super().__init__()
        self.register_buffer("lo", torch.as_tensor(lo, dtype=torch.float32))
        self.register_buffer("hi", torch.as_tensor(hi, dtype=torch.float32))
        self.net = nn.Sequential(nn.Linear(len(lo), hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        return self.net(2 * (theta - self.lo) / (self.hi - self.lo) - 1).squeeze(-1)


def _gauss_logpdf(theta: torch.Tensor, mean: torch.Tensor, chol: torch.Tensor) -> torch.Tensor:
    z = torch.linalg.solve_triangular(chol, (theta - mean).T, upper=False).T
    return (-0.5 * (z ** 2).sum(-1) - torch.log(torch.diagonal(chol)).sum()
            - 0.5 * len(mean) * np.log(2 * np.pi))


def fit_reverse_kl(world: World, family: RouteFamily, demo_theta: np.ndarray, init: GaussianPolicy,
                   seed: int, restarts: int = 4, steps: int = 250, disc_steps: int = 500,
                   narrow: float = 0.25) -> tuple[GaussianPolicy, list[dict]]:
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 7])
    d = family.dims
    lo = np.tile(world.bounds_min[:d], 2)
    hi = np.tile(world.bounds_max[:d], 2)
    disc = _RouteDiscriminator(lo, hi)
    pos = torch.as_tensor(demo_theta, dtype=torch.float32)
    neg = torch.as_tensor(init.sample(rng, 8 * len(demo_theta)), dtype=torch.float32)
    opt = torch.optim.Adam(disc.parameters(), lr=0.005)
    for _ in range(disc_steps):
        opt.zero_grad()
        loss = F.softplus(-disc(pos)).mean() + F.softplus(disc(neg)).mean()
        loss.backward()
        opt.step()
    disc.requires_grad_(False)
    init_mean = torch.as_tensor(init.mean, dtype=torch.float32)
    init_chol = torch.as_tensor(np.linalg.cholesky(init.cov), dtype=torch.float32)

    def log_p_demo(theta: torch.Tensor) -> torch.Tensor:       # density-ratio identity
        return disc(theta) + _gauss_logpdf(theta, init_mean, init_chol)

    runs = []
    p = family.params
    for r in range(restarts):
        mean = torch.as_tensor(init.sample(rng, 1)[0], dtype=torch.float32).requires_grad_(True)
        log_diag = torch.log(torch.diagonal(init_chol) * narrow).clone().requires_grad_(True)
        lower = torch.zeros(p, p, requires_grad=True)
        popt = torch.optim.Adam([mean, log_diag, lower], lr=0.02)
        chol = lambda: torch.tril(lower, -1) + torch.diag(torch.exp(log_diag))
        for _ in range(steps):
            popt.zero_grad()
            theta = mean + torch.randn(256, p) @ chol().T
            loss = -log_p_demo(theta).mean() - log_diag.sum()      # = KL(q || p_demo) + const
            loss.backward()
            popt.step()
        with torch.no_grad():
            c = chol()
            theta = mean + torch.randn(4096, p) @ c.T
            kl = float((_gauss_logpdf(theta, mean, c) - log_p_demo(theta)).mean())
            cov = (c @ c.T).double().numpy()
        policy = GaussianPolicy(family, mean.detach().double().numpy(), cov)
        masses, elsewhere, _ = mode_masses(world, _ends(world, family, policy.sample(rng, 1024)))
        runs.append({"restart": r, "kl_estimate": kl, "masses": masses, "elsewhere": elsewhere,
                     "policy": policy})
    best = min(runs, key=lambda run: run["kl_estimate"])
    report = [{k: v for k, v in run.items() if k != "policy"} | {"kept": run is best} for run in runs]
    return best["policy"], report


def _ends(world: World, family: RouteFamily, theta: np.ndarray) -> np.ndarray:
    return world.to_state(family.positions(theta)[:, -1])


def fit_divergence(world: World, divergence: str, seed: int = 0, samples: int = 1024,
                   draw: int = 48, restarts: int = 4, config: AfdConfig | None = None) -> dict:
    """Fit one Gaussian route policy to the demonstrations by forward or reverse KL;
    report its mass on each mode (goal) and routes to draw. JSON-serialisable.
    The demonstrations are those of ``afd.setup`` for the same world, seed and config."""
    if divergence not in DIVERGENCES:
        raise ValueError(f"divergence: expected 'forward' or 'reverse', got {divergence!r}")
    cfg = config or AfdConfig()
    family = family_for(world, cfg.waypoints)
    demo = demonstrate(world, family, cfg.demos, np.random.default_rng([seed, 1]), style=cfg.style,
                       beta=cfg.beta, proposal=cfg.proposal)
    init = initial_policy(world, family, cfg.init_scale)
    report: list[dict] = []
    if divergence == "forward":
        policy = fit_sft(family, demo.positions)
    else:
        policy, report = fit_reverse_kl(world, family, family.project(demo.positions), init, seed,
                                        restarts=restarts)
    theta = policy.sample(np.random.default_rng([seed, 9]), samples)
    routes = states_of(world, family, theta)
    masses, elsewhere, radius = mode_masses(world, _ends(world, family, theta))
    hazard = np.zeros(len(routes), bool)
    for h in world.hazards:
        hazard |= h.contains(routes.reshape(-1, 3)).reshape(routes.shape[:2]).any(axis=1)
    top = max(masses, key=masses.get) if masses else None
    return {
        "world": world.name, "divergence": divergence, "seed": seed,
        "masses": masses, "elsewhere": elsewhere, "neighbourhood_radius": radius,
        "mode_definition": MODE_DEFINITION,
        "locked_on": top, "max_mass": masses[top] if top else 0.0,
        "true_reward": float(route_true_reward(world, routes).mean()),
        "hazard_fraction": float(hazard.mean()),
        "demonstration_split": [float(np.mean(demo.route == i)) for i in range(len(world.routes))],
        "policy": policy.to_dict(),
        "restarts": report,
        "samples": routes[:draw].round(4).tolist(),
        "demonstrations": demo.states[:draw].round(4).tolist(),
    }
