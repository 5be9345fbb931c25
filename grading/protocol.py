"""Messages between the judge and a sandboxed worker: JSON plus ``.npy`` arrays, no pickle.

A message is one frame on a pipe::

    8-byte big-endian length of the JSON header, the header (UTF-8 JSON),
    then for each array the header refers to: 8-byte length, the array in .npy format

Values travel as a small tagged tree. Scalars (None, bool, int, float, str) are themselves;
``{"t": [...]}`` is a tuple, ``{"l": [...]}`` a list, ``{"d": [[key, value], ...]}`` a dict
with str or int keys, ``{"a": i}`` the i-th array of the frame, ``{"g": [name, state]}`` a
``numpy.random.Generator`` (its bit generator's name and state, so the student's function
draws exactly what it would have drawn in the notebook) and ``{"h": n}`` an opaque object
that stays in the worker (a cache, say): the judge holds a ``Handle`` and passes it back. Arrays are read with ``np.load(allow_pickle=False)``, so nothing the worker sends
can run code in the judge; sizes, depth and node counts are capped. ``decode`` accepts
real numeric arrays only (bool, int, float): a complex, string, structured or other array
is a ``WrongType`` error that names what came and what was expected.
"""
import io
import json
import os
import re
import struct

import numpy as np

MAX_FRAME_BYTES = 64 * 2**20
MAX_HEADER_BYTES = 4 * 2**20   # the JSON part of a frame (values' arrays travel as .npy blobs)
MAX_JSON_DEPTH = 2 * 32 + 16   # brackets: a tree of MAX_DEPTH tagged nodes plus the header's own
MAX_ARRAYS = 10_000
MAX_DEPTH = 32
MAX_NODES = 100_000
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_LENGTH = struct.Struct(">Q")


class ProtocolError(Exception):
    """A frame was malformed, too large or cut short (the other side died?)."""


class WrongType(ProtocolError):
    """An array (or scalar) whose dtype is not a real number type: bool, int or float."""


REAL_KINDS = "biuf"
_KIND_NAMES = {"c": "complex numbers", "U": "strings", "S": "byte strings", "V": "structured records",
               "M": "dates", "m": "time differences", "O": "Python objects"}


def wrong_type(value):
    """The words for ``value`` (an array, a numpy scalar, a str, bytes, ...) that is not real numbers.

    One wording for the protocol (``check_real``) and the checks (``checks.base``):
    ``wrong type: got <what>; expected real numbers (...)``.
    """
    if isinstance(value, (str, bytes)):
        shown = repr(value[:20]) + ("..." if len(value) > 20 else "")
        got = f"a Python {type(value).__name__} {shown} ({_KIND_NAMES['U' if isinstance(value, str) else 'S']})"
    elif isinstance(value, (np.ndarray, np.generic)):
        dtype = value.dtype
        what = _KIND_NAMES["V"] if dtype.names is not None else \
            _KIND_NAMES.get(dtype.kind, "values of an unsupported type")
        shape = "a scalar" if value.ndim == 0 else f"an array of shape {value.shape}"
        got = f"{shape} of dtype {dtype} ({what})"
    else:
        got = f"a {type(value).__name__}"
    return f"wrong type: got {got}; expected real numbers (a float, int or bool array or number)"


def is_real(dtype):
    """True for bool, int and float dtypes (not complex, strings, records, dates or objects)."""
    return dtype.kind in REAL_KINDS and dtype.names is None and not dtype.hasobject


def check_real(array):
    """``array`` if its dtype is bool, int or float; else WrongType naming what came and what is expected."""
    if is_real(array.dtype):
        return array
    raise WrongType(wrong_type(array))


class Handle:
    """An object that stays in the worker; only its number crosses the boundary."""

    __slots__ = ("number",)

    def __init__(self, number):
        self.number = number

    def __repr__(self):
        return f"<object #{self.number} kept in the student's process>"


def encode(value, arrays, make_handle=None, _depth=0):
    """Return the JSON tree of ``value``; arrays are appended to ``arrays``.

    ``make_handle(obj) -> int`` turns anything else into a handle (worker side);
    without it (judge side) anything else is a TypeError.
    """
    if _depth > MAX_DEPTH:
        raise TypeError("value nested too deeply")
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, Handle):
        return {"h": value.number}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return _opaque(value, make_handle)
        # Complex, string, structured and other arrays travel as arrays, so that ``decode``
        # can name the wrong type; only object arrays (which .npy cannot carry) stay behind.
        arrays.append(np.array(value, copy=True, subok=False))
        return {"a": len(arrays) - 1}
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        return value.item()
    if type(value) is complex or (isinstance(value, np.generic) and not value.dtype.hasobject):
        arrays.append(np.asarray(value))  # a complex or string scalar: named by decode
        return {"a": len(arrays) - 1}
    if type(value) is np.random.Generator and type(value.bit_generator).__name__ in BIT_GENERATORS:
        state = encode(value.bit_generator.state, arrays, None, _depth + 1)
        return {"g": [type(value.bit_generator).__name__, state]}
    if type(value) in (tuple, list):
        items = [encode(item, arrays, make_handle, _depth + 1) for item in value]
        return {"t": items} if type(value) is tuple else {"l": items}
    if type(value) is dict and all(type(key) in (str, int) for key in value):
        return {"d": [[key, encode(item, arrays, make_handle, _depth + 1)] for key, item in value.items()]}
    return _opaque(value, make_handle)


def _opaque(value, make_handle):
    if make_handle is None:
        raise TypeError(f"cannot send a {type(value).__name__} to the student's process")
    return {"h": make_handle(value)}


def decode(tree, arrays, resolve_handle=None):
    """Inverse of ``encode``; ``resolve_handle(n)`` maps handle numbers (worker side)."""
    budget = [MAX_NODES]

    def walk(node, depth):
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_DEPTH:
            raise ProtocolError("value too large or nested too deeply")
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is not dict or len(node) != 1:
            raise ProtocolError(f"unexpected node {type(node).__name__}")
        (tag, body), = node.items()
        if tag == "a" and type(body) is int and 0 <= body < len(arrays):
            return check_real(arrays[body])
        if tag == "g" and type(body) is list and len(body) == 2 and body[0] in BIT_GENERATORS:
            bit_generator = getattr(np.random, body[0])()
            try:
                bit_generator.state = walk(body[1], depth + 1)
            except (TypeError, ValueError, KeyError) as error:
                raise ProtocolError(f"malformed generator state: {error}") from None
            return np.random.Generator(bit_generator)
        if tag == "h" and type(body) is int:
            return resolve_handle(body) if resolve_handle else Handle(body)
        if tag in ("t", "l") and type(body) is list:
            items = [walk(item, depth + 1) for item in body]
            return tuple(items) if tag == "t" else items
        if tag == "d" and type(body) is list:
            result = {}
            for pair in body:
                if type(pair) is not list or len(pair) != 2 or type(pair[0]) not in (str, int):
                    raise ProtocolError("malformed dict entry")
                result[pair[0]] = walk(pair[1], depth + 1)
            return result
        raise ProtocolError(f"unknown tag {tag!r}")

    return walk(tree, 0)


def frame(header, arrays=()):
    """The bytes of one message: ``header`` (JSON-able; may refer to ``arrays`` by index)."""
    blobs = []
    for array in arrays:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        blobs.append(buffer.getvalue())
    text = json.dumps(dict(header, arrays=len(blobs))).encode()
    parts = [_LENGTH.pack(len(text)), text]
    for blob in blobs:
        parts += [_LENGTH.pack(len(blob)), blob]
    data = b"".join(parts)
    if len(data) > MAX_FRAME_BYTES:
        raise ProtocolError(f"message of {len(data)} bytes exceeds {MAX_FRAME_BYTES}")
    return data


def write_message(fd, header, arrays=()):
    """Send one message on the blocking file descriptor ``fd``."""
    view = memoryview(frame(header, arrays))
    while view:
        view = view[os.write(fd, view):]


class Reader:
    """Reads frames from ``fd``; ``read(deadline_check)`` raises ProtocolError on EOF or garbage.

    ``wait(seconds)`` is supplied by the caller to block until data is readable (the judge
    uses it for timeouts); the worker passes None and blocks.
    """

    def __init__(self, fd, max_header_bytes=MAX_HEADER_BYTES):
        self.fd, self.max_header_bytes = fd, max_header_bytes
        self.total = 0

    def _exactly(self, count, wait):
        chunks, remaining = [], count
        while remaining:
            if wait is not None:
                wait()
            chunk = os.read(self.fd, min(remaining, 1 << 20))
            if not chunk:
                raise ProtocolError("the other side closed the pipe")
            chunks.append(chunk)
            remaining -= len(chunk)
            self.total += len(chunk)
            if self.total > MAX_FRAME_BYTES:
                raise ProtocolError(f"message exceeds {MAX_FRAME_BYTES} bytes")
        return b"".join(chunks)

    def read(self, wait=None):
        """Return (header dict, list of arrays).

        Every bound is checked before the bytes it guards are read or parsed: the header's
        length (``MAX_HEADER_BYTES``), its bracket depth (``MAX_JSON_DEPTH``, so parsing
        cannot recurse without end), the number of arrays and the frame's total size.
        """
        self.total = 0
        (length,) = _LENGTH.unpack(self._exactly(_LENGTH.size, wait))
        if length > self.max_header_bytes:
            raise ProtocolError(f"header of {length} bytes exceeds {self.max_header_bytes}")
        text = self._exactly(length, wait)
        if json_depth(text) > MAX_JSON_DEPTH:
            raise ProtocolError(f"header nested deeper than {MAX_JSON_DEPTH}")
        try:
            header = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise ProtocolError(f"malformed header: {str(error)[:200]}") from None
        count = header.get("arrays") if type(header) is dict else None
        if type(count) is not int or not 0 <= count <= MAX_ARRAYS:
            raise ProtocolError("malformed header")
        arrays = []
        for _ in range(count):
            (size,) = _LENGTH.unpack(self._exactly(_LENGTH.size, wait))
            if size > MAX_FRAME_BYTES:
                raise ProtocolError("array too large")
            try:
                arrays.append(np.load(io.BytesIO(self._exactly(size, wait)), allow_pickle=False))
            except (ValueError, OSError, EOFError) as error:
                raise ProtocolError(f"malformed array: {error}") from None
        return header, arrays


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)


def json_depth(text):
    """Deepest nesting of ``[``/``{`` in the JSON bytes ``text`` (brackets inside strings skipped).

    When ``text`` holds at most ``MAX_JSON_DEPTH`` opening brackets their count is
    returned instead (an upper bound, and every ordinary reply): no scan needed.
    """
    brackets = text.count(b"[") + text.count(b"{")
    if brackets <= MAX_JSON_DEPTH:
        return brackets
    codes = np.frombuffer(_JSON_STRING.sub(b'""', text), dtype=np.uint8)
    steps = np.isin(codes, (0x5B, 0x7B)).astype(np.int64) - np.isin(codes, (0x5D, 0x7D))
    return int(np.cumsum(steps).max(initial=0))


# --------------------------------------------------------------------------- message kinds
#
# The judge owns the conversation: it sends one request at a time, each with a fresh
# random ``id``, and the worker answers with ``re`` set to that id. ``init``, ``call``
# and ``sync`` get exactly one reply; ``notebook`` gets one reply per cell (``cell``
# counting from 0) and then one with ``done``. Anything else on the channel, a reply
# out of order or to a call never made, is tampering (``check_reply`` says which).

OPS = ("init", "call", "sync", "notebook")
CALL_FAILURES = ("not_implemented", "timeout", "exception", "base", "missing", "unsendable")


class UnexpectedMessage(ProtocolError):
    """A well-formed frame the judge did not ask for: not the reply to its current request."""


def request(op, call_id, **fields):
    """The header of a request ``op`` with the judge's id ``call_id``."""
    if op not in OPS:
        raise ValueError(f"op must be one of {', '.join(OPS)}, got {op!r}")
    return dict(fields, op=op, id=call_id)


def check_reply(op, call_id, header, cell=None):
    """Raise UnexpectedMessage unless ``header`` is a well-formed reply to request ``call_id``.

    ``cell`` is the index of the notebook cell whose reply is due (``op == "notebook"``).
    """
    if header.get("re") != call_id:
        raise UnexpectedMessage(f"a message that answers no request of the judge (re={_short(header.get('re'))})")
    if type(header.get("output_chars")) is not int:
        raise UnexpectedMessage("a reply without its output count")
    if op == "init":
        cells, defined = header.get("cells"), header.get("defined")
        if header.get("ok") is not True or type(cells) is not list or type(defined) is not list \
                or not all(type(name) is str for name in defined) \
                or not all(type(c) is dict and type(c.get("ok")) is bool for c in cells):
            raise UnexpectedMessage("a malformed reply to init")
    elif op == "sync":
        if header.get("ok") is not True or set(header) - {"ok", "re", "output_chars", "arrays"}:
            raise UnexpectedMessage("a malformed reply to sync")
    elif op == "call":
        ok = header.get("ok")
        nnlib = header.get("nnlib", [])
        if type(nnlib) is not list or not all(type(item) is str for item in nnlib):
            raise UnexpectedMessage("a malformed nnlib report")
        if ok is True:
            if "value" not in header:
                raise UnexpectedMessage("a reply to a call without its value")
        elif ok is not False or header.get("kind") not in CALL_FAILURES:
            raise UnexpectedMessage(f"a reply to a call of unknown kind {_short(header.get('kind'))}")
    elif op == "notebook":
        if header.get("done") is True:
            return
        if header.get("cell") != cell or type(header.get("ok")) is not bool:
            raise UnexpectedMessage(f"a notebook reply for cell {_short(header.get('cell'))}, expected {cell}")


def _short(value):
    return repr(value)[:40]
