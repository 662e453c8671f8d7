"""What a session tells its views. Views subscribe; none is refreshed by hand.

psygnal is the signal library napari uses for its layer models: plain Python,
no Qt, and a Qt view can connect its slots directly. Every signal is emitted in
the thread that changed the session (the GUI thread, or a script's thread).
"""
from __future__ import annotations

from psygnal import Signal, SignalGroup


class SessionEvents(SignalGroup):
    reset = Signal()            # a new world and/or lineage: rebuild every view
    model = Signal(object)      # the current RewardModel changed (refine, psi, undo, restore)
    flags = Signal(object)      # tuple of Flag: the flags changed
    triage = Signal(object)     # Triage or None: a new audit, a decision, or none any more
    versions = Signal()         # the version graph, the current version or its storage changed
    commands = Signal()         # what undo and redo would do changed
    reference = Signal(object)  # the version Before/Difference compare with (None: the parent)
    preview = Signal(object)    # a live reward preview on the grid (numpy), None when it ends
    message = Signal(str)       # one line saying what just happened (status bar, CLI)
    busy = Signal(object)       # the running job's kind, or None when idle
