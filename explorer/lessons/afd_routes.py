"""Routes as responses: the route family, Gaussian route policies, the demonstrator.

A *response* is a route of K waypoints from the world's start. The learner's
policy class is a Gaussian over theta = (C, E) in ground coordinates (x, y on a
terrain, x, y, z in a volume), and a route is the quadratic Bezier curve

    P(t) = (1 - t)^2 S + 2 t (1 - t) C + t^2 E,      t_k = (k + 1) / K,  k = 0..K-1

from the fixed start S, sampled at K waypoints (the last one is E). Positions
are linear in theta, so a policy's waypoint k is Gaussian with mean A_k mu and
covariance A_k Sigma A_k^T: its state occupancy is a K-component mixture, which
gives the closed-form baseline.

The demonstrator plans on the true reward (it is the teacher: it may): around
each of the world's expert routes (projected onto the family) it draws
candidates and resamples them in proportion to exp(beta * true route reward), a
soft-optimal planner. It then adds its *style*: a lateral zig-zag, +a and -a
across the route on alternate waypoints. A smooth quadratic route cannot zig-zag,
so no policy in the class reproduces it, and a state-level classifier can tell
demonstrations from policy samples by it alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worlds import World

VAR_FLOOR = 0.01      # x span: every waypoint Gaussian has at least this std (state noise)


@dataclass(frozen=True)
class AfdConfig:
    waypoints: int = 12
    demos: int = 128             # demonstration routes
    policy_samples: int = 128    # routes drawn from a policy for a discriminator's data
    style: float = 0.10          # zig-zag amplitude, fraction of the world's span
    beta: float = 20.0           # demonstrator's inverse temperature on the true route reward
    proposal: float = 0.15       # demonstrator's search radius, fraction of the span
    init_scale: float = 0.3      # initial policy's std, fraction of the bounds
    trials: int = 256            # Best-of-N repetitions averaged per N
    disc_steps: int = 250
    disc_hidden: int = 32
    disc_members: int = 3

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def ground_dims(world: World) -> int:
    return 2 if world.is_terrain else 3


def span(world: World) -> float:
    d = ground_dims(world)
    return float(np.max(world.bounds_max[:d] - world.bounds_min[:d]))


def route_true_reward(world: World, states: np.ndarray) -> np.ndarray:
    """A route's quality: the mean true reward of its waypoints (teacher's view)."""
    states = np.asarray(states)
    r = world.true_reward(states.reshape(-1, 3))
    return r.reshape(states.shape[:-1]).mean(axis=-1)


@dataclass(frozen=True)
class RouteFamily:
    start: np.ndarray      # (d,) ground coordinates of S
    waypoints: int = 12

    @property
    def dims(self) -> int:
        return len(self.start)

    @property
    def params(self) -> int:
        return 2 * self.dims

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = (np.arange(self.waypoints) + 1.0) / self.waypoints
        return (1 - t) ** 2, 2 * t * (1 - t), t ** 2

    def positions(self, theta: np.ndarray) -> np.ndarray:
        """theta (..., 2d) -> ground positions (..., K, d)."""
        theta = np.asarray(theta, dtype=float)
        d = self.dims
        b0, b1, b2 = self.basis()
        c, e = theta[..., None, :d], theta[..., None, d:]
        return b0[:, None] * self.start + b1[:, None] * c + b2[:, None] * e

    def tangents(self, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        d = self.dims
        t = ((np.arange(self.waypoints) + 1.0) / self.waypoints)[:, None]
        c, e = theta[..., None, :d], theta[..., None, d:]
        return 2 * (1 - t) * (c - self.start) + 2 * t * (e - c)

    def project(self, positions: np.ndarray) -> np.ndarray:
        """Least-squares theta of routes given as ground positions (n, K, d): what a
        smooth route can keep of them (behaviour cloning's view of a demonstration)."""
        b0, b1, b2 = self.basis()
        design = np.stack([b1, b2], axis=1)                         # (K, 2)
        rhs = np.asarray(positions, float) - b0[:, None] * self.start   # (n, K, d)
        coef = np.einsum("jk,nkd->njd", np.linalg.pinv(design), rhs)  # (n, 2, d)
        return coef.reshape(len(coef), -1)

    def occupancy(self, mean: np.ndarray, cov: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
        """Per-waypoint Gaussians (K, d) and (K, d, d) of a Gaussian policy's routes."""
        d = self.dims
        b0, b1, b2 = self.basis()
        eye = np.eye(d)
        a = np.concatenate([b1[:, None, None] * eye, b2[:, None, None] * eye], axis=2)  # (K, d, 2d)
        means = b0[:, None] * self.start + a @ mean
        covs = a @ cov @ a.transpose(0, 2, 1) + floor ** 2 * eye
        return means, covs


@dataclass
class GaussianPolicy:
    """A distribution over routes: theta ~ N(mean, cov)."""
    family: RouteFamily
    mean: np.ndarray
    cov: np.ndarray

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.multivariate_normal(self.mean, self.cov, size=n, method="cholesky")

    def log_prob(self, theta: np.ndarray) -> np.ndarray:
        diff = np.asarray(theta, float) - self.mean
        chol = np.linalg.cholesky(self.cov)
        z = np.linalg.solve(chol, diff.T).T
        return (-0.5 * np.sum(z ** 2, axis=1) - np.log(np.diag(chol)).sum()
                - 0.5 * len(self.mean) * np.log(2 * np.pi))

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "cov": self.cov.tolist()}


def family_for(world: World, waypoints: int = 12) -> RouteFamily:
    """The start is the mean start of the world's expert routes."""
    d = ground_dims(world)
    starts = np.array([np.asarray(r.path(np.zeros(1)), float)[0, :d] for r in world.routes])
    return RouteFamily(np.clip(starts.mean(axis=0), world.bounds_min[:d], world.bounds_max[:d]),
                       waypoints)


def initial_policy(world: World, family: RouteFamily, scale: float = 0.3) -> GaussianPolicy:
    """The 'pre-trained' policy: broad, centred on the world, knows nothing of goals."""
    d = family.dims
    centre = 0.5 * (world.bounds_min[:d] + world.bounds_max[:d])
    std = scale * (world.bounds_max[:d] - world.bounds_min[:d])
    return GaussianPolicy(family, np.concatenate([centre, centre]),
                          np.diag(np.concatenate([std, std]) ** 2))


def fit_sft(family: RouteFamily, demo_positions: np.ndarray, ridge: float = 1e-4) -> GaussianPolicy:
    """Forward KL = maximum likelihood = SFT: the Gaussian MLE of the demonstrations'
    projected parameters (the zig-zag has no component the family can keep)."""
    theta = family.project(demo_positions)
    mean = theta.mean(axis=0)
    cov = np.cov(theta, rowvar=False, bias=True) + ridge * np.eye(family.params)
    return GaussianPolicy(family, mean, cov)


def states_of(world: World, family: RouteFamily, theta: np.ndarray) -> np.ndarray:
    """theta (..., 2d) -> states (..., K, 3): clipped to the bounds or lifted on the terrain."""
    return world.to_state(family.positions(theta)).astype(np.float32)


def zigzag(family: RouteFamily, theta: np.ndarray, amplitude: float) -> np.ndarray:
    """Offsets (n, K, d) of +a / -a on alternate waypoints, across the route: in the
    ground plane on a terrain, vertically in a volume (a bobbing flight; sideways
    offsets would be clipped away where a route runs along a face of the box)."""
    tan = family.tangents(theta)
    if family.dims == 2:
        norm = np.stack([-tan[..., 1], tan[..., 0]], axis=-1)
    else:
        unit = tan / np.maximum(np.linalg.norm(tan, axis=-1, keepdims=True), 1e-9)
        norm = np.array([0.0, 0.0, 1.0]) - unit[..., 2:3] * unit
    norm = norm / np.maximum(np.linalg.norm(norm, axis=-1, keepdims=True), 1e-9)
    sign = np.where(np.arange(family.waypoints) % 2 == 0, 1.0, -1.0)[:, None]
    return amplitude * sign * norm


@dataclass
class Demonstrations:
    theta: np.ndarray          # (n, 2d) the planned routes (the style not applied)
    positions: np.ndarray      # (n, K, d) with style, ground coordinates
    states: np.ndarray         # (n, K, 3)
    route: np.ndarray          # (n,) which expert route each one follows


def demonstrate(world: World, family: RouteFamily, n: int, rng: np.random.Generator,
                style: float = 0.10, beta: float = 20.0, proposal: float = 0.15,
                candidates: int = 1500) -> Demonstrations:
    """Soft-optimal plans around each expert route, walked in the zig-zag style.
    ``style`` and ``proposal`` are fractions of the world's span."""
    sp = span(world)
    d = family.dims
    t = (np.arange(family.waypoints) + 1.0) / family.waypoints
    weights = np.array([r.weight for r in world.routes], float)
    counts = rng.multinomial(n, weights / weights.sum())
    thetas, which = [], []
    for i, (route, m) in enumerate(zip(world.routes, counts)):
        if m == 0:
            continue
        anchor = family.project(np.asarray(route.path(t), float)[None, :, :d])[0]
        cand = anchor + rng.normal(0.0, proposal * sp, size=(candidates, family.params))
        lo, hi = np.tile(world.bounds_min[:d], 2), np.tile(world.bounds_max[:d], 2)
        cand = np.clip(cand, lo, hi)
        r = route_true_reward(world, states_of(world, family, cand))
        p = np.exp(beta * (r - r.max()))
        thetas.append(cand[rng.choice(candidates, size=m, p=p / p.sum())])
        which.append(np.full(m, i))
    theta = np.concatenate(thetas)
    pos = family.positions(theta) + zigzag(family, theta, style * sp)
    states = world.to_state(pos).astype(np.float32)
    return Demonstrations(theta, states[..., :d].astype(float), states, np.concatenate(which))
