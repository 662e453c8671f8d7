"""The alignment-from-demonstrations lesson (Sun & van der Schaar, arXiv 2405.15624;
``explorer.lessons.afd``): reward models fitted from demonstrations, their landscapes,
and the route Best-of-N keeps with each, measured by the true reward.

One 3D view shows the picked reward model's served reward (sigmoid of its logit) on
the grid, written in place when another model is picked, with a trial's SFT routes
(grey), a few demonstrations (thin black) and the route Best-of-N keeps at the picked
N (thick, red). The plot shows each model's expected true reward against N.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import pyvista as pv
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PyQt6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QMainWindow, QPushButton, QSizePolicy,
                             QSlider, QVBoxLayout, QWidget)
from pyvistaqt import QtInteractor

from explorer.viz import scene as sc

from ..jobs import JobRunner
from . import explanation_box

WORLDS = ("cube", "ridge", "twin-goals", "canyon")
RM_COLOURS = {"init-sft": "#1a9850", "init-demo": "#fdae61", "sft-demo": "#d7191c", "closed-form": "#2c7bb6"}

EXPLANATION = (
    "<b>Alignment from demonstrations.</b> A demonstrator walks good routes but with a zig-zag "
    "<i>style</i> the learner's smooth policy (SFT) cannot copy. Reward models are discriminators "
    "fitted between two sets of routes. <b>What to watch</b>: models that see the demonstrations "
    "(<span style='color:#fdae61'><b>init-demo</b></span>, <span style='color:#d7191c'><b>sft-demo"
    "</b></span>) learn the style as well as the quality, so Best-of-N with them keeps routes "
    "that sit where the zig-zag's corners are and the true reward <b>falls</b> as N grows; "
    "<span style='color:#1a9850'><b>init-sft</b></span> (both sides from one policy class) "
    "tracks the exact <span style='color:#2c7bb6'><b>closed-form</b></span> ratio and improves "
    "with N. View: the picked model's reward (purple = high), SFT routes (grey), "
    "demonstrations (black), the route Best-of-N keeps (red).")


def available() -> bool:
    try:
        from explorer.core import afd  # noqa: F401
        return hasattr(afd, "run_afd") and hasattr(afd, "setup")
    except Exception:  # noqa: BLE001
        return False


@dataclass
class AfdResult:
    world_name: str
    world: object
    runs: dict                  # rm -> run_afd dict
    landscapes: dict            # rm -> served reward on the grid
    bon_ns: tuple


def compute(world_name: str, seed: int, stop: threading.Event):
    import worlds
    from explorer.lessons import afd
    world = worlds.load(world_name)
    st = afd.setup(world, seed, max_n=max(afd.BON_NS))
    yield (0, len(afd.RM_NAMES), "demonstrations and policies ready")
    runs, lands = {}, {}
    pts = world.grid().points
    for i, rm in enumerate(afd.RM_NAMES):
        if stop.is_set():
            return None
        model = afd.reward_model(world, rm, seed, st)
        runs[rm] = afd.run_afd(world, rm, afd.BON_NS, seed, st)
        logit = np.asarray(afd.state_logits(model, pts), float)
        lands[rm] = (1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))).astype(np.float32)
        yield (i + 1, len(afd.RM_NAMES), rm)
    return AfdResult(world_name, world, runs, lands, tuple(afd.BON_NS))


class BonPlot(QWidget):
    """Expected true reward of the Best-of-N route against N (log scale), per model."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.runs: dict = {}
        self.selected: str | None = None
        self.n: int | None = None
        self.setMinimumHeight(220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self):  # noqa: N802
        return QSize(700, 240)

    def set_runs(self, runs: dict, selected: str, n: int) -> None:
        self.runs, self.selected, self.n = dict(runs), selected, n
        self.update()

    def paintEvent(self, _ev) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("white"))
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        p.setFont(font)
        if not self.runs:
            p.setPen(QColor("#808080"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "press Run to fit the reward models")
            p.end()
            return
        left, right, top, bottom = 50.0, 150.0, 10.0, 34.0
        r = QRectF(left, top, self.width() - left - right, self.height() - top - bottom)
        vals = [row[k] for run in self.runs.values() for row in run["best_of_n"] for k in ("true_reward", "oracle")]
        lo, hi = min(vals), max(vals)
        pad = 0.05 * (hi - lo or 1.0)
        lo, hi = lo - pad, hi + pad
        ns = [row["n"] for row in next(iter(self.runs.values()))["best_of_n"]]
        lmax = math.log2(max(ns)) or 1.0

        def pt(n, v):
            return QPointF(r.left() + r.width() * math.log2(n) / lmax, r.bottom() - r.height() * (v - lo) / (hi - lo))
        p.setPen(QColor("#606060"))
        p.drawRect(r)
        for k in range(5):
            v = lo + (hi - lo) * k / 4
            p.drawText(QRectF(0, pt(1, v).y() - 8, left - 4, 16),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{v:.2f}")
        for n in ns:
            p.drawText(QRectF(pt(n, lo).x() - 15, r.bottom() + 2, 30, 16), Qt.AlignmentFlag.AlignCenter, str(n))
        p.drawText(QRectF(left, r.bottom() + 16, r.width(), 16), Qt.AlignmentFlag.AlignCenter,
                   "N (Best-of-N from SFT)")
        p.save()
        p.translate(10, r.center().y())
        p.rotate(-90)
        p.drawText(QRectF(-r.height() / 2, -8, r.height(), 16), Qt.AlignmentFlag.AlignCenter, "true reward")
        p.restore()
        oracle = next(iter(self.runs.values()))["best_of_n"]
        pen = QPen(QColor("#909090"), 1.5)
        pen.setStyle(Qt.PenStyle.DashLine)
        self._line(p, [pt(row["n"], row["oracle"]) for row in oracle], pen)
        ly = top + 4
        for rm, run in self.runs.items():
            bold = rm == self.selected
            self._line(p, [pt(row["n"], row["true_reward"]) for row in run["best_of_n"]],
                       QPen(QColor(RM_COLOURS.get(rm, "#404040")), 3.5 if bold else 1.8))
            p.setPen(QPen(QColor(RM_COLOURS.get(rm, "#404040")), 3 if bold else 2))
            x0 = self.width() - right + 10
            p.drawLine(QPointF(x0, ly + 8), QPointF(x0 + 18, ly + 8))
            f2 = QFont(font)
            f2.setBold(bold)
            p.setFont(f2)
            p.drawText(QRectF(x0 + 22, ly, right - 30, 16), Qt.AlignmentFlag.AlignVCenter, rm)
            p.setFont(font)
            ly += 18
        p.setPen(pen)
        p.drawLine(QPointF(self.width() - right + 10, ly + 8), QPointF(self.width() - right + 28, ly + 8))
        p.setPen(QColor("#303030"))
        p.drawText(QRectF(self.width() - right + 32, ly, right - 36, 16), Qt.AlignmentFlag.AlignVCenter,
                   "best of N (oracle)")
        if self.n is not None:
            pen = QPen(QColor("#404040"), 1)
            pen.setStyle(Qt.PenStyle.DotLine)
            p.setPen(pen)
            x = pt(self.n, lo).x()
            p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
        p.end()

    @staticmethod
    def _line(p: QPainter, pts, pen) -> None:
        path = QPainterPath()
        for i, q in enumerate(pts):
            path.moveTo(q) if i == 0 else path.lineTo(q)
        p.setPen(pen)
        p.drawPath(path)
        for q in pts:
            p.drawEllipse(q, 2.5, 2.5)


class AfdLesson(QMainWindow):
    runDone = pyqtSignal(bool)

    def __init__(self, initial_world: str | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Lesson: alignment from demonstrations (Best-of-N)")
        self.is_closed = False
        self.result: AfdResult | None = None
        self.error: Exception | None = None
        self.scene: sc.Scene | None = None
        self.jobs = JobRunner(self)
        self.jobs.snapshot.connect(lambda s: self.status.setText(f"{s[0]}/{s[1]}: {s[2]}"))
        self.jobs.succeeded.connect(self._on_done)
        self.jobs.failed.connect(self._on_failed)
        self.jobs.finished.connect(lambda _k: self._sync())
        central = QWidget(self)
        self.setCentralWidget(central)
        lay = QVBoxLayout(central)
        self.explain = explanation_box(EXPLANATION)
        lay.addWidget(self.explain)
        row = QHBoxLayout()
        lay.addLayout(row)
        self.world_combo = QComboBox()
        for name in WORLDS:
            self.world_combo.addItem(name, name)
        if initial_world in WORLDS:
            self.world_combo.setCurrentIndex(WORLDS.index(initial_world))
        self.rm_combo = QComboBox()
        self.rm_combo.setToolTip("The reward model drawn in the view (all are in the plot)")
        self.rm_combo.currentIndexChanged.connect(lambda _i: self._show())
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.start)
        self.status = QLabel("")
        for text, w in (("world", self.world_combo), ("reward model", self.rm_combo)):
            row.addWidget(QLabel(text))
            row.addWidget(w)
        row.addWidget(self.run_button)
        row.addWidget(self.status, 1)
        body = QHBoxLayout()
        lay.addLayout(body, 1)
        self.plotter = QtInteractor(central, auto_update=False)
        self.plotter.set_background("white")
        self.plotter.clear_events_for_key("q")
        body.addWidget(self.plotter, 3)
        self.plot = BonPlot()
        srow = QHBoxLayout()
        self.n_slider = QSlider(Qt.Orientation.Horizontal)
        self.n_slider.setToolTip("N: how many SFT routes Best-of-N chooses from")
        self.n_slider.valueChanged.connect(lambda _v: self._show())
        self.n_label = QLabel("N = -")
        self.n_label.setMinimumWidth(60)
        srow.addWidget(QLabel("Best-of-N, N"))
        srow.addWidget(self.n_slider, 1)
        srow.addWidget(self.n_label)
        lay.addLayout(srow)
        lay.addWidget(self.plot, 1)
        self.resize(1100, 900)
        self._sync()

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def start(self) -> None:
        if self.busy or self.is_closed:
            return
        name = self.world_combo.currentData()
        self.status.setText("fitting...")
        self.jobs.start("afd", lambda stop: compute(name, 0, stop))
        self._sync()

    def _sync(self) -> None:
        self.run_button.setEnabled(not self.busy)

    def _on_failed(self, _k, exc) -> None:
        self.error = exc
        self.status.setText(f"failed: {exc}")
        self.runDone.emit(False)

    def _on_done(self, _k, result) -> None:
        if result is None or self.is_closed:
            self.runDone.emit(False)
            return
        self.result = result
        self.scene = None
        self.rm_combo.blockSignals(True)
        self.rm_combo.clear()
        for rm in result.runs:
            self.rm_combo.addItem(rm, rm)
        self.rm_combo.blockSignals(False)
        self.n_slider.blockSignals(True)
        self.n_slider.setRange(0, len(result.bon_ns) - 1)
        self.n_slider.setValue(len(result.bon_ns) - 1)
        self.n_slider.blockSignals(False)
        self._show()
        self.status.setText(f"{result.world_name}: done")
        self.runDone.emit(True)

    @property
    def n(self) -> int:
        return self.result.bon_ns[self.n_slider.value()]

    def _show(self) -> None:
        res = self.result
        if res is None or self.is_closed:
            return
        rm = self.rm_combo.currentData()
        world, run = res.world, res.runs[rm]
        values = res.landscapes[rm].copy()
        if not world.is_terrain:
            values[values < np.quantile(values, 0.85)] = np.nan
        if self.scene is None:
            self.plotter.clear()
            mesh = sc.landscape_mesh(world, world.grid().points, values)
            lut = pv.LookupTable(cmap="viridis_r")
            lut.scalar_range = (0.0, 1.0)
            lut.SetNanColor(1.0, 1.0, 1.0, 0.0)
            bar = {"title": "served reward\n(purple = high)", "n_labels": 5, "fmt": "%.1f", "vertical": True,
                   "position_x": 0.86, "position_y": 0.1, "width": 0.05, "height": 0.5, "color": "black",
                   "interactive": False}
            kw = dict(smooth_shading=True) if world.is_terrain else dict(
                render_points_as_spheres=True, point_size=max(3.0, 110.0 / world.resolution), opacity=0.5)
            actor = self.plotter.add_mesh(mesh, scalars="reward", cmap=lut, clim=(0.0, 1.0), name="landscape",
                                          scalar_bar_args=bar, pickable=False, render=False, **kw)
            self.scene = sc.Scene(world, mesh, actor)
            sc.add_overlays(self.plotter, world, {"expert": False, "hazards": True, "boundary": False})
            lift = np.array([0, 0, 0.03 * float(np.max(world.bounds_max - world.bounds_min))]) \
                if world.is_terrain else np.zeros(3)
            samples = [pv.lines_from_points(np.asarray(s, float) + lift) for s in run["samples"]]
            self.plotter.add_mesh(pv.merge(samples), color="#a0a0a0", line_width=1, name="sft_routes",
                                  pickable=False, render=False)
            demos = [pv.lines_from_points(np.asarray(s, float) + lift) for s in run["demonstrations"][:6]]
            self.plotter.add_mesh(pv.merge(demos), color="black", line_width=2, name="demonstrations",
                                  pickable=False, render=False)
            self._lift = lift
            sc.default_camera(self.plotter, world)
        else:
            sc.update_reward(self.scene, values)
        chosen = np.asarray(run["samples"][run["chosen"][str(self.n)]], float) + self._lift
        self.plotter.add_mesh(pv.lines_from_points(chosen), color="red", line_width=6, name="chosen",
                              pickable=False, reset_camera=False, render=False)
        self.plotter.render()
        row = next(r for r in run["best_of_n"] if r["n"] == self.n)
        self.n_label.setText(f"N = {self.n}")
        self.status.setText(f"{res.world_name}, {rm}: Best-of-{self.n} true reward {row['true_reward']:.3f}")
        self.plot.set_runs(res.runs, rm, self.n)

    def closeEvent(self, ev) -> None:  # noqa: N802
        self.shutdown()
        ev.accept()

    def shutdown(self) -> None:
        if self.is_closed:
            return
        self.is_closed = True
        self.jobs.wait(60.0)
        self.plotter.close()
