"""What a tour step can point at in the window (the ``highlight`` keys of a tour
file, docs/tours.md) and the window as the screen shows it (for slides)."""
from __future__ import annotations

from PyQt6.QtWidgets import QApplication


def target(w, key: str):
    """(widget, side-panel tab or None) a highlight key names."""
    fp, hp, rp = w.findings_panel, w.history_panel, w.refine_panel
    bar = getattr(w, "toolbars", {})
    table = {
        "view": (w.view, None), "legend": (w.view, None), "headline": (w.headline, None),
        "world": (w.world_combo, None),
        "train": (bar["world"].widgetForAction(w.act["train"]) if "world" in bar else None, None),
        "flaw_overlay": (bar["view"].widgetForAction(w.act["flaws"]) if "view" in bar else None, None),
        "policy": (w.policy_combo, None),
        "progress": (rp.progress, 0), "flags": (w.flag_panel.table, 0), "refine": (rp.refine_button, 0),
        "psi": (rp.l_max, 0),
        "audit": (fp.audit_button, 1), "findings": (fp.tree, 1), "accept": (fp.accept_button, 1),
        "reject": (fp.reject_button, 1), "apply": (fp.apply_button, 1), "history": (hp.tree, 1),
        "plot": (w.plot, 1), "readouts": (w.readouts, 1), "check": (w.readouts.labels["check"], 1),
    }
    return table.get(key, (None, None))


def grab_window(window):
    """The window as the screen shows it (the 3D view's OpenGL pixels included)."""
    QApplication.processEvents()
    screen = window.screen() or QApplication.primaryScreen()
    geo = window.frameGeometry()
    return screen.grabWindow(0, geo.x(), geo.y(), geo.width(), geo.height())
