"""The alignment-from-demonstrations lesson (Sun & van der Schaar, arXiv 2405.15624;
``explorer.lessons.afd``): reward models fitted from demonstrations, their landscapes,
and the route Best-of-N keeps with each, measured by the true reward.

Left, the 3D view (``AfdView``): the picked reward model's served reward, a few
demonstrations, the SFT routes Best-of-N picks from at the slider's N and the one it
keeps. Right, the plot (``BonPlot``): each model's expected true reward against N.
The run streams from ``explorer.lessons.afd_live`` in a worker thread: the routes are
drawn as soon as the demonstrations exist, each model as soon as it is fitted (the
view follows the newest model until another is picked). The window only draws.
"""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QComboBox,
    QLabel,
    QPushButton,
    QSlider,
    QWidget,
)

from explorer.lessons.afd import BON_NS, RM_NAMES
from explorer.lessons.afd_live import FIT_ORDER

from .afd_plot import RM_COLOURS, BonPlot
from .afd_view import AfdView
from .base import LessonWindow

WORLDS = ("cube", "ridge", "twin-goals", "canyon")
RM_TIPS = {
    "init-sft": "Init-SFT: SFT's routes against the initial policy's (the paper's tailored model)",
    "init-demo": "Init-demo: the demonstrations against the initial policy's routes",
    "sft-demo": "SFT-demo: the demonstrations against SFT's routes",
    "closed-form": "Closed form: log d_SFT(s) - log d_init(s), what Init-SFT converges to",
}

EXPLANATION = (
    "<b>Alignment from demonstrations.</b> A demonstrator walks good routes but with a zig-zag "
    "<i>style</i> the learner's smooth policy (SFT) cannot copy. Reward models are discriminators "
    "fitted between two sets of routes. <b>What to watch</b>: models that see the demonstrations "
    f"(<span style='color:{RM_COLOURS['init-demo']}'><b>init-demo</b></span>, "
    f"<span style='color:{RM_COLOURS['sft-demo']}'><b>sft-demo</b></span>) learn the style as well "
    "as the quality, so Best-of-N with them keeps routes that sit where the zig-zag's corners are "
    f"and the true reward <b>falls</b> as N grows; <span style='color:{RM_COLOURS['init-sft']}'>"
    "<b>init-sft</b></span> (both sides from one policy class) tracks the exact "
    f"<span style='color:{RM_COLOURS['closed-form']}'><b>closed-form</b></span> ratio and improves "
    "with N. View: the picked model's reward (purple = high), demonstrations (black), the SFT "
    "routes Best-of-N picks from (grey) and the one it keeps (red).")
WORLD_CAPTION = "Press Run: demonstrations first,\nthen each reward model as it is fitted"


def available() -> bool:
    """The AfD science is importable (it needs the discriminator models)."""
    try:
        from explorer.lessons import afd, afd_live  # noqa: F401
    except Exception:  # noqa: BLE001 -- reported as a disabled menu entry
        return False
    return hasattr(afd, "run_afd") and hasattr(afd, "setup")


class AfdLesson(LessonWindow):
    """Lessons > Alignment from demonstrations: the lesson's own window (non-modal)."""

    def __init__(self, initial_world: str | None = None, parent: QWidget | None = None):
        super().__init__("Lesson: alignment from demonstrations (Best-of-N)", EXPLANATION, parent)
        self.follow = True              # the view follows the newest fitted model until one is picked
        self.fit_order: tuple = FIT_ORDER   # the reward models a run fits, in this order
        self._drawn_rms: tuple = ()
        self.world_combo = QComboBox()
        for name in WORLDS:
            self.world_combo.addItem(name, name)
        if initial_world in WORLDS:
            self.world_combo.setCurrentIndex(WORLDS.index(initial_world))
        self.world_combo.currentIndexChanged.connect(lambda _i: self.show_world())
        self.rm_combo = QComboBox()
        for i, rm in enumerate(RM_NAMES):
            self.rm_combo.addItem(rm, rm)
            self.rm_combo.setItemData(i, RM_TIPS[rm], Qt.ItemDataRole.ToolTipRole)
        self.rm_combo.setToolTip("The reward model drawn in the view (every fitted one is in the plot)")
        self.rm_combo.activated.connect(self._picked)
        self.rm_combo.currentIndexChanged.connect(lambda _i: self._redraw())
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Make the demonstrations and fit the four reward models, drawing as they come")
        self.run_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the model being fitted; what was computed stays drawn")
        self.stop_button.clicked.connect(self.jobs.stop)
        self.fill_controls((("world", self.world_combo), ("reward model", self.rm_combo)),
                           self.run_button, self.stop_button)

        self.view = AfdView()
        self.plotter = self.view.plotter
        self.n_slider = QSlider(Qt.Orientation.Horizontal)
        self.n_slider.setRange(0, len(BON_NS) - 1)
        self.n_slider.setValue(BON_NS.index(16))
        self.n_slider.setPageStep(1)
        self.n_slider.setToolTip("N: how many SFT routes Best-of-N chooses from")
        self.n_slider.valueChanged.connect(lambda _v: self._redraw())
        self.n_label = QLabel()
        self.plot = BonPlot()
        right = self.slider_row("Best-of-N", self.n_slider, self.n_label, QWidget(), self.plot)
        self.split = self.split_body(Qt.Orientation.Horizontal, self.view, right, (3, 2))
        self.resize(1280, 720)
        self.split.setSizes([740, 520])
        self._fit_n_label()
        self.show_world()
        self._sync()

    # ------------------------------------------------------------ state
    @property
    def n(self) -> int:
        return BON_NS[self.n_slider.value()]

    @property
    def scene(self):
        return self.view.scene

    @property
    def selected_rm(self) -> str:
        return self.rm_combo.currentData()

    def _show_world(self, name: str) -> None:
        import worlds
        self.result = None
        self.plot.clear_runs()
        self.view.show_world(worlds.load(name), WORLD_CAPTION)
        self.n_label.setText(f"N = {self.n}")
        self.status.setText(f"{name}: the black line is the world's expert route; press Run to make "
                            "demonstrations and fit the reward models")

    def _picked(self, _index: int) -> None:
        self.follow = False

    # ------------------------------------------------------------ running
    def start(self) -> None:
        if self.busy or self.is_closed:
            return
        from explorer.lessons import afd_live
        name = self.world_combo.currentData()
        fresh = self.result is None and getattr(self.view.world, "name", None) == name
        order = tuple(self.fit_order)
        self.run_job("afd", lambda stop: afd_live.stream(name, 0, stop, order))   # the worker first
        if not fresh:
            self._show_world(name)
        self.follow = True
        self._drawn_rms = ()
        self.view.set_caption("making demonstrations and SFT routes...")
        self.status.setText("computing: the routes first, then each reward model as it is fitted")

    def _sync(self) -> None:
        self.run_button.setEnabled(not self.busy)
        self.stop_button.setEnabled(self.busy)
        self.world_combo.setEnabled(not self.busy)

    # ------------------------------------------------------------ drawing
    def draw(self, res) -> None:
        if self.is_closed:
            return
        newest = [rm for rm in res.runs if rm not in self._drawn_rms]
        self._drawn_rms = tuple(res.runs)
        if self.follow and newest:
            self.rm_combo.blockSignals(True)
            self.rm_combo.setCurrentIndex(self.rm_combo.findData(newest[-1]))
            self.rm_combo.blockSignals(False)
        self.plot.set_preview(res.bon_ns, res.oracle, res.sft_true)
        self._redraw()
        if res.complete:
            self.status.setText(f"{res.world_name}: done; pick a reward model and move N")

    def _redraw(self) -> None:
        res, n, rm = self.result, self.n, self.selected_rm
        self.n_label.setText(f"N = {n}")
        if res is None or self.is_closed:
            return
        self.view.draw(res, rm, n)
        self.plot.set_runs(res.runs, rm, n)
        row = self.plot.values_at(n)
        if rm in res.runs:
            self.status.setText(f"{res.world_name}, {rm}: Best-of-{n} keeps routes of true reward "
                                f"{row[rm]:.3f} (ceiling {row.get('ceiling', float('nan')):.3f})")
        elif not res.complete:
            self.status.setText(f"{res.world_name}: {res.text}; {rm} is being fitted")

    def _fit_n_label(self) -> None:
        self.n_label.setMinimumWidth(self.n_label.fontMetrics().horizontalAdvance("N = 64") + 8)

    # ------------------------------------------------------------ presenter, closing
    def presenter_changed(self, on: bool) -> None:
        self._fit_n_label()
        self.plot.set_presenter(on)
        self.view.set_presenter(on, self._redraw_view)

    def _redraw_view(self) -> None:
        if self.result is not None:
            self.view.draw(self.result, self.selected_rm, self.n)
        elif self.view.world is not None:
            self.view.show_world(self.view.world, WORLD_CAPTION)

    def close_views(self) -> None:
        self.view.close_view()
