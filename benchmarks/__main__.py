"""Run the benchmark suite: `.venv/bin/python -m benchmarks [--smoke] [--gui] [--out FILE]`.

Prints a table and writes JSON (default benchmarks/results.json). Torch threads
are set explicitly (default 1, the GUI worker's setting) and reported.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from .common import machine


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("--smoke", action="store_true", help="tiny sizes (seconds): for CI")
    p.add_argument("--gui", action="store_true", help="also run the Qt window benchmarks (needs X / xvfb-run)")
    p.add_argument("--only", nargs="*", help="run only these sections")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from . import agent_bench, core_bench, display_bench, flywheel_bench, onnx_bench
    sections = {"reevaluation": core_bench.reevaluation, "correction": core_bench.correction,
                "audit": core_bench.audit_cost, "scaling": core_bench.scaling,
                "display": lambda smoke: display_bench.display_update(smoke=smoke),
                "onnx": onnx_bench.onnx_landscape, "agent": agent_bench.ppo_speed,
                "flywheel": flywheel_bench.flywheel}
    if args.gui:
        from . import gui_bench
        sections["gui"] = gui_bench.run
    results = {"machine": machine(), "smoke": args.smoke, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for name, fn in sections.items():
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        results[name] = fn(args.smoke)
        results[name + "_seconds"] = time.perf_counter() - t0
        print(f"[{name}: {results[name + '_seconds']:.1f} s]", file=sys.stderr)
    Path(args.out).write_text(json.dumps(results, indent=2, default=float))
    print(report(results))
    return 0


def report(res: dict) -> str:
    from . import agent_bench, flywheel_bench, onnx_bench
    lines = [f"machine: {res['machine']['cpu']}, {res['machine']['cores']} cores, torch threads "
             f"{res['machine']['torch_threads']}, torch {res['machine']['torch']}"]
    if "reevaluation" in res:
        r = res["reevaluation"]
        lines.append(f"\n1. landscape re-evaluation after a psi edit + patch (peak {r['peak_flops'] / 1e9:.1f} GFLOP/s, "
                     f"memory {r['memory_bandwidth'] / 1e9:.1f} GB/s)")
        lines.append("   grid            edit          cells     cached ms   re-run E_theta ms   speedup   bound ms   x bound")
        for row in r["rows"]:
            lines.append(f"   {row['grid']:<14} {row['edit']:<10} {row['cells']:>8} {row['cached_ms']:>11.3f} "
                         f"{row['rerun_E_theta_ms']:>19.2f} {row['speedup_vs_rerun']:>8.1f}x {row['bound_ms']:>9.3f}"
                         f"   {row['ratio_to_bound']:.2f} ({row['bound_kind']})")
    if "correction" in res:
        c = res["correction"]
        lines.append("\n2. correcting one spurious region (one flag)")
        lines.append(f"   local patch {c['local_patch_ms']:.1f} ms, data-driven {c['data_driven_s']:.2f} s, "
                     f"retrain from scratch {c['retrain_s']:.2f} s -> local {c['local_speedup']:.0f}x, "
                     f"data-driven {c['data_speedup']:.1f}x cheaper")
        rq = c["quality"]["retrain"]
        lines.append(f"   retrain: {rq['steps']} steps, " + ("reached equal quality" if rq["reached_equal_quality"]
                     else "did NOT reach equal quality: its time is a lower bound"))
        for k, q in c["quality"].items():
            lines.append(f"   {k:<8} flag max reward {q['flag_max_reward']:.3f}, cells above floor "
                         f"{q['flag_cells_above_floor']}, basin retention {q['basin_retention']:.1%}, flaws {q['flaws']}")
    if "flywheel" in res:
        lines.append(flywheel_bench.report(res["flywheel"]))
    if "onnx" in res:
        lines += onnx_bench.report(res["onnx"])
    if "agent" in res:
        lines += agent_bench.report(res["agent"])
    if "display" in res:
        d = res["display"]
        lines.append(f"\n3. display update ({d['view']}, {d['world']}, {d['cells']} cells): in place "
                     f"{d['inplace_ms']:.1f} ms ({d['fps']:.0f} fps) vs matplotlib {d['matplotlib_ms']:.0f} ms "
                     f"-> {d['speedup']:.1f}x")
    if "gui" in res:
        g = res["gui"]
        for key in ("qt_display_update", "qt_display_update_terrain"):
            if key in g:
                q = g[key]
                lines.append(f"   Qt view, {q['world']} ({q['cells']} cells): in place {q['inplace_ms']:.1f} ms "
                             f"({q['fps']:.0f} fps) vs matplotlib {q['matplotlib_ms']:.0f} ms -> {q['speedup']:.1f}x")
        win = g["window"]
        lat = win["click_to_visible_change_auto_refine"]
        lines.append("\n4. click -> first visible change (auto-refine on): " + ", ".join(
            f"{m}: landscape {v['median_landscape_changed_ms']:.0f} ms (flag drawn {v['median_flag_visible_ms']:.0f} ms)"
            for m, v in lat.items()))
        gap = win["event_loop_gap_during_refinement"]
        lines.append("5. event-loop gap during refinement: " + ", ".join(
            f"{m}: worst {v['median_worst_gap_ms']:.0f} ms, p95 "
            f"{sorted(r['p95_gap_ms'] for r in v['runs'])[len(v['runs']) // 2]:.0f} ms" for m, v in gap.items()))
        lines.append(f"7. peak memory of the GUI process (cube, after a refinement): "
                     f"{g['peak_memory']['peak_rss_mb']:.0f} MB")
    if "audit" in res:
        lines.append("\n6. audit and flywheel")
        for name, a in res["audit"].items():
            lines.append(f"   {name}: audit {a['audit_ms']:.0f} ms, {a['evaluations']} evaluations, "
                         f"{a['findings']} findings; {a['cycles_to_clean']} cycles -> {a['final_flaws']} flaws in "
                         f"{a['flywheel_s']:.1f} s (search recall against off-grid truth: see the flywheel section)")
    if "scaling" in res:
        s = res["scaling"]
        lines.append(f"\n7. scaling: local patch vs flags {s['flags']}: exponent {s['exponent_flags']:.2f}; "
                     f"train step vs expert samples {s['expert_samples']}: exponent {s['exponent_train_step']:.2f}; "
                     f"audit: exponent {s['exponent_audit']:.2f}")
        if "reevaluation" in res:
            lines.append(f"   cached re-evaluation vs cells: exponent {res['reevaluation']['exponent_cached']:.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
