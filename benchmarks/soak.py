"""A soak of mixed actions in the real window: does memory stay flat, do
refinements stay as fast, does the session directory stay small?

    xvfb-run -a -s "-screen 0 1280x720x24" .venv/bin/python -m benchmarks.soak --minutes 60 [--out F]

One window on the cube; a seeded round of what a lecturer does, over and over:
flag a spurious cell, refine (local patch, data-driven patching), audit, accept
and apply, undo and redo, a psi edit, Before / Difference / Now, restore an older
version, a policy on and off, delete a flag. After every action the resident
memory (VmRSS) is read; the growth is the slope of memory against the action
count over the second half of the run (after the caches have filled), in MB per
action. Each kind of action's duration is kept, so a data-driven refinement
late in the run can be compared with one early on.
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def folder_mb(root: Path | None) -> float:
    if root is None or not root.exists():
        return 0.0
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2 ** 20


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.soak")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).with_name("soak_results.json")))
    args = ap.parse_args(argv)
    import os
    tmp = tempfile.mkdtemp(prefix="explorer-soak-")
    os.environ.setdefault("XDG_DATA_HOME", tmp)
    os.environ.setdefault("EXPLORER_CACHE_DIR", tmp)
    import torch
    torch.set_num_threads(1)
    from PyQt6.QtWidgets import QApplication
    app = QApplication(sys.argv[:1])
    from explorer.app.window import MainWindow
    w = MainWindow("cube")
    w.ask_on_close = False
    w.resize(1280, 690)
    w.show()
    rng = np.random.default_rng(args.seed)

    def pump(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.002)

    def wait_job() -> None:
        while w.jobs.busy:
            pump(0.005)
        pump(0.05)

    while not w.is_ready:
        pump(0.05)
    s = w.session

    def flag() -> None:
        r = s.reward()
        flawed = np.nonzero(s.land.flaw_mask(r))[0]
        if len(flawed) and len(s.flags) < 6:
            s.flag(tuple(float(v) for v in s.land.points[rng.choice(flawed)]), float(rng.uniform(0.2, 0.45)))

    def refine(method: str):
        def go() -> None:
            if not s.flags:
                flag()
            w.refine_panel.method.setCurrentIndex(w.refine_panel.method.findData(method))
            w.refine()
            wait_job()
        return go

    def cycle() -> None:
        w.flywheel.audit()
        wait_job()
        if s.triage is not None and s.triage.regions:
            s.accept_all()
            w.flywheel.apply_accepted()
            wait_job()

    def undo_redo() -> None:
        if s.can_undo():
            w.edits.undo()
            pump(0.05)
        if s.can_redo():
            w.edits.redo()

    def psi() -> None:
        p = s.model.psi
        s.preview_psi(p.l_max * float(rng.uniform(0.9, 1.1)), p.k)
        pump(0.05)
        s.set_psi(p.l_max * float(rng.uniform(0.9, 1.1)), p.k)

    def compare() -> None:
        for mode in ("before", "difference", "after"):
            w.layer.set_compare(mode)
            pump(0.05)

    def restore() -> None:
        versions = sorted(s.versions.entries)
        if len(versions) > 2:
            s.restore(int(rng.choice(versions[:-1])))
            pump(0.05)
            s.restore(versions[-1])

    def policy() -> None:
        w.edits.set_policy("value")
        pump(0.1)
        w.edits.set_policy("off")

    def delete() -> None:
        if s.flags:
            w.edits.delete_flag(s.flags[0].id)

    actions = [("flag", flag), ("local", refine("local")), ("data", refine("data")), ("cycle", cycle),
               ("undo_redo", undo_redo), ("psi", psi), ("compare", compare), ("restore", restore),
               ("policy", policy), ("delete", delete)]
    log = []
    t_end = time.perf_counter() + 60 * args.minutes
    t_start = time.perf_counter()
    i = 0
    while time.perf_counter() < t_end:
        name, fn = actions[i % len(actions)]
        t0 = time.perf_counter()
        try:
            fn()
            ok = ""
        except Exception as exc:  # noqa: BLE001 -- an action the session refuses is part of the soak
            ok = f"{type(exc).__name__}: {exc}"[:200]
        pump(0.05)
        gc.collect()
        log.append({"i": i, "action": name, "seconds": round(time.perf_counter() - t0, 3), "rss_mb": round(rss_mb(), 1),
                    "versions": len(s.versions), "error": ok})
        i += 1
    n = len(log)
    half = log[n // 2:]
    slope = float(np.polyfit([e["i"] for e in half], [e["rss_mb"] for e in half], 1)[0]) if len(half) > 2 else float("nan")
    data = [e["seconds"] for e in log if e["action"] == "data"]
    out = {"minutes": round((time.perf_counter() - t_start) / 60, 2), "actions": n,
           "rss_start_mb": log[0]["rss_mb"] if log else None, "rss_end_mb": log[-1]["rss_mb"] if log else None,
           "mb_per_action_second_half": round(slope, 4), "versions": len(s.versions),
           "session_folder_mb": round(folder_mb(s.root), 1),
           "data_driven_seconds_first_last": [data[:3], data[-3:]],
           "errors": [e for e in log if e["error"]][:20], "log": log}
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k != "log"}, indent=1))
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
