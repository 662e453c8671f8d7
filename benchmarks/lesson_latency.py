"""Lesson windows: time from Run to the first drawn result, against the time to the
complete result in the same run (before streaming, the complete result was the first
thing drawn, so that is the baseline). Each lesson runs in its own process with its
defaults (collapse: cube, 300 rounds, 3 seeds; AfD: cube, four reward models), torch
already warmed up as in the explorer, where a model has been trained first.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m benchmarks.lesson_latency [--repeats N]

Prints one JSON line per run and a summary (medians).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUN = textwrap.dedent('''
    import json, sys, time, torch
    torch.set_num_threads(1)
    # torch warmed up as in the explorer, whose window has trained a model before a lesson
    # opens: the first optimizer of a process imports torch._dynamo (2-8 s on 2 cores)
    m = torch.nn.Linear(3, 1); m(torch.zeros(2, 3)).sum().backward(); torch.optim.Adam(m.parameters()).step()
    from PyQt6.QtWidgets import QApplication
    app = QApplication(sys.argv[:1])
    if "%(lesson)s" == "collapse":
        from explorer.app.lessons.collapse_lesson import CollapseLesson as Lesson
    else:
        from explorer.app.lessons.afd_lesson import AfdLesson as Lesson
    w = Lesson("cube")
    w.resize(1280, 720)
    w.show()
    for _ in range(20):
        app.processEvents()
    marks = {}
    def mark(name):
        marks.setdefault(name, time.perf_counter() - t0)
    w.resultDrawn.connect(lambda _complete: mark("first_drawn"))
    w.runDone.connect(lambda ok: (mark("first_drawn"), mark("complete"), app.quit()))
    t0 = time.perf_counter()
    w.start()
    app.exec()
    w.close()
    w.deleteLater()
    app.processEvents()
    del w
    print(json.dumps({"lesson": "%(lesson)s", **marks}))
''')


def run_once(lesson: str, python: str = sys.executable, cwd: Path = ROOT) -> dict:
    out = subprocess.run([python, "-c", RUN % {"lesson": lesson}], cwd=cwd, capture_output=True, text=True, check=False,
                         timeout=900, env={**__import__("os").environ, "PYTHONPATH": str(cwd)})
    if out.returncode != 0:
        raise RuntimeError(f"{lesson}: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lessons", default="collapse,afd")
    args = ap.parse_args(argv)
    summary = {}
    for lesson in args.lessons.split(","):
        runs = []
        for _ in range(args.repeats):
            r = run_once(lesson)
            print(json.dumps(r), flush=True)
            runs.append(r)
        first = statistics.median(r["first_drawn"] for r in runs)
        complete = statistics.median(r["complete"] for r in runs)
        summary[lesson] = {"first_drawn_s": round(first, 2), "complete_s": round(complete, 2),
                           "first_over_complete": round(first / complete, 3), "repeats": len(runs)}
    print(json.dumps({"summary": summary}))


if __name__ == "__main__":
    main()
