"""Any reward model as an ONNX graph: the expertness slot filled by onnxruntime.

A reward model someone trained elsewhere (any framework that exports ONNX) maps
float32 states (n, d) to one number per state, (n,) or (n, 1). ``import_model``
checks the graph, measures it on the world, and returns a ``RewardModel`` whose
``expertness`` is an ``OnnxExpertness``; landscapes, audits, flags, local
patches, regression checks and artifacts then work as for E_theta.

How the output becomes an expertness L (so that g_psi, the landscape cache and
the kernels need no special case):

* ``reward`` (the default): the output r is mapped from its range [low, high] to
  r' in [0, 1] (clipped), and L = -ln(max(r', 1e-30)). With psi = (0, 1, 1)
  the served reward g_psi(L) = exp(-L) is r' exactly. psi is fixed: sculpting
  it would reshape someone else's reward, so it is refused with the reason.
* ``error`` (a loss or reconstruction error, low = expert-like): L = max(out -
  low, 0) and psi applies as for E_theta; the sidecar may give psi, or it is
  calibrated on the expert samples (see ``calibrated_psi``).

The range comes from the sidecar (``MODEL.json``, docs/onnx.md) or is measured
on the world's landscape grid and stated in the model's metrics.

Audits: the blue team's disagreement is 0 (one model, no members to disagree),
and norm-free novelty is measured in input space only (``codes`` is the
normalised state). Data-driven patching fine-tunes E_theta and is refused.

Safety: the graph runs in onnxruntime, which only interprets ONNX operators;
nothing in a model file is executed as Python. Files over ``MAX_MODEL_BYTES``,
tensors stored outside the file, invalid graphs and wrong input/output types
or shapes are refused with one line naming the input or output at fault
(``onnx_graph``); the sidecar is read by ``onnx_sidecar``.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from worlds import World
from worlds.errors import InputError

from explorer.model.expertness import EVAL_BATCH, normalise
from explorer.model.mapping import Psi
from explorer.model.onnx_graph import OnnxModelError, OnnxRunner, inspect_graph, non_finite
from explorer.model.onnx_sidecar import OUTPUT_KINDS, calibrated_psi, read_sidecar
from explorer.model.patches import PatchSet
from explorer.model.reward_model import RewardModel, TrainingConfig

__all__ = ["OnnxArchitecture", "OnnxExpertness", "OnnxModelError", "OnnxRunner", "import_model",
           "register_artifact_kind", "expertness_from_output"]

ARTIFACT_KIND = "onnx-model"
MAX_MODEL_BYTES = 64 * 1024 * 1024   # a reward over 3-D states needs far less
TINY = 1e-30                         # r' below this serves as 1e-30: L stays finite (69.1)
RANGE_SOURCES = ("sidecar", "grid")


@dataclass(frozen=True)
class OnnxArchitecture:
    """What the artifact records about an imported graph (the bytes travel as a
    tensor; this says how to read and trust them)."""
    dim: int = 3
    size: int = 0                     # bytes of the ONNX file
    sha256: str = ""
    input_name: str = ""
    output_name: str = ""
    batch: int = 0                    # a batch size fixed by the graph, or 0 (any)
    output: str = "reward"            # reward | error
    low: float = 0.0                  # output range: reward maps [low, high] -> [0, 1]
    high: float = 1.0
    range_source: str = "grid"        # sidecar | grid
    shift: tuple[float, ...] = (0.0, 0.0, 0.0)   # the graph sees (state - shift) * scale
    scale: tuple[float, ...] = (1.0, 1.0, 1.0)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["shift"], d["scale"] = list(self.shift), list(self.scale)
        return d


def _check_arch(arch: OnnxArchitecture, src: str) -> None:
    if arch.output not in OUTPUT_KINDS:
        raise OnnxModelError(src, "architecture.output", " or ".join(OUTPUT_KINDS), arch.output)
    if arch.range_source not in RANGE_SOURCES:
        raise OnnxModelError(src, "architecture.range_source", " or ".join(RANGE_SOURCES), arch.range_source)
    if not (math.isfinite(arch.low) and math.isfinite(arch.high) and arch.high > arch.low):
        raise OnnxModelError(src, "architecture.low/high", "a finite range with high > low",
                             [arch.low, arch.high])
    for name in ("shift", "scale"):
        v = getattr(arch, name)
        if len(v) != arch.dim or not all(math.isfinite(x) for x in v):
            raise OnnxModelError(src, f"architecture.{name}", f"{arch.dim} finite numbers", list(v))
    if any(x == 0 for x in arch.scale):
        raise OnnxModelError(src, "architecture.scale", "non-zero factors", list(arch.scale))


# ------------------------------------------------------------------ the module
class OnnxExpertness(nn.Module):
    """The expertness slot backed by an ONNX graph. The file's bytes are a uint8
    buffer, so artifacts (safetensors + JSON) store and sha256-check them like
    any other tensor; the session is rebuilt from them, never from a path."""

    SIGNAL = ("imported ONNX model: L(s) = -ln(max(r'(s), 1e-30)) with r' the output mapped from "
              "[low, high] to [0, 1] (psi = (0, 1, 1) serves r'), or, for an error output, "
              "L(s) = max(out(s) - low, 0) mapped by psi")

    def __init__(self, arch: OnnxArchitecture, lo: np.ndarray, hi: np.ndarray, blob: bytes | None = None):
        super().__init__()
        self.arch = arch
        self.register_buffer("lo", torch.as_tensor(np.asarray(lo), dtype=torch.float32))
        self.register_buffer("hi", torch.as_tensor(np.asarray(hi), dtype=torch.float32))
        data = np.frombuffer(blob, np.uint8).copy() if blob is not None else np.zeros(arch.size, np.uint8)
        self.register_buffer("graph", torch.from_numpy(data))
        self._runner: OnnxRunner | None = None

    def refusals(self) -> dict[str, str]:
        """Refinements that do not apply to this imported model, with the reason."""
        return refusals(self.arch)

    def model_bytes(self) -> bytes:
        return self.graph.numpy().tobytes()

    @property
    def runner(self) -> OnnxRunner:
        if self._runner is None:
            problem = self.validate()
            if problem:
                raise OnnxModelError("imported model", "graph", problem, "other bytes")
        return self._runner

    def validate(self) -> str | None:
        """A reason the stored bytes are unusable, or None (artifact loading calls this)."""
        blob = self.model_bytes()
        if len(blob) != self.arch.size or hashlib.sha256(blob).hexdigest() != self.arch.sha256:
            return "the ONNX bytes whose size and sha256 the architecture records"
        try:
            _check_arch(self.arch, "architecture")
            _, xin, yout, batch = inspect_graph(blob, "stored ONNX graph", self.arch.dim, self.arch.output_name)
            if (xin, yout, batch) != (self.arch.input_name, self.arch.output_name, self.arch.batch):
                return "a graph whose input, output and batch match the architecture"
            self._runner = OnnxRunner(blob, xin, yout, batch, "stored ONNX graph", self.arch.dim)
        except InputError as exc:
            return str(exc)
        return None

    def __deepcopy__(self, memo) -> "OnnxExpertness":
        """Refined versions copy the model; the graph is immutable, so the copy
        shares the bytes' session instead of rebuilding it."""
        new = OnnxExpertness(self.arch, self.lo.numpy(), self.hi.numpy(), self.model_bytes())
        new._runner = self._runner
        new.train(self.training)
        memo[id(self)] = new
        return new

    # -- what the RewardModel and the audit read
    def raw_np(self, states: np.ndarray) -> np.ndarray:
        """The graph's own output on world states (input scaling applied)."""
        a = self.arch
        x = (np.asarray(states, np.float32) - np.float32(a.shift)) * np.float32(a.scale)
        out = self.runner(x)
        bad = non_finite(out, states)
        if bad:
            raise FloatingPointError(f"imported model: output '{a.output_name}' is {bad}: a reward must be finite")
        return out

    def error_np(self, states: np.ndarray, batch: int = EVAL_BATCH) -> np.ndarray:
        return expertness_from_output(self.raw_np(states), self.arch)

    def error(self, states: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.error_np(states.detach().cpu().numpy()))

    def disagreement_np(self, states: np.ndarray, batch: int = EVAL_BATCH) -> np.ndarray:
        """One graph has no members to disagree: 0 everywhere."""
        return np.zeros(len(states), np.float32)

    def normalise(self, states: torch.Tensor) -> torch.Tensor:
        return normalise(states, self.lo, self.hi)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """No representation to read inside a foreign graph: novelty is measured in
        (normalised) input space only."""
        return x

def expertness_from_output(out: np.ndarray, arch: OnnxArchitecture) -> np.ndarray:
    """The graph's output -> L (see the module docstring)."""
    out = np.asarray(out, np.float32)
    if arch.output == "reward":
        r = (out - np.float32(arch.low)) / np.float32(arch.high - arch.low)
        return (-np.log(np.clip(r, np.float32(TINY), np.float32(1.0)))).astype(np.float32)
    return np.maximum(out - np.float32(arch.low), np.float32(0.0)).astype(np.float32)

# ------------------------------------------------------------------ import
def import_model(path: str | Path, world: World | str | None = None, sidecar: str | Path | None = None,
                 resolution: int | None = None) -> RewardModel:
    """Open ``path`` (ONNX) as a reward model on ``world``. The sidecar defaults to
    the same path with ``.json`` if that file exists; its ``world`` is used when
    ``world`` is None and must agree with it otherwise."""
    import worlds as worlds_pkg
    path = Path(path)
    src = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise OnnxModelError(src, "", "a readable ONNX file", exc.strerror or str(exc)) from None
    if not path.is_file():
        raise OnnxModelError(src, "", "an ONNX file", "not a regular file")
    if size > MAX_MODEL_BYTES:
        raise OnnxModelError(src, "", f"an ONNX file of at most {MAX_MODEL_BYTES:,} bytes", f"{size:,} bytes")
    side_path = Path(sidecar) if sidecar is not None else path.with_suffix(".json")
    if sidecar is not None and not side_path.is_file():
        raise OnnxModelError(str(side_path), "", "a sidecar JSON file", "no such file")
    side = read_sidecar(side_path) if side_path.is_file() else {}
    if world is None:
        if "world" not in side:
            raise OnnxModelError(src, "world", "a world (pass --world, or give \"world\" in the sidecar "
                                 f"{side_path.name})", has_got=False)
        world = side["world"]
    w = world if isinstance(world, World) else worlds_pkg.load(world)
    if "world" in side and side["world"] not in (w.name, w.source, str(Path(w.source))):
        raise OnnxModelError(str(side_path), "world", f"the world the model is opened on ('{w.name}')",
                             side["world"])
    dim = 3
    blob = path.read_bytes()
    _, xin, yout, batch = inspect_graph(blob, src, dim, side.get("output_name"))
    arch = OnnxArchitecture(dim=dim, size=len(blob), sha256=hashlib.sha256(blob).hexdigest(),
                            input_name=xin, output_name=yout, batch=batch, output=side.get("output", "reward"),
                            shift=side.get("shift", (0.0,) * dim), scale=side.get("scale", (1.0,) * dim))
    runner = OnnxRunner(blob, xin, yout, batch, src, dim)
    grid = w.grid(resolution).points
    expert = w.expert_samples()
    outs = []
    for states in (grid, expert):
        x = (states - np.float32(arch.shift)) * np.float32(arch.scale)
        outs.append(runner(x))
        bad = non_finite(outs[-1], states)
        if bad:
            raise OnnxModelError(src, f"output '{yout}'", f"finite values on every {w.name} grid state and "
                                 "expert sample", bad)
    out_grid, out_expert = outs
    notes = []
    if "range" in side:
        low, high, source = side["range"][0], side["range"][1], "sidecar"
    else:
        both = np.concatenate([out_grid, out_expert])
        low, high, source = float(both.min()), float(both.max()), "grid"
        if not high > low:
            raise OnnxModelError(src, f"output '{yout}'", "an output that varies over the world (or a "
                                 "range in the sidecar)", f"the constant {low:g} on every grid state")
        notes.append(f"output range measured on the {w.name} grid ({len(grid)} states) and the expert "
                     f"samples: [{low:.6g}, {high:.6g}]; pass output.range in {side_path.name} to fix it")
    arch = OnnxArchitecture(**{**asdict(arch), "low": low, "high": high, "range_source": source})
    _check_arch(arch, src)
    net = OnnxExpertness(arch, w.bounds_min, w.bounds_max, blob)
    net._runner = runner
    net.eval()
    if arch.output == "reward":
        psi = Psi(0.0, 1.0, 1.0)
    else:
        psi = side.get("psi") or calibrated_psi(expertness_from_output(out_expert, arch))
        if "psi" not in side:
            notes.append(f"psi calibrated on the expert samples: l_min {psi.l_min:.4g}, l_max {psi.l_max:.4g}, "
                         f"k {psi.k:g}")
    config = TrainingConfig(experts=0, bottleneck=0, steps=0, lr=0.0, seed=0, l_max=psi.l_max, k=psi.k)
    model = RewardModel(expertness=net, psi=psi, patches=PatchSet.empty(), world_name=w.name,
                        world_hash=w.file_hash, config=config, expert_samples=expert)
    model.edits.append({"op": "import", "file": path.name, "sha256": arch.sha256, "bytes": arch.size,
                        "output": arch.output, "range": [low, high], "range_source": source,
                        **({"sidecar": side_path.name} if side else {})})
    model.metrics.update({"output_range": [low, high], "output_range_source": source,
                          "import_notes": notes})
    return model


# ------------------------------------------------------------------ what applies
def refusals(arch) -> dict[str, str]:
    out = {"data_patch": "data-driven patching fine-tunes E_theta; an imported ONNX model has no "
                         "trainable E_theta here: use a local patch"}
    if arch.output == "reward":
        out["sculpt"] = ("psi sculpting maps an error to a reward; this imported model outputs a reward, "
                         "served as it is (a sidecar with output.kind \"error\" enables psi)")
    return out


def arch_from_metadata(d: dict, src: str) -> OnnxArchitecture:
    """The architecture from an artifact's metadata (artifact.KINDS entry)."""
    from explorer.model.artifact import ArtifactError
    fields = {f for f in OnnxArchitecture.__dataclass_fields__}
    given = {k: v for k, v in d.items() if k != "kind"}
    if set(given) != fields:
        raise ArtifactError(src, "$.architecture", "the keys " + ", ".join(sorted(fields)), sorted(given))
    try:
        arch = OnnxArchitecture(**{**given, "shift": tuple(float(x) for x in given["shift"]),
                                   "scale": tuple(float(x) for x in given["scale"]),
                                   "low": float(given["low"]), "high": float(given["high"])})
    except (TypeError, ValueError) as exc:
        raise ArtifactError(src, "$.architecture", "an onnx-model architecture", str(exc)[:80]) from None
    for key, kind in (("dim", int), ("size", int), ("batch", int), ("sha256", str), ("input_name", str),
                      ("output_name", str), ("output", str), ("range_source", str)):
        if not isinstance(getattr(arch, key), kind) or isinstance(getattr(arch, key), bool):
            raise ArtifactError(src, f"$.architecture.{key}", f"a {kind.__name__}", getattr(arch, key))
    if arch.dim != 3 or not 0 < arch.size <= MAX_MODEL_BYTES or arch.batch < 0:
        raise ArtifactError(src, "$.architecture", f"dim 3, size 1..{MAX_MODEL_BYTES}, batch >= 0",
                            [arch.dim, arch.size, arch.batch])
    _check_arch(arch, src)
    return arch


def register_artifact_kind() -> None:
    """Let artifacts store and load imported models (``artifact.KINDS``)."""
    from explorer.model import artifact
    artifact.KINDS.setdefault(ARTIFACT_KIND, (OnnxExpertness, arch_from_metadata))


register_artifact_kind()          # a session that imported a model can save it as a version
