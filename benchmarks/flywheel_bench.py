"""Flywheel benchmarks: cycles, kernels and certified figures at the authors'
kernel budget, both ablations, search recall against off-grid truth, triage
regions, and the wall time of a cycle against a full retrain.

    .venv/bin/python -m benchmarks.flywheel_bench [--smoke] [--out FILE]

Every figure comes twice: on the landscape grid and *certified* on the held-out
probes (a grid twice as fine, 100,000 uniform states and the boundary shell)
with the guard band delta (half the grid spacing): flaws beyond B + delta,
basin losses within B - delta. The certified basin loss is reported against
the model the run started from (all kernels together).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import worlds
from explorer.flywheel.audit import Auditor
from explorer.flywheel.pipeline import (AUTHORS, FIXED_03, CycleSettings, fit_for, probes_for, run_cycle)
from explorer.flywheel.recall import search_recall
from explorer.model.landscape import Landscape
from explorer.model.learning import config_for, train

WORLDS = ("cube", "ridge", "twin-goals", "canyon")
AUTHORS_ON_CUBE = {"iterations": 19, "kernels": 1136, "first_iteration_flaws": 1712,
                   "ablation_iterations": 62}     # the issue's measurements of the authors' code


def run(model, world, settings: CycleSettings, cycles: int, probes) -> dict:
    """Unattended cycles (accept all), each timed, with grid and certified figures
    per cycle; the certified basin loss is against the starting model."""
    land = Landscape(model, world)
    origin = probes.reward(model)
    basin0 = int(land.basin_mask().sum())
    rows, previous, current, total = [], None, model, 0
    grid_zero = cert_zero = None
    for i in range(1, cycles + 1):
        t0 = time.perf_counter()
        res = run_cycle(current, land, previous, "all", settings)
        dt = time.perf_counter() - t0
        r = probes.reward(res.model)
        cert = probes.certify(r, origin, cap=0.10)
        total += res.kernels
        m = res.metrics
        rows.append({"cycle": i, "released": res.released, "kernels": res.kernels, "kernels_total": total,
                     "flaws": int(m["flaws"]), "basin_cells": int(m["basin_cells"]),
                     "basin_worst_cell_loss": float(m.get("basin_worst_cell_loss", 0.0)),
                     "certified_flaws": cert["flaws"], "certified_basin_worst_loss": cert["basin_worst_loss"],
                     "certified_basin_lost": cert["basin_lost"], "regions": res.audit.clusters,
                     "unremovable": len(res.unremovable), "seconds": dt, "messages": res.messages[:2]})
        if res.released:
            if grid_zero is None and m["flaws"] == 0:
                grid_zero = (i, total)
            if cert_zero is None and cert["flaws"] == 0:
                cert_zero = (i, total)
        if not res.released or res.stalled:
            break
        current, previous = res.model, res.audit
    final = rows[-1]
    released = [r for r in rows if r["released"]]
    return {"rows": rows, "basin_cells_start": basin0,
            "cycles_to_grid_zero": grid_zero[0] if grid_zero else None,
            "kernels_at_grid_zero": grid_zero[1] if grid_zero else None,
            "cycles_to_certified_zero": cert_zero[0] if cert_zero else None,
            "kernels_at_certified_zero": cert_zero[1] if cert_zero else None,
            "kernels_total": total, "cycles_run": len(rows),
            "final_flaws": (released[-1] if released else final)["flaws"],
            "final_basin_cells": (released[-1] if released else final)["basin_cells"],
            "final_certified_flaws": (released[-1] if released else final)["certified_flaws"],
            "certified_basin_worst_loss": max((r["certified_basin_worst_loss"] for r in released), default=0.0),
            "unremovable": final["unremovable"],
            "median_cycle_s": float(np.median([r["seconds"] for r in rows]))}


def flywheel(smoke: bool) -> dict:
    torch.set_num_threads(1)
    names = ("cube",) if smoke else WORLDS
    probe_states = 5_000 if smoke else 100_000
    budget_cycles = 3 if smoke else 25
    out: dict = {"authors_on_cube": AUTHORS_ON_CUBE, "worlds": {}}
    for name in names:
        world = worlds.load(name)
        t0 = time.perf_counter()
        model = train(world, config_for(world, steps=300 if smoke else None))
        retrain_s = time.perf_counter() - t0
        settings = CycleSettings(kernel_budget=60, probe_states=probe_states)
        probes = probes_for(world, settings)
        w = {"retrain_s": retrain_s, "probes": len(probes), "delta": probes.delta,
             "budget_60": run(model, world, settings, budget_cycles, probes)}
        w["cycle_vs_retrain"] = w["budget_60"]["median_cycle_s"] / retrain_s
        w["recall"] = search_recall(model, world, probes, fit=fit_for(world, settings))
        w["recall_grid_audit"] = search_recall(model, world, probes)
        if name == "cube":
            rep = Auditor(world).run(model, Landscape(model, world))
            w["first_audit_regions"] = rep.regions
            w["unbudgeted"] = run(model, world, CycleSettings(probe_states=probe_states), 3 if smoke else 10,
                                  probes)
            w["ablation_authors"] = run(model, world, CycleSettings(ablation=AUTHORS, probe_states=probe_states),
                                        3 if smoke else 80, probes)
            w["ablation_fixed_0.3"] = run(model, world, CycleSettings(ablation=FIXED_03, probe_states=probe_states),
                                          3 if smoke else 10, probes)
            if not smoke:
                w["kernels_vs_guard_band"] = [
                    {"delta": d, **{k: v for k, v in run(model, world, CycleSettings(
                        guard_band=d, probe_states=probe_states), 10, probe_set_for(world, d, probe_states)).items()
                        if k != "rows"}}
                    for d in (0.5 * probes.delta, 2.0 * probes.delta)]
        out["worlds"][name] = w
    return out


def probe_set_for(world, delta: float, probe_states: int):
    return probes_for(world, CycleSettings(guard_band=delta, probe_states=probe_states))


def _cyc(v) -> str:
    return "-" if v is None else str(v)


def report(res: dict) -> str:
    a = res["authors_on_cube"]
    lines = ["flywheel at the authors' kernel budget (60 per cycle, accept all); certified = held-out probes, "
             "guard band delta = half the grid spacing",
             "   world        cycles->grid 0 (kernels)  cycles->certified 0 (kernels)  basin cells  "
             "cert. basin worst  unremovable  cycle s  retrain s  ratio"]
    for name, w in res["worlds"].items():
        b = w["budget_60"]
        lines.append(f"   {name:<12} {_cyc(b['cycles_to_grid_zero']):>6} ({_cyc(b['kernels_at_grid_zero']):>5})"
                     f"             {_cyc(b['cycles_to_certified_zero']):>6} ({_cyc(b['kernels_at_certified_zero']):>5})"
                     f"          {b['basin_cells_start']:>4} -> {b['final_basin_cells']:<4}"
                     f"  {b['certified_basin_worst_loss']:>8.1%}        {b['unremovable']:>5}"
                     f"    {b['median_cycle_s']:>5.2f}   {w['retrain_s']:>7.1f}  {w['cycle_vs_retrain']:.2f}")
    cube = res["worlds"].get("cube")
    if cube:
        first = cube["budget_60"]["rows"][0]
        lines.append(f"   authors on the same field: grid zero in {a['iterations']} iterations, {a['kernels']} kernels; "
                     f"first iteration 5169 -> {a['first_iteration_flaws']} flaws; here 5169 -> {first['flaws']} "
                     f"with {first['kernels']} kernels")
        lines.append("\n   cube per cycle (budget 60): cycle, kernels, grid flaws, basin cells, certified flaws, "
                     "certified basin worst loss (vs start)")
        for r in cube["budget_60"]["rows"]:
            lines.append(f"   {r['cycle']:>3} {r['kernels']:>4} {r['flaws']:>6} {r['basin_cells']:>5} "
                         f"{r['certified_flaws']:>7} {r['certified_basin_worst_loss']:>7.1%}")
        lines.append("\n   ablations on cube            cycles->grid 0 (kernels)  final flaws  basin cells  "
                     "certified flaws  cert. basin worst")
        for key, label in (("unbudgeted", "ours, no budget"), ("ablation_authors", AUTHORS),
                           ("ablation_fixed_0.3", FIXED_03)):
            if key in cube:
                b = cube[key]
                lines.append(f"   {label:<28} {_cyc(b['cycles_to_grid_zero']):>6} ({_cyc(b['kernels_at_grid_zero']):>5})"
                             f"            {b['final_flaws']:>6}  {b['basin_cells_start']:>4} -> {b['final_basin_cells']:<4}"
                             f"  {b['final_certified_flaws']:>8}  {b['certified_basin_worst_loss']:>10.1%}")
        for row in cube.get("kernels_vs_guard_band", []):
            lines.append(f"   guard band {row['delta']:.3f}: certified zero after {_cyc(row['cycles_to_certified_zero'])} "
                         f"cycles, {_cyc(row['kernels_at_certified_zero'])} kernels (grid zero: "
                         f"{_cyc(row['kernels_at_grid_zero'])})")
        lines.append("\n   first cube audit: triage regions")
        for r in cube["first_audit_regions"]:
            lines.append(f"   {r['id']:>3} {r['cells']:>5} cells, worst reward {r['worst_reward']:.2f}, "
                         f"distance {r['distance'][0]:.2f}-{r['distance'][1]:.2f}: {r['label']}")
    lines.append("\n   recall against off-grid truth (probes beyond B + delta), equal evaluation budgets: "
                 "overall / near the boundary")
    for name, w in res["worlds"].items():
        for key, label in (("recall", "audit + off-grid red team"), ("recall_grid_audit", "audit, grid only")):
            r = w[key]
            lines.append(f"   {name:<12} {label:<26} budget {r['budget']:>6}: audit {r['audit']['recall']:.0%} / "
                         f"{r['audit']['recall_near_boundary']:.0%}, grid sweep ({r['grid']['resolution']}) "
                         f"{r['grid']['recall']:.0%} / {r['grid']['recall_near_boundary']:.0%}, random "
                         f"{r['random']['recall']:.0%} / {r['random']['recall_near_boundary']:.0%}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.flywheel_bench")
    p.add_argument("--smoke", action="store_true", help="cube only, tiny sizes")
    p.add_argument("--out", default=None, help="also write the results as JSON here")
    args = p.parse_args(argv)
    res = flywheel(args.smoke)
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=2, default=float))
    print(report(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
