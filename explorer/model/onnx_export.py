"""The served reward as one ONNX graph, so any runtime can serve the corrected reward.

    states (n, 3) float32  ->  reward (n,) float32
    reward = max(0, g_psi(L(states)) - min(kernel field(states), 1))

L is the expertness module written out as ONNX operators (E_theta's MoE
autoencoder, the AfD discriminator ensemble and occupancy ratio) or, for an
imported model, its own graph inlined with the input scaling and the output
mapping around it. g_psi and the suppression kernels follow, the kernels with
the explorer's truncation at ``patches.TRUNCATE`` bandwidths (a kernel's
contribution there is exp(-8) = 3e-4 of its amplitude, far above the 1e-5
agreement promised, so it is replicated, not approximated).

``export_onnx`` builds the graph with ``onnx.helper`` (no torch tracing), checks
it, and verifies it: onnxruntime's output is compared with the explorer's own
reward on the world's grid and on random states, and the largest differences
are reported (and stored in the graph's metadata).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from worlds import World
from worlds.errors import InputError

from explorer.model.discriminators import DiscriminatorMLP, OccupancyRatio
from explorer.model.expertness import MoEAutoencoder
from explorer.model.mapping import Psi
from explorer.model.onnx_model import TINY, OnnxExpertness, OnnxRunner
from explorer.model.patches import TRUNCATE, PatchSet
from explorer.model.reward_model import RewardModel

OPSET = 17                 # our own graphs; an imported graph keeps its own opset
MIN_IMPORTED_OPSET = 9     # Where and broadcasting Greater/Max/Min
IR_VERSION = 8             # readable by onnxruntime >= 1.10
TOLERANCE = 1e-5
INPUT, OUTPUT = "states", "reward"


class ExportError(InputError):
    """A model that cannot be written as ONNX (one line, says why)."""


class _Graph:
    """Nodes and constants with unique names."""

    def __init__(self, prefix: str = "rw/"):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.prefix = prefix
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{self.prefix}{hint}_{self._n}"

    def const(self, value, hint: str = "c", dtype=np.float32) -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, hint: str | None = None, **attrs) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    def flat(self, x: str) -> str:
        """(n, 1) or (n,) -> (n,), by Reshape (valid in every opset we meet)."""
        return self.op("Reshape", x, self.const(np.array([-1], np.int64), "shape", np.int64), hint="flat")


# ------------------------------------------------------------------ the pieces
def _normalise(g: _Graph, x: str, lo: np.ndarray, hi: np.ndarray) -> str:
    """2 (s - lo) / (hi - lo) - 1, in torch's order of operations."""
    d = g.op("Sub", x, g.const(lo, "lo"))
    d = g.op("Mul", g.const(np.float32(2.0)), d)
    d = g.op("Div", d, g.const(np.asarray(hi, np.float32) - np.asarray(lo, np.float32), "span"))
    return g.op("Sub", d, g.const(np.float32(1.0)))


def _moe_error(g: _Graph, net: MoEAutoencoder, states: str) -> str:
    """E_theta's L(s) = mean((recon - x)^2): the per-expert einsums as block matrices."""
    p = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    e, b, d = net.arch.experts, net.arch.bottleneck, net.arch.dim
    x = _normalise(g, states, p["lo"], p["hi"])
    w1 = p["enc_w"].reshape(e * b, d).T                       # (d, e*b)
    h = g.op("Relu", g.op("Add", g.op("MatMul", x, g.const(w1, "enc_w")), g.const(p["enc_b"].reshape(-1), "enc_b")))
    w2 = np.zeros((e * b, e * d), np.float32)                 # block diagonal: expert i's decoder
    for i in range(e):
        w2[i * b:(i + 1) * b, i * d:(i + 1) * d] = p["dec_w"][i].T
    per = g.op("Add", g.op("MatMul", h, g.const(w2, "dec_w")), g.const(p["dec_b"].reshape(-1), "dec_b"))
    logits = g.op("Add", g.op("MatMul", x, g.const(p["gate_w"].T, "gate_w")), g.const(p["gate_b"], "gate_b"))
    gate = g.op("Softmax", logits, axis=1)
    spread = np.kron(np.eye(e, dtype=np.float32), np.ones((1, d), np.float32))   # (e, e*d)
    mix = np.tile(np.eye(d, dtype=np.float32), (e, 1))                           # (e*d, d)
    weighted = g.op("Mul", g.op("MatMul", gate, g.const(spread, "spread")), per)
    recon = g.op("MatMul", weighted, g.const(mix, "mix"))
    diff = g.op("Sub", recon, x)
    sq = g.op("Mul", diff, diff)
    total = g.op("MatMul", sq, g.const(np.ones((d, 1), np.float32), "ones"))
    return g.flat(g.op("Div", total, g.const(np.float32(d))))


def _softplus(g: _Graph, z: str) -> str:
    """log(1 + e^z) without overflow: relu(z) + log(1 + exp(-|z|))."""
    tail = g.op("Log", g.op("Add", g.const(np.float32(1.0)), g.op("Exp", g.op("Neg", g.op("Abs", z)))))
    return g.op("Add", g.op("Relu", z), tail)


def _discriminator_error(g: _Graph, net: DiscriminatorMLP, states: str) -> str:
    """L = softplus(-mean of the members' logits); members as block matrices."""
    p = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    m, hdim, d = net.arch.members, net.arch.hidden, net.arch.dim
    x = _normalise(g, states, p["lo"], p["hi"])
    w1 = p["w1"].reshape(m * hdim, d).T
    h = g.op("Relu", g.op("Add", g.op("MatMul", x, g.const(w1, "w1")), g.const(p["b1"].reshape(-1), "b1")))
    w2 = np.zeros((m * hdim, m * hdim), np.float32)
    w3 = np.zeros((m * hdim, m), np.float32)
    for i in range(m):
        w2[i * hdim:(i + 1) * hdim, i * hdim:(i + 1) * hdim] = p["w2"][i].T
        w3[i * hdim:(i + 1) * hdim, i] = p["w3"][i]
    h = g.op("Relu", g.op("Add", g.op("MatMul", h, g.const(w2, "w2")), g.const(p["b2"].reshape(-1), "b2")))
    logits = g.op("Add", g.op("MatMul", h, g.const(w3, "w3")), g.const(p["b3"], "b3"))
    mean = g.op("Div", g.op("MatMul", logits, g.const(np.ones((m, 1), np.float32), "ones")),
                g.const(np.float32(m)))
    return g.flat(_softplus(g, g.op("Neg", mean)))


def _log_mixture(g: _Graph, ground: str, mean: np.ndarray, chol: np.ndarray) -> str:
    """log of an equal mixture of Gaussians (means (K, g), Cholesky factors (K, g, g)),
    with each factor's inverse precomputed in float64."""
    k, gd = mean.shape
    inv_t = np.linalg.inv(chol.astype(np.float64)).transpose(0, 2, 1).astype(np.float32)   # (K, g, g)
    diff = g.op("Sub", g.op("Unsqueeze", ground, g.const(np.array([1], np.int64), "ax", np.int64)),
                g.const(mean, "mean"))                                                         # (n, K, g)
    diff = g.op("Unsqueeze", diff, g.const(np.array([2], np.int64), "ax", np.int64))           # (n, K, 1, g)
    z = g.op("MatMul", diff, g.const(inv_t, "chol_inv"))                                     # (n, K, 1, g)
    maha = g.op("ReduceSum", g.op("Mul", z, z), g.const(np.array([2, 3], np.int64), "ax", np.int64), keepdims=0)
    logdet = np.log(np.diagonal(chol.astype(np.float64), axis1=-2, axis2=-1)).sum(-1)
    bias = (-logdet - 0.5 * gd * np.log(2 * np.pi)).astype(np.float32)
    logp = g.op("Add", g.op("Mul", g.const(np.float32(-0.5)), maha), g.const(bias, "bias"))  # (n, K)
    top = g.op("ReduceMax", logp, axes=[1], keepdims=1)
    lse = g.op("Log", g.op("ReduceSum", g.op("Exp", g.op("Sub", logp, top)),
                           g.const(np.array([1], np.int64), "ax", np.int64), keepdims=1))
    return g.flat(g.op("Sub", g.op("Add", lse, top), g.const(np.float32(np.log(k)))))


def _occupancy_error(g: _Graph, net: OccupancyRatio, states: str) -> str:
    p = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
    ground = g.op("Slice", states, g.const(np.array([0], np.int64), "s", np.int64),
                  g.const(np.array([net.arch.ground], np.int64), "e", np.int64),
                  g.const(np.array([1], np.int64), "a", np.int64))
    logit = g.op("Sub", _log_mixture(g, ground, p["pos_mean"], p["pos_chol"]),
                 _log_mixture(g, ground, p["neg_mean"], p["neg_chol"]))
    return _softplus(g, g.op("Neg", logit))


def _imported_error(g: _Graph, net: OnnxExpertness, states: str) -> tuple[str, onnx.ModelProto]:
    """Scale the states into the imported graph's input, run it (inlined, names
    prefixed), and map its output to L as ``expertness_from_output`` does."""
    a = net.arch
    x = g.op("Mul", g.op("Sub", states, g.const(np.asarray(a.shift, np.float32), "shift")),
             g.const(np.asarray(a.scale, np.float32), "scale"))
    inner = onnx.ModelProto()
    inner.ParseFromString(net.model_bytes())
    # Rename the graph input to our scaled tensor: the imported nodes then read it.
    g.nodes.append(helper.make_node("Identity", [x], ["imported/" + a.input_name], name=g.name("to_imported")))
    out = g.flat("imported/" + a.output_name)
    out_elem = next(o.type.tensor_type.elem_type for o in inner.graph.output if o.name == a.output_name)
    if out_elem != TensorProto.FLOAT:
        out = g.op("Cast", out, to=TensorProto.FLOAT)
    if a.output == "reward":
        r = g.op("Div", g.op("Sub", out, g.const(np.float32(a.low))), g.const(np.float32(a.high - a.low)))
        r = g.op("Min", g.op("Max", r, g.const(np.float32(TINY))), g.const(np.float32(1.0)))
        return g.op("Neg", g.op("Log", r)), inner
    return g.op("Max", g.op("Sub", out, g.const(np.float32(a.low))), g.const(np.float32(0.0))), inner


def mapping_nodes(g: _Graph, psi: Psi, error: str) -> str:
    """g_psi(L) = clip(exp(-k (L - l_min) / (l_max - l_min)), 0, 1), as ``mapping.g_psi``."""
    x = g.op("Div", g.op("Sub", error, g.const(np.float32(psi.l_min))), g.const(np.float32(psi.l_max - psi.l_min)))
    r = g.op("Exp", g.op("Mul", g.const(np.float32(-psi.k)), x))
    return g.op("Min", g.op("Max", r, g.const(np.float32(0.0))), g.const(np.float32(1.0)))


def kernel_nodes(g: _Graph, states: str, patches: PatchSet) -> str:
    """sum_i a_i exp(-q_i / 2), q_i = |s - c_i|^2 / bw_i^2, zero where q_i > TRUNCATE^2, with
    the arithmetic of ``patches.kernel_field``: per-axis differences (dx^2 + dy^2 + dz^2),
    never the expansion |s|^2 - 2 s.c + |c|^2, which loses ~1e-7 |s|^2 to cancellation --
    0.006 of reward under a narrow kernel of amplitude 30. Kept as one function so another
    kernel shape changes one place."""
    c = patches.centers.astype(np.float32)
    bw = patches.bandwidths.astype(np.float32)
    amp = patches.amplitudes.astype(np.float32)
    bw2 = np.array([np.float32(float(b) * float(b)) for b in bw], np.float32)    # as kernel_field rounds it
    d2 = None
    for k in range(c.shape[1]):
        pick = np.zeros((c.shape[1], 1), np.float32)
        pick[k, 0] = 1.0                              # states[:, k], exactly
        dk = g.op("Sub", g.op("MatMul", states, g.const(pick, f"axis{k}")), g.const(c[:, k][None, :], f"c{k}"))
        sq = g.op("Mul", dk, dk)
        d2 = sq if d2 is None else g.op("Add", d2, sq)
    q = g.op("Div", d2, g.const(bw2[None, :], "bw2"))
    w = g.op("Exp", g.op("Mul", q, g.const(np.float32(-0.5))))
    far = g.op("Greater", q, g.const(np.float32(TRUNCATE ** 2)))
    w = g.op("Where", far, g.const(np.float32(0.0)), w)
    return g.flat(g.op("MatMul", w, g.const(amp[:, None], "amplitudes")))


def served_nodes(g: _Graph, reward: str, field: str) -> str:
    """max(0, r - min(field, 1)), as ``patches.apply_patches``."""
    capped = g.op("Min", field, g.const(np.float32(1.0)))
    return g.op("Max", g.op("Sub", reward, capped), g.const(np.float32(0.0)))


# ------------------------------------------------------------------ the graph
def expertness_graph(net) -> onnx.ModelProto:
    """L(states) alone as a graph (E_theta or an AfD module): what a landscape
    caches, for timing and for runtimes that apply the mapping themselves."""
    g = _Graph()
    makers = {MoEAutoencoder: _moe_error, DiscriminatorMLP: _discriminator_error, OccupancyRatio: _occupancy_error}
    if type(net) not in makers:
        raise ExportError(type(net).__name__, "expertness", "a module of our own kinds", type(net).__name__)
    err = makers[type(net)](g, net, INPUT)
    g.nodes.append(helper.make_node("Identity", [err], ["error"], name="expertness"))
    graph = helper.make_graph(g.nodes, "expertness",
                              [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["n", 3])],
                              [helper.make_tensor_value_info("error", TensorProto.FLOAT, ["n"])], initializer=g.inits)
    out = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                            producer_name="reward-landscape-explorer")
    out.ir_version = IR_VERSION
    return out


def build_graph(model: RewardModel) -> onnx.ModelProto:
    """The served reward of ``model`` as one ONNX model (not yet verified)."""
    net = model.expertness
    g = _Graph()
    inner = None
    if isinstance(net, MoEAutoencoder):
        err = _moe_error(g, net, INPUT)
    elif isinstance(net, DiscriminatorMLP):
        err = _discriminator_error(g, net, INPUT)
    elif isinstance(net, OccupancyRatio):
        err = _occupancy_error(g, net, INPUT)
    elif isinstance(net, OnnxExpertness):
        err, inner = _imported_error(g, net, INPUT)
    else:
        raise ExportError(type(net).__name__, "expertness", "a module the exporter knows (MoE autoencoder, "
                          "discriminator-mlp, occupancy-ratio, imported ONNX)", type(net).__name__)
    r = mapping_nodes(g, model.psi, err)
    if len(model.patches):
        r = served_nodes(g, r, kernel_nodes(g, INPUT, model.patches))
    g.nodes.append(helper.make_node("Identity", [r], [OUTPUT], name="served_reward"))
    batch: int | str = "n"
    nodes, inits, sparse, extra_inputs, functions = [], [], [], [], []
    opsets = [helper.make_opsetid("", OPSET)]
    ir = IR_VERSION
    if inner is not None:
        default = next((o.version for o in inner.opset_import if o.domain in ("", "ai.onnx")), None)
        if default is None or default < MIN_IMPORTED_OPSET:
            raise ExportError("imported model", "opset_import", f"ONNX opset >= {MIN_IMPORTED_OPSET} for export",
                              default)
        ig = onnx.compose.add_prefix_graph(inner.graph, "imported/")
        init_names = {t.name for t in ig.initializer}
        nodes.extend(ig.node)
        inits.extend(ig.initializer)
        sparse.extend(ig.sparse_initializer)
        extra_inputs = [i for i in ig.input if i.name in init_names]   # old IR: initializers listed as inputs
        functions = list(inner.functions)
        opsets = list(inner.opset_import)
        ir = inner.ir_version
        if net.arch.batch:
            batch = net.arch.batch
    # Ours first: the Identity into the imported graph must precede its nodes.
    graph = helper.make_graph(_ordered(g.nodes, nodes), "served_reward",
                              [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [batch, 3]), *extra_inputs],
                              [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [batch])],
                              initializer=g.inits + inits, sparse_initializer=sparse)
    out = helper.make_model(graph, opset_imports=opsets, functions=functions,
                            producer_name="reward-landscape-explorer")
    out.ir_version = ir
    out.doc_string = ("Served reward of a reward-landscape-explorer artifact: reward(states) = "
                      "max(0, g_psi(L(states)) - min(sum_i a_i exp(-|s - c_i|^2 / (2 bw_i^2)) "
                      f"[|s - c_i| <= {TRUNCATE:g} bw_i], 1)), states float32 (n, 3), reward float32 (n,)")
    helper.set_model_props(out, {"world": model.world_name, "world_sha256": model.world_hash,
                                 "version": str(model.version), "psi": json.dumps(model.psi.to_dict()),
                                 "patches": str(len(model.patches)),
                                 "expertness": type(net).__name__})
    return out


def _ordered(ours: list, imported: list) -> list:
    """Topological order: our nodes up to the hand-over into the imported graph,
    the imported graph, then the rest of ours."""
    cut = next((i for i, n in enumerate(ours) if n.output and n.output[0].startswith("imported/")), None)
    if cut is None:
        return list(ours) + list(imported)
    return list(ours[:cut + 1]) + list(imported) + list(ours[cut + 1:])


# ------------------------------------------------------------------ export + check
@dataclass
class ExportReport:
    path: str | None
    bytes: int
    nodes: int
    kernels: int
    grid_states: int
    random_states: int
    max_abs_diff_grid: float
    max_abs_diff_random: float
    tolerance: float = TOLERANCE

    @property
    def passed(self) -> bool:
        return max(self.max_abs_diff_grid, self.max_abs_diff_random) <= self.tolerance

    def to_dict(self) -> dict:
        return {**self.__dict__, "passed": self.passed}


def run_exported(blob: bytes, states: np.ndarray, batch: int = 0) -> np.ndarray:
    """onnxruntime's reward for ``states`` from an exported graph."""
    return OnnxRunner(blob, INPUT, OUTPUT, batch, "exported graph")(states)


def verify(blob: bytes, model: RewardModel, world: World, random_states: int = 10_000,
           seed: int = 0, batch: int = 0) -> tuple[float, float, int]:
    """Largest |onnxruntime - explorer| on the world's grid (against the landscape's
    cached arithmetic) and on seeded random states (against ``model.reward``)."""
    from explorer.model.landscape import Landscape
    land = Landscape(model, world)
    grid = land.points
    served = run_exported(blob, grid, batch)
    d_grid = max(float(np.max(np.abs(served - land.reward()))), float(np.max(np.abs(served - model.reward(grid)))))
    rng = np.random.default_rng(seed)
    dims = 2 if world.is_terrain else 3
    pts = world.to_state(rng.uniform(world.bounds_min[:dims], world.bounds_max[:dims],
                                     (random_states, dims))).astype(np.float32)
    d_rand = float(np.max(np.abs(run_exported(blob, pts, batch) - model.reward(pts)))) if random_states else 0.0
    return d_grid, d_rand, len(grid)


def export_onnx(model: RewardModel, world: World, path: str | Path | None = None,
                random_states: int = 10_000, seed: int = 0) -> tuple[bytes, ExportReport]:
    """Build, check, verify and (if ``path``) write the served reward as ONNX.
    A graph that disagrees with the explorer by more than TOLERANCE is not
    written: ExportError says by how much."""
    proto = build_graph(model)
    try:
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise ExportError("exported graph", "", "a valid ONNX graph", str(exc).splitlines()[0][:160]) from None
    batch = model.expertness.arch.batch if isinstance(model.expertness, OnnxExpertness) else 0
    blob = proto.SerializeToString()
    d_grid, d_rand, n_grid = verify(blob, model, world, random_states, seed, batch)
    helper.set_model_props(proto, {**{p.key: p.value for p in proto.metadata_props},
                                   "verified_max_abs_diff_grid": f"{d_grid:.3g}",
                                   "verified_max_abs_diff_random": f"{d_rand:.3g}"})
    blob = proto.SerializeToString()
    report = ExportReport(str(path) if path else None, len(blob), len(proto.graph.node), len(model.patches),
                          n_grid, random_states, d_grid, d_rand)
    if not report.passed:
        raise ExportError("exported graph", "reward", f"agreement with the explorer within {TOLERANCE:g}",
                          f"max difference {max(d_grid, d_rand):.3g}")
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(blob)
        tmp.replace(path)
    return blob, report
