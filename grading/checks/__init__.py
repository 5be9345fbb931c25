"""One module per assignment, named like the assignment (``grading.checks.backprop``).

Each module defines ``PARTS``, a list of ``Part``, and for every part a check
function ``check(functions, hidden)``; see ``grading.checks.base``.
"""
import importlib


def load(assignment):
    """Return the checks module of ``assignment`` (e.g. "backprop")."""
    return importlib.import_module(f"{__name__}.{assignment}")
