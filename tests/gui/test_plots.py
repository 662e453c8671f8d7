"""The shared plot style (``explorer.app.plots``) and the three plots built on it:
the flywheel's metrics, the collapse lesson's curves and the AfD lesson's Best-of-N."""
from __future__ import annotations

import math

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _show(qtbot, widget, w=480, h=None):
    qtbot.addWidget(widget)
    widget.resize(w, h or max(widget.minimumHeight(), 300))
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.wait(30)
    widget.grab()                    # a first paint sizes pyqtgraph's axes to their text
    qtbot.wait(30)
    return widget


def _series(n: int):
    return [(v, {"flaws": max(0, 12 - 3 * v), "findings": 6 - v, "basin_cells": 120,
                 "true_correlation": 0.6 + 0.05 * v, "spurious_max_reward": 0.9 / v,
                 "policy_true_return": float("nan") if v == 2 else 0.3 * v, "noise": True})
            for v in range(1, n + 1)]


# ----------------------------------------------------------------- helpers
def test_spread_keeps_labels_apart_inside_the_range():
    from explorer.app.plots import spread
    ys = spread([0.50, 0.52, 0.90, 0.99], gap=0.1, lo=0.0, hi=1.0)
    assert ys[0] == 0.50 and all(b - a >= 0.1 - 1e-12 for a, b in zip(sorted(ys), sorted(ys)[1:]))
    assert max(ys) <= 0.95 + 1e-12
    assert spread([0.3], 0.1, 0, 1) == [0.3]


def test_nice_ticks_are_round_and_few():
    from explorer.app.plots import nice_ticks
    assert nice_ticks(0, 10, 6) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(0, 10, 3) == [0, 5, 10]
    assert nice_ticks(0.54, 0.81, 4) == [0.6, 0.7, 0.8]


def test_presenter_sizes_read_from_the_back_row():
    from explorer.app.plots import plot_sizes
    normal, big = plot_sizes(False), plot_sizes(True)
    assert big.font_pt >= 18 and big.line >= 2 * normal.line and big.point > normal.point


# ----------------------------------------------------------------- flywheel
def test_flywheel_plot_draws_each_metric_in_its_band(qtbot):
    from explorer.app.flywheel_plot import SERIES, FlywheelPlot, band_values
    plot = _show(qtbot, FlywheelPlot())
    assert plot.points == 0 and "no versions yet" in plot.caption_text(plot.item)
    plot.set_series(_series(5))
    assert plot.points == 5 and plot.caption_text(plot.item) == ""
    assert plot.latest() == {"flaws": "0", "findings": "1", "basin_cells": "120", "true_correlation": "0.85",
                             "spurious_max_reward": "0.180", "policy_true_return": "1.50"}
    right = {round(v, 6): t for v, t in plot.item.getAxis("right")._tickLevels[0]}
    assert sorted(right.values()) == sorted(plot.latest().values())
    curves = [c for c in plot.item.listDataItems()]
    assert len(curves) == len(SERIES)
    for row, curve in enumerate(curves):
        ys = curve.yData
        top, bottom = len(SERIES) - row, len(SERIES) - 1 - row
        finite = ys[np.isfinite(ys)]
        assert np.all((finite > bottom) & (finite < top))        # inside its own row
    # a version without the metric is a gap, not a zero; a constant metric sits mid-band
    assert np.isnan(curves[-1].yData[1])
    assert np.allclose(band_values([3.0, 3.0], 0), band_values([3.0, 3.0], 0)[0])


def test_flywheel_plot_labels_versions_without_crowding(qtbot):
    from explorer.app.flywheel_plot import FlywheelPlot
    plot = _show(qtbot, FlywheelPlot(), w=360)
    plot.set_series(_series(40))
    ticks = [t for _v, t in plot.item.getAxis("bottom")._tickLevels[0]]
    assert ticks[0] == "v1" and ticks[-1] == "v40" and len(ticks) < 12


def test_flywheel_plot_presenter_mode(qtbot):
    from explorer.app.flywheel_plot import FlywheelPlot
    plot = _show(qtbot, FlywheelPlot())
    plot.set_series(_series(4))
    h = plot.minimumHeight()
    plot.set_presenter(True)
    assert plot.minimumHeight() > h and plot.points == 4
    assert plot.item.getAxis("right").style["tickFont"].pointSizeF() >= 18
    names = [i for i in plot.item.items if hasattr(i, "textItem")]
    assert len(names) == 6 and all(i.textItem.font().pointSizeF() >= 18 for i in names)
    assert plot.item.listDataItems()[0].opts["pen"].widthF() >= 4
    plot.set_presenter(False)
    assert plot.minimumHeight() == h


# ----------------------------------------------------------------- collapse
def _arm(arm: str, n: int, peak: float):
    from explorer.lessons.collapse_live import ArmRun
    t = np.arange(n + 1, dtype=float)
    u = peak * np.sin(np.pi * t / (2 * n)) + 0.27
    return ArmRun(arm, t.astype(int), u, u - 0.1, t / n, 1, (u,))


def test_collapse_plot_frame_caption_curves_and_marker(qtbot):
    from explorer.app.lessons.collapse_plot import CollapsePlot
    plot = _show(qtbot, CollapsePlot(), w=900, h=360)
    plot.set_frame(120)
    assert "Run" in plot.caption_text(plot.main)
    assert plot.main.getViewBox().viewRange()[0][1] >= 120        # the frame waits for the rounds
    plot.set_series({"myopic": _arm("myopic", 60, 6.0), "relaxed": _arm("relaxed", 60, 9.5)}, None, 120)
    assert plot.caption_text(plot.main) == ""
    assert plot.main.getViewBox().viewRange()[0][1] >= 120        # partial runs grow into it
    assert len(plot.main.listDataItems()) == 4 and len(plot.low.listDataItems()) == 2
    plot.set_marker(30)
    u30 = {a: f"{r.true_utility[30]:.1f}" for a, r in plot.series.items()}
    assert set(u30.values()) <= set(plot.marker_texts())
    plot.set_marker(None)
    assert plot.marker_texts() == []
    # the published figures are hollow points
    plot.set_series({"myopic": _arm("myopic", 300, 6.0)}, {"myopic": {"final_utility": 3.9, "peak_utility": 6.0,
                                                                        "peak_iteration": 100, "final_noise": 1.65}}, 300)
    scatter = [i for i in plot.main.items if type(i).__name__ == "ScatterPlotItem"]
    assert len(scatter) == 1 and scatter[0].data["x"].tolist() == [300, 100]


def test_collapse_plot_axes_have_no_si_prefix(qtbot):
    from explorer.app.lessons.collapse_plot import CollapsePlot
    plot = _show(qtbot, CollapsePlot(), w=900, h=360)
    run = _arm("myopic", 60, 6.0)
    run.noise_norm = run.noise_norm * 1e-3
    plot.set_series({"myopic": run}, None, 60)
    for item in plot.plots:
        assert item.getAxis("left").autoSIPrefix is False
        assert "x0" not in item.getAxis("left").labelString()


# ----------------------------------------------------------------- AfD
def _bon(values):
    ns = (1, 2, 4, 8, 16, 32, 64)
    return {"best_of_n": [{"n": n, "true_reward": v} for n, v in zip(ns, values)]}


def test_bon_plot_names_each_curve_at_its_end(qtbot):
    from explorer.app.lessons.afd_plot import BonPlot
    plot = _show(qtbot, BonPlot(), w=520, h=420)
    assert "Run" in plot.caption_text(plot.item)
    oracle = {n: 0.67 + 0.02 * math.log2(n) for n in (1, 2, 4, 8, 16, 32, 64)}
    plot.set_preview((1, 2, 4, 8, 16, 32, 64), oracle, 0.67)
    assert plot.end_label_texts() == ["ceiling"] and plot.caption_text(plot.item) == ""
    runs = {"init-sft": _bon([0.67, 0.70, 0.71, 0.72, 0.725, 0.73, 0.733]),
            "sft-demo": _bon([0.67, 0.66, 0.64, 0.62, 0.60, 0.58, 0.55])}
    plot.set_runs(runs, "init-sft", 16)
    assert set(plot.end_label_texts()) == {"ceiling", "init-sft", "sft-demo"}
    assert plot.values_at(16) == {"ceiling": oracle[16], "init-sft": 0.725, "sft-demo": 0.60}
    # the names sit right of N = 64 and inside the view
    (_x0, x1), _ = plot.item.getViewBox().viewRange()
    for label in plot._end_labels:
        assert label.pos().x() > math.log2(64) and label.pos().x() < x1
