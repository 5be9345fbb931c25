"""The contract between an assignment's checks, its notebook and the judge.

A check receives ``functions``, a mapping from name to a callable standing for the
student's function. In the notebook it is the student's own function; in the judge
it is a proxy that calls the student's function in a sandboxed process, passing only
plain float64 arrays, ints, floats, strings, None, tuples, lists and dicts of them,
and returning the same kinds. So a check must:

- build its inputs itself from a seeded ``numpy.random.Generator``;
- treat every returned value as untrusted: convert with ``as_checked_array`` (which
  takes ``np.asarray(value, dtype=float64)`` and checks the exact shape and
  finiteness) before comparing, never call methods on it or trust ``==``;
- compare with its own reference (nnlib or numerical gradients), never with values
  the student could influence;
- return a ``Result``: a fraction of the part's points in [0, 1] and messages that
  say what is wrong without revealing expected values of hidden cases.

``hidden=False`` runs the learner-visible self-check; ``hidden=True`` runs the
grading cases (more seeds, stability cases). The grade comes from hidden=True.
"""
import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Part:
    """One graded part: a test cell of the notebook with its nbgrader ``grade_id``."""

    grade_id: str        # the nbgrader grade_id of the part's test cell
    functions: tuple     # names of the student functions the part calls
    points: float        # points of the part (nbgrader cell metadata)
    check: object        # callable(functions: dict, hidden: bool) -> Result
    no_nnlib: bool = True  # the functions must not delegate to nnlib


@dataclasses.dataclass
class Result:
    """Outcome of one part: ``fraction`` of its points in [0, 1], and messages for the learner."""

    fraction: float
    messages: list = dataclasses.field(default_factory=list)


class CheckFailed(Exception):
    """A returned value failed a structural check (shape, dtype, finiteness)."""


def as_checked_array(value, expected_shape, what):
    """``np.asarray(value, float64)`` with the exact ``expected_shape`` and finite entries.

    Raises ``CheckFailed`` with a message naming ``what``, the shape received and the
    shape expected; a plain ndarray copy comes back, so subclasses and objects that
    claim equality with anything lose their tricks.
    """
    try:
        array = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as error:
        raise CheckFailed(f"{what} is not a numeric array ({type(value).__name__}): {error}") from None
    if array.shape != tuple(expected_shape):
        raise CheckFailed(f"{what} has shape {array.shape}, expected {tuple(expected_shape)}")
    if not np.all(np.isfinite(array)):
        raise CheckFailed(f"{what} contains NaN or infinity")
    return array
