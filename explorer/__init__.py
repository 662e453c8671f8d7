"""Reward Landscape Explorer: train, audit and refine interactionless-IRL reward
models in 3D toy worlds (arXiv 2602.14844).

``from explorer import Session`` is the scripting API (see ``explorer.session``);
the desktop window (``explorer gui``) is one view over that same object.
"""
__version__ = "0.2.0"

__all__ = ["Session"]


def __getattr__(name: str):
    # Imported on first use: ``explorer --help`` and the headless commands stay fast.
    if name == "Session":
        from explorer.session import Session
        return Session
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")
