"""The colour legend, drawn *beside* the 3D data, never over it.

A scalar bar inside the landscape's renderer covers points (its labels were
unreadable over dark ones) and a camera flight could leave a finding under it.
Here the render window is split: the landscape's renderer keeps the left part,
and a second, non-interactive renderer on a white strip at the right holds the
bar, its title above it, what the colours mean below it, and a line per extra
mark (the flaw overlay, ghosted cells). Screenshots of the plotter include it.
The strip has a fixed width in pixels (``layout``), wider in presenter mode.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import vtk

WIDTH_PX = {False: 132, True: 176}          # presenter -> strip width in device pixels
FONT = {False: (15, 13), True: (24, 21)}    # presenter -> (title, labels) font sizes


@dataclass
class Legend:
    renderer: object
    bar: object
    title: object
    note: object
    marks: object
    main: object                      # the landscape's renderer (its viewport shrinks)
    presenter: bool = False
    extra: list = field(default_factory=list)


def _text(size: int, bold: bool = False, justify: str = "centered") -> vtk.vtkTextActor:
    t = vtk.vtkTextActor()
    p = t.GetTextProperty()
    p.SetColor(0.1, 0.1, 0.1)
    p.SetFontSize(size)
    p.SetBold(bold)
    p.SetFontFamilyToArial()
    p.SetJustification({"centered": vtk.VTK_TEXT_CENTERED, "left": vtk.VTK_TEXT_LEFT}[justify])
    p.SetVerticalJustificationToTop()
    t.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    return t


def add_legend(plotter, lut, title: str, note: str, presenter: bool = False) -> Legend:
    """A legend strip at the right of ``plotter``'s render window (one per plotter:
    later calls reuse it, so rebuilding a scene never stacks strips)."""
    old = getattr(plotter, "_explorer_legend", None)
    if old is not None:
        set_legend(old, lut, title, note)
        set_presenter(old, presenter)
        return old
    ren = vtk.vtkRenderer()
    ren.SetBackground(1.0, 1.0, 1.0)
    ren.SetInteractive(False)               # drags over the strip never turn a hidden camera
    ren.SetLayer(0)
    bar = vtk.vtkScalarBarActor()
    bar.SetOrientationToVertical()
    bar.SetNumberOfLabels(5)
    bar.SetLabelFormat("%.2f")
    bar.SetTitle("")
    bar.SetDrawBelowRangeSwatch(False)
    bar.SetDrawAboveRangeSwatch(False)
    bar.SetDrawNanAnnotation(False)
    bar.UnconstrainedFontSizeOn()
    bar.SetTextPositionToSucceedScalarBar()          # labels right of the bar, inside the strip
    bar.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    lp = bar.GetLabelTextProperty()
    lp.SetColor(0.1, 0.1, 0.1)
    lp.SetShadow(False)
    lp.SetItalic(False)
    lp.SetBold(False)
    lp.SetFontFamilyToArial()
    title_actor, note_actor, marks_actor = _text(15, bold=True), _text(13), _text(13, justify="left")
    for a in (bar, title_actor, note_actor, marks_actor):
        ren.AddViewProp(a)
    plotter.ren_win.AddRenderer(ren)
    legend = Legend(ren, bar, title_actor, note_actor, marks_actor, plotter.renderer, presenter)
    plotter._explorer_legend = legend
    set_legend(legend, lut, title, note)
    set_presenter(legend, presenter)
    return legend


def set_legend(legend: Legend, lut, title: str, note: str, marks: str = "") -> None:
    """What the colours mean: the bar's lookup table, a title above, a note below,
    and the extra marks (one per line) under it. The labels are round numbers
    (and the floor), not five equal steps of an odd range."""
    legend.bar.SetLookupTable(lut)
    lo, hi = lut.GetRange() if hasattr(lut, "GetRange") else (0.0, 1.0)
    ticks = [lo] + [v for v in (-1.0, -0.5, 0.0, 0.25, 0.5, 0.75, 1.0) if lo + 0.08 < v < hi - 1e-9] + [hi]
    labels = vtk.vtkDoubleArray()
    for v in ticks:
        labels.InsertNextValue(v)
    legend.bar.SetUseCustomLabels(True)
    legend.bar.SetCustomLabels(labels)
    legend.title.SetInput(title)
    legend.note.SetInput(note)
    legend.marks.SetInput(marks)


def set_marks(legend: Legend, marks: str) -> None:
    legend.marks.SetInput(marks)


def set_presenter(legend: Legend, presenter: bool) -> None:
    legend.presenter = presenter
    title, label = FONT[presenter]
    legend.title.GetTextProperty().SetFontSize(title)
    legend.note.GetTextProperty().SetFontSize(label)
    legend.marks.GetTextProperty().SetFontSize(max(label - 2, 11))
    legend.bar.GetLabelTextProperty().SetFontSize(label)
    legend.bar.SetBarRatio(0.3)


def layout(legend: Legend, width_px: int, height_px: int) -> None:
    """Give the strip its width in pixels and the landscape the rest (call on resize)."""
    if width_px <= 0 or height_px <= 0:
        return
    strip = min(0.45, WIDTH_PX[legend.presenter] / width_px)
    legend.main.SetViewport(0.0, 0.0, 1.0 - strip, 1.0)
    legend.renderer.SetViewport(1.0 - strip, 0.0, 1.0, 1.0)
    # Title at the top, the bar under it, the note and the marks at the bottom, in
    # fractions of the strip, from pixel sizes so the text never overlaps the bar.
    # A short strip (a large font in a small view) drops the marks, then takes the
    # smaller font, before it lets the bar shrink below a third of the strip.
    for presenter_font, with_marks in ((legend.presenter, True), (legend.presenter, False), (False, False)):
        bar = _place(legend, height_px, FONT[presenter_font], with_marks)
        if bar >= 0.33:
            break
    title_px, label_px = FONT[presenter_font]
    legend.title.GetTextProperty().SetFontSize(title_px)
    legend.note.GetTextProperty().SetFontSize(label_px)
    legend.marks.GetTextProperty().SetFontSize(max(label_px - 2, 11))
    legend.bar.GetLabelTextProperty().SetFontSize(label_px)
    legend.marks.SetVisibility(with_marks)


def _place(legend: Legend, height_px: int, fonts: tuple[int, int], with_marks: bool) -> float:
    """Position the parts for these font sizes; returns the bar's share of the height."""
    title_px, label_px = fonts
    marks_px = max(label_px - 2, 11)

    def lines(actor) -> int:
        text = actor.GetInput() or ""
        return text.count("\n") + 1 if text else 0
    title_h = 1.25 * title_px * lines(legend.title) / height_px
    note_h = 1.3 * label_px * lines(legend.note) / height_px
    marks_h = 1.3 * marks_px * lines(legend.marks) / height_px if with_marks else 0.0
    top = 0.97
    legend.title.SetPosition(0.5, top)
    bar_top = top - title_h - 0.02
    gap = 0.6 * label_px / height_px
    bar_bottom = max(0.03 + note_h + marks_h + 2 * gap, 0.2)
    height = max(0.08, bar_top - bar_bottom)
    legend.bar.SetPosition(0.12, bar_bottom)
    legend.bar.SetPosition2(0.8, height)
    legend.note.SetPosition(0.5, bar_bottom - gap)
    legend.marks.SetPosition(0.06, bar_bottom - 2 * gap - note_h)
    return height


def remove(plotter) -> None:
    legend = getattr(plotter, "_explorer_legend", None)
    if legend is not None:
        plotter.ren_win.RemoveRenderer(legend.renderer)
        legend.main.SetViewport(0.0, 0.0, 1.0, 1.0)
        plotter._explorer_legend = None
