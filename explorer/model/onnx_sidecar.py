"""The sidecar MODEL.json next to an imported MODEL.onnx (docs/onnx.md): the
world, input scaling, output kind and range, and psi for an error output.
Unknown keys are refused, so a typo is never silently ignored."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from explorer.model.mapping import Psi
from explorer.model.onnx_graph import OnnxModelError

OUTPUT_KINDS = ("reward", "error")
EXPERT_REWARD_AT_WORST = 0.5         # calibrated psi: the least expert-like sample gets this
SIDECAR_KEYS = {"world", "input", "output", "psi", "description"}


def read_sidecar(path: str | Path, dim: int = 3) -> dict:
    """MODEL.json next to MODEL.onnx (docs/onnx.md). Returns the checked fields."""
    from explorer.safeio import read_json
    src = str(path)
    d = read_json(path, "an ONNX model's sidecar", OnnxModelError, max_bytes=1_000_000)
    if not isinstance(d, dict):
        raise OnnxModelError(src, "$", "a JSON object", type(d).__name__)
    unknown = sorted(set(d) - SIDECAR_KEYS)
    if unknown:
        raise OnnxModelError(src, unknown[0], "one of " + ", ".join(sorted(SIDECAR_KEYS)), unknown[0])
    out: dict = {}
    if "world" in d:
        if not isinstance(d["world"], str) or not d["world"]:
            raise OnnxModelError(src, "world", "a world name or path", d["world"])
        out["world"] = d["world"]
    inp = d.get("input", {})
    if not isinstance(inp, dict) or set(inp) - {"shift", "scale"}:
        raise OnnxModelError(src, "input", "an object with shift and/or scale", inp)
    for key, default in (("shift", 0.0), ("scale", 1.0)):
        v = inp.get(key, [default] * dim)
        if not isinstance(v, list) or len(v) != dim or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v):
            raise OnnxModelError(src, f"input.{key}", f"a list of {dim} finite numbers", v)
        if key == "scale" and any(x == 0 for x in v):
            raise OnnxModelError(src, "input.scale", "non-zero factors", v)
        out[key] = tuple(float(x) for x in v)
    o = d.get("output", {})
    if not isinstance(o, dict) or set(o) - {"kind", "range", "name"}:
        raise OnnxModelError(src, "output", "an object with kind, range and/or name", o)
    kind = o.get("kind", "reward")
    if kind not in OUTPUT_KINDS:
        raise OnnxModelError(src, "output.kind", " or ".join(repr(k) for k in OUTPUT_KINDS), kind)
    out["output"] = kind
    if "range" in o:
        r = o["range"]
        if not (isinstance(r, list) and len(r) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                            and math.isfinite(x) for x in r) and r[1] > r[0]):
            raise OnnxModelError(src, "output.range", "[low, high], finite, high > low", r)
        out["range"] = (float(r[0]), float(r[1]))
    if "name" in o:
        if not isinstance(o["name"], str):
            raise OnnxModelError(src, "output.name", "the name of a graph output", o["name"])
        out["output_name"] = o["name"]
    if "psi" in d:
        if kind != "error":
            raise OnnxModelError(src, "psi", "psi only with output.kind 'error' (a reward output is served "
                                 "as it is)", d["psi"])
        p = d["psi"]
        try:
            out["psi"] = Psi(float(p["l_min"]), float(p["l_max"]), float(p["k"]))
        except (TypeError, KeyError, ValueError) as exc:
            raise OnnxModelError(src, "psi", "{l_min >= 0, l_max > l_min, k > 0}", str(exc)[:80]) from None
    return out


def calibrated_psi(expert_errors: np.ndarray, k: float = 3.0) -> Psi:
    """psi for an error output without one: l_min at the most expert-like sample,
    l_max so that the least expert-like sample gets EXPERT_REWARD_AT_WORST."""
    e = np.asarray(expert_errors, float)
    l_min = float(max(e.min(), 0.0))
    spread = max(float(e.max()) - l_min, 1e-6 * max(1.0, abs(l_min)))
    l_max = l_min + k * spread / math.log(1.0 / EXPERT_REWARD_AT_WORST)
    return Psi(l_min, l_max, k)
