"""Measure the desktop explorer's responsiveness in the real window (not a test).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m tests.gui.measure_gui [--json OUT]

Reports, on the cube world's default grid (20^3 cells):
* frames per second of an in-place landscape update (``update_reward`` + render), three ways;
* the worst gap of a 10 ms QTimer during a refinement (local patch, data-driven);
* click-to-first-visible-change latency with auto-refine on: from the mouse click to
  the first frame swapped to the screen that shows the flag, and the first that
  shows the refined landscape.
Numbers are wall-clock on this machine (under Xvfb OpenGL is Mesa's software
llvmpipe, so rendering dominates); nothing here asserts on time.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from PyQt6.QtCore import QPoint, Qt, QTimer
    from PyQt6.QtTest import QTest
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    import worlds
    from explorer.app.window import MainWindow
    from explorer.model.learning import config_for, train
    from explorer.viz import scene as sc

    from .conftest import front_visible_cells, to_qt

    world = worlds.load("cube")
    model = train(world, config_for(world))
    out: dict = {"grid_cells": int(world.resolution ** 3)}

    def pump(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.001)

    def open_window() -> MainWindow:
        w = MainWindow(world, model=model.clone())
        w.ask_on_close = False
        w.resize(1360, 860)
        w.show()
        while not w.is_ready:
            pump(0.01)
        pump(0.3)
        return w

    def spurious(w) -> int:
        land = w.session.land
        r = land.reward()
        return int(np.argmax(r * land.flaw_mask(r) * land.distance))

    # ---- 1. frames per second of an in-place update ------------------------------
    w = open_window()
    out["software_gl"] = w.view.software_gl
    out["view_px"] = [w.view.plotter.width(), w.view.plotter.height()]
    view, r = w.view, w.session.reward()
    n = 60
    vals = [np.clip(r * (0.5 + 0.5 * np.cos(i / 5)), 0, 1).astype(np.float32) for i in range(n)]
    fps = {}
    for name, fn in (("update_reward+plotter.render()", lambda: view.plotter.render()),
                     ("update_reward+plotter.update()+paint (the GUI's path)",
                      lambda: (view.plotter.update(), app.processEvents())),
                     ("update_reward+plotter.render()+paint",
                      lambda: (view.plotter.render(), app.processEvents()))):
        app.processEvents()
        t = time.perf_counter()
        for i in range(n):
            sc.update_reward(view.scene, vals[i])
            fn()
        fps[name] = round(n / (time.perf_counter() - t), 1)
    out["fps_in_place_update"] = fps
    w.close()

    # ---- 2. worst event-loop gap during a refinement ----------------------------
    gaps: dict = {"local": [], "data": []}
    for method in ("local", "data"):
        for _ in range(args.repeats):
            w = open_window()
            s = w.session
            s.flag(tuple(float(v) for v in s.land.points[spurious(w)]), 0.5)
            w.refine_panel.method.setCurrentIndex(w.refine_panel.method.findData(method))
            ticks: list[float] = []
            timer = QTimer()
            timer.setInterval(10)
            timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
            done: list[float] = []
            w.jobDone.connect(lambda _k: done.append(time.perf_counter()))
            timer.start()
            pump(0.05)
            t0 = time.perf_counter()
            w.refine()
            while not done:
                pump(0.001)
            timer.stop()
            inside = [t for t in ticks if t >= t0]
            g = np.diff([t0, *inside, done[0]])
            gaps[method].append({"worst_gap_ms": round(1000 * float(g.max()), 1),
                                 "p95_gap_ms": round(1000 * float(np.percentile(g, 95)), 1),
                                 "refine_ms": round(1000 * (done[0] - t0), 1)})
            w.close()
    out["event_loop_gap_during_refinement"] = {
        m: {"runs": v, "median_worst_gap_ms": statistics.median(x["worst_gap_ms"] for x in v)}
        for m, v in gaps.items()}

    # ---- 3. click -> first visible change, auto-refine on ---------------------------
    lat: dict = {"local": [], "data": []}
    for method in ("local", "data"):
        for _ in range(args.repeats):
            w = open_window()
            land = w.session.land
            r = land.reward()
            score = r * land.flaw_mask(r) * land.distance
            cands = np.argsort(-score)[:400]
            cell = front_visible_cells(w, cands[r[cands] > 0.5])[0]
            x, y = to_qt(w.view, land.points[cell])
            w.refine_panel.method.setCurrentIndex(w.refine_panel.method.findData(method))
            w.refine_panel.auto.setChecked(True)
            w.act["flag_tool"].setChecked(True)
            marks: dict = {}
            swaps: list[float] = []
            w.view.plotter.frameSwapped.connect(lambda: swaps.append(time.perf_counter()))
            original = w.view._apply

            def traced(values, mode, original=original):
                if "applied" not in marks and "click" in marks:
                    marks["applied"] = time.perf_counter()       # first refined values drawn
                original(values, mode)
            w.view._apply = traced
            flag_seen: list[float] = []
            w.session.events.flags.connect(lambda _f: flag_seen.append(time.perf_counter()))
            done = []
            w.jobDone.connect(lambda _k: done.append(time.perf_counter()))
            pump(0.1)
            t0 = marks["click"] = time.perf_counter()
            w.view.clicked.connect(lambda *a: marks.setdefault("clicked", time.perf_counter()))
            QTest.mouseClick(w.view.plotter, Qt.MouseButton.LeftButton,
                             Qt.KeyboardModifier.NoModifier, QPoint(x, y))
            while not done or not any(t > marks.get("applied", 1e18) for t in swaps):
                pump(0.001)
                if time.perf_counter() - t0 > 30:
                    break
            flag_frame = next((t for t in swaps if flag_seen and t > flag_seen[0]), float("nan"))
            land_frame = next((t for t in swaps if t > marks.get("applied", 1e18)), float("nan"))
            lat[method].append({"click_handled_ms": round(1000 * (marks.get("clicked", np.nan) - t0), 1),
                                "flag_added_ms": round(1000 * (flag_seen[0] - t0), 1) if flag_seen else None,
                                "flag_visible_ms": round(1000 * (flag_frame - t0), 1),
                                "landscape_changed_ms": round(1000 * (land_frame - t0), 1),
                                "refinement_done_ms": round(1000 * (done[0] - t0), 1) if done else None})
            w.close()
    out["click_to_visible_change_auto_refine"] = {
        m: {"runs": v, "median_landscape_changed_ms": statistics.median(x["landscape_changed_ms"] for x in v),
            "median_flag_visible_ms": statistics.median(x["flag_visible_ms"] for x in v)}
        for m, v in lat.items()}
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
