"""The untrusted side: runs one student's notebook code inside the sandbox.

Started by ``grading.judge`` as ``python -m grading.worker CONFIG`` inside bubblewrap.
It first lowers its own resource limits, then answers requests read from a pipe:

- ``init``: run the student's code cells (not the test cells) in an IPython shell,
  each under a timeout, and report which ran and which functions exist;
- ``call``: call one of the student's functions on plain values and send back the
  result (arrays, numbers, strings, containers; anything else stays here as a handle),
  the arguments' new values if the function changed them in place, and any nnlib
  function it called while its part forbids nnlib;
- ``notebook``: run a whole notebook, test cells included, one reply per cell (for the
  learner's feedback only; the grade never depends on it);
- ``sync``: answer at once (the judge checks that nothing else was written on the channel).

Every reply carries ``re``, the id of the request it answers. The pipes to the judge are
moved to random high descriptors and the configuration is removed from ``sys.argv``
before student code runs, so code that writes to descriptor 3 or 4 by convention does
not reach the judge; code that searches ``/proc/self/fd`` can, and the judge notices
(a message out of sequence is tampering). Nothing here is trusted by the judge: every
reply is parsed as data and checked again.
"""
import contextlib
import importlib.util
import io
import json
import os
import resource
import signal
import sys
import warnings

from grading import protocol


class CellTimeout(BaseException):
    """Raised by the interval timer when a cell or call runs past its time limit."""


class CountingStream(io.TextIOBase):
    """Stands for sys.stdout/sys.stderr: counts what is written and keeps none of it.

    Nobody reads the student's output (the grade comes from returned values), so a print
    flood costs only time; the count tells the judge that output went over its cap.
    """

    def __init__(self, counter, fd):
        self.counter, self.fd = counter, fd

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.counter[0] += len(text)
        return len(text)

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        return self.fd

    @property
    def encoding(self):
        return "utf-8"


def apply_limits(limits):
    """Lower this process's limits (children inherit them); they can never be raised again."""
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value, value))
    # Writing past RLIMIT_FSIZE then fails with EFBIG instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


@contextlib.contextmanager
def time_limit(seconds):
    def expire(signum, frame):
        raise CellTimeout(f"timed out after {seconds:g} s")

    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def describe(error):
    """'TypeName: message', short, even if the exception's __str__ misbehaves."""
    try:
        text = f"{type(error).__name__}: {error}"
    except BaseException:  # noqa: BLE001 (a student's exception may break str())
        text = type(error).__name__
    return text[:500]


def load_private_tripwire(grading_dir):
    """A private copy of ``grading.checks.base`` (not in sys.modules), for its nnlib tripwire.

    Student code can patch modules it finds in sys.modules; this copy it cannot find by name.
    """
    path = os.path.join(grading_dir, "checks", "base.py")
    spec = importlib.util.spec_from_file_location("_grading_private_base", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.nnlib_tripwire


class BlockNnlibImport:
    """A meta path finder that refuses ``import nnlib`` while a no-nnlib function runs."""

    def __init__(self, calls):
        self.calls = calls

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "nnlib" or fullname.startswith("nnlib."):
            self.calls.append(f"import {fullname}")
            raise ImportError(f"{fullname} may not be imported by a graded function")
        return None


class DeferPyplot:
    """Meta path finder: ``matplotlib.pyplot`` is executed on first use, not on import.

    nnlib (imported by every assignment's set-up cell) imports pyplot at import time,
    about half a second of CPU per worker, though grading never plots; a student's code
    that does plot loads it on first use, unchanged.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "matplotlib.pyplot":
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def hide_descriptor(fd):
    """Move ``fd`` to a free random descriptor in [300, 1000) and close ``fd``; returns the new one."""
    import fcntl
    import random

    chooser = random.SystemRandom()
    for _ in range(100):
        target = chooser.randrange(300, 1000)
        try:
            fcntl.fcntl(target, fcntl.F_GETFD)
        except OSError:  # not open: free
            try:
                os.dup2(fd, target, inheritable=False)
            except OSError:  # above this process's descriptor limit: keep the original
                return fd
            os.close(fd)
            return target
    return fd


class Worker:
    def __init__(self, config):
        self.config = config
        self.reader = protocol.Reader(config["request_fd"], max_header_bytes=protocol.MAX_FRAME_BYTES)
        self.reply_fd = config["reply_fd"]
        self.request_id = None
        self.handles, self.handle_of = {}, {}
        self.output = [0]
        self.tripwire = load_private_tripwire(os.path.dirname(os.path.abspath(__file__)))
        stdout = CountingStream(self.output, 1)
        stderr = CountingStream(self.output, 2)
        sys.stdout = sys.__stdout__ = stdout
        sys.stderr = sys.__stderr__ = stderr
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        shell_config = Config()
        shell_config.HistoryManager.enabled = False
        shell_config.InteractiveShell.colors = "NoColor"
        shell_config.InteractiveShell.xmode = "Plain"
        self.shell = InteractiveShell.instance(config=shell_config)

    # ----------------------------------------------------------------- messages
    def send(self, header, arrays=()):
        header = dict(header, output_chars=self.output[0], re=self.request_id)
        try:
            protocol.write_message(self.reply_fd, header, arrays)
        except protocol.ProtocolError as error:
            protocol.write_message(self.reply_fd, {"ok": False, "kind": "unsendable", "re": self.request_id,
                                                   "message": str(error), "output_chars": self.output[0]})

    def make_handle(self, obj):
        number = self.handle_of.get(id(obj))
        if number is None:
            number = len(self.handles) + 1
            self.handles[number] = obj
            self.handle_of[id(obj)] = number
        return number

    def resolve_handle(self, number):
        if number not in self.handles:
            raise protocol.ProtocolError(f"unknown handle {number}")
        return self.handles[number]

    def snapshot(self, value):
        """(tree, arrays) of ``value`` or None if it cannot be encoded."""
        arrays = []
        try:
            return json.dumps(protocol.encode(value, arrays, self.make_handle)), [a.tobytes() for a in arrays]
        except BaseException:  # noqa: BLE001
            return None

    # ----------------------------------------------------------------- requests
    def run_cell(self, source, timeout):
        try:
            with time_limit(timeout):
                result = self.shell.run_cell(source, store_history=False)
            error = result.error_before_exec or result.error_in_exec
        except BaseException as raised:  # noqa: BLE001 (IPython itself interrupted)
            error = raised
        if error is None:
            return {"ok": True}
        return {"ok": False, "error": describe(error), "timeout": isinstance(error, CellTimeout)}

    def do_init(self, request):
        cells = [self.run_cell(source, request["cell_timeout"]) for source in request["cells"]]
        defined = [name for name in request["names"] if callable(self.shell.user_ns.get(name))]
        self.send({"ok": True, "cells": cells, "defined": defined})

    def do_notebook(self, request):
        if request.get("reset"):
            self.shell.reset(new_session=False)
        for index, source in enumerate(request["cells"]):
            self.send(dict(self.run_cell(source, request["cell_timeout"]), cell=index))
        self.send({"ok": True, "done": True})

    def do_call(self, request, arrays):
        function = self.shell.user_ns.get(request["name"])
        if not callable(function):
            self.send({"ok": False, "kind": "missing", "message": f"no function named {request['name']}"})
            return
        args, kwargs = protocol.decode(request["args"], arrays, self.resolve_handle)
        before = self.snapshot((args, kwargs))
        nnlib_calls = []
        blocker = BlockNnlibImport(nnlib_calls)
        tripwire = self.tripwire() if request["no_nnlib"] else contextlib.nullcontext([])
        reply, reply_arrays = None, []
        try:
            with time_limit(request["timeout"]):
                try:
                    if request["no_nnlib"]:
                        sys.meta_path.insert(0, blocker)
                    with tripwire as tripped, warnings.catch_warnings(), _quiet_numpy():
                        warnings.simplefilter("ignore")
                        try:
                            value = function(*args, **kwargs)
                        finally:
                            nnlib_calls.extend(tripped)
                finally:
                    if blocker in sys.meta_path:
                        sys.meta_path.remove(blocker)
                tree = protocol.encode(value, reply_arrays, self.make_handle)
                after = self.snapshot((args, kwargs))
                post = None
                if after != before:
                    post = protocol.encode((args, kwargs), reply_arrays, self.make_handle)
                reply = {"ok": True, "value": tree, "post": post}
        except NotImplementedError as error:
            reply = {"ok": False, "kind": "not_implemented", "message": describe(error)}
        except CellTimeout as error:
            reply = {"ok": False, "kind": "timeout", "message": describe(error)}
        except Exception as error:  # noqa: BLE001 (the student's function failed)
            reply = {"ok": False, "kind": "exception", "ename": _identifier(type(error).__name__),
                     "message": describe(error)}
        except BaseException as error:  # noqa: BLE001 (SystemExit, KeyboardInterrupt, ...)
            reply = {"ok": False, "kind": "base", "message": describe(error)}
        if nnlib_calls:
            reply = dict(reply, nnlib=[str(call)[:200] for call in nnlib_calls[:5]])
        self.send(reply, reply_arrays if reply.get("ok") else ())

    def serve(self):
        while True:
            try:
                header, arrays = self.reader.read()
            except protocol.ProtocolError:
                return
            op = header.get("op")
            self.request_id = header.get("id")
            if op == "sync":
                self.send({"ok": True})
            elif op == "init":
                self.do_init(header)
            elif op == "notebook":
                self.do_notebook(header)
            elif op == "call":
                self.do_call(header, arrays)
            else:
                return


@contextlib.contextmanager
def _quiet_numpy():
    import numpy

    with numpy.errstate(all="ignore"):
        yield


def _identifier(name):
    return name if name.isidentifier() and len(name) < 80 else "Exception"


def main():
    config = json.loads(sys.argv[1])
    del sys.argv[1:]  # student code finds no descriptor numbers here
    config["request_fd"] = hide_descriptor(config["request_fd"])
    config["reply_fd"] = hide_descriptor(config["reply_fd"])
    apply_limits(config["limits"])
    sys.meta_path.insert(0, DeferPyplot())
    for name in ("SIGINT", "SIGTERM", "SIGPIPE"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    Worker(config).serve()


if __name__ == "__main__":
    main()
