"""Guided lessons, each in its own non-modal window, opened from the main window's
**Lessons** menu: the alignment-collapse lesson (myopic RLHF vs FPO, ``collapse_lesson``)
and alignment from demonstrations (``afd_lesson``). Their science is in
``explorer.lessons`` (no Qt); the windows only draw what it streams.

``add_lessons_menu(window, menubar)`` is the only hook the main window needs; the
lesson windows are top-level (no parent), kept alive in ``window.lesson_windows``,
and closed with the main window. Presenter mode: a lesson opens in it when
``window.presenter`` is true, and ``set_lessons_presenter(window, on)`` switches the
open ones (each window's own switch is ``set_presenter(on)``).
"""
from __future__ import annotations

from PyQt6.QtCore import QEvent, QObject, QTimer
from PyQt6.QtGui import QAction

LESSONS = (
    ("collapse", "Alignment &collapse...",
     "Myopic RLHF vs foresighted policy optimisation: watch the true utility rise, then fall"),
    ("afd", "Alignment from &demonstrations...",
     "Reward models fitted from demonstrations, and the routes Best-of-N picks with them"),
)


def lesson_class(key: str):
    if key == "collapse":
        from .collapse_lesson import CollapseLesson
        return CollapseLesson
    if key == "afd":
        from .afd_lesson import AfdLesson
        return AfdLesson
    raise KeyError(key)


def afd_available() -> bool:
    try:
        from .afd_lesson import available
    except Exception:  # noqa: BLE001 -- the AfD core may not be importable yet
        return False
    return available()


class _CloseWithMain(QObject):
    """Closes the lesson windows when the main window is really closing."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window

    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Close:
            # The filter runs before closeEvent (which may still refuse, e.g. unsaved
            # work): look again once it has decided.
            QTimer.singleShot(0, self._after_close)
        return False

    def _after_close(self) -> None:
        if getattr(self.window, "_closed", False) or not self.window.isVisible():
            close_lessons(self.window)


def open_lesson(window, key: str):
    """Open (or raise) the lesson window ``key``; returns it."""
    lessons = window.__dict__.setdefault("lesson_windows", {})
    existing = lessons.get(key)
    if existing is not None and not existing.is_closed:
        existing.show()
        existing.raise_()
        existing.activateWindow()
        return existing
    world = getattr(getattr(window, "session", None), "world", None)
    lesson = lesson_class(key)(initial_world=getattr(world, "name", None))
    if getattr(window, "presenter", False):
        lesson.set_presenter(True)
    lessons[key] = lesson
    lesson.show()
    return lesson


def set_lessons_presenter(window, on: bool) -> None:
    """View > Presenter: the open lesson windows follow (new ones read ``window.presenter``)."""
    for lesson in getattr(window, "lesson_windows", {}).values():
        if not lesson.is_closed:
            lesson.set_presenter(on)


def close_lessons(window) -> None:
    for lesson in list(getattr(window, "lesson_windows", {}).values()):
        if not lesson.is_closed:
            lesson.close()


def add_lessons_menu(window, menubar) -> None:
    """The Lessons menu; actions go into ``window.act`` as ``lesson_<key>``."""
    menu = menubar.addMenu("&Lessons")
    for key, text, tip in LESSONS:
        act = QAction(text, window)
        act.setToolTip(tip)
        act.setStatusTip(tip)
        act.triggered.connect(lambda _=False, k=key: open_lesson(window, k))
        if key == "afd" and not afd_available():
            act.setEnabled(False)
            act.setStatusTip(tip + " (not available in this build)")
        menu.addAction(act)
        window.act[f"lesson_{key}"] = act
    window.lessons_menu = menu
    window.installEventFilter(_CloseWithMain(window))
