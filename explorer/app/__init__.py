"""The desktop explorer (PyQt6 + pyvistaqt). Import only with a display; the
entry point is ``explorer.app.main_window.run``."""
