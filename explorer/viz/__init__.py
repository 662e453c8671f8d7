"""Scene building and headless figures (pyvista, no Qt)."""
