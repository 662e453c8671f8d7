"""Checking and running a foreign ONNX graph (the part of the import that
touches onnx and onnxruntime).

``inspect_graph`` refuses anything but one float32 input (n, d) and one float
output (n,) or (n, 1), tensors stored outside the file, and graphs the ONNX
checker rejects, each with one line naming the input or output at fault.
``OnnxRunner`` runs a checked graph on the CPU in batches (padding the last one
when the graph fixes its batch size). onnxruntime interprets ONNX operators
only: nothing in a model file is executed as Python.
"""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

from worlds.errors import InputError

from explorer.model.expertness import EVAL_BATCH

THREADS = 1                          # onnxruntime threads, as torch's in the GUI worker


class OnnxModelError(InputError):
    """An ONNX model or its sidecar that cannot be used (one line, names the fault)."""


def _tensors(graph: onnx.GraphProto):
    """Every tensor stored in a graph, its subgraphs included."""
    yield from graph.initializer
    for sp in graph.sparse_initializer:
        yield sp.values
        yield sp.indices
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _tensors(attr.g)
            for g in attr.graphs:
                yield from _tensors(g)


def _shape(vi: onnx.ValueInfoProto) -> list:
    """Dims as ints (known), str (named) or None (unknown); None if no shape at all."""
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim]


def _fmt(shape, elem: int) -> str:
    dims = "?" if shape is None else "(" + ", ".join("n" if d is None else str(d) for d in shape) + ")"
    return f"{onnx.helper.tensor_dtype_to_np_dtype(elem) if elem else 'untyped'} {dims}"


def inspect_graph(blob: bytes, src: str, dim: int = 3,
                  output_name: str | None = None) -> tuple[onnx.ModelProto, str, str, int]:
    """Parse and check a graph: one float32 input (n, dim), one float output
    (n,) or (n, 1). Returns (model, input name, output name, fixed batch or 0)."""
    model = onnx.ModelProto()
    try:
        model.ParseFromString(blob)
    except Exception as exc:                       # protobuf raises DecodeError and others
        raise OnnxModelError(src, "", "an ONNX model file", f"unparseable ({str(exc)[:80]})") from None
    if not model.HasField("graph"):
        raise OnnxModelError(src, "", "an ONNX model file (with a graph)", "no graph")
    for t in _tensors(model.graph):
        if t.data_location == onnx.TensorProto.EXTERNAL:
            raise OnnxModelError(src, f"tensor '{t.name}'", "tensors stored inside the file "
                                 "(re-save without external data)", "external data")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise OnnxModelError(src, "", "a valid ONNX graph", first) from None
    g = model.graph
    init = {t.name for t in g.initializer}
    inputs = [i for i in g.input if i.name not in init]
    if len(inputs) != 1:
        raise OnnxModelError(src, "inputs", f"exactly one input: float32 states (n, {dim})",
                             [i.name for i in inputs])
    x = inputs[0]
    shape, elem = _shape(x), x.type.tensor_type.elem_type
    # A named or unknown state dimension is accepted here and checked by the probe run.
    if elem != onnx.TensorProto.FLOAT or shape is None or len(shape) != 2 \
            or not (shape[1] == dim or shape[1] is None or isinstance(shape[1], str)):
        raise OnnxModelError(src, f"input '{x.name}'", f"float32 states of shape (n, {dim})",
                             _fmt(shape, elem))
    batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else 0
    outs = list(g.output)
    if output_name is not None:
        outs = [o for o in outs if o.name == output_name]
        if not outs:
            raise OnnxModelError(src, "output.name", "the name of one of the graph's outputs (" +
                                 ", ".join(o.name for o in g.output) + ")", output_name)
    if len(outs) != 1:
        raise OnnxModelError(src, "outputs", "exactly one output, the reward (n,) or (n, 1); or name "
                             "one in the sidecar's output.name", [o.name for o in outs])
    y = outs[0]
    shape, elem = _shape(y), y.type.tensor_type.elem_type
    ok_type = elem in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE)
    ok_shape = shape is None or len(shape) == 1 or (
        len(shape) == 2 and (shape[1] in (1, None) or isinstance(shape[1], str)))
    if not (ok_type and ok_shape):
        raise OnnxModelError(src, f"output '{y.name}'", "float32 rewards of shape (n,) or (n, 1)",
                             _fmt(shape, elem))
    return model, x.name, y.name, batch


class OnnxRunner:
    """An onnxruntime session on the CPU, run in batches (padding the last one
    when the graph fixes its batch size)."""

    def __init__(self, blob: bytes, input_name: str, output_name: str, batch: int = 0,
                 src: str = "model.onnx", dim: int = 3):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = THREADS
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(blob, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:                     # onnxruntime raises its own Fail/InvalidGraph types
            msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise OnnxModelError(src, "", "a graph onnxruntime can run (standard operators only)",
                                 msg[:160]) from None
        self.input_name, self.output_name, self.batch, self.src, self.dim = input_name, output_name, batch, src, dim

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        n = len(x)
        step = self.batch or EVAL_BATCH
        out = np.empty(n, np.float32)
        for i in range(0, n, step):
            chunk = x[i:i + step]
            m = len(chunk)
            if self.batch and m < self.batch:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], self.batch - m, axis=0)])
            try:
                y = self.session.run([self.output_name], {self.input_name: chunk})[0]
            except Exception as exc:
                msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
                raise OnnxModelError(self.src, f"input '{self.input_name}'",
                                     f"a graph that runs on float32 states ({len(chunk)}, {self.dim})",
                                     msg[:160]) from None
            y = np.asarray(y)
            if y.shape not in ((len(chunk),), (len(chunk), 1)):
                raise OnnxModelError(self.src, f"output '{self.output_name}'",
                                     f"shape ({len(chunk)},) or ({len(chunk)}, 1) for {len(chunk)} states",
                                     tuple(y.shape))
            out[i:i + m] = y.reshape(-1)[:m]
        return out


def non_finite(out: np.ndarray, states: np.ndarray) -> str | None:
    """'nan at state (x, y, z) (and k more)' for the first non-finite output, or None."""
    ok = np.isfinite(out)
    if ok.all():
        return None
    i = int(np.argmin(ok))
    more = int((~ok).sum()) - 1
    where = ", ".join(f"{v:+.3f}" for v in np.asarray(states)[i])
    return f"{out[i]} at state ({where})" + (f" and {more} more" if more else "")
