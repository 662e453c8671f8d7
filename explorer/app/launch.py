"""``explorer gui``: open the window (after a splash while the heavy imports run)."""
from __future__ import annotations

import sys

from PyQt6.QtWidgets import QApplication, QMessageBox

from worlds.errors import InputError

from .files import APP_NAME


def fitting_size(width: int, height: int) -> tuple[int, int]:
    """The preferred window size, shrunk to the screen's available area."""
    screen = QApplication.primaryScreen()
    if screen is None:
        return width, height
    avail = screen.availableGeometry()
    return min(width, avail.width()), min(height, avail.height() - 30)


def run(world: str = "cube", artifact: str | None = None, session: str | None = None,
        presenter: bool = False, splash=None) -> int:
    """Open the explorer on a world (training its model in the background, or its
    trained model from the user's cache), an artifact, or a session directory."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    from .window import MainWindow
    try:
        window = MainWindow(world=world, artifact=artifact, session_dir=session)
    except (InputError, OSError) as exc:
        if splash is not None:
            splash.close()
        print(f"explorer gui: error: {' '.join(str(exc).split())}", file=sys.stderr)
        QMessageBox.critical(None, "Cannot open", str(exc))
        return 2
    if presenter:
        window.set_presenter(True)
    window.show()
    if splash is not None:
        splash.finish(window)
    return app.exec()
