"""Items 3-5 and 7 (memory) in the real Qt window (needs an X server: run the
suite under ``xvfb-run -a -s "-screen 0 1600x1000x24"``).

* display update in the Qt view: in-place write + render vs matplotlib redraw;
* click -> first visible change with auto-refine on, and the worst / 95th
  percentile event-loop gap during a refinement (``tests/gui/measure_gui.py``,
  run in a subprocess so its QApplication is its own);
* peak memory (max RSS) of a GUI process with the default world after a refinement.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

QT_DISPLAY = textwrap.dedent('''
    import json, sys, torch
    torch.set_num_threads(1)
    from PyQt6.QtWidgets import QApplication
    app = QApplication(sys.argv[:1])
    import worlds
    from explorer.app.window import MainWindow
    from benchmarks.display_bench import display_update
    w = MainWindow(worlds.load("%(world)s"))
    w.ask_on_close = False
    w.resize(1360, 860)
    w.show()
    while not w.is_ready:
        app.processEvents()
    app.processEvents()
    w.view.plotter.clear()
    res = display_update(plotter=w.view.plotter, world_name="%(world)s", smoke=%(smoke)s)
    import resource
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(res))
''')

PEAK_MEMORY = textwrap.dedent('''
    import json, resource, sys, time, torch
    torch.set_num_threads(1)
    from PyQt6.QtWidgets import QApplication
    app = QApplication(sys.argv[:1])
    import numpy as np, worlds
    from explorer.app.window import MainWindow
    w = MainWindow(worlds.load("%(world)s"))
    w.ask_on_close = False
    w.show()
    while not w.is_ready:
        app.processEvents()
    land = w.session.land
    r = land.reward()
    w.session.flag(tuple(float(v) for v in land.points[int(np.argmax(r * land.flaw_mask(r) * land.distance))]), 0.5)
    done = []
    w.jobDone.connect(lambda k: done.append(k))
    w.refine()
    while not done:
        app.processEvents()
        time.sleep(0.001)
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
''')


def _python(code: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=600)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def run(smoke: bool) -> dict:
    out = {"qt_display_update": _python(QT_DISPLAY % {"smoke": smoke, "world": "cube"}),
           "qt_display_update_terrain": _python(QT_DISPLAY % {"smoke": smoke, "world": "ridge"}),
           "peak_memory": _python(PEAK_MEMORY)}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "gui.json"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-m", "tests.gui.measure_gui", "--json", str(path),
                        "--repeats", "1" if smoke else "3"], check=True, env=env, cwd=ROOT,
                       capture_output=True, timeout=900)
        out["window"] = json.loads(path.read_text())
    return out
