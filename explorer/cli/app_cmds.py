"""``explorer gui`` (the window) and ``explorer worlds`` (the built-in worlds)."""
from __future__ import annotations

import os
import sys

from .common import emit


def register(sub) -> None:
    g = sub.add_parser("gui", help="open the desktop explorer (default command)")
    g.add_argument("--world", help="built-in world name or path to a .toml (default cube)")
    g.add_argument("--artifact", help="open this reward artifact instead of training")
    g.add_argument("--session", help="session directory (created if new, reopened if not)")
    g.add_argument("--presenter", action="store_true", help="start in presenter mode (large fonts)")
    g.add_argument("--debug", action="store_true")
    g.set_defaults(run=gui)
    w = sub.add_parser("worlds", help="list the built-in worlds")
    w.add_argument("--json", action="store_true")
    w.add_argument("--debug", action="store_true")
    w.set_defaults(run=list_worlds)


def gui(args) -> int:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("explorer: no display found (DISPLAY is not set); the window needs one. "
              "Headless, use: explorer render --world cube --out cube.png", file=sys.stderr)
        return 2
    splash = _splash()          # shown while torch and VTK load (seconds on a laptop)
    from explorer.app.launch import run
    return run(world=args.world or "cube", artifact=args.artifact, session=args.session,
               presenter=getattr(args, "presenter", False), splash=splash)


def _splash():
    """A small window saying the explorer is starting, before the heavy imports:
    the screen is never blank for the seconds torch, VTK and Qt take to load."""
    from PyQt6.QtCore import Qt
    from PyQt6.QtGui import QColor, QFont, QPixmap
    from PyQt6.QtWidgets import QApplication, QSplashScreen
    app = QApplication.instance() or QApplication(sys.argv[:1])
    pix = QPixmap(520, 120)
    pix.fill(QColor("#f4f4ee"))
    splash = QSplashScreen(pix)
    font = QFont(app.font())
    font.setPointSizeF(max(13.0, font.pointSizeF() * 1.3))
    splash.setFont(font)
    splash.showMessage("Reward Landscape Explorer\nloading torch and VTK...",
                       Qt.AlignmentFlag.AlignCenter, QColor("#303030"))
    splash.show()
    app.processEvents()
    splash.app = app            # the application lives as long as the command, not this function
    return splash


def list_worlds(args) -> int:
    import worlds
    items = []
    for name in worlds.available():
        w = worlds.load(name)
        items.append({"name": name, "kind": w.kind, "expert_samples": w.expert_count,
                      "norms": [n.describe() for n in w.norms], "card": w.card})
    lines = [f"{i['name']:<11} {i['kind']:<8} {i['card'].splitlines()[0] if i['card'] else ''}" for i in items]
    emit(args, {"worlds": items, "default": worlds.DEFAULT_WORLD}, "\n".join(lines))
    return 0
