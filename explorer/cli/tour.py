"""``explorer tour``: the guided tour of the Flywheel in the window, or unattended
(``--autoplay --export DIR``: one PNG per step and manifest.json, slides for a
lecture), or only checked (``--check``: a teacher's own tour file, no display)."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .common import UsageError, emit


def register(sub) -> None:
    t = sub.add_parser("tour", help="a guided tour of the Alignment Flywheel in the window")
    t.add_argument("--world", help="the built-in tour of this world (cube, ridge; default cube)")
    t.add_argument("--file", help="a tour file (TOML, see docs/tours.md) instead of a built-in tour")
    t.add_argument("--autoplay", action="store_true", help="move through the steps unattended")
    t.add_argument("--export", metavar="DIR", help="with --autoplay: write step-NN.png and manifest.json "
                   "here, then quit")
    t.add_argument("--presenter", action="store_true", help="presenter mode (large fonts, a projector)")
    t.add_argument("--size", default="", help="window size WIDTHxHEIGHT (default: the screen's, at most 1600x1000)")
    t.add_argument("--check", dest="only_check", action="store_true", help="only read and validate the tour file")
    t.add_argument("--json", action="store_true", help="with --check or --export: machine-readable output")
    t.add_argument("--debug", action="store_true")
    t.set_defaults(run=tour, check=_check_args)


def _check_args(parser, args) -> None:
    if args.export and not args.autoplay:
        parser.error("--export needs --autoplay (the steps are captured as the tour plays itself)")
    if args.world and args.file:
        parser.error("give --world or --file, not both")


def _size(text: str) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size {text}: expected WIDTHxHEIGHT, e.g. 1280x720") from None
    if not (320 <= w <= 8000 and 240 <= h <= 8000):
        raise UsageError(f"--size {text}: expected a width of 320-8000 and a height of 240-8000")
    return w, h


def tour(args) -> int:
    from explorer.tour import resolve
    t = resolve(args.file or args.world or "cube")
    if args.only_check:
        emit(args, {"tour": t.title, "world": t.world, "steps": [s.title for s in t.steps]},
             f"{t.source}: {t.title} ({t.world}), {len(t.steps)} steps: ok")
        return 0
    size = _size(args.size)
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("explorer tour: no display found (DISPLAY is not set); the tour needs the window. "
              "Unattended on a server: xvfb-run -a -s \"-screen 0 1280x720x24\" explorer tour --autoplay "
              "--export DIR", file=sys.stderr)
        return 2
    import worlds
    world = worlds.load(t.world)                     # a bad world name fails here, on stderr
    from PyQt6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from explorer.app.files import APP_NAME
    from explorer.app.window import MainWindow
    app.setApplicationName(APP_NAME)
    window = MainWindow(world, train=False)
    if size is None:
        avail = app.primaryScreen().availableGeometry()
        size = (min(1600, avail.width()), min(1000, avail.height()))
    window.resize(*size)
    if args.presenter:
        window.set_presenter(True)
    window.show()
    t0 = time.perf_counter()
    panel = window.open_tour(t, autoplay=args.autoplay)
    result: dict = {}
    if args.export:
        out = Path(args.export)
        if out.exists() and not out.is_dir():
            raise UsageError(f"--export {out}: exists and is not a directory")
        panel.export_dir = out

        def done() -> None:
            result.update(seconds=round(time.perf_counter() - t0, 1), steps=len(panel.exported),
                          export=str(out), transitions=[round(x, 2) for x in panel.timings])
            window.ask_on_close = False
            window.close()
            app.quit()
        panel.finished.connect(done)
    code = app.exec()
    if args.export:
        if not result:
            print("explorer tour: the window closed before the tour ended", file=sys.stderr)
            return 1
        emit(args, result, f"{result['steps']} steps exported to {result['export']} in {result['seconds']} s")
    return code
