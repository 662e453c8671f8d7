"""Guided tours of the explorer, as data (no Qt): the tour file format and its
validation (``format``), running a tour's steps as session calls with Back
through the session's undo history (``runner``), the step texts filled with live
numbers (``text``) and a policy before and after a refinement (``policy``).
The window's tour panel (``explorer.app.tour_panel``) and ``explorer tour``
drive these; docs/tours.md describes the file format for teachers.
"""
from .format import (
           Action,
           Step,
           Tour,
           TourError,
           available,
           for_world,
           load,
           parse,
           resolve,
)
from .runner import StepResult, TourRun, spurious_place

__all__ = [
           "Action",
           "Step",
           "StepResult",
           "Tour",
           "TourError",
           "TourRun",
           "available",
           "for_world",
           "load",
           "parse",
           "resolve",
           "spurious_place",
]
