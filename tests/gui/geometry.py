"""Layout checks for a window at a given size: nothing overlaps, nothing is cut off,
every label's text fits (or is elided with the whole text in its tooltip).

``layout_problems(window)`` returns a list of sentences (empty when the layout is
sound), so a failing test names the widgets and what is wrong with them.
"""
from __future__ import annotations

from PyQt6.QtCore import QRect
from PyQt6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QProgressBar,
    QScrollArea,
    QWidget,
)

# Widgets whose insides are not laid out by Qt layouts (their children are checked by them).
CHECKED = (QLabel, QAbstractButton, QComboBox, QAbstractSpinBox, QAbstractSlider, QProgressBar)


def _name(w: QWidget) -> str:
    text = ""
    if isinstance(w, (QLabel, QAbstractButton)):
        text = w.text()[:40]
    elif isinstance(w, QComboBox):
        text = w.currentText()[:40]
    return f"{type(w).__name__}({text!r})" if text else f"{type(w).__name__}#{w.objectName() or id(w) % 10000}"


def _inside_scroll_area(w: QWidget) -> bool:
    p = w.parentWidget()
    while p is not None:
        if isinstance(p, QScrollArea):
            return True
        p = p.parentWidget()
    return False


def visible_widgets(window: QWidget) -> list[QWidget]:
    return [w for w in window.findChildren(QWidget) if w.isVisible() and not w.isWindow()]


def layout_problems(window: QWidget) -> list[str]:
    problems = []
    widgets = visible_widgets(window)
    for w in widgets:
        parent = w.parentWidget()
        if parent is None or _inside_scroll_area(w):
            continue
        # cut off: a widget reaching outside its parent
        if not parent.rect().contains(w.geometry()):
            problems.append(f"{_name(w)} at {w.geometry()} is cut off by its parent {_name(parent)} "
                            f"({parent.rect().width()}x{parent.rect().height()})")
        if isinstance(w, CHECKED):
            hint = w.minimumSizeHint()
            if w.width() + 1 < hint.width() or w.height() + 1 < hint.height():
                problems.append(f"{_name(w)} is {w.width()}x{w.height()}, smaller than it needs "
                                f"({hint.width()}x{hint.height()})")
        if isinstance(w, QLabel) and w.text():
            problems += _label_problems(w)
    # siblings that overlap (laid out by the same parent)
    by_parent: dict[int, list[QWidget]] = {}
    for w in widgets:
        if w.parentWidget() is not None:
            by_parent.setdefault(id(w.parentWidget()), []).append(w)
    for siblings in by_parent.values():
        for i, a in enumerate(siblings):
            for b in siblings[i + 1:]:
                inter = a.geometry().intersected(b.geometry())
                if inter.width() > 1 and inter.height() > 1 and not _stacked(a, b):
                    problems.append(f"{_name(a)} {a.geometry()} and {_name(b)} {b.geometry()} overlap")
    return problems


def _stacked(a: QWidget, b: QWidget) -> bool:
    """Qt's own furniture that is meant to sit on top of a sibling (a scroll area's bars,
    a splitter's handle next to its panes is laid out beside them, so not here)."""
    from PyQt6.QtWidgets import QScrollBar
    return isinstance(a, QScrollBar) or isinstance(b, QScrollBar)


def _label_problems(label: QLabel) -> list[str]:
    elided = getattr(label, "is_elided", None)
    if callable(elided):
        if elided() and label.toolTip() != label.full_text():
            return [f"{_name(label)} is elided without its whole text in the tooltip"]
        return []
    if label.wordWrap():
        need = label.heightForWidth(label.width())
        if need > label.height() + 1 and not _inside_scroll_area(label):
            return [f"{_name(label)} needs {need}px of height at width {label.width()}, has {label.height()}"]
        return []
    need = label.sizeHint().width()
    if need > label.width() + 1:
        return [f"{_name(label)} needs {need}px of width, has {label.width()}: its text is cut off"]
    return []


def rect_text(r: QRect) -> str:
    return f"({r.x()},{r.y()} {r.width()}x{r.height()})"
