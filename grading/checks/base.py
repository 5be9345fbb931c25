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

``hidden=False`` runs the learner-visible self-check on the committed visible seeds.
A true ``hidden`` runs the grading cases (more seeds, stability cases) on seeds drawn
from a ``HiddenInputs``: the judge passes one keyed by the course's secret (see
``grading.secret``), so the public repository cannot predict them; ``hidden=True``
(a source notebook's hidden test cells, the project's own tests) uses the public
``DEVELOPMENT_INPUTS`` key, which never decides a grade.

Checks are written as case generators with the ``part`` decorator: each case is one
input set, the part's fraction is the share of cases passed (partial credit within a
part for the judge; nbgrader gives a test cell all or nothing), and ``report`` runs a
part on a notebook's ``globals()`` from its test cell. ``nnlib_tripwire`` makes a
graded function that calls nnlib score 0 for its part.
"""
import contextlib
import dataclasses
import functools
import hashlib
import hmac
import inspect
import sys
import types
import warnings

import numpy as np


@dataclasses.dataclass(frozen=True)
class Part:
    """One graded part: a test cell of the notebook with its nbgrader ``grade_id``."""

    grade_id: str        # the nbgrader grade_id of the part's test cell
    functions: tuple     # names of the student functions the part calls
    points: float        # points of the part (nbgrader cell metadata)
    check: object        # callable(functions: dict, hidden: bool) -> Result
    no_nnlib: bool = True  # the functions must not delegate to nnlib
    # Which of ``functions`` run under the nnlib tripwire when ``no_nnlib`` (empty: all).
    # A backward part guards only its backward: a forward that delegates loses its own part.
    guarded: tuple = ()


@dataclasses.dataclass
class Result:
    """Outcome of one part: ``fraction`` of its points in [0, 1], and messages for the learner."""

    fraction: float
    messages: list = dataclasses.field(default_factory=list)


class Seed(int):
    """A hidden seed: an int that prints as its position ("hidden-2"), never as its value.

    Case labels say ``f"seed {seed}"``; a hidden case's label reaches the learner's
    feedback page, and the value itself must not.
    """

    def __new__(cls, value, position):
        seed = super().__new__(cls, value)
        seed.position = position
        return seed

    def __str__(self):
        return f"hidden-{self.position + 1}"

    __repr__ = __str__

    def __format__(self, spec):
        return format(str(self), spec)


class HiddenInputs:
    """Where a part's hidden random inputs come from: a key and a label (assignment/part).

    ``seeds(count)`` gives ``count`` seeds, each the HMAC-SHA256 of the label and its
    position under the key: the same key gives the same inputs (a re-grade reproduces
    its grades), another key other inputs. Each seed is congruent to its position
    modulo 6, so a check that picks a shape by ``seed % 2`` or ``seed % 3`` covers
    every shape, as it did with consecutive committed seeds. Seeds are below 2**31
    (``np.random.seed`` takes them too).
    """

    def __init__(self, key, label=""):
        if not isinstance(key, bytes) or len(key) < 16:
            raise ValueError(f"key must be at least 16 bytes, got {type(key).__name__} "
                             f"of length {len(key) if isinstance(key, bytes) else 'n/a'}")
        self._key, self.label = key, label

    def for_part(self, name):
        return HiddenInputs(self._key, f"{self.label}/{name}")

    def seed(self, tag):
        """One plain int seed for ``tag`` (an extra hidden input of the part)."""
        digest = hmac.new(self._key, f"{self.label}#{tag}".encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") % (2**31 - 8)

    def seeds(self, count):
        return tuple(Seed((self.seed(position) // 6) * 6 + position % 6, position) for position in range(count))

    def __repr__(self):  # never shows the key
        return f"HiddenInputs(label={self.label!r})"


# Public: for hidden=True outside the judge (source notebooks, the project's tests). Never grades.
DEVELOPMENT_INPUTS = HiddenInputs(b"public development key: never used for grades")


def hidden_inputs(hidden, name):
    """False for the visible self-check, else the HiddenInputs of the part ``name``."""
    if not hidden:
        return False
    if hidden is True:
        hidden = DEVELOPMENT_INPUTS
    if not isinstance(hidden, HiddenInputs):
        raise TypeError(f"hidden must be False, True or a HiddenInputs, got {type(hidden).__name__}")
    return hidden.for_part(name)


def seeds(hidden, visible, count):
    """The seeds of a part's cases: ``visible`` (committed) or ``count`` from ``hidden``."""
    return hidden.seeds(count) if hidden else tuple(visible)


class CheckFailed(Exception):
    """A returned value failed a structural check (shape, dtype, finiteness)."""


class NonFiniteResult(CheckFailed):
    """A returned value holds NaN or infinity for a valid input: the whole part earns 0."""


class WrongType(CheckFailed):
    """A returned value is not real numbers: a str, bytes, complex, object or structured value."""


def as_real_array(value, what):
    """A float64 copy of ``value`` if it is real numbers (bool, int or float, any nesting of lists).

    ``np.array("1.5", dtype=float)`` is 1.5, so converting straight to float64 would let a
    string (or a list of strings, bytes, objects) pass for a number: the value is first
    read as numpy reads it by itself, and anything but bool, int or float is ``WrongType``.
    Booleans count as real numbers (0 and 1), as numpy counts them: ``z > 0`` is an honest
    derivative of ReLU.
    """
    from grading import protocol

    if isinstance(value, (str, bytes)):
        raise WrongType(f"{what} is not a numeric array: {protocol.wrong_type(value)}")
    try:
        raw = np.asarray(value)
    except Exception as error:  # noqa: BLE001 (a returned object may raise anything from __array__)
        raise CheckFailed(f"{what} is not a numeric array ({type(value).__name__}): {error}") from None
    if not protocol.is_real(raw.dtype):
        raise WrongType(f"{what} is not a numeric array: {protocol.wrong_type(raw)}")
    return np.array(raw, dtype=np.float64, copy=True)


def as_checked_array(value, expected_shape, what):
    """``value`` as a float64 array with the exact ``expected_shape`` and finite entries.

    Raises ``CheckFailed`` with a message naming ``what``, the shape received and the
    shape expected (``WrongType`` when it is not real numbers, see ``as_real_array``); a
    plain ndarray copy comes back, so subclasses and objects that claim equality with
    anything lose their tricks.
    """
    array = as_real_array(value, what)
    if array.shape != tuple(expected_shape):
        raise CheckFailed(f"{what} has shape {array.shape}, expected {tuple(expected_shape)}")
    if not np.all(np.isfinite(array)):
        raise NonFiniteResult(f"{what} contains NaN or infinity")
    return array


_NNLIB = "nnlib"


class NnlibCalled(Exception):
    """A graded function called a function of nnlib; its part scores 0.

    Raised inside the student's code by the tripwire; a judge whose sandbox records such
    a call raises it from its proxy so that the check scores the part the same way.
    """

    def __init__(self, qualname, function=None):
        super().__init__(qualname, function)
        self.qualname, self.function = qualname, function

    def __str__(self):
        return f"graded functions must be your own code: {self.function} called nnlib.{self.qualname}"


class NotImplementedYet(Exception):
    """A student function still raises NotImplementedError (the exercise stub)."""

    def __init__(self, function):
        super().__init__(function)
        self.function = function

    SUFFIX = "it raised NotImplementedError"

    def __str__(self):
        return f"{self.function} is not implemented yet: {self.SUFFIX}"


def _nnlib_functions():
    """Every Python function defined in nnlib's modules: module functions and class methods."""
    found = {}

    def add(function, qualname):
        function = inspect.unwrap(function) if isinstance(function, types.FunctionType) else function
        if isinstance(function, types.FunctionType) and function.__module__.startswith(_NNLIB):
            found.setdefault(id(function), (function, qualname))

    for name, module in list(sys.modules.items()):
        if module is None or not (name == _NNLIB or name.startswith(_NNLIB + ".")):
            continue
        short = name[len(_NNLIB) + 1:]
        for attr, value in list(vars(module).items()):
            prefix = f"{short}.{attr}" if short else attr
            if isinstance(value, type) and value.__module__.startswith(_NNLIB):
                for member_name, member in vars(value).items():
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    if isinstance(member, property):
                        for accessor in (member.fget, member.fset, member.fdel):
                            add(accessor, f"{prefix}.{member_name}")
                    else:
                        add(member, f"{prefix}.{member_name}")
            else:
                add(value, prefix)
    return list(found.values())


@functools.lru_cache(maxsize=None)
def _tripwire_code(num_freevars):
    """Code of a function that records the call and raises NnlibCalled.

    A function's ``__code__`` may only be swapped for code with as many free variables
    as its closure holds (methods using ``super()`` hold ``__class__``), hence the dummies.
    It finds its record in the keyword-only default ``_nnlib_tripwire``.
    """
    names = [f"_free{i}" for i in range(num_freevars)]
    source = (
        "def outer():\n"
        + "".join(f"    {name} = None\n" for name in names)
        + "    def tripwire(*args, _nnlib_tripwire, **kwargs):\n"
        + (f"        ({', '.join(names)},)\n" if names else "")
        + "        calls, qualname, error = _nnlib_tripwire\n"
        + "        calls.append(qualname)\n"
        + "        raise error(qualname)\n"
        + "    return tripwire\n"
    )
    namespace = {}
    exec(compile(source, "<nnlib tripwire>", "exec"), namespace)  # noqa: S102 (fixed text above)
    return namespace["outer"]().__code__


@contextlib.contextmanager
def nnlib_tripwire():
    """While active, every Python function and method of nnlib records its call and raises.

    The ``__code__`` of each function object is replaced (and restored on exit), so
    references captured before (``from nnlib.losses import mse``, a bound method, an
    ``nnlib.Dense`` built earlier) trip as well. Yields the list of called qualnames.
    """
    calls = []
    saved = []
    try:
        for function, qualname in _nnlib_functions():
            saved.append((function, function.__code__, function.__defaults__, function.__kwdefaults__))
            function.__code__ = _tripwire_code(len(function.__code__.co_freevars))
            function.__defaults__ = None
            function.__kwdefaults__ = {"_nnlib_tripwire": (calls, qualname, NnlibCalled)}
        yield calls
    finally:
        for function, code, defaults, kwdefaults in reversed(saved):
            function.__code__ = code
            function.__defaults__ = defaults
            function.__kwdefaults__ = kwdefaults


class Calls:
    """Calls the student's functions for a check and turns their failures into CheckFailed.

    ``calls(name, *args)`` runs the function ``name`` with warnings silenced (numpy
    overflow warnings must not reach a test cell's stderr), under the nnlib tripwire
    when ``name`` is in ``guarded``. A missing name, an exception or NotImplementedError become
    ``CheckFailed``/``NotImplementedYet``; a call into nnlib raises ``NnlibCalled``.
    """

    def __init__(self, functions, guarded):
        self.functions, self.guarded = functions, frozenset(guarded)

    def __call__(self, name, *args, **kwargs):
        function = self.functions.get(name) if hasattr(self.functions, "get") else None
        if function is None or not callable(function):
            raise CheckFailed(f"no function named {name}: define it in its answer cell and run that cell")
        tripwire = nnlib_tripwire() if name in self.guarded else contextlib.nullcontext([])
        try:
            with tripwire as nnlib_calls, warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                try:
                    return function(*args, **kwargs)
                finally:
                    if nnlib_calls:
                        raise NnlibCalled(nnlib_calls[0], name)
        except NnlibCalled as error:
            raise NnlibCalled(error.qualname, name) from None
        except NotImplementedError:
            raise NotImplementedYet(name) from None
        except (CheckFailed, NotImplementedYet):
            raise
        except Exception as error:  # noqa: BLE001 (any failure of student code is reported)
            raise CheckFailed(f"{name} raised {type(error).__name__}: {error}") from None


def run_cases(cases):
    """Score labelled cases: ``cases`` yields (label, thunk); a thunk raises CheckFailed to fail.

    The fraction is the share of cases passed; messages name the failed cases, one
    message per distinct problem. NotImplementedYet and NnlibCalled end the part at 0,
    and so does any NaN or infinity returned for a valid input (NonFiniteResult): a
    function that can blow up on valid data earns nothing, however many cases it passed.
    """
    passed, total, messages, seen, blew_up = 0, 0, [], set(), False
    try:
        for label, thunk in cases:
            total += 1
            try:
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")  # candidates of known mistakes may overflow
                    thunk()
            except CheckFailed as failure:
                blew_up = blew_up or isinstance(failure, NonFiniteResult)
                if str(failure) not in seen:
                    seen.add(str(failure))
                    messages.append(f"{label}: {failure}")
            else:
                passed += 1
    except (NotImplementedYet, NnlibCalled) as error:
        return Result(0.0, [str(error)])
    except CheckFailed as failure:  # raised while building the cases
        return Result(0.0, [str(failure)])
    if blew_up:
        messages.append("no points for this part: it returned NaN or infinity for a valid input")
        return Result(0.0, messages)
    return Result(passed / total if total else 0.0, messages)


def part(grade_id, functions, points, no_nnlib=True, guarded=None):
    """Decorator: a case generator ``cases(call, hidden)`` becomes a ``Part``.

    The part's ``check(functions, hidden)`` builds a ``Calls`` over ``functions`` and
    scores the cases with ``run_cases``; it never raises for anything the student's
    code does, so the judge can call it with proxies. ``guarded`` defaults to the
    function named like the part (else all functions) when ``no_nnlib``.
    """
    if guarded is None:
        guarded = (grade_id,) if grade_id in functions else tuple(functions)
    guarded = tuple(guarded) if no_nnlib else ()

    def decorate(cases):
        @functools.wraps(cases)
        def check(student_functions, hidden):
            return run_cases(cases(Calls(student_functions, guarded), hidden_inputs(hidden, grade_id)))

        return Part(grade_id, tuple(functions), points, check, no_nnlib, guarded)

    return decorate


class _OneLine:
    """Mixin: IPython shows the exception as its message alone, not a traceback.

    IPython calls ``_render_traceback_`` when an exception defines it; the test cell still
    fails (nbgrader sees the error), but the learner reads one line per function.
    """

    def _render_traceback_(self):
        return str(self).splitlines()


class SelfCheckFailed(_OneLine, AssertionError):
    """A test cell's check found a mistake (nbgrader marks the cell failed)."""


class NotImplementedStub(_OneLine, NotImplementedError):
    """A test cell's function is still the exercise stub."""



def describe(grade_id, result, kind="self-check"):
    """The words for one part's outcome: the same lines in a notebook cell and ``python -m grading check``.

    One line when the part passed or a function is not implemented yet; otherwise a
    summary line and one indented line per message (the messages the feedback page shows).
    """
    if result.fraction >= 1.0:
        return f"{grade_id}: {kind} passed"
    for message in result.messages:
        if message.endswith(NotImplementedYet.SUFFIX):
            return f"{grade_id}: {message}"
    lines = "".join(f"\n  - {message}" for message in result.messages)
    return f"{grade_id}: {result.fraction:.0%} of the {kind} cases passed{lines}"


def report(part_, namespace, hidden=False):
    """Run ``part_``'s check on the functions in ``namespace`` (a notebook's ``globals()``).

    Prints one line when every case passed and returns None (a cell shows no repr).
    Otherwise raises ``SelfCheckFailed`` (an AssertionError) with ``describe``'s lines, so
    nbgrader marks the test cell failed, or ``NotImplementedStub`` (a NotImplementedError)
    while a function is still the exercise stub; IPython shows either as its message only.
    """
    functions = {name: namespace.get(name) for name in part_.functions}
    result = part_.check(functions, hidden)
    text = describe(part_.grade_id, result, "hidden tests" if hidden else "self-check")
    if result.fraction >= 1.0:
        print(text)
        return None
    if any(message.endswith(NotImplementedYet.SUFFIX) for message in result.messages):
        raise NotImplementedStub(text)
    raise SelfCheckFailed(text)


def relative_error(got, expected):
    """max |got - expected| / max(max |expected|, 1e-8): one scale-free number per array."""
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-8)
    return float(np.max(np.abs(got - expected), initial=0.0)) / scale


def unpack(value, count, what):
    """Split a returned tuple/list of ``count`` items, or fail naming ``what``."""
    if not isinstance(value, (tuple, list)) or len(value) != count:
        kind = type(value).__name__
        length = f" of length {len(value)}" if isinstance(value, (tuple, list)) else ""
        raise CheckFailed(f"{what} must return a tuple of {count} values, got a {kind}{length}")
    return tuple(value)


def as_checked_float(value, what):
    """A finite Python float from a returned scalar (or a size-1 array)."""
    array = as_real_array(value, what)
    if array.size != 1:
        raise CheckFailed(f"{what} must be a single number, got an array of shape {array.shape}")
    return float(as_checked_array(array.reshape(()), (), what))


def compare(got, expected, what, tol=1e-6, causes=(), nonfinite=None):
    """Fail unless ``got`` (untrusted) matches ``expected`` to relative error ``tol``.

    ``causes`` are (description, candidate) pairs: the wrong answers known mistakes
    produce. When ``got`` matches a candidate (of any shape) the message names that
    cause; ``nonfinite`` is the cause to name when ``got`` holds NaN or infinity. The
    message gives shapes and the relative error, never expected values.
    """
    try:
        array = as_checked_array(got, np.shape(expected), what)
    except CheckFailed as failure:
        raise type(failure)(f"{failure}{_likely_cause(got, causes, tol, nonfinite)}") from None
    error = relative_error(array, expected)
    if error > tol:
        cause = _likely_cause(array, causes, tol, nonfinite)
        raise CheckFailed(f"{what} is wrong: relative error {error:.1e} (tolerance {tol:.0e}){cause}")
    return array


def _likely_cause(got, causes, tol, nonfinite):
    try:
        array = as_real_array(got, "the value")
    except CheckFailed:  # not real numbers: no known mistake explains it
        return ""
    if not np.all(np.isfinite(array)):
        return f"; likely cause: {nonfinite or 'an overflow (exp of a large number?) or a division by zero'}"
    for description, candidate in causes:
        candidate = np.asarray(candidate, dtype=np.float64)
        if array.shape == candidate.shape and relative_error(array, candidate) <= max(tol, 1e-6):
            return f"; likely cause: {description}"
    return ""


def check_unchanged(before, after, what, function):
    """Fail if an input array was modified in place by the student's function."""
    if not np.array_equal(before, after):
        raise CheckFailed(
            f"{function} changed its input {what} in place; compute a new array instead of "
            f"writing into {what}"
        )
