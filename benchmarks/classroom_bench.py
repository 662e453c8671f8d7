"""Classroom responsiveness, in the real window (needs X: xvfb-run).

    xvfb-run -a -s "-screen 0 1280x720x24" .venv/bin/python -m benchmarks.classroom_bench [--quick] [--out F]

* launch to first pixels: from the process start to the first frame of the world
  (expert data, before any model) and to the first frame with the landscape,
  with the trained model in the user's cache and without it;
* each tour transition (``explorer tour --autoplay``): the time from pressing
  Next to the step's actions done;
* the worst event-loop gap (a 10 ms QTimer) during every kind of job: training,
  audit, applying accepted findings, a local patch, data-driven patching;
* a data-driven refinement in the window against the same refinement run
  headless in the same process (same model, flags and steps), and one whose
  flags hold nothing to learn.

Each measurement runs in its own process (its own QApplication). Nothing here
asserts on time; ``benchmarks/README.md`` reports the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_PIXELS = textwrap.dedent('''
    import json, os, sys, time
    T0 = float(os.environ["BENCH_T0"])
    import numpy as np, torch
    torch.set_num_threads(1)
    from PyQt6.QtWidgets import QApplication
    app = QApplication(sys.argv[:1])
    marks = {"qt_s": time.time() - T0}
    from explorer.app.window import MainWindow
    marks["imports_s"] = time.time() - T0
    w = MainWindow("cube")
    w.ask_on_close = False
    w.resize(1280, 690)
    w.show()
    marks["window_shown_s"] = time.time() - T0

    def swapped():
        sc = w.view.scene
        if sc is None:
            return
        marks.setdefault("world_pixels_s", time.time() - T0)
        if np.isfinite(np.asarray(sc.mesh["reward"])).any():
            marks.setdefault("landscape_pixels_s", time.time() - T0)
    w.view.plotter.frameSwapped.connect(swapped)
    while not ("landscape_pixels_s" in marks and w.is_ready) and time.time() - T0 < 300:
        app.processEvents()
        time.sleep(0.002)
    marks["model_ready_s"] = time.time() - T0
    marks["status"] = w.last_status
    w.close()
    print(json.dumps(marks))
''')

JOB_GAPS = textwrap.dedent('''
    import json, sys, time
    import numpy as np, torch
    torch.set_num_threads(1)
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication
    app = QApplication(sys.argv[:1])
    from explorer.app.window import MainWindow
    from explorer.session.jobs import data_driven
    REPEATS = %(repeats)d
    w = MainWindow("cube", use_cache=False)
    w.ask_on_close = False
    w.resize(1280, 690)
    w.show()
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    done = []
    w.jobDone.connect(lambda k: done.append((k, time.perf_counter())))

    def pump(seconds):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.001)

    def measure(kind, start):
        pump(0.3)
        n = len(done)
        t0 = time.perf_counter()
        start()
        while len(done) == n:
            pump(0.002)
        t1 = done[-1][1]
        inside = [t for t in ticks if t0 <= t <= t1]
        g = np.diff([t0, *inside, t1])
        return {"job": kind, "seconds": round(t1 - t0, 3), "worst_gap_ms": round(1000 * float(g.max()), 1),
                "p95_gap_ms": round(1000 * float(np.percentile(g, 95)), 1), "ticks": len(inside)}

    out = {"runs": []}
    # training from the start: the window trains at once
    t0 = time.perf_counter()
    while not w.is_ready:
        pump(0.002)
    t1 = done[-1][1] if done else time.perf_counter()
    inside = [t for t in ticks if t0 <= t <= t1]
    g = np.diff([t0, *inside, t1])
    out["runs"].append({"job": "train", "seconds": round(t1 - t0, 3), "worst_gap_ms": round(1000 * float(g.max()), 1),
                        "p95_gap_ms": round(1000 * float(np.percentile(g, 95)), 1), "ticks": len(inside)})
    s = w.session
    land = s.land
    r = land.reward()
    spurious = tuple(float(v) for v in land.points[int(np.argmax(r * land.flaw_mask(r) * land.distance))])
    for _ in range(REPEATS):
        out["runs"].append(measure("audit", w.flywheel.audit))
        s.accept_all()
        out["runs"].append(measure("cycle", w.flywheel.apply_accepted))
        s.undo(); s.undo(); s.undo()                     # back to v1 and no triage
        s.flag(spurious, 0.5)
        for method in ("local", "data"):
            w.refine_panel.method.setCurrentIndex(w.refine_panel.method.findData(method))
            out["runs"].append(measure(method, w.refine))
            s.undo()                                      # back to v1 (the flag stays)
        # the same data-driven refinement headless, in this process, on the same model and flags
        t = time.perf_counter()
        gen = data_driven(s.model, s.land.fork(), list(s.flags), 1000, None)
        try:
            while True:
                next(gen)
        except StopIteration:
            pass
        out["runs"].append({"job": "data_headless", "seconds": round(time.perf_counter() - t, 3)})
        # the same in the window with its renders held back: what the worker thread alone costs
        w.view._stopped = True
        run = measure("data_without_renders", w.refine)
        w.view._stopped = False
        w.view.request_render()
        out["runs"].append(run)
        s.undo()
        s.delete_flag(s.flags[-1].id)
    # flags that hold nothing to learn: a ball below the floor far from the support
    low = np.nonzero((r <= s.world.floor) & (land.distance > s.world.boundary + 0.3))[0]
    from explorer.refine.data_patch import DataDrivenPatch
    from explorer.model.flags import Flag
    for i in low[:50]:
        c = tuple(float(v) for v in land.points[i])
        if DataDrivenPatch(s.model, land, [Flag(1, c, 0.12)]).nothing_to_learn:
            break
    s.flag(c, 0.12)
    w.refine_panel.method.setCurrentIndex(w.refine_panel.method.findData("data"))
    nothing = measure("data_nothing_to_learn", w.refine)
    nothing["message"] = w.last_status
    out["runs"].append(nothing)
    timer.stop()
    w.close()
    print(json.dumps(out))
''')


def _child(code: str, env: dict | None = None, timeout: int = 1800) -> dict:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full["BENCH_T0"] = repr(time.time())
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, cwd=ROOT, check=False,
                       timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def first_pixels(repeats: int = 2) -> dict:
    """With an empty cache (the first launch: trains) and a filled one (the second)."""
    with tempfile.TemporaryDirectory() as d:
        env = {"EXPLORER_CACHE_DIR": d, "XDG_DATA_HOME": str(Path(d) / "data")}
        cold = [_child(FIRST_PIXELS, env)]            # fills the cache
        for _ in range(repeats - 1):
            shutil_rm(Path(d) / "models")
            cold.append(_child(FIRST_PIXELS, env))
        warm = [_child(FIRST_PIXELS, env) for _ in range(repeats)]
    return {"without_cache": cold, "with_cache": warm, "median": {
        k: {m: _median([r[m] for r in runs]) for m in ("imports_s", "window_shown_s", "world_pixels_s",
                                                      "landscape_pixels_s", "model_ready_s")}
        for k, runs in (("without_cache", cold), ("with_cache", warm))}}


def shutil_rm(path: Path) -> None:
    import shutil
    shutil.rmtree(path, ignore_errors=True)


def job_gaps(repeats: int = 2) -> dict:
    with tempfile.TemporaryDirectory() as d:
        res = _child(JOB_GAPS % {"repeats": repeats}, {"EXPLORER_CACHE_DIR": "off", "XDG_DATA_HOME": d})
    runs = res["runs"]
    by = {}
    for r in runs:
        by.setdefault(r["job"], []).append(r)
    summary = {k: {"worst_gap_ms": max((x.get("worst_gap_ms", 0) for x in v), default=0),
                   "median_seconds": _median([x["seconds"] for x in v])} for k, v in by.items()}
    if "data" in summary and "data_headless" in summary:
        summary["data_window_vs_headless"] = round(summary["data"]["median_seconds"]
                                                   / summary["data_headless"]["median_seconds"], 2)
    return {"runs": runs, "summary": summary}


def tour_transitions() -> dict:
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "EXPLORER_CACHE_DIR": "off", "XDG_DATA_HOME": d}
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "explorer", "tour", "--world", "cube", "--autoplay",
                            "--export", str(Path(d) / "slides"), "--size", "1280x690", "--json"],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800, check=False)
        if p.returncode != 0:
            raise RuntimeError(p.stderr[-3000:])
        out = json.loads(p.stdout[p.stdout.index("{"):])
        manifest = json.loads((Path(d) / "slides" / "manifest.json").read_text())
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    out["steps"] = [{"title": s["title"], "actions_s": s.get("actions_seconds"), "shown_s": s["seconds"]}
                    for s in manifest["steps"]]
    return out


def _median(xs):
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if xs else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.classroom_bench")
    ap.add_argument("--quick", action="store_true", help="one repeat of each")
    ap.add_argument("--only", nargs="*", choices=("pixels", "gaps", "tour"))
    ap.add_argument("--out", default=str(Path(__file__).with_name("classroom_results.json")))
    args = ap.parse_args(argv)
    reps = 1 if args.quick else 2
    res: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for name, fn in (("pixels", lambda: first_pixels(reps)), ("gaps", lambda: job_gaps(reps)),
                     ("tour", tour_transitions)):
        if args.only and name not in args.only:
            continue
        t = time.perf_counter()
        res[name] = fn()
        print(f"[{name}: {time.perf_counter() - t:.0f} s]", file=sys.stderr)
        Path(args.out).write_text(json.dumps(res, indent=2))
    print(json.dumps({k: v.get("median", v.get("summary", v)) if isinstance(v, dict) else v
                      for k, v in res.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
