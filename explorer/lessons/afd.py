"""Alignment from Demonstrations (Sun & van der Schaar, arXiv 2405.15624), in a world.

Routes play the role of responses (see ``afd_routes``): a demonstrator plans on
the true reward and adds a zig-zag *style* the learner's smooth policy class
cannot reproduce; the initial policy is broad; SFT fits the demonstrations by
maximum likelihood (forward KL = behaviour cloning). Reward models are
state-level discriminators whose logit is the reward (``afd_models``):

    init-sft     positives: routes sampled from SFT, negatives: from the initial policy
                 (the paper's tailored reward model: both sides come from one policy
                 class, so the only difference left to learn is *where* SFT goes)
    init-demo    positives: the demonstrations, negatives: the initial policy
    sft-demo     positives: the demonstrations, negatives: SFT
    closed-form  log d_SFT(s) - log d_init(s), the two policies' exact state
                 occupancies: what init-sft converges to (sanity baseline)

Demonstrations come from another source than the policies, so a discriminator
that sees them learns their style (the zig-zag) as well as, or instead of,
their quality; scoring SFT samples with it prefers routes that sit where the
zig-zag's corners sit, i.e. off the good route. That is the paper's
"heterogeneity", and Best-of-N shows it: N routes from SFT, the one with the
highest mean state logit is kept, and its quality is the true reward (the mean
of ``world.true_reward`` over its waypoints). Expected values are averaged over
``trials`` independent draws; one pool of trials x max(N) SFT routes is scored
by every reward model, so the comparison is paired.

Each reward model is a ``RewardModel`` (served reward = sigmoid(logit), see
``afd_models``), so it saves as an artifact and the flywheel's landscape, audit,
local patches and psi edits work on it. Data-driven patching retrains E_theta's
experts and is for the MoE autoencoder only.

Choices (and why), all in ``AfdConfig``: 12 waypoints; 128 routes per data set;
zig-zag amplitude 0.1 of the world's span, sideways on a terrain and vertical
in a volume (larger than the demonstrator's own spread, so the style is visible
state by state; 0.08 was too faint on ``cube``); demonstrator temperature
beta = 20 on a proposal of 0.15 span around each expert route (so SFT samples
differ enough in quality for selection to matter); discriminators are 3-member
ensembles of 32-unit MLPs, 250 full-batch Adam steps, class-balanced. A route's
score is the mean of its states' logits (the sum ranks the same: K is fixed).
The style costs the demonstrator true reward (its corners leave the route, on
``canyon`` and ``ridge`` some land in the hazard), so results report both the
demonstrations as walked and the demonstrator's plans.

Where SFT is itself a bad place to sample from, Init-SFT cannot help: on
``twin-goals`` SFT is mass-covering (see ``afd_divergence``) and its mean walks
up the middle, so the reward that points at "where SFT goes" points there too.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from worlds import World

from explorer.lessons.afd_divergence import DIVERGENCES, fit_divergence, mode_masses
from explorer.model.discriminators import IDENTITY_PSI, DiscriminatorArchitecture, OccupancyRatio, train_discriminator
from explorer.lessons.afd_routes import (VAR_FLOOR, AfdConfig, Demonstrations, GaussianPolicy, RouteFamily,
                         demonstrate, family_for, fit_sft, initial_policy, route_true_reward, span,
                         states_of)
from explorer.model.mapping import Psi
from explorer.model.metrics import spearman
from explorer.model.patches import PatchSet
from explorer.model.reward_model import RewardModel, TrainingConfig

RM_NAMES = ("init-sft", "init-demo", "sft-demo", "closed-form")
BON_NS = (1, 2, 4, 8, 16, 32, 64)
_SOURCES = {"init-sft": ("sft", "init"), "init-demo": ("demo", "init"), "sft-demo": ("demo", "sft")}


@dataclass
class AfdSetup:
    """Everything the reward models and Best-of-N share for one world and seed."""
    world: World
    seed: int
    config: AfdConfig
    family: RouteFamily
    demos: Demonstrations
    init: GaussianPolicy
    sft: GaussianPolicy
    data: dict[str, np.ndarray]          # "demo" | "sft" | "init" -> states (n, K, 3)
    pool: np.ndarray                     # (trials, max N, K, 3) SFT routes for Best-of-N
    pool_true: np.ndarray                # (trials, max N) their true route reward
    _models: dict[str, RewardModel] = field(default_factory=dict, repr=False)


def setup(world: World, seed: int = 0, config: AfdConfig | None = None,
          max_n: int = max(BON_NS)) -> AfdSetup:
    cfg = config or AfdConfig()
    rng = lambda part: np.random.default_rng([seed, part])   # independent streams per part
    fam = family_for(world, cfg.waypoints)
    demos = demonstrate(world, fam, cfg.demos, rng(1), style=cfg.style, beta=cfg.beta,
                        proposal=cfg.proposal)
    init = initial_policy(world, fam, cfg.init_scale)
    sft = fit_sft(fam, demos.positions)
    data = {"demo": demos.states,
            "sft": states_of(world, fam, sft.sample(rng(2), cfg.policy_samples)),
            "init": states_of(world, fam, init.sample(rng(3), cfg.policy_samples))}
    pool = states_of(world, fam, sft.sample(rng(4), cfg.trials * max_n))
    pool = pool.reshape(cfg.trials, max_n, cfg.waypoints, 3)
    return AfdSetup(world, seed, cfg, fam, demos, init, sft, data, pool,
                    route_true_reward(world, pool))


# ------------------------------------------------------------- reward models
def reward_model(world: World, rm: str, seed: int = 0, setup_: AfdSetup | None = None) -> RewardModel:
    """One of ``RM_NAMES`` as a RewardModel, ready for ``artifact.save``, landscapes,
    audits and local patches (cached on ``setup_``, whose seed then wins)."""
    if rm not in RM_NAMES:
        raise ValueError(f"reward model: expected one of {', '.join(RM_NAMES)}, got {rm!r}")
    st = setup_ or setup(world, seed)
    if rm not in st._models:
        st._models[rm] = _build(st, rm)
    return st._models[rm]


def _build(st: AfdSetup, rm: str) -> RewardModel:
    world, cfg = st.world, st.config
    lo, hi = world.bounds_min, world.bounds_max
    if rm == "closed-form":
        floor = VAR_FLOOR * span(world)
        net = OccupancyRatio.from_gaussians(lo, hi, st.family.occupancy(st.sft.mean, st.sft.cov, floor),
                                            st.family.occupancy(st.init.mean, st.init.cov, floor))
        recipe = {"op": "closed-form", "rm": rm, "logit": "log d_SFT(s) - log d_init(s)",
                  "sft": st.sft.to_dict(), "init": st.init.to_dict(), "state_noise": floor}
        steps = 0
    else:
        pos, neg = _SOURCES[rm]
        arch = DiscriminatorArchitecture(3, cfg.disc_hidden, cfg.disc_members)
        net = train_discriminator(st.data[pos].reshape(-1, 3), st.data[neg].reshape(-1, 3), lo, hi,
                                  seed=st.seed * 1000 + RM_NAMES.index(rm), arch=arch,
                                  steps=cfg.disc_steps)
        recipe = {"op": "train-discriminator", "rm": rm, "positives": pos, "negatives": neg,
                  "routes": {pos: len(st.data[pos]), neg: len(st.data[neg])}, "steps": cfg.disc_steps}
        steps = cfg.disc_steps
    recipe.update(seed=st.seed, afd=cfg.to_dict())
    l_min, l_max, k = IDENTITY_PSI
    model = RewardModel(expertness=net, psi=Psi(l_min, l_max, k), patches=PatchSet.empty(),
                        world_name=world.name, world_hash=world.file_hash,
                        config=TrainingConfig(experts=getattr(net.arch, "members", 1), bottleneck=1,
                                              steps=steps, lr=0.01, seed=st.seed, l_max=l_max, k=k),
                        expert_samples=st.demos.states.reshape(-1, 3).astype(np.float32))
    model.edits.append(recipe)
    model.metrics["afd_reward_model"] = rm
    return model


def state_logits(model: RewardModel, states: np.ndarray, served: bool = False) -> np.ndarray:
    """The reward model's logit per state. ``served``: read it back from the served
    reward (sigmoid inverted), so psi edits and patches count; saturates at +-13.8."""
    states = np.asarray(states, np.float32)
    if not served and hasattr(model.expertness, "logit_np"):
        return model.expertness.logit_np(states).astype(np.float64)
    r = np.clip(model.reward(states).astype(np.float64), 1e-6, 1 - 1e-6)
    return np.log(r) - np.log1p(-r)


def route_scores(model: RewardModel, routes: np.ndarray, served: bool = False) -> np.ndarray:
    """Mean state logit of each route: routes (..., K, 3) -> (...)."""
    routes = np.asarray(routes)
    lg = state_logits(model, routes.reshape(-1, 3), served)
    return lg.reshape(routes.shape[:-1]).mean(axis=-1)


# --------------------------------------------------------------- Best-of-N
def run_afd(world: World, rm: str, bon_ns=BON_NS, seed: int = 0, setup_: AfdSetup | None = None,
            model: RewardModel | None = None, draw: int = 16) -> dict:
    """Best-of-N from SFT scored by ``rm`` (or by a given, e.g. patched, ``model``'s
    served reward), measured by the true reward. JSON-serialisable."""
    bon_ns = tuple(int(n) for n in bon_ns)
    if not bon_ns or min(bon_ns) < 1:
        raise ValueError(f"bon_ns: expected whole numbers >= 1, got {bon_ns!r}")
    st = setup_ or setup(world, seed, max_n=max(bon_ns))
    if max(bon_ns) > st.pool.shape[1]:
        raise ValueError(f"bon_ns: at most {st.pool.shape[1]} with this setup, got {max(bon_ns)}")
    served = model is not None
    model = model or reward_model(world, rm, seed, st)
    scores = route_scores(model, st.pool, served)                      # (trials, max N)
    trials = np.arange(len(scores))
    rows = []
    for n in bon_ns:
        pick = scores[:, :n].argmax(axis=1)
        true = st.pool_true[trials, pick]
        rows.append({"n": n, "true_reward": float(true.mean()),
                     "stderr": float(true.std(ddof=1) / np.sqrt(len(true))) if len(true) > 1 else 0.0,
                     "oracle": oracle_reward(st, n)})
    sample0 = st.pool[0, :max(bon_ns)]
    return {
        "world": world.name, "reward_model": rm, "seed": st.seed, "served": served,
        "best_of_n": rows,
        "true_reward": {"demonstrations": float(route_true_reward(world, st.data["demo"]).mean()),
                        "demonstrator_plans": float(route_true_reward(
                            world, states_of(world, st.family, st.demos.theta)).mean()),
                        "sft": float(st.pool_true.mean()),
                        "init": float(route_true_reward(world, st.data["init"]).mean())},
        "score_true_spearman": float(spearman(scores.reshape(-1), st.pool_true.reshape(-1))),
        # For drawing: one trial's SFT routes, the one each N keeps, a few demonstrations.
        "samples": sample0.round(4).tolist(),
        "chosen": {str(n): int(scores[0, :n].argmax()) for n in bon_ns},
        "demonstrations": st.data["demo"][:draw].round(4).tolist(),
        "config": st.config.to_dict(),
    }


def oracle_reward(st: AfdSetup, n: int) -> float:
    """Expected true reward of the best of N SFT routes picked by the true reward itself:
    the ceiling any reward model's Best-of-N can reach (needs only the setup)."""
    return float(st.pool_true[:, :n].max(axis=1).mean())


def compare(world: World, seed: int = 0, rms=RM_NAMES, bon_ns=BON_NS,
            config: AfdConfig | None = None) -> dict[str, dict]:
    """``run_afd`` for several reward models on one shared setup (paired comparison)."""
    st = setup(world, seed, config, max_n=max(bon_ns))
    return {rm: run_afd(world, rm, bon_ns, seed, st) for rm in rms}


__all__ = ["RM_NAMES", "BON_NS", "DIVERGENCES", "AfdConfig", "AfdSetup", "setup", "reward_model",
           "run_afd", "compare", "oracle_reward", "route_scores", "state_logits", "fit_divergence", "mode_masses"]
