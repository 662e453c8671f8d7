"""Finite by construction: a reward model serves numbers, never NaN or inf.

NaN is never "above the floor", so a model whose rewards are NaN would pass the
audit and draw an empty landscape as if it were clean. Three layers keep that
from happening, cheapest first:

1. ``parameter_problem(model)``: every parameter finite and in a range where
   float32 arithmetic cannot overflow (psi, E_theta's tensors and its
   normalisation box, the patch kernels, the expert samples). O(parameters).
2. ``probe(model)``: the model evaluated on a lattice over its normalisation box
   plus its own expert samples and negatives (a few hundred states), which
   catches weights that are finite but overflow in the forward pass.
3. ``prove_finite(model, world)``: the served reward on the world's whole grid.

Every served reward passes ``require_finite`` (RewardModel.reward, the audit)
or is finite by construction (the landscape checks L once per new array, psi
once per new psi and kernels once per new kernel). A failure raises
``NonFiniteReward`` naming the artifact, the parameter at fault where it can be
told, and how many states are affected.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.model.errors import ModelError, NonFiniteReward
from explorer.model.mapping import g_psi, psi_problem
from explorer.model.patches import apply_patches

if TYPE_CHECKING:
    from worlds import World

    from explorer.model.reward_model import RewardModel

MAX_PARAMETER = 1e18      # |E_theta weight|: a product of two larger ones overflows float32
MAX_COORDINATE = 1e9      # |state|, |kernel centre|: squares stay far inside float32
MIN_BANDWIDTH = 1e-9      # 1/bw^2 stays finite in float32 (at 1e-20 it is inf, and inf * 0 is NaN)
MIN_EXPERT_SAMPLES = 2    # the audit measures novelty in units of the samples' own spacing
PROBE_PER_AXIS = 6


def source_of(model: RewardModel) -> str:
    """What a message calls the model: its artifact directory, or its world and version."""
    return getattr(model, "source", "") or f"{model.world_name} model v{model.version}"


def kernel_problem(centers: np.ndarray, bandwidths: np.ndarray, amplitudes: np.ndarray,
                   first: int = 0) -> tuple[str, str, Any] | None:
    """Why these patch kernels could serve NaN (field, expected, got), or None.
    With finite centres, bandwidths >= MIN_BANDWIDTH and finite amplitudes >= 0
    the kernel field is finite or +inf, and min(field, 1) is finite."""
    for name, a in (("patches.centers", centers), ("patches.bandwidths", bandwidths),
                    ("patches.amplitudes", amplitudes)):
        bad = ~np.isfinite(a)
        if bad.any():
            return f"{name}[{first + int(np.argwhere(bad)[0][0])}]", "a finite number", "NaN or inf"
    far = np.abs(centers) > MAX_COORDINATE
    if far.any():
        i = int(np.argwhere(far)[0][0])
        return f"patches.centers[{first + i}]", f"coordinates within +-{MAX_COORDINATE:g}", centers[i].tolist()
    for i, bw in enumerate(bandwidths):
        if not MIN_BANDWIDTH <= bw <= MAX_COORDINATE:
            expected = (f"a bandwidth from {MIN_BANDWIDTH:g} to {MAX_COORDINATE:g} "
                        "(so 1/bw^2 and the kernel's reach stay finite in float32)")
            return f"patches.bandwidths[{first + i}]", expected, float(bw)
    neg = amplitudes < 0
    if neg.any():
        i = int(np.argwhere(neg)[0][0])
        return f"patches.amplitudes[{first + i}]", "an amplitude >= 0 (kernels only subtract)", float(amplitudes[i])
    return None


def parameter_problem(model: RewardModel) -> tuple[str, str, Any] | None:
    """The first parameter that could make the served reward NaN or inf, as
    (field, expected, got); fields are named as in the artifact ('psi.k',
    'expertness.enc_w', 'patches.bandwidths[3]', 'data.expert_samples')."""
    psi = model.psi
    problem = psi_problem(psi.l_min, psi.l_max, psi.k)
    if problem:
        return f"psi.{problem[0]}", problem[1], problem[2]
    for name, t in model.expertness.state_dict().items():
        a = t.detach().cpu().numpy()
        if a.size and not np.all(np.isfinite(a)):
            return f"expertness.{name}", "finite values", "NaN or inf"
        big = float(np.abs(a).max()) if a.size else 0.0
        if big > MAX_PARAMETER:
            expected = f"values within +-{MAX_PARAMETER:g} (larger ones overflow float32 in the forward pass)"
            return f"expertness.{name}", expected, f"values up to {big:.3g}"
    box = _box(model)
    if box is not None:
        lo, hi = box
        if np.any(np.abs(lo) > MAX_COORDINATE) or np.any(np.abs(hi) > MAX_COORDINATE):
            return "expertness.lo", f"normalisation bounds within +-{MAX_COORDINATE:g}", [lo.tolist(), hi.tolist()]
        flat = np.nonzero(~((hi - lo).astype(np.float32) > 0))[0]
        if len(flat):
            i = int(flat[0])
            axis = "xyz"[i] if i < 3 else i
            expected = f"normalisation bounds with hi > lo on every axis (lo == hi on axis {axis} divides by zero)"
            return "expertness.hi", expected, [lo.tolist(), hi.tolist()]
    ps = model.patches
    problem = kernel_problem(ps.centers, ps.bandwidths, ps.amplitudes)
    if problem:
        return problem
    samples = np.asarray(model.expert_samples)
    if samples.ndim != 2 or samples.shape[1] != 3 or len(samples) < MIN_EXPERT_SAMPLES:
        return "data.expert_samples", f"at least {MIN_EXPERT_SAMPLES} expert samples of 3 numbers", \
            f"shape {tuple(samples.shape)}"
    for name, a in (("data.expert_samples", samples), ("data.negatives", np.asarray(model.negatives))):
        if a.size and not np.all(np.isfinite(a)):
            return name, "finite values", "NaN or inf"
        if a.size and float(np.abs(a).max()) > MAX_COORDINATE:
            return name, f"states within +-{MAX_COORDINATE:g}", f"values up to {float(np.abs(a).max()):.3g}"
    return None


def check_parameters(model: RewardModel, source: str | None = None,
                     error: type[ModelError] = ModelError) -> None:
    """Raise ``error`` naming the first parameter that could serve NaN or inf."""
    problem = parameter_problem(model)
    if problem:
        raise error(source or source_of(model), *problem)


def diagnose(model: RewardModel) -> tuple[str, str]:
    """(field, cause) for a model that served NaN or inf: the parameter at fault
    if one can be told, else the tensor with the largest magnitude."""
    problem = parameter_problem(model)
    if problem:
        field, expected, got = problem
        return field, f"{field}: expected {expected}, got {got}"
    biggest, name = 0.0, ""
    for key, t in model.expertness.state_dict().items():
        a = t.detach().cpu().numpy()
        m = float(np.abs(a).max()) if a.size else 0.0
        if m > biggest:
            biggest, name = m, f"expertness.{key}"
    if biggest > 1e6:
        return name, f"{name} has values up to {biggest:.3g}, which overflow float32 in the forward pass"
    return "", "every parameter is finite and moderate; the states may lie far outside the world"


def require_finite(values: np.ndarray, model: RewardModel, what: str = "reward",
                   where: str = "states") -> np.ndarray:
    """Return ``values`` if all are finite; else raise NonFiniteReward with a diagnosis."""
    values = np.asarray(values)
    finite = np.isfinite(values)
    if finite.all():
        return values
    field, cause = diagnose(model)
    raise NonFiniteReward(source_of(model), what, int(values.size - np.count_nonzero(finite)),
                          int(values.size), where, field, cause)


def _box(model: RewardModel) -> tuple[np.ndarray, np.ndarray] | None:
    net = model.expertness
    if not (hasattr(net, "lo") and hasattr(net, "hi")):
        return None
    return (np.asarray(net.lo.detach().cpu().numpy(), np.float64),
            np.asarray(net.hi.detach().cpu().numpy(), np.float64))


def probe_states(model: RewardModel) -> np.ndarray:
    """A lattice over the model's normalisation box (where its world lies), plus
    its own expert samples and negatives: a few hundred states."""
    parts = [np.asarray(model.expert_samples, np.float32).reshape(-1, 3),
             np.asarray(model.negatives, np.float32).reshape(-1, 3)[:512]]
    box = _box(model)
    if box is not None and box[0].shape == (3,):
        axes = [np.linspace(box[0][i], box[1][i], PROBE_PER_AXIS) for i in range(3)]
        parts.append(np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3).astype(np.float32))
    return np.concatenate(parts)


def probe(model: RewardModel) -> None:
    """Evaluate the served reward on ``probe_states``; raise if any is NaN or inf."""
    model.reward(probe_states(model), where="probe states")


def prove_finite(model: RewardModel, world: World, resolution: int | None = None) -> None:
    """The served reward on the world's whole grid (and its expert samples) is
    finite, or NonFiniteReward says how many grid states are not and why. Call
    right after loading an artifact for a world; building a Landscape for the
    model proves the same on its grid at no extra cost."""
    check_parameters(model)
    pts = world.grid(resolution).points
    chunk, bad, error_bad = 262_144, 0, 0
    with np.errstate(all="ignore"):
        for i in range(0, len(pts), chunk):
            s = pts[i:i + chunk]
            error = model.error(s)
            served = apply_patches(g_psi(error, model.psi), model.patches.field(s))
            error_bad += int(np.count_nonzero(~np.isfinite(error)))
            bad += int(np.count_nonzero(~(np.isfinite(error) & np.isfinite(served))))
    if bad:
        field, cause = diagnose(model)
        raise NonFiniteReward(source_of(model), "expertness L (and so the reward)" if error_bad else "reward",
                              bad, len(pts), "grid states", field, cause)
    model.reward(world.expert_samples(), where="expert samples of the world")
