"""Presenter mode: the window read from the back of a lecture room on a
1280x720 projector.

* fonts: at least ``FONT_PT`` points everywhere (panels, readouts, the status
  bar, dialogs and the lesson windows: the application font);
* the 3D view: larger points, thicker lines, larger legend text and labels;
* the side panel folds away (F9 brings it back; a tour step opens it when the
  control it is about lives there), so the landscape takes the screen.

Turning it off restores the font and the side panel as they were.
"""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import QApplication

FONT_PT = 18


def set_presenter(window, on: bool) -> None:
    on = bool(on)
    if on == window.presenter:
        _sync_action(window, on)
        return
    app = QApplication.instance()
    if on:
        window._normal_font = QFont(app.font())
        window._dock_was_visible = window.dock.isVisible()
        big = QFont(app.font())
        big.setPointSizeF(max(float(FONT_PT), big.pointSizeF()))
        app.setFont(big)
    else:
        app.setFont(getattr(window, "_normal_font", app.font()))
    window.presenter = on
    window.view.set_presenter(on)
    window.findings_layer.set_scale(1.5 if on else 1.0)
    window.policy.set_scale(1.6 if on else 1.0)
    window.headline.setStyleSheet(_headline_style(on))
    window.headline.set_short(on)
    window.dock.setMinimumWidth(600 if on else 420)     # 18 pt buttons and rows need the room
    window.side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded if on
                                                    else Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    window.plot.set_presenter(on)
    from .lessons import set_lessons_presenter
    set_lessons_presenter(window, on)                  # open lessons follow; new ones read window.presenter
    if on:
        window.dock.setVisible(False)          # the landscape takes the screen; F9 brings it back
    else:
        window.dock.setVisible(getattr(window, "_dock_was_visible", True))
    if window.tour is not None:
        window.tour.set_presenter(on)
    _sync_action(window, on)
    window.status("Presenter mode: large fonts, thick points; F9 shows the side panel, F11 ends it"
                  if on else "Presenter mode off")


def _sync_action(window, on: bool) -> None:
    act = window.act.get("presenter")
    if act is not None and act.isChecked() != on:
        act.blockSignals(True)
        act.setChecked(on)
        act.blockSignals(False)


def _headline_style(on: bool) -> str:
    size = f"font-size: {FONT_PT}pt;" if on else ""
    return ("QLabel { background: #f4f4ee; border-top: 1px solid #d8d8d0; padding: 4px 8px; " + size + " }")
