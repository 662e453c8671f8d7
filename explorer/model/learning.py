"""Interactionless training of E_theta (Eq. 2 of arXiv 2602.14844).

    max_{theta, psi}  E_{s~D_E}[beta g_psi(E_theta(s))] - E_{s~D_neg}[beta g_psi(E_theta(s))]

With beta = 1 and g_psi monotone decreasing in the error, maximising the first
term is minimising the reconstruction error of E_theta on the expert samples D_E.
D_neg is empty at first (non-expert regions are negative only implicitly); the
data-driven refinement adds flagged states to it and pushes their error above a
margin. Nothing here calls the world's true reward or steps an environment: the
only data are the expert samples.

psi is calibrated on an absolute error scale (l_max), as the authors do: with ~20
samples the autoencoder fits them almost exactly, so a percentile of the training
error would be ~0 and the landscape would collapse onto the samples themselves.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch

from worlds import World

from explorer.model.expertness import Architecture, MoEAutoencoder
from explorer.model.mapping import Psi
from explorer.model.patches import PatchSet
from explorer.model.reward_model import RewardModel, TrainingConfig


def config_for(world: World, **overrides) -> TrainingConfig:
    values = {**world.model_defaults, **{k: v for k, v in overrides.items() if v is not None}}
    return TrainingConfig(**values)


def train_steps(world: World, config: TrainingConfig | None = None, report_every: int = 100,
                preview_every: int = 0) -> Iterator[tuple[int, float, RewardModel | None]]:
    """Train from the world's expert samples. Yields (step, loss, None) every
    ``report_every`` steps and finally (steps, loss, model), so a GUI or CLI can
    show progress and stop early.

    With ``preview_every`` > 0, every that many steps the third item is instead
    a *preview*: a reward model of E_theta as it is at that step (a copy, psi
    calibrated the same way as at the end, ``metrics["preview"]`` true), so a
    window can draw the landscape forming while it trains (as TensorFlow
    Playground does). The last item is always the final model, never a preview."""
    config = config or config_for(world)
    torch.manual_seed(config.seed)
    samples = world.expert_samples()
    arch = Architecture(dim=3, experts=config.experts, bottleneck=config.bottleneck)
    net = MoEAutoencoder(arch, world.bounds_min, world.bounds_max)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    x = torch.as_tensor(samples)
    loss_value = float("nan")
    good_state, good_step, first_loss, note = None, 0, None, ""
    for step in range(1, config.steps + 1):
        opt.zero_grad()
        loss = net.error(x).mean()
        value = float(loss.detach())
        first_loss = value if first_loss is None else first_loss
        # Divergence: NaN/inf, or a loss that exploded far above where it started.
        if not np.isfinite(value) or value > 1e3 * max(first_loss, 1e-3):
            if good_state is None:
                raise FloatingPointError(f"training diverged at step {step} (loss {value:.3g}) before any "
                                         f"good state; lower the learning rate (lr={config.lr:g})")
            net.load_state_dict(good_state)
            note = (f"training diverged at step {step} (loss {value:.3g}); rolled back to the last good "
                    f"state (step {good_step}, loss {loss_value:.3g})")
            break
        loss.backward()
        opt.step()
        loss_value = value
        if step % report_every == 0:
            good_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            good_step = step
        if step < config.steps:
            if preview_every > 0 and step % preview_every == 0:
                yield step, loss_value, _preview(net, world, config, samples, step)
            elif step % report_every == 0:
                yield step, loss_value, None
    net.eval()
    model = _reward_model(net, world, config, samples)
    model.edits.append({"op": "train", "steps": good_step if note else config.steps, "seed": config.seed,
                        "final_loss": loss_value, **({"message": note} if note else {})})
    if note:
        model.metrics["training_message"] = note
    yield (good_step if note else config.steps), loss_value, model


def _reward_model(net: MoEAutoencoder, world: World, config: TrainingConfig, samples: np.ndarray) -> RewardModel:
    """E_theta with psi calibrated on its training error (the same rule at every step)."""
    train_err = net.error_np(samples)
    l_min = float(train_err.min())
    psi = Psi(l_min=l_min, l_max=max(config.l_max, l_min * 1.001 + 1e-9), k=config.k)
    model = RewardModel(expertness=net, psi=psi, patches=PatchSet.empty(),
                        world_name=world.name, world_hash=world.file_hash, config=config,
                        expert_samples=samples)
    model.metrics["train_error_max"] = float(train_err.max())
    model.metrics["train_error_mean"] = float(train_err.mean())
    return model


def _preview(net: MoEAutoencoder, world: World, config: TrainingConfig, samples: np.ndarray,
             step: int) -> RewardModel:
    """A frozen copy of E_theta at ``step`` (training goes on with the original)."""
    twin = MoEAutoencoder(net.arch, world.bounds_min, world.bounds_max)
    twin.load_state_dict(net.state_dict())
    twin.eval()
    model = _reward_model(twin, world, config, samples)
    model.metrics["preview"] = True
    model.metrics["preview_step"] = step
    return model


def train(world: World, config: TrainingConfig | None = None,
          progress: Callable[[int, float], None] | None = None) -> RewardModel:
    model = None
    for step, loss, model in train_steps(world, config):
        if progress is not None:
            progress(step, loss)
    assert model is not None
    return model
