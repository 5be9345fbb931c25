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
import struct

import numpy as np

MAX_FRAME_BYTES = 64 * 2**20
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


def check_real(array):
    """``array`` if its dtype is bool, int or float; else WrongType naming what came and what is expected."""
    dtype = array.dtype
    if dtype.kind in REAL_KINDS and dtype.names is None and not dtype.hasobject:
        return array
    what = _KIND_NAMES.get(dtype.kind, "values of an unsupported type")
    if dtype.names is not None:
        what = _KIND_NAMES["V"]
    shape = "a scalar" if array.ndim == 0 else f"an array of shape {array.shape}"
    raise WrongType(f"wrong type: got {shape} of dtype {dtype} ({what}); expected real numbers "
                    "(a float, int or bool array or number)")


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

    def __init__(self, fd):
        self.fd = fd
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
        """Return (header dict, list of arrays)."""
        self.total = 0
        (length,) = _LENGTH.unpack(self._exactly(_LENGTH.size, wait))
        if length > MAX_FRAME_BYTES:
            raise ProtocolError("header too large")
        try:
            header = json.loads(self._exactly(length, wait))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ProtocolError(f"malformed header: {error}") from None
        count = header.get("arrays") if type(header) is dict else None
        if type(count) is not int or not 0 <= count <= 10_000:
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
