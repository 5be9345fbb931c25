"""The trusted judge: grades one submission by calling its functions across a process boundary.

The student's code cells run in a sandboxed worker (``grading.worker``). Each graded
part's check (``grading.checks.<assignment>``) runs here, in the judge, with
``functions`` mapping names to ``Proxy`` objects: calling one sends plain values to the
worker and returns plain values (float64 arrays, numbers, strings, containers, handles
for opaque objects such as caches). So nothing the student's code does to numpy, to
IPython or to the notebook's test cells can change what the check sees.

A call that outlives its time limit or a worker that dies (``os._exit``, a segfault, a
kill for memory) ends that part at 0, and the judge starts a fresh worker (running the
code cells again) for the next part; SystemExit, KeyboardInterrupt or another
BaseException raised by the student's function also ends the part at 0, but the worker
caught it and carries on.

The judge accepts from the worker only the reply to the request it made last, matched
by a random id (``WorkerClient``); any other message is tampering: the part scores 0 and
the report says so. The nnlib ban is read from the student's source here
(``grading.source_scan``) and flagged for a human; the worker's own report of an nnlib
call is a second signal. Every verdict is computed here, from returned values.
"""
import dataclasses
import math
import os
import secrets
import select
import signal
import subprocess
import time

import numpy as np

from grading import protocol, sandbox
from grading.checks.base import NnlibCalled, Result


@dataclasses.dataclass(frozen=True)
class Timeouts:
    cell: float = 30.0        # each code cell of the student's notebook
    call: float = 10.0        # each call of a student function
    part: float = 60.0        # all calls of one part together
    notebook: float = 120.0   # the whole notebook run for feedback


class WorkerFailed(BaseException):
    """The worker died, broke the protocol or ran past a time limit: the part ends at 0.

    A BaseException, so a check's ``except Exception`` cannot swallow it.
    """

    def __init__(self, kind, message):
        super().__init__(kind, message)
        self.kind, self.message = kind, message

    def __str__(self):
        return self.message


class StudentExit(BaseException):
    """The student's function raised SystemExit, KeyboardInterrupt or another BaseException."""


_exception_types = {}


def _student_exception(name, message):
    """An Exception whose type is named like the student's, so checks report it by name."""
    if name not in _exception_types:
        _exception_types[name] = type(name, (Exception,), {"__module__": "student"})
    return _exception_types[name](message)


class WorkerClient:
    """One sandboxed worker process and the pipes to it; the judge's side of the protocol.

    The judge believes only replies to the request it made last: ``request`` sends one
    request with a fresh random id and reads until its reply, ``sync`` checks that
    nothing else is on the channel. A message before the request, a reply with another
    id, a malformed reply or a frame over the protocol's bounds is tampering
    (``WorkerFailed("tampering")``): the student's code wrote onto the judge's channel.
    """

    def __init__(self, scratch, limits, use_bwrap):
        self.scratch, self.limits, self.use_bwrap = scratch, limits, use_bwrap
        self.process = None
        self.output_chars = 0

    def start(self):
        to_worker_read, self.to_worker = os.pipe()
        self.from_worker, from_worker_write = os.pipe()
        os.set_blocking(self.to_worker, False)
        config = {"request_fd": to_worker_read, "reply_fd": from_worker_write,
                  "limits": self.limits.as_rlimits()}
        with open(self.scratch / "worker.log", "ab") as log:
            self.process = sandbox.start_worker(self.scratch, config, (to_worker_read, from_worker_write),
                                                log, self.use_bwrap)
        os.close(to_worker_read)
        os.close(from_worker_write)
        self.reader = protocol.Reader(self.from_worker)

    @property
    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        for fd in (self.to_worker, self.from_worker):
            try:
                os.close(fd)
            except OSError:
                pass
        self.process = None

    def death_reason(self):
        """Words for why the worker stopped, from its exit status."""
        try:
            code = self.process.wait(timeout=2) if self.process else None
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            return "the worker stopped answering"
        if self.use_bwrap and code > 128:
            code = 128 - code  # bubblewrap exits with 128 + the signal that killed the worker
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            meaning = {"SIGSEGV": "a segmentation fault", "SIGKILL": "it was killed (memory?)",
                       "SIGXCPU": "its CPU time limit", "SIGABRT": "an abort"}.get(name, name)
            return f"the student's process died: {meaning}"
        return f"the student's process exited with status {code} (os._exit or a crash)"

    # ------------------------------------------------------------------ the conversation
    def request(self, op, fields, arrays, timeout):
        """Send request ``op`` and return its reply (header, arrays); WorkerFailed on any failure."""
        deadline = time.monotonic() + timeout
        call_id = self.begin(op, fields, arrays, deadline)
        return self.reply(op, call_id, deadline)

    def begin(self, op, fields, arrays, deadline):
        """Check the channel is quiet, send request ``op``; returns its id."""
        self._guard(self._expect_quiet, deadline)
        call_id = secrets.token_hex(8)
        self._guard(lambda: self._send(protocol.request(op, call_id, **fields), arrays, deadline), deadline)
        return call_id

    def reply(self, op, call_id, deadline, cell=None):
        """The next message, which must be the reply to ``call_id`` (of notebook ``cell``)."""
        def read():
            header, arrays = self.reader.read(lambda: self._wait(deadline))
            protocol.check_reply(op, call_id, header, cell)
            self.output_chars = max(self.output_chars, header["output_chars"])
            return header, arrays

        return self._guard(read, deadline)

    def sync(self, timeout):
        """Ask the worker to answer ``sync``: no other message may come first (nor be waiting)."""
        self.request("sync", {}, (), timeout)

    def _expect_quiet(self):
        if select.select([self.from_worker], [], [], 0)[0]:
            header, _ = self.reader.read(lambda: self._wait(time.monotonic() + 1))
            raise protocol.UnexpectedMessage(f"a message the judge did not ask for (keys {sorted(header)[:6]})")

    def _guard(self, action, deadline):
        """Run ``action``, turning protocol and pipe failures into WorkerFailed."""
        try:
            return action()
        except WorkerFailed:
            raise
        except protocol.UnexpectedMessage as error:
            self.stop()
            raise WorkerFailed("tampering", f"the student's process sent {error}") from None
        except (protocol.ProtocolError, OSError) as error:
            closed = isinstance(error, protocol.ProtocolError) and "closed" in str(error) or \
                isinstance(error, BrokenPipeError)
            if closed and self.alive:
                try:
                    self.process.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    self.stop()
                    raise WorkerFailed("channel-closed", "the student's process closed its channel to the "
                                                         "judge and kept running") from None
            if not closed and self.alive:
                self.stop()
                raise WorkerFailed("tampering", f"the student's process sent a malformed message: {error}") \
                    from None
            reason = self.death_reason() if self.process else "the worker is gone"
            self.stop()
            raise WorkerFailed("died", reason) from None

    def _wait(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([self.from_worker], [], [], remaining)[0]:
            self.stop()
            raise WorkerFailed("timeout", "no answer within the time limit")

    def _send(self, header, arrays, deadline):
        view = memoryview(protocol.frame(header, arrays))
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [self.to_worker], [], remaining)[1]:
                self.stop()
                raise WorkerFailed("timeout", "the student's process stopped reading requests")
            try:
                view = view[os.write(self.to_worker, view):]
            except BlockingIOError:
                continue


class Proxy:
    """Stands for one student function in a check: calls it in the worker.

    ``no_nnlib`` is true for the part's ``guarded`` functions only: a part that calls a
    forward pass to get the cache for its backward may run a forward that uses nnlib.
    """

    def __init__(self, session, name, no_nnlib):
        self.session, self.name, self.no_nnlib = session, name, no_nnlib

    def __call__(self, *args, **kwargs):
        return self.session.call(self.name, args, kwargs, self.no_nnlib)


class Session:
    """Grades the parts of one submission with one worker at a time.

    Time limits, each charged to what it limits: every code cell of the notebook runs
    under ``timeouts.cell`` when a worker starts (once per worker, not once per part:
    a notebook whose cells take a while costs no part anything); each call of a student
    function under ``timeouts.call``; the calls of one part together under
    ``timeouts.part``, counted from the part's first call once the worker is ready.

    ``hidden`` is the ``HiddenInputs`` the checks draw their grading cases from (the
    course secret's, see ``grading.secret``); ``student_cells`` the student's own code
    (answer cells and added cells), which ``grading.source_scan`` reads for the nnlib
    ban and other signs a human should look at.
    """

    def __init__(self, scratch, code_cells, function_names, limits, timeouts, use_bwrap, hidden=True,
                 student_cells=None):
        self.scratch, self.code_cells = scratch, code_cells
        self.function_names = sorted(function_names)
        self.limits, self.timeouts, self.use_bwrap = limits, timeouts, use_bwrap
        self.hidden = hidden
        self.student_cells = list(code_cells if student_cells is None else student_cells)
        self.client = None
        self.cells = []           # per code cell: {"ok", "error", "timeout"} from the last start
        self.defined = []
        self.part_deadline = math.inf
        self.part_name = None
        self.events = []          # (kind, text) for the report: timeouts, deaths, tampering, ...
        self.starts = 0
        self.output_chars = 0     # most output any of its workers printed
        self.start_failure = None  # the WorkerFailed of running the code cells, once it failed
        self._scan = None

    def ensure_worker(self):
        """A live worker that has run the code cells; WorkerFailed if running them failed.

        Running the code cells is the same for every part: when it fails (a cell that kills
        the process, a cell past its time limit that will not stop) it is reported once, and
        every later part fails with that same failure without running the cells again.
        """
        if self.client is not None and self.client.alive:
            return
        if self.start_failure is not None:
            raise self.start_failure
        self.close()
        self.starts += 1
        self.client = WorkerClient(self.scratch, self.limits, self.use_bwrap)
        self.client.start()
        total = self.timeouts.cell * max(1, len(self.code_cells)) + 10
        try:
            reply, _ = self.client.request(
                "init", {"cells": self.code_cells, "names": self.function_names,
                         "cell_timeout": self.timeouts.cell}, (), total)
        except WorkerFailed as failure:
            self.start_failure = WorkerFailed(failure.kind, f"while running the code cells: {failure.message}")
            self.start_failure.reported = True
            self.events.append((failure.kind, self.start_failure.message))
            raise self.start_failure from None
        self.cells = reply["cells"]
        self.defined = reply["defined"]

    def call(self, name, args, kwargs, no_nnlib):
        self.ensure_worker()
        arrays = []
        try:
            tree = protocol.encode((list(args), dict(kwargs)), arrays)
        except TypeError as error:
            raise _student_exception("JudgeError", f"the judge cannot pass this argument: {error}") from None
        timeout = min(self.timeouts.call, self.part_deadline - time.monotonic())
        if timeout <= 0:
            raise WorkerFailed("timeout", f"the part ran past its time limit ({self.timeouts.part:g} s)")
        try:
            reply, reply_arrays = self.client.request(
                "call", {"name": name, "args": tree, "no_nnlib": no_nnlib, "timeout": timeout},
                arrays, timeout + 2)
        except WorkerFailed as failure:
            if failure.kind == "timeout":
                failure = WorkerFailed("timeout", f"{name} did not return within {timeout:.3g} s "
                                                  "(an endless loop?)")
            else:
                failure = WorkerFailed(failure.kind, f"while running {name}, {failure.message}")
            raise failure from None
        return self._result(name, args, kwargs, reply, reply_arrays)

    def _result(self, name, args, kwargs, reply, arrays):
        nnlib = reply.get("nnlib")
        if nnlib:
            # The worker's own report: a second signal (the student's process could silence it).
            self.events.append(("nnlib-called", f"{self.part_name}: {name} called {', '.join(nnlib)[:300]} "
                                                "(reported by the student's process)"))
            raise NnlibCalled(str(nnlib[0]).removeprefix("nnlib."), name)
        if reply.get("ok") is True:
            try:
                value = protocol.decode(reply.get("value"), arrays)
                post = reply.get("post")
                if post is not None:
                    new_args, new_kwargs = protocol.decode(post, arrays)
                    _write_back(list(args), new_args)
                    _write_back(dict(kwargs), new_kwargs)
            except protocol.ProtocolError as error:
                raise _student_exception("ProtocolError", f"{name} returned something unreadable: {error}")
            return value
        kind = reply.get("kind")
        message = str(reply.get("message", ""))[:500]
        if kind == "not_implemented":
            raise NotImplementedError(message)
        if kind == "timeout":
            raise WorkerFailed("timeout", f"{name} did not return within its time limit (an endless loop?)")
        if kind == "base":
            raise StudentExit(f"{name} raised {message}")
        if kind == "missing":
            raise _student_exception("NameError", f"{name} is not defined: define it in its answer cell")
        if kind == "unsendable":
            raise _student_exception("ValueError", f"{name} returned a value too large to check ({message})")
        ename = reply.get("ename") if isinstance(reply.get("ename"), str) else "Exception"
        message = message.split(": ", 1)[1] if ": " in message else message
        raise _student_exception(ename if ename.isidentifier() else "Exception", message)

    def scan(self, part):
        """Flag (never score) what the student's source shows about ``part``'s guarded functions."""
        from grading import source_scan

        if self._scan is None:
            self._scan = source_scan.Scan(self.student_cells)
            for evidence in self._scan.cell_evidence():
                self.events.append((evidence.kind, evidence.detail))
        for evidence in self._scan.evidence(part.guarded):
            self.events.append((evidence.kind, f"{part.grade_id}: {evidence.detail}"))

    def run_part(self, part):
        """Run ``part.check`` with proxies; always returns a Result with fraction in [0, 1].

        The verdict comes from the values the worker returned for the judge's own calls;
        after the check the judge asks for one more reply (``sync``): a message in between,
        written by the student's code onto the judge's channel, scores the part 0.
        """
        functions = {name: Proxy(self, name, name in part.guarded) for name in part.functions}
        self.part_name = part.grade_id
        if part.guarded:
            self.scan(part)
        try:
            self.ensure_worker()
            self.part_deadline = time.monotonic() + self.timeouts.part
            result = part.check(functions, self.hidden)
            if self.client is not None and self.client.alive:
                self.client.sync(self.timeouts.call)
        except WorkerFailed as failure:
            if not getattr(failure, "reported", False):
                self.events.append((failure.kind, f"{part.grade_id}: {failure.message}"))
            self.close()
            return Result(0.0, [failure.message])
        except StudentExit as exit_:
            return Result(0.0, [str(exit_)])  # the worker caught it and carries on
        except Exception as error:  # noqa: BLE001 (a bug in a check must not stop the other parts)
            self.events.append(("check-error", f"{part.grade_id}: the check itself failed: {error!r}"[:500]))
            return Result(0.0, ["this part could not be checked automatically; the instructor will look at it"])
        finally:
            self.part_deadline = math.inf
        return sanitize(result)

    def run_notebook(self, cells):
        """Run ``cells`` (the whole notebook, tests included) for the learner's feedback.

        Reuses the judge's worker when it is alive (its namespace is reset first; every
        grade has been decided by then), else starts a fresh one. Returns per-cell results
        for the cells that were reached.
        """
        if self.client is None or not self.client.alive:
            self.close()
            self.client = WorkerClient(self.scratch, self.limits, self.use_bwrap)
            self.client.start()
        client, results = self.client, []
        deadline = time.monotonic() + self.timeouts.notebook
        try:
            call_id = client.begin("notebook", {"cells": cells, "cell_timeout": self.timeouts.cell, "reset": True},
                                   (), deadline)
            while len(results) < len(cells):
                reply, _ = client.reply("notebook", call_id, deadline, cell=len(results))
                if reply.get("done"):
                    break
                results.append({"ok": reply["ok"], "error": str(reply.get("error", ""))[:300],
                                "timeout": reply.get("timeout") is True})
        except WorkerFailed as failure:
            self.events.append((failure.kind, f"notebook run, cell {len(results) + 1}: {failure.message}"))
        self.close()
        return results

    def close(self):
        if self.client is not None:
            self.output_chars = max(self.output_chars, self.client.output_chars)
            self.client.stop()


def _write_back(original, new):
    """Copy in-place changes the student's function made to its arguments back into ours."""
    if isinstance(original, list) and isinstance(new, list) and len(original) == len(new):
        pairs = zip(original, new)
    elif isinstance(original, dict) and isinstance(new, dict):
        pairs = [(original[key], new[key]) for key in original if key in new]
        for key in set(original) - set(new):
            original.pop(key)
        for key in set(new) - set(original):
            original[key] = new[key]
    else:
        return
    for old, fresh in pairs:
        if isinstance(old, np.random.Generator) and isinstance(fresh, np.random.Generator):
            if type(old.bit_generator) is type(fresh.bit_generator):
                old.bit_generator.state = fresh.bit_generator.state
        elif isinstance(old, np.ndarray) and isinstance(fresh, np.ndarray):
            if old.shape == fresh.shape and old.flags.writeable:
                np.copyto(old, fresh, casting="unsafe")
        elif isinstance(old, (list, dict)):
            _write_back(old, fresh)
    if isinstance(original, dict):
        for key in list(original):
            if key in new and not isinstance(original[key], (np.ndarray, list, dict)):
                original[key] = new[key]


def sanitize(result):
    """A Result with a finite fraction clamped to [0, 1] and short string messages."""
    try:
        fraction = float(result.fraction)
    except (TypeError, ValueError, AttributeError):
        return Result(0.0, ["the check returned no score"])
    if not math.isfinite(fraction):
        fraction = 0.0
    messages = [str(message)[:1000] for message in getattr(result, "messages", [])][:20]
    return Result(min(1.0, max(0.0, fraction)), messages)
