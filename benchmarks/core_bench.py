"""Core benchmarks (no display): landscape re-evaluation, correcting one
spurious region, audit cost and recall, scaling. Each figure is reported next
to a baseline measured in the same run."""
from __future__ import annotations

import time

import numpy as np
import torch

import worlds
from explorer.flywheel.audit import Auditor
from explorer.refine.data_patch import DataDrivenPatch
from explorer.model.expertness import Architecture, MoEAutoencoder
from explorer.model.flags import make_flags
from explorer.flywheel.pipeline import run_cycles
from explorer.model.landscape import Landscape
from explorer.model.learning import config_for, train
from explorer.model.mapping import Psi
from explorer.model.metrics import in_flags
from explorer.refine import local_patch, regression_check

from .common import exponent, memory_bandwidth, peak_flops, timeit

# The arithmetic bound: a psi edit must read L (clamped) and the kernel field and
# write the reward (12 bytes/cell), doing mul, add, exp, sub, max; a patch edit
# reads the cached unpatched reward and the new field, takes min(field, 1), and
# writes the reward (16 bytes/cell: the capped field is also written).
# Plain arithmetic counts at the measured matmul FLOP/s; exp at its own measured
# throughput (a float32 exp is a polynomial of a dozen operations, not one FLOP).


def reevaluation(smoke: bool) -> dict:
    """Item 1: cached expertness + mapping + kernels vs re-running E_theta."""
    cube = worlds.load("cube")
    model = train(cube, config_for(cube, steps=300 if smoke else 3000))
    peak, bw = peak_flops(), memory_bandwidth(64 if smoke else 256)
    sizes = [("volume", "cube", n) for n in ((20, 64) if smoke else (20, 64, 128))]
    ridge = "ridge" if "ridge" in worlds.available() else None
    terrain_model = None
    if ridge:
        rw = worlds.load(ridge)
        terrain_model = train(rw, config_for(rw, steps=300 if smoke else 3000))
        sizes += [("terrain", ridge, n) for n in ((128,) if smoke else (128, 256, 512))]
    rows = []
    for kind, name, n in sizes:
        world = cube if name == "cube" else worlds.load(name)
        m = model if name == "cube" else terrain_model
        land = Landscape(m, world, n)
        r = land.reward()
        far = np.argmax(r * land.flaw_mask(r) * land.distance)
        patched, _ = local_patch(m, land, make_flags([(tuple(float(v) for v in land.points[far]),
                                                      0.3 * float(np.max(world.bounds_max - world.bounds_min)) / 2)]))
        cells = land.grid.size
        full = timeit(lambda: patched.reward(land.points), repeats=3)
        out = np.empty(cells, np.float32)
        # A psi edit: every slider value is new, so the cached unpatched reward is
        # recomputed from the cached L each time (alternate two psi values).
        psis = [Psi(m.psi.l_min, m.psi.l_max * f, m.psi.k) for f in (0.8, 0.9)]
        state = {"i": 0}

        def psi_edit():
            state["i"] += 1
            land.model.psi = psis[state["i"] % 2]
            return land.reward(out)
        land.set_model(patched.clone(), same_expertness=True)
        t_psi = timeit(psi_edit, repeats=7, min_time=0.05)
        # A patch edit: psi unchanged, the kernel field changed (alternate two fields).
        fields = [land.patch_field.copy(), land.patch_field * 0.5]

        def patch_edit():
            state["i"] += 1
            land._patch_field[:] = fields[state["i"] % 2]
            land._capped_at = -1
            return land.reward(out)
        t_patch = timeit(patch_edit, repeats=7, min_time=0.05)
        exp_per_cell = _exp_seconds_per_element()
        for label, t, flops, exps, nbytes in (("psi edit", t_psi, 5, 1, 12), ("patch edit", t_patch, 3, 0, 16)):
            bound_compute = cells * (flops / peak + exps * exp_per_cell)
            bound_memory = cells * nbytes / bw
            bound = max(bound_compute, bound_memory)
            rows.append({"grid": f"{kind} {n}^{3 if kind == 'volume' else 2}", "edit": label, "cells": cells,
                         "cached_ms": t["median_s"] * 1e3,
                         "cached_spread_ms": [t["min_s"] * 1e3, t["max_s"] * 1e3],
                         "rerun_E_theta_ms": full["median_s"] * 1e3,
                         "speedup_vs_rerun": full["median_s"] / t["median_s"],
                         "bound_ms": bound * 1e3,
                         "bound_kind": "memory" if bound_memory > bound_compute else "compute",
                         "ratio_to_bound": t["median_s"] / bound})
    psi_rows = [r for r in rows if r["edit"] == "psi edit" and r["grid"].startswith("volume")]
    return {"peak_flops": peak, "memory_bandwidth": bw, "exp_ns_per_element": exp_per_cell * 1e9,
            "rows": rows, "exponent_cached": exponent([r["cells"] for r in psi_rows],
                                                      [r["cached_ms"] for r in psi_rows])}


def _exp_seconds_per_element() -> float:
    """Throughput of float32 exp on in-cache data: the one transcendental per cell."""
    a = np.random.default_rng(0).uniform(-5, 0, 16384).astype(np.float32)
    out = np.empty_like(a)
    t = timeit(lambda: np.exp(a, out=out), repeats=7, min_time=0.02)
    return t["min_s"] / len(a)


def _retrain_with_negatives(world, negatives, config, basin_pts, basin_allowed, margin, good_enough,
                            chunk: int = 1000, max_steps: int = 12000):
    """The naive baseline: a new E_theta from scratch, flagged states as negatives.
    Trains in chunks until ``good_enough(net)`` (equal correction quality) or
    ``max_steps``; returns (net, steps, reached)."""
    torch.manual_seed(config.seed)
    net = MoEAutoencoder(Architecture(3, config.experts, config.bottleneck), world.bounds_min, world.bounds_max)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    x = torch.as_tensor(world.expert_samples())
    neg = torch.as_tensor(negatives)
    bp, ba = torch.as_tensor(basin_pts), torch.as_tensor(basin_allowed)
    steps = 0
    while steps < max_steps:
        net.train()
        for _ in range(chunk):
            opt.zero_grad()
            loss = net.error(x).mean() + 10 * torch.relu(margin - net.error(neg)).mean() \
                + 10 * torch.relu(net.error(bp) - ba).sum()
            loss.backward()
            opt.step()
        steps += chunk
        net.eval()
        if good_enough(net):
            return net, steps, True
    return net, steps, False


def correction(smoke: bool) -> dict:
    """Item 2: one flag on the spurious region; local patch and data-driven
    patching vs retraining E_theta from scratch with the flagged states as negatives."""
    cube = worlds.load("cube")
    model = train(cube, config_for(cube))
    land = Landscape(model, cube)
    before = land.reward()
    far = int(np.argmax(before * land.flaw_mask(before) * land.distance))
    flags = make_flags([(tuple(float(v) for v in land.points[far]), 0.5)])
    inside = in_flags(land.points, flags)

    def quality(m):
        land.set_model(m)
        r = land.reward()
        check = regression_check(before, land)
        return {"flag_max_reward": float(r[inside].max()), "flag_cells_above_floor": int((r[inside] > cube.floor).sum()),
                "basin_retention": check["basin_retention"], "basin_cells": check["basin_cells_after"],
                "flaws": check["flaws_after"]}

    land.set_model(model)
    t_local = timeit(lambda: local_patch(model, Landscape(model, cube), flags), repeats=5)
    t_local_cached = timeit(lambda: local_patch(model, land, flags), repeats=5)
    local_model, _ = local_patch(model, land, flags)
    q_local = quality(local_model)
    land.set_model(model)

    def data():
        job = DataDrivenPatch(model, land, flags)
        for _ in job.steps():
            pass
        return job.result()
    t_data = timeit(data, repeats=3 if not smoke else 1, warmup=0)
    data_model = data()
    q_data = quality(data_model)
    land.set_model(model)
    job = DataDrivenPatch(model, land, flags)     # same D_neg and anchors for the baseline
    retrained = model.clone()

    def good_enough(net) -> bool:
        # Equal quality: nothing inside the flag above the floor, basin kept as well.
        retrained.expertness = net
        q = quality(retrained)
        return q["flag_cells_above_floor"] == 0 and q["basin_retention"] >= min(q_data["basin_retention"], 0.99)

    t0 = time.perf_counter()
    net, steps, reached = _retrain_with_negatives(
        cube, job.negatives, model.config, job.basin_pts, job.basin_allowed, job.margin, good_enough,
        chunk=300 if smoke else 1000, max_steps=600 if smoke else 12000)
    t_retrain = time.perf_counter() - t0
    retrained.expertness = net
    q_retrain = quality(retrained)
    q_retrain.update({"steps": steps, "reached_equal_quality": reached})
    return {"local_patch_ms": t_local_cached["median_s"] * 1e3,
            "local_patch_with_landscape_ms": t_local["median_s"] * 1e3,
            "data_driven_s": t_data["median_s"], "retrain_s": t_retrain,
            "local_speedup": t_retrain / t_local_cached["median_s"],
            "data_speedup": t_retrain / t_data["median_s"],
            "quality": {"local": q_local, "data": q_data, "retrain": q_retrain}}


def audit_cost(smoke: bool) -> dict:
    """Item 6: one audit's cost and a short unattended flywheel.

    Search recall is not measured here: against the grid the audit sweeps, it is
    100% by construction. The flywheel benchmark measures it against held-out,
    off-grid truth, at equal evaluation budgets (explorer.flywheel.recall)."""
    out = {}
    names = ["cube"] if smoke else ["cube"] + (["ridge"] if "ridge" in worlds.available() else [])
    for name in names:
        world = worlds.load(name)
        model = train(world, config_for(world, steps=300 if smoke else 3000))
        land = Landscape(model, world)
        aud = Auditor(world)
        t = timeit(lambda: aud.run(model, land), repeats=3)
        rep = aud.run(model, land)
        t0 = time.perf_counter()
        cycles = run_cycles(model, Landscape(model, world), 2 if smoke else 20)
        t_cycles = time.perf_counter() - t0
        released = [c for c in cycles if c.released]
        truth = land.flaw_mask()
        out[name] = {"audit_ms": t["median_s"] * 1e3, "evaluations": rep.evaluations,
                     "findings": len(rep.findings), "flawed_cells": int(truth.sum()),
                     "cycles_to_clean": len(released), "flywheel_s": t_cycles,
                     "final_flaws": int(released[-1].metrics["flaws"]) if released else int(truth.sum())}
    return out


def scaling(smoke: bool) -> dict:
    """Item 7: growth with the number of flags and of expert samples."""
    cube = worlds.load("cube")
    model = train(cube, config_for(cube, steps=300 if smoke else 3000))
    land = Landscape(model, cube)
    r = land.reward()
    order = np.argsort(-(r * land.flaw_mask(r) * land.distance))
    flags_n = (1, 4, 16) if smoke else (1, 4, 16, 64)
    t_flags = []
    for n in flags_n:
        flags = make_flags([(tuple(float(v) for v in land.points[i]), 0.2)
                            for i in order[:: max(1, len(order) // n)][:n]])
        t_flags.append(timeit(lambda: local_patch(model, land, flags), repeats=3)["median_s"])
    samples_n = (16, 256) if smoke else (16, 64, 256, 1024, 4096)
    t_train, t_audit = [], []
    for n in samples_n:
        w = worlds.load("cube")
        w.expert_count = n
        w.expert_jitter = 0.02
        w._cache.clear()
        cfg = config_for(w, steps=100)
        t0 = time.perf_counter()
        m = train(w, cfg)
        t_train.append((time.perf_counter() - t0) / 100)
        t_audit.append(timeit(lambda: Auditor(w).run(m), repeats=2)["median_s"])
    return {"flags": list(flags_n), "local_patch_s": t_flags, "exponent_flags": exponent(flags_n, t_flags),
            "expert_samples": list(samples_n), "train_step_s": t_train,
            "exponent_train_step": exponent(samples_n, t_train),
            "audit_s": t_audit, "exponent_audit": exponent(samples_n, t_audit)}
