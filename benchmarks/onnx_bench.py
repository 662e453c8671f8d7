"""ONNX benchmarks: the same reward model evaluated on a landscape grid by
onnxruntime and by torch (+ numpy), each ratio measured in one run, one thread
each (the GUI worker's setting)."""
from __future__ import annotations

import numpy as np

import worlds
from explorer.flywheel.pipeline import run_cycles
from explorer.model.landscape import Landscape
from explorer.model.learning import config_for, train
from explorer.model.onnx_export import build_graph, expertness_graph
from explorer.model.onnx_model import OnnxRunner

from .common import timeit


def onnx_landscape(smoke: bool) -> dict:
    """E_theta's L on the grid (what a landscape caches): torch vs onnxruntime;
    and the whole served reward of a refined version (E_theta, g_psi, kernels):
    RewardModel.reward (torch + numpy) vs the exported graph in onnxruntime."""
    import onnxruntime as ort
    cube = worlds.load("cube")
    model = train(cube, config_for(cube, steps=300 if smoke else 3000))
    refined = [r for r in run_cycles(model, Landscape(model, cube), 1 if smoke else 3) if r.released]
    served_model = refined[-1].model if refined else model
    l_blob = expertness_graph(model.expertness).SerializeToString()
    s_blob = build_graph(served_model).SerializeToString()
    l_run = OnnxRunner(l_blob, "states", "error", src="E_theta graph")
    s_run = OnnxRunner(s_blob, "states", "reward", src="served graph")
    rows = []
    for n in ((16, 24) if smoke else (20, 64, 128)):
        pts = cube.grid(n).points
        assert np.max(np.abs(l_run(pts) - model.error(pts))) < 1e-5
        t_torch = timeit(lambda: model.error(pts), repeats=3 if smoke else 5)
        t_onnx = timeit(lambda: l_run(pts), repeats=3 if smoke else 5)
        row = {"grid": f"volume {n}^3", "cells": len(pts), "expertness_torch_ms": t_torch["median_s"] * 1e3,
               "expertness_onnx_ms": t_onnx["median_s"] * 1e3,
               "onnx_over_torch": t_onnx["median_s"] / t_torch["median_s"]}
        if n <= 64:      # thousands of kernels on 128^3 cells take minutes either way
            t_served_torch = timeit(lambda: served_model.reward(pts), repeats=3)
            t_served_onnx = timeit(lambda: s_run(pts), repeats=3)
            row.update({"served_torch_numpy_ms": t_served_torch["median_s"] * 1e3,
                        "served_onnx_ms": t_served_onnx["median_s"] * 1e3,
                        "served_onnx_over_torch_numpy": t_served_onnx["median_s"] / t_served_torch["median_s"]})
        rows.append(row)
    return {"onnxruntime": ort.__version__, "kernels": len(served_model.patches),
            "experts": model.expertness.arch.experts, "rows": rows}


def report(res: dict) -> list[str]:
    lines = [f"\n8. ONNX: the same E_theta on the grid, onnxruntime {res['onnxruntime']} vs torch "
             f"(1 thread each); served reward with {res['kernels']} kernels: one graph vs torch + numpy",
             "   grid            cells     L torch ms   L onnx ms   onnx/torch   served t+np ms   "
             "served onnx ms   ratio"]
    for r in res["rows"]:
        served = (f" {r['served_torch_numpy_ms']:>15.2f} {r['served_onnx_ms']:>15.2f} "
                  f"{r['served_onnx_over_torch_numpy']:>7.2f}x" if "served_onnx_ms" in r else "")
        lines.append(f"   {r['grid']:<14} {r['cells']:>8} {r['expertness_torch_ms']:>12.2f} "
                     f"{r['expertness_onnx_ms']:>11.2f} {r['onnx_over_torch']:>11.2f}x" + served)
    return lines
