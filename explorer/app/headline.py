"""One line under the 3D view that says what the picture shows, in words a class
can read from the back row: the world, the version, how many cells break a norm
and how strongly, the expert's basin, and what the last refinement did.

Why a line and not only the readouts: a landscape can look "all yellow" while
thousands of cells still break a norm with a faint reward just above the floor;
without the highest reward among them on screen, nothing tells a student why.
"""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QSizePolicy, QWidget


def headline_text(session, training: str = "", short: bool = False) -> str:
    """What the view shows, for ``session`` (``training``: the world being trained;
    ``short``: presenter mode, one line at a large font)."""
    s = session
    if training:
        n = s.world.expert_count if training == s.world.name else None
        samples = f"its {n} expert samples (black)" if n else "its expert samples (black)"
        if short:
            return f"<b>{training}</b>: training on {samples}; the landscape forms as it learns."
        return (f"<b>{training}</b>: {samples}, the goal (green) and the norm boundary (grey). "
                "Training the reward model on the expert samples: the landscape forms as it learns.")
    if not s.ready:
        return f"<b>{s.world.name}</b>: no reward model yet."
    land = s.land
    r = s.reward()
    flawed = land.flaw_mask(r)
    n = int(flawed.sum())
    floor = s.world.floor
    parts = [f"<b>{s.world.name} v{s.version}</b>"]
    if n:
        top = float(r[flawed].max())
        strength = ("faint: just above the floor" if top < floor + 0.1 else
                    "strong" if top >= 0.5 else "moderate")
        if short:
            parts.append(f"<span style='color:#c0141b'><b>{n:,}</b> cells break a norm</span> (max {top:.2f})")
        else:
            parts.append(f"<span style='color:#c0141b'><b>{n:,}</b> cells break a norm</span> with reward "
                         f"above the floor {floor:g} (highest {top:.2f}, {strength})")
    else:
        parts.append(f"no cell breaks a norm with reward above the floor {floor:g}")
    basin = int(land.basin_mask(r).sum())
    parts.append(f"basin {basin:,} cells" if short else f"expert's basin {basin:,} cells")
    chk = s.last_check
    if chk is not None and s.versions.entry(s.version).kind != "trained":
        kept = "kept" if chk.get("passed") else "NOT kept"
        parts.append(f"check: basin {kept} {chk['basin_retention']:.1%}" if short else
                     f"last check: basin {kept} ({chk['basin_retention']:.1%} of its reward)")
    if s.flags:
        parts.append(f"{len(s.flags)} flag{'s' if len(s.flags) != 1 else ''}")
    return " · ".join(parts)


class Headline(QLabel):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.setStyleSheet("QLabel { background: #f4f4ee; border-top: 1px solid #d8d8d0; padding: 4px 8px; }")
        self.training = ""
        self.short = False

    def set_short(self, short: bool) -> None:
        self.short = short
        if hasattr(self, "_refresh"):
            self._refresh()

    def bind(self, session) -> None:
        def refresh(*_args) -> None:
            self.setText(headline_text(session, self.training, self.short))
        self._refresh = refresh
        ev = session.events
        for sig in (ev.reset, ev.model, ev.flags, ev.versions):
            sig.connect(refresh)
        refresh()

    def set_training(self, world_name: str) -> None:
        """Say a world is being trained ('' when it is over)."""
        self.training = world_name
        self._refresh()

    def plain_text(self) -> str:
        import re
        return re.sub(r"<[^>]+>", "", self.text())
