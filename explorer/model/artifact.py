"""Reward artifacts: a directory a policy (or a colleague) can load without code.

    my-artifact/
      artifact.json         metadata: format, world (name + sha256 of its file),
                            architecture, psi, training config, edits (flags and
                            patches applied), metrics, version and parent
      weights.safetensors   E_theta's tensors, the patch kernels, D_E and D_neg

``architecture.kind`` names the module in the expertness slot: the MoE
autoencoder E_theta ("moe-autoencoder"), or one of the logit signals of the
alignment-from-demonstrations lesson ("discriminator-mlp", "occupancy-ratio",
see ``afd_models``). Its tensors are stored under ``expertness.*`` either way,
and loading rebuilds the module from the architecture in the metadata and
refuses any tensor whose name or shape does not match it; an unknown kind is
refused.

Only JSON and safetensors are read: loading never unpickles or executes
anything. The weights file is named in the metadata, must be a plain file name
inside the directory, and must match the recorded sha256, so a tampered or
swapped file is refused. Saving is atomic: a crash leaves the old artifact or
the new one, never a mix.

Both files are size-checked from the file system before they are read, and
artifact.json's nesting depth before it is parsed. A model that could serve NaN
or inf is refused on load and on save (see ``explorer.model.finite``): its
parameters are checked, and it is evaluated on a probe of a few hundred states;
``load(directory, world)`` also proves the reward finite on the world's grid.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load as st_load, save as st_save

from worlds import World

from explorer.model.discriminators import (DiscriminatorArchitecture, DiscriminatorMLP, OccupancyArchitecture,
                         OccupancyRatio)
from explorer.model.errors import ModelError
from explorer.model.expertness import Architecture, MoEAutoencoder
from explorer.model.finite import check_parameters, parameter_problem, probe, prove_finite
from explorer.model.mapping import Psi, psi_problem
from explorer.model.patches import PatchSet
from explorer.model.reward_model import RewardModel, TrainingConfig
from explorer.safeio import read_json
from worlds.limits import read_bounded

ARTIFACT_FORMAT = "reward-explorer-artifact"
ARTIFACT_VERSION = 1
META_FILE = "artifact.json"
WEIGHTS_FILE = "weights.safetensors"
MAX_META_BYTES = 20_000_000
MAX_META_DEPTH = 64              # the format nests ~6 deep; edits carry small dicts
MAX_WEIGHTS_BYTES = 512_000_000  # E_theta is kilobytes; D_E and D_neg at most a few MB


class ArtifactError(ModelError):
    """An artifact directory that cannot be loaded (damaged, foreign, tampered, or
    a model that would serve NaN or inf)."""


def _tensors(model: RewardModel) -> dict[str, np.ndarray]:
    # Float tensors as float32; integer ones (an imported model's ONNX bytes) as they are.
    out = {f"expertness.{k}": (v.detach().cpu().numpy() if not v.is_floating_point()
                               else v.detach().cpu().numpy().astype(np.float32))
           for k, v in model.expertness.state_dict().items()}
    ps = model.patches
    out.update({"patches.centers": ps.centers.astype(np.float32),
                "patches.bandwidths": ps.bandwidths.astype(np.float32),
                "patches.amplitudes": ps.amplitudes.astype(np.float32),
                "patches.flag_ids": ps.flag_ids.astype(np.int64),
                "data.expert_samples": np.asarray(model.expert_samples, np.float32),
                "data.negatives": np.asarray(model.negatives, np.float32).reshape(-1, 3)})
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def metadata(model: RewardModel, weights_sha256: str) -> dict:
    return {
        "format": ARTIFACT_FORMAT,
        "format_version": ARTIFACT_VERSION,
        "version": model.version,
        "parent": model.parent,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "world": {"name": model.world_name, "sha256": model.world_hash},
        "architecture": {"kind": _kind_of(model.expertness), **model.architecture.to_dict()},
        "psi": model.psi.to_dict(),
        "mapping": "g_psi(L) = clip(exp(-k (L - l_min) / (l_max - l_min)), 0, 1)",
        **({"signal": model.expertness.SIGNAL} if hasattr(model.expertness, "SIGNAL") else {}),
        "training": model.config.to_dict(),
        "patches": len(model.patches),
        "negatives": int(len(model.negatives)),
        "edits": model.edits,
        "metrics": model.metrics,
        "weights": {"file": WEIGHTS_FILE, "sha256": weights_sha256},
    }


# kind -> (module class, architecture from the metadata's dict). Bounds are the
# ranges a file may declare; shapes are then checked against the built module.
def _moe_arch(d: dict, src: str) -> Architecture:
    return Architecture(dim=_bounded_int(d, "dim", 3, 3, src),
                        experts=_bounded_int(d, "experts", 1, 64, src),
                        bottleneck=_bounded_int(d, "bottleneck", 1, 3, src))


def _disc_arch(d: dict, src: str) -> DiscriminatorArchitecture:
    return DiscriminatorArchitecture(dim=_bounded_int(d, "dim", 3, 3, src),
                                     hidden=_bounded_int(d, "hidden", 1, 256, src),
                                     members=_bounded_int(d, "members", 1, 16, src))


def _occ_arch(d: dict, src: str) -> OccupancyArchitecture:
    return OccupancyArchitecture(dim=_bounded_int(d, "dim", 3, 3, src),
                                 ground=_bounded_int(d, "ground", 2, 3, src),
                                 components=_bounded_int(d, "components", 1, 256, src))


KINDS = {"moe-autoencoder": (MoEAutoencoder, _moe_arch),
         "discriminator-mlp": (DiscriminatorMLP, _disc_arch),
         "occupancy-ratio": (OccupancyRatio, _occ_arch)}


def _kind_of(net) -> str:
    for kind, (cls, _) in KINDS.items():
        if type(net) is cls:
            return kind
    raise ArtifactError(type(net).__name__, "", "a module of a known kind (" + ", ".join(KINDS) + ")",
                        "an unknown module")


def save(model: RewardModel, directory: str | Path, overwrite: bool = False) -> Path:
    """Write the artifact atomically. A model that could serve NaN or inf is
    refused (ModelError) before anything is written: it must never be released."""
    directory = Path(directory)
    check_parameters(model)
    probe(model)
    if directory.exists() and not overwrite and any(directory.iterdir()):
        raise ArtifactError(str(directory), "", "a new or empty directory (pass --force to replace it)",
                            "an existing, non-empty directory")
    blob = st_save(_tensors(model), metadata={"format": ARTIFACT_FORMAT,
                                              "format_version": str(ARTIFACT_VERSION)})
    meta = metadata(model, hashlib.sha256(blob).hexdigest())
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.tmp-"))
    try:
        for name, data in ((WEIGHTS_FILE, blob),
                           (META_FILE, json.dumps(meta, indent=2, allow_nan=False).encode())):
            with open(tmp / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
            os.replace(directory, old)
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return directory


# ------------------------------------------------------------------ loading
def _req(meta: dict, key: str, kind, src: str, path: str = "$") -> Any:
    if key not in meta:
        raise ArtifactError(src, f"{path}.{key}", "this field (it is required)", has_got=False)
    v = meta[key]
    if kind is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ArtifactError(src, f"{path}.{key}", "a finite number", v)
        return float(v)
    if kind is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ArtifactError(src, f"{path}.{key}", "a whole number", v)
        return v
    if not isinstance(v, kind):
        raise ArtifactError(src, f"{path}.{key}", f"a {kind.__name__}", v)
    return v


def read_metadata(directory: str | Path) -> dict:
    directory = Path(directory)
    src = str(directory / META_FILE)
    if not directory.is_dir():
        raise ArtifactError(str(directory), "", "an artifact directory", "no such directory")
    meta = read_json(directory / META_FILE, "artifact metadata file", ArtifactError,
                     max_bytes=MAX_META_BYTES, max_depth=MAX_META_DEPTH)
    if not isinstance(meta, dict):
        raise ArtifactError(src, "$", "a JSON object", type(meta).__name__)
    if meta.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(src, "$.format", repr(ARTIFACT_FORMAT) + " (not a reward artifact)",
                            meta.get("format"))
    fv = _req(meta, "format_version", int, src)
    if fv > ARTIFACT_VERSION:
        raise ArtifactError(src, "$.format_version", f"<= {ARTIFACT_VERSION}: written by a newer "
                            "version of the program; upgrade to open it", fv)
    if fv < 1:
        raise ArtifactError(src, "$.format_version", "a version >= 1", fv)
    return meta


def load(directory: str | Path, world: World | None = None) -> RewardModel:
    """Load an artifact; refuse anything damaged, foreign, tampered or able to
    serve NaN or inf (ArtifactError, a ModelError). With ``world``, the reward is
    also proven finite on the world's grid (NonFiniteReward, a ModelError)."""
    directory = Path(directory)
    meta = read_metadata(directory)
    src = str(directory / META_FILE)
    weights = _req(meta, "weights", dict, src)
    fname = _req(weights, "file", str, src, "$.weights")
    # A plain file name in this directory: metadata must not point anywhere else.
    if fname != os.path.basename(fname) or fname in ("", ".", "..") or "/" in fname or "\\" in fname:
        raise ArtifactError(src, "$.weights.file", "a plain file name inside the artifact directory", fname)
    wpath = directory / fname
    if wpath.is_symlink() or not wpath.is_file():
        raise ArtifactError(str(wpath), "", "a regular weights file (not a link)", "missing or not a file")
    blob = read_bounded(wpath, str(wpath), "weights file", MAX_WEIGHTS_BYTES, ArtifactError)
    expected_sha = _req(weights, "sha256", str, src, "$.weights")
    if hashlib.sha256(blob).hexdigest() != expected_sha:
        raise ArtifactError(str(wpath), "", "the sha256 recorded in artifact.json (the weights were "
                            "changed or replaced)", hashlib.sha256(blob).hexdigest()[:16] + "...")
    try:
        tensors = st_load(blob)
    except (SafetensorError, Exception) as exc:  # safetensors raises several types on garbage
        raise ArtifactError(str(wpath), "", "a safetensors file", str(exc)[:120]) from None

    arch_d = _req(meta, "architecture", dict, src)
    kind = arch_d.get("kind")
    if kind == "onnx-model":                       # imported models: onnxruntime only when needed
        from explorer.model.onnx_model import register_artifact_kind
        register_artifact_kind()
    if not isinstance(kind, str) or kind not in KINDS:
        raise ArtifactError(src, "$.architecture.kind", "one of " + ", ".join(repr(k) for k in KINDS)
                            + " (an architecture this version can build)", kind)
    module_cls, arch_from = KINDS[kind]
    arch = arch_from(arch_d, src)
    lo = tensors.get("expertness.lo")
    hi = tensors.get("expertness.hi")
    if lo is None or hi is None:
        raise ArtifactError(str(wpath), "expertness.lo", "the normalisation tensors lo/hi", "missing")
    if lo.shape != (3,) or hi.shape != (3,):
        raise ArtifactError(str(wpath), "expertness.lo", "lo/hi of shape (3,)", [lo.shape, hi.shape])
    net = module_cls(arch, lo, hi)
    expected = {f"expertness.{k}": tuple(v.shape) for k, v in net.state_dict().items()}
    integral = {f"expertness.{k}": v.dtype for k, v in net.state_dict().items() if not v.is_floating_point()}
    state = {}
    for name, shape in expected.items():
        if name not in tensors:
            raise ArtifactError(str(wpath), name, f"a tensor of shape {shape}", "missing")
        arr = tensors[name]
        if tuple(arr.shape) != shape:
            raise ArtifactError(str(wpath), name, f"shape {shape} (from the architecture in artifact.json)",
                                tuple(arr.shape))
        if arr.dtype.kind not in "fiu":
            raise ArtifactError(str(wpath), name, "a tensor of numbers", str(arr.dtype))
        if name in integral:                       # bytes (an imported model's graph): exact, no cast
            if arr.dtype != np.uint8:
                raise ArtifactError(str(wpath), name, "a uint8 tensor (the model file's bytes)", str(arr.dtype))
            state[name.split(".", 1)[1]] = torch.from_numpy(arr.copy())
            continue
        with np.errstate(over="ignore"):
            arr = arr.astype(np.float32)           # float64 1e300 is inf here: check after the cast
        if not np.all(np.isfinite(arr)):
            raise ArtifactError(str(wpath), name, "finite values (in float32)", "NaN or inf")
        state[name.split(".", 1)[1]] = torch.from_numpy(arr.copy())
    net.load_state_dict(state)
    net.eval()
    problem = net.validate() if hasattr(net, "validate") else None
    if problem:
        raise ArtifactError(str(wpath), "expertness", problem, "other values")

    def arr(name: str, ncol: int | None, dtype) -> np.ndarray:
        if name not in tensors:
            raise ArtifactError(str(wpath), name, "this tensor", "missing")
        a = tensors[name]
        if (ncol is not None and (a.ndim != 2 or a.shape[1] != ncol)) or (ncol is None and a.ndim != 1):
            raise ArtifactError(str(wpath), name, f"shape (n, {ncol})" if ncol else "shape (n,)", a.shape)
        if a.dtype.kind not in "fiu":
            raise ArtifactError(str(wpath), name, "a tensor of numbers", str(a.dtype))
        with np.errstate(over="ignore"):
            a = a.astype(dtype)
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ArtifactError(str(wpath), name, f"finite values (in {np.dtype(dtype).name})", "NaN or inf")
        return a

    patches = PatchSet(arr("patches.centers", 3, np.float32), arr("patches.bandwidths", None, np.float32),
                       arr("patches.amplitudes", None, np.float32), arr("patches.flag_ids", None, np.int64))
    n = len(patches.bandwidths)
    if not (len(patches.centers) == n == len(patches.amplitudes) == len(patches.flag_ids)):
        raise ArtifactError(str(wpath), "patches", "equal numbers of centres, bandwidths, amplitudes, ids",
                            [len(patches.centers), n, len(patches.amplitudes), len(patches.flag_ids)])
    if n != _req(meta, "patches", int, src):
        raise ArtifactError(src, "$.patches", f"{n} (the kernels in the weights file)", meta["patches"])

    psi_d = _req(meta, "psi", dict, src)
    values = [_req(psi_d, key, float, src, "$.psi") for key in ("l_min", "l_max", "k")]
    problem = psi_problem(*values)
    if problem:
        raise ArtifactError(src, f"$.psi.{problem[0]}", problem[1], problem[2])
    psi = Psi(*values)
    tr = _req(meta, "training", dict, src)
    try:
        config = TrainingConfig(**tr)
    except TypeError:
        raise ArtifactError(src, "$.training", "the training config keys " +
                            ", ".join(TrainingConfig().to_dict()), sorted(tr)) from None
    for key, default in TrainingConfig().to_dict().items():   # used again when the model is refined
        if key in tr:
            _req(tr, key, int if isinstance(default, int) else float, src, "$.training")
    world_d = _req(meta, "world", dict, src)
    parent = meta.get("parent")
    if parent is not None and (isinstance(parent, bool) or not isinstance(parent, int)):
        raise ArtifactError(src, "$.parent", "a version number or null", parent)
    edits = _req(meta, "edits", list, src)
    for i, e in enumerate(edits):
        if not isinstance(e, dict):
            raise ArtifactError(src, f"$.edits[{i}]", "an object (one edit: op, flags, ...)", e)
    metrics = _req(meta, "metrics", dict, src)
    model = RewardModel(expertness=net, psi=psi, patches=patches,
                        world_name=_req(world_d, "name", str, src, "$.world"),
                        world_hash=_req(world_d, "sha256", str, src, "$.world"), config=config,
                        expert_samples=arr("data.expert_samples", 3, np.float32),
                        negatives=arr("data.negatives", 3, np.float32), edits=edits,
                        metrics=metrics, version=_req(meta, "version", int, src), parent=parent,
                        source=str(directory))
    problem = parameter_problem(model)
    if problem:
        field, expected, got = problem
        if field.startswith("psi."):
            raise ArtifactError(src, "$." + field, expected, got)
        raise ArtifactError(str(wpath), field, expected, got)
    probe(model)
    if world is not None:
        prove_finite(model, world)
    return model


def _bounded_int(d: dict, key: str, lo: int, hi: int, src: str) -> int:
    v = _req(d, key, int, src, "$.architecture")
    if not lo <= v <= hi:
        raise ArtifactError(src, f"$.architecture.{key}", f"a whole number from {lo} to {hi}", v)
    return v
