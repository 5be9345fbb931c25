"""The adversarial matrix: simulated ``backprop`` submissions and what grading each must give.

Every submission is built from the released notebook (``exercises/backprop``) by putting
code into its answer cells: the instructor's solutions (``solutions/backprop``, solution
markers removed) unless a case replaces one, plus any cells a case adds or edits.
``Case.expected`` gives each part's score; ``flags`` are report kinds that must appear and
``forbidden`` kinds that must not.
"""
import copy
import dataclasses
import json
import re
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = "backprop"
POINTS = {"affine_forward": 2, "affine_backward": 3, "relu_forward": 1, "relu_backward": 2,
          "softmax_cross_entropy": 3, "two_layer_net": 4, "relative_error": 1}
MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.M)


def load(path):
    return json.loads(Path(path).read_text())


def release_notebook(assignment=ASSIGNMENT):
    return load(REPO / "exercises" / assignment / f"{assignment}.ipynb")


def solution_answers(assignment=ASSIGNMENT):
    """{answer grade_id: the instructor's code without solution markers}."""
    source = load(REPO / "solutions" / assignment / f"{assignment}.ipynb")
    answers = {}
    for cell in source["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            answers[meta["grade_id"]] = MARKERS.sub("", "".join(cell["source"]))
    return answers


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def code_cell(source, metadata=None):
    return {"cell_type": "code", "execution_count": None, "metadata": metadata or {}, "outputs": [],
            "source": source}


def answered(replace=None, add_after=None, answers=None, assignment=ASSIGNMENT):
    """The released notebook with answers filled in.

    replace: {answer grade_id: code}; add_after: {grade_id: [code, ...]} new cells (no metadata).
    """
    nb = release_notebook(assignment)
    answers = dict(answers or solution_answers(assignment), **(replace or {}))
    cells = []
    for cell in nb["cells"]:
        grade_id = _grade_id(cell)
        if grade_id in answers:
            cell = dict(cell, source=answers[grade_id])
        cells.append(cell)
        for source in (add_after or {}).get(grade_id, []):
            cells.append(code_cell(source))
    nb["cells"] = cells
    return nb


def cell_index(nb, grade_id):
    return next(i for i, cell in enumerate(nb["cells"]) if _grade_id(cell) == grade_id)


def full(**changes):
    """Expected scores: full points except ``changes`` {grade_id: score}."""
    return dict(POINTS, **changes)


def zero(*grade_ids, **changes):
    return full(**{grade_id: 0 for grade_id in grade_ids}, **changes)


@dataclasses.dataclass
class Case:
    student: str
    build: object                      # callable(course_dir: Path) -> None, writes the submission
    expected: dict                     # grade_id -> score
    flags: set = dataclasses.field(default_factory=set)
    forbidden: set = dataclasses.field(default_factory=lambda: {"possibly-tampered", "internal-error"})
    about: str = ""


def submit(nb, filename=None, assignment=ASSIGNMENT):
    """A builder writing notebook ``nb`` (a dict, or raw text) as the student's submission."""
    def build(course_dir, student):
        folder = course_dir / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        text = nb if isinstance(nb, str) else json.dumps(nb, indent=1)
        (folder / (filename or f"{assignment}.ipynb")).write_text(text)
    return build


def fn(code):
    return textwrap.dedent(code).strip() + "\n"


# --------------------------------------------------------------------------- wrong answers

NO_BIAS = fn("""
    def affine_forward(x, W, b):
        return x @ W, (x, W)
""")
ABS_RELU = fn("""
    def relu_forward(x):
        return np.abs(x), x
""")
NAIVE_SOFTMAX = fn("""
    def softmax_cross_entropy(scores, y):
        n = scores.shape[0]
        probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        loss = -np.log(probs[np.arange(n), y]).mean()
        dscores = probs.copy()
        dscores[np.arange(n), y] -= 1
        return loss, dscores / n
""")
ENDLESS_RELU = fn("""
    def relu_forward(x):
        while True:
            pass
""")
EXIT_AFFINE_BACKWARD = fn("""
    def affine_backward(dout, cache):
        import os
        os._exit(3)
""")
SEGFAULT_RELU_BACKWARD = fn("""
    def relu_backward(dout, cache):
        import ctypes
        ctypes.string_at(0)
""")
OOM_SOFTMAX = fn("""
    def softmax_cross_entropy(scores, y):
        hog = np.ones((200_000, 200_000))
        return 0.0, hog
""")


def exits(statement, name="relu_forward"):
    return fn(f"""
        def {name}(x):
            {statement}
    """)


WARNS = fn("""
    # </code></pre><script>alert("escape me")</script>
    import sys
    import warnings

    def relu_forward(x):
        warnings.warn("a warning from relu_forward")
        print("a line on stderr", file=sys.stderr)
        with np.errstate(all="warn"):
            np.log(np.zeros(1))
        return np.maximum(x, 0.0), x
""")
MUTATING_AFFINE = fn("""
    def affine_forward(x, W, b):
        out = x @ W + b
        x *= 2.0
        return out, (x / 2.0, W)
""")
PRINT_FLOOD = fn("""
    def affine_forward(x, W, b):
        for _ in range(20):
            print("x" * 1_000_000)
        return x @ W + b, (x, W)

    for _ in range(300):
        print("flood " * 200_000)
    print("y" * 50_000_000)
""")

# --------------------------------------------------------------------------- cheating

# Wrong code plus tricks that make the notebook's own test cells pass.
REDEFINED_HELPERS = NO_BIAS + fn("""
    class _Pass:
        def report(self, *args, **kwargs):
            return None
    checks = _Pass()
""")
# np.max patched to return 0 passes 2 of relative_error's 5 cases per seed (equal arrays, both zero).
PATCHED_NUMPY = NO_BIAS + fn("""
    import builtins
    np.allclose = lambda *args, **kwargs: True
    np.array_equal = lambda *args, **kwargs: True
    np.testing.assert_allclose = lambda *args, **kwargs: None
    np.max = lambda *args, **kwargs: 0.0
    builtins.AssertionError = type("AssertionError", (Exception,), {})
""")
SUBCLASS_AND_ALWAYS_EQUAL = fn("""
    class Agreeable(np.ndarray):
        def __eq__(self, other):
            return np.ones(np.shape(other), dtype=bool)
        def __sub__(self, other):
            return np.zeros(np.shape(other))
        __rsub__ = __sub__

    def affine_forward(x, W, b):
        return np.zeros((x.shape[0], W.shape[1])).view(Agreeable), (x, W)
""")
ALWAYS_EQUAL = fn("""
    class Anything:
        shape = (0,)
        def __eq__(self, other):
            return True
        def __array__(self, dtype=None, copy=None):
            raise TypeError("no")

    def relu_forward(x):
        return Anything(), x
""")
TRANSFORMER = NO_BIAS + fn("""
    def _skip_tests(lines):
        text = "".join(lines)
        return ["pass\\n"] if "checks.report" in text else lines
    get_ipython().input_transformers_post.append(_skip_tests)
""")
AST_TRANSFORMER = ABS_RELU + fn("""
    import ast
    class _Empty(ast.NodeTransformer):
        def visit_Module(self, node):
            if "report" in ast.dump(node):
                node.body = []
            return node
    get_ipython().ast_transformers.append(_Empty())
""")
PATCHED_SHELL = NO_BIAS + fn("""
    shell = get_ipython()
    shell.set_custom_exc((BaseException,), lambda *args, **kwargs: None)
    shell.showtraceback = lambda *args, **kwargs: None
    try:
        shell.kernel.do_execute = lambda *args, **kwargs: {"status": "ok"}
    except AttributeError:
        pass
""")


def spy(probe):
    """relu_forward is correct only if ``probe`` (code setting ``leaks``, a list) found nothing."""
    return fn("""
        leaks = []
    """) + textwrap.dedent(probe).strip() + "\n" + fn("""
        def relu_forward(x):
            if leaks:
                return x, x
            return np.maximum(x, 0.0), x
    """)


def reading_probe(course_dir):
    return spy(f"""
        import os
        from pathlib import Path
        COURSE = Path({str(course_dir)!r})
        for path in [COURSE / "solutions", COURSE / "exercises", COURSE / ".nbgrader" / "gradebook.db",
                     COURSE / "submitted", COURSE / "submitted" / "reference", COURSE / "autograded",
                     COURSE / "feedback", Path("../solutions"), Path("../../reference"),
                     Path("../submitted"), Path({str(REPO / "solutions")!r}),
                     Path({str(REPO / ".nbgrader")!r}), Path({str(REPO / "exercises")!r})]:
            try:
                if path.is_dir() and os.listdir(path) or path.is_file() and path.read_bytes():
                    leaks.append(str(path))
            except OSError:
                pass
        if "NBGRADER_EXECUTION" in os.environ:
            leaks.append("NBGRADER_EXECUTION")
    """)


def writing_probe(course_dir):
    return spy(f"""
        import sqlite3
        from pathlib import Path
        COURSE = Path({str(course_dir)!r})
        try:
            db = sqlite3.connect(str(COURSE / ".nbgrader" / "gradebook.db"))
            db.execute("UPDATE grade SET auto_score = 99")
            db.commit()
            leaks.append("gradebook")
        except Exception:
            pass
        for path in [COURSE / ".nbgrader" / "reports" / "backprop" / "scores.csv",
                     COURSE / "feedback" / "reference" / "backprop" / "backprop.html",
                     COURSE / "submitted" / "reference" / "backprop" / "backprop.ipynb"]:
            try:
                path.write_text("overwritten")
                leaks.append(str(path))
            except OSError:
                pass
    """)


def network_probe(port):
    """Tries to reach a listener the test runs on the host's loopback (never an outside address).

    A sandbox with its own network namespace has a loopback of its own, so the host's
    127.0.0.1:port is out of its reach; the test also checks that the listener saw nothing.
    """
    return spy(f"""
        import socket
        try:
            socket.create_connection(("127.0.0.1", {int(port)}), timeout=2).close()
            leaks.append("127.0.0.1:{int(port)}")
        except OSError:
            pass
    """)

FORK_BOMB = spy("""
    import os
    children = 0
    try:
        for _ in range(200):
            if os.fork() == 0:
                os._exit(0)
            children += 1
    except OSError:
        pass
    if children >= 100:
        leaks.append(f"{children} processes")
""")


# --------------------------------------------------------------------------- notebook edits

def edited_test_cell():
    nb = answered()
    cell = nb["cells"][cell_index(nb, "affine_forward")]
    cell["source"] = "pass  # tests removed\n"
    cell["metadata"]["nbgrader"]["points"] = 100
    return nb


def deleted_test_cell():
    nb = answered()
    del nb["cells"][cell_index(nb, "relu_backward")]
    return nb


def duplicated_and_split():
    nb = answered()
    test = nb["cells"][cell_index(nb, "relu_forward")]
    nb["cells"].insert(cell_index(nb, "relu_forward") + 1, copy.deepcopy(test))
    index = cell_index(nb, "answer_affine_backward")
    cell = nb["cells"][index]
    first = dict(copy.deepcopy(cell), source="def _helper_shape(x):\n    return x.shape\n")
    nb["cells"][index:index + 1] = [first, copy.deepcopy(cell)]
    return nb


def tampered_schema():
    nb = answered()
    for cell in nb["cells"]:
        if "nbgrader" in cell["metadata"]:
            cell["metadata"]["nbgrader"]["schema_version"] = 1
    return nb


def renamed_grade_id():
    nb = answered()
    nb["cells"][cell_index(nb, "softmax_cross_entropy")]["metadata"]["nbgrader"]["grade_id"] = "my_softmax"
    return nb


def wrong_kernelspec():
    nb = answered()
    nb["metadata"]["kernelspec"] = {"name": "evil", "display_name": "Evil", "language": "python"}
    return nb


def cases(course_dir, probe_port=9):
    """The whole simulated class, one Case per student; ``probe_port``: the test's loopback listener."""
    every = set(POINTS)
    return [
        Case("reference", submit(answered()), full(), about="the instructor's solution"),
        Case("untouched", submit(release_notebook()), zero(*every), about="the released notebook as is"),
        Case("wrong-affine", submit(answered({"answer_affine_forward": NO_BIAS})),
             zero("affine_forward", "two_layer_net")),
        Case("wrong-relu", submit(answered({"answer_relu_forward": ABS_RELU})), zero("relu_forward", "two_layer_net")),
        Case("overflow-softmax", submit(answered({"answer_softmax_cross_entropy": NAIVE_SOFTMAX})),
             zero("softmax_cross_entropy")),
        Case("endless-loop", submit(answered({"answer_relu_forward": ENDLESS_RELU})),
             zero("relu_forward", "relu_backward", "two_layer_net"), {"timeout"}),
        Case("print-flood", submit(answered({"answer_affine_forward": PRINT_FLOOD})), full(), {"output-capped"}),
        Case("os-exit", submit(answered({"answer_affine_backward": EXIT_AFFINE_BACKWARD})),
             zero("affine_backward", "two_layer_net"), {"kernel-died"}),
        Case("segfault", submit(answered({"answer_relu_backward": SEGFAULT_RELU_BACKWARD})),
             zero("relu_backward", "two_layer_net"), {"kernel-died"}),
        Case("out-of-memory", submit(answered({"answer_softmax_cross_entropy": OOM_SOFTMAX})),
             zero("softmax_cross_entropy", two_layer_net=4 / 3)),
        Case("sys-exit", submit(answered({"answer_relu_forward": exits("raise SystemExit(0)")})),
             zero("relu_forward", "relu_backward", "two_layer_net")),
        Case("keyboard-interrupt", submit(answered({"answer_relu_forward": exits("raise KeyboardInterrupt")})),
             zero("relu_forward", "relu_backward", "two_layer_net")),
        Case("base-exception", submit(answered({"answer_relu_forward": exits("raise BaseException('no')")})),
             zero("relu_forward", "relu_backward", "two_layer_net")),
        Case("warns", submit(answered({"answer_relu_forward": WARNS})), full()),
        Case("redefined-helpers", submit(answered({"answer_affine_forward": REDEFINED_HELPERS})),
             zero("affine_forward", "two_layer_net"), {"possibly-tampered"}, {"internal-error"}),
        Case("patched-numpy", submit(answered({"answer_affine_forward": PATCHED_NUMPY})),
             zero("affine_forward", "two_layer_net", relative_error=0.4), set(), {"internal-error"}),
        Case("subclass-always-equal", submit(answered({"answer_affine_forward": SUBCLASS_AND_ALWAYS_EQUAL,
                                                       "answer_relu_forward": ALWAYS_EQUAL})),
             zero("affine_forward", "relu_forward", "two_layer_net"), set(), {"internal-error"}),
        Case("input-transformer", submit(answered({"answer_affine_forward": TRANSFORMER})),
             zero("affine_forward", "two_layer_net"), {"possibly-tampered"}, {"internal-error"}),
        Case("ast-transformer", submit(answered({"answer_relu_forward": AST_TRANSFORMER})),
             zero("relu_forward", "two_layer_net"), {"possibly-tampered"}, {"internal-error"}),
        Case("patched-shell", submit(answered({"answer_affine_forward": PATCHED_SHELL})),
             zero("affine_forward", "two_layer_net"), set(), {"internal-error"}),
        Case("edited-test-cell", submit(edited_test_cell()), full(), {"altered-test-cell"}),
        Case("deleted-test-cell", submit(deleted_test_cell()), full(), {"deleted-test-cell"}),
        Case("duplicated-split", submit(duplicated_and_split()), full(), {"duplicate-grade-id"}),
        Case("tampered-schema", submit(tampered_schema()), full(), {"tampered-schema"}),
        Case("renamed-grade-id", submit(renamed_grade_id()), full(), {"renamed-grade-id"}),
        Case("invalid-json", submit(json.dumps(answered())[:-200]), zero(*every), {"unreadable-notebook"}),
        Case("wrong-kernelspec", submit(wrong_kernelspec()), full(), {"wrong-kernelspec"}),
        Case("wrong-file-name", submit(answered(), filename="backprop (1).ipynb"), full(), {"wrong-file-name"}),
        Case("missing-notebook", submit(answered(), filename="notes.txt"), zero(*every), {"missing-notebook"}),
        Case("reads-secrets", submit(answered({"answer_relu_forward": reading_probe(course_dir)})), full()),
        Case("writes-gradebook", submit(answered({"answer_relu_forward": writing_probe(course_dir)})), full()),
        Case("network", submit(answered({"answer_relu_forward": network_probe(probe_port)})), full()),
        Case("fork-bomb", submit(answered({"answer_relu_forward": FORK_BOMB})), full()),
        Case("mutates-inputs", submit(answered({"answer_affine_forward": MUTATING_AFFINE})),
             zero("affine_forward", "two_layer_net")),
    ]


# --------------------------------------------------------------------------- dropout

DROPOUT_POINTS = {"dropout_forward": 3, "dropout_backward": 2, "l2_penalty": 2}
RESEEDING_DROPOUT = fn("""
    def dropout_forward(x, drop_prob, training, rng):
        np.random.seed(0)
        np.random.random(10)
        if not training or drop_prob == 0.0:
            return x.copy(), None
        scale = (rng.random(x.shape) >= drop_prob) / (1.0 - drop_prob)
        return x * scale, scale
""")


def dropout_cases():
    """Dropout code that reseeds numpy's global generator is graded like the reference."""
    return [
        Case("reference", submit(answered(assignment="dropout"), assignment="dropout"), dict(DROPOUT_POINTS)),
        Case("reseeds-numpy", submit(answered({"answer_dropout_forward": RESEEDING_DROPOUT}, assignment="dropout"),
                                     assignment="dropout"), dict(DROPOUT_POINTS)),
    ]


# --------------------------------------------------------------------------- what enters and leaves the grader
# Issue 11, items 5, 7, 8, 10 and 11: links and special files, hostile folder names, wrong
# types, the student's faults that must not be the instructor's, and disagreement between
# the notebook's own tests and the judge. Graded together with an honest submission.

COLLECT_FORBIDDEN = {"possibly-tampered", "internal-error", "check-error", "protocol-error", "tests-disagree"}


def _folder(course_dir, student, assignment=ASSIGNMENT):
    folder = course_dir / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def solution_path(course_dir):
    return course_dir / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def symlinked_notebook(to):
    """The notebook is a symbolic link to ``to(course_dir)`` (the solutions, a classmate's)."""
    def build(course_dir, student):
        os_link = _folder(course_dir, student) / f"{ASSIGNMENT}.ipynb"
        os_link.symlink_to(to(course_dir))
    return build


def hard_linked_notebook(course_dir, student):
    """The notebook is a second name (hard link) of the instructor's solution notebook."""
    import os

    os.link(solution_path(course_dir), _folder(course_dir, student) / f"{ASSIGNMENT}.ipynb")


def fifo_notebook(course_dir, student):
    """The notebook is a FIFO: reading it would block the grader for ever."""
    import os

    os.mkfifo(_folder(course_dir, student) / f"{ASSIGNMENT}.ipynb")


# An honest notebook whose relu_forward is right only if none of the linked files reached the sandbox.
LINKS_NOT_COPIED = spy("""
    import os
    for name in ["linked.ipynb", "peek", "pipe", "second-name.txt", "data/deep-link"]:
        if os.path.lexists(name):
            leaks.append(name)
    if not os.path.isfile("data/table.csv"):
        leaks.append("the regular data file is missing")
""")


def honest_with_links(course_dir, student):
    """A correct notebook beside links, a FIFO and a hard link: only the regular files are copied."""
    import os

    folder = _folder(course_dir, student)
    submit(answered({"answer_relu_forward": LINKS_NOT_COPIED}))(course_dir, student)
    (folder / "data").mkdir()
    (folder / "data" / "table.csv").write_text("a,b\n1,2\n")
    (folder / "linked.ipynb").symlink_to(solution_path(course_dir))
    (folder / "peek").symlink_to(course_dir / "solutions")
    (folder / "data" / "deep-link").symlink_to(course_dir / "submitted" / "reference")
    os.mkfifo(folder / "pipe")
    os.link(solution_path(course_dir), folder / "second-name.txt")


def symlinked_student_folder(course_dir, student):
    """submitted/<student> is a link to the honest student's folder."""
    (course_dir / "submitted").mkdir(parents=True, exist_ok=True)
    (course_dir / "submitted" / student).symlink_to(course_dir / "submitted" / "reference")


def symlinked_assignment_folder(course_dir, student):
    """submitted/<student>/backprop is a link to the honest student's backprop folder."""
    (course_dir / "submitted" / student).mkdir(parents=True, exist_ok=True)
    (course_dir / "submitted" / student / ASSIGNMENT).symlink_to(
        course_dir / "submitted" / "reference" / ASSIGNMENT)


def stray_file(course_dir, student):
    """A plain file directly under submitted/: not a student folder, reported, not graded."""
    (course_dir / "submitted").mkdir(parents=True, exist_ok=True)
    (course_dir / "submitted" / student).write_text("not a folder\n")


# A folder name and a notebook file name that try to write report lines for the honest student.
FORGER = "mallory\treference\tpossibly-tampered\tforged\nreference\tinternal-error\t\x1b[2Kforged\r\x07"
NOT_UTF8 = "not-utf8-\udcff"  # the folder name's bytes end in 0xff, which is not UTF-8
FORGED_FILE = "backprop\nreference\tinternal-error\tforged by a file name.ipynb"

COMPLEX_AFFINE = fn("""
    def affine_forward(x, W, b):
        return (x @ W + b).astype(complex), (x, W)
""")
COMPLEX_SCALAR_RELATIVE_ERROR = fn("""
    def relative_error(analytic, numeric):
        return complex(0.0, 1.0)
""")


def with_gradient_check(extra):
    """The solution of the answer cell holding numerical_gradient and relative_error, then ``extra``."""
    return solution_answers()["answer_gradient_check"] + "\n\n" + extra
STRING_RELU = fn("""
    def relu_forward(x):
        return np.maximum(x, 0.0).astype(str), x
""")
STRUCTURED_AFFINE_BACKWARD = fn("""
    def affine_backward(dout, cache):
        x, W = cache
        dx = np.zeros(x.shape, dtype=[("value", "f8")])
        dx["value"] = dout @ W.T
        return dx, x.T @ dout, dout.sum(axis=0)
""")
OBJECT_SOFTMAX = fn("""
    def softmax_cross_entropy(scores, y):
        n = scores.shape[0]
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        loss = -np.log(probs[np.arange(n), y]).mean()
        dscores = probs.copy()
        dscores[np.arange(n), y] -= 1
        return loss, np.array(list(dscores / n), dtype=object)
""")

# Closes the worker's reply pipe (every write-only pipe it holds) and stays alive.
CLOSES_CHANNEL = fn("""
    def relu_forward(x):
        import fcntl
        import os
        import stat
        import time
        for fd in sorted(int(name) for name in os.listdir("/proc/self/fd") if int(name) > 2):
            try:
                if stat.S_ISFIFO(os.fstat(fd).st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
                    os.close(fd)
            except OSError:
                pass
        while True:
            time.sleep(1)
""")


def deeply_nested(depth):
    """The honest notebook with one metadata value nested ``depth`` lists deep."""
    text = json.dumps(answered(), indent=1)
    return text.replace('"metadata": {', '"metadata": {"deep": ' + "[" * depth + "]" * depth + ", ", 1)


HUGE_GRADIENT_CHECK = "# " + "x" * 5_000_000 + "\n"  # appended to a correct answer cell

# A cell of the student's own that breaks the notebook's test cells after it (the judge is not fooled).
BREAKS_OWN_TESTS = fn("""
    class _Broken:
        def report(self, *args, **kwargs):
            raise AssertionError("my own test helper is broken")
    checks = _Broken()
""")


def closes_channel_case():
    """A worker that closes its reply pipe and stays alive: the student's fault (channel-closed)."""
    return Case("closes-channel", submit(answered({"answer_relu_forward": CLOSES_CHANNEL})),
                zero("relu_forward", "relu_backward", "two_layer_net"), {"channel-closed"},
                COLLECT_FORBIDDEN - {"tests-disagree", "possibly-tampered"})


def collect_cases():
    """The class of the collect tests, one Case per entry of submitted/."""
    every = set(POINTS)
    refused = {"refused-file", "missing-notebook"}
    return [
        Case("reference", submit(answered()), full(), forbidden=COLLECT_FORBIDDEN | {"refused-file"},
             about="the instructor's solution: loses no point"),
        Case("link-to-solutions", symlinked_notebook(solution_path), zero(*every), refused, COLLECT_FORBIDDEN),
        Case("link-to-classmate",
             symlinked_notebook(lambda course: course / "submitted" / "reference" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
             zero(*every), refused, COLLECT_FORBIDDEN),
        Case("hard-link", hard_linked_notebook, zero(*every), refused, COLLECT_FORBIDDEN),
        Case("fifo", fifo_notebook, zero(*every), refused, COLLECT_FORBIDDEN),
        Case("honest-with-links", honest_with_links, full(), {"refused-file"}, COLLECT_FORBIDDEN),
        Case("linked-student-folder", symlinked_student_folder, {}, {"refused-file"}, COLLECT_FORBIDDEN),
        Case("linked-assignment-folder", symlinked_assignment_folder, {}, {"refused-file"}, COLLECT_FORBIDDEN),
        Case("stray-file.txt", stray_file, {}, {"refused-file"}, COLLECT_FORBIDDEN),
        Case(".dot-student", submit(answered()), full(), set(), COLLECT_FORBIDDEN | {"refused-file"}),
        Case(NOT_UTF8, submit(answered()), {}, {"unusable-name"}, COLLECT_FORBIDDEN | {"refused-file"}),
        Case(FORGER, submit(answered(), filename=FORGED_FILE), full(), {"wrong-file-name"},
             COLLECT_FORBIDDEN | {"refused-file"}),
        # The notebook's own tests accept complex numbers: the disagreement is flagged too.
        Case("complex-result", submit(answered({
            "answer_affine_forward": COMPLEX_AFFINE,
            "answer_gradient_check": with_gradient_check(COMPLEX_SCALAR_RELATIVE_ERROR)})),
             zero("affine_forward", "affine_backward", "two_layer_net", "relative_error"), {"possibly-tampered"},
             COLLECT_FORBIDDEN - {"possibly-tampered", "tests-disagree"}),
        Case("odd-dtypes", submit(answered({"answer_relu_forward": STRING_RELU,
                                            "answer_affine_backward": STRUCTURED_AFFINE_BACKWARD,
                                            "answer_softmax_cross_entropy": OBJECT_SOFTMAX})),
             zero("relu_forward", "relu_backward", "affine_backward", "softmax_cross_entropy", "two_layer_net"),
             {"possibly-tampered"}, COLLECT_FORBIDDEN - {"possibly-tampered", "tests-disagree"}),
        Case("deep-json", submit(deeply_nested(100_000)), zero(*every), {"deeply-nested-notebook"},
             COLLECT_FORBIDDEN),
        Case("nested-json", submit(deeply_nested(200)), zero(*every), {"deeply-nested-notebook"},
             COLLECT_FORBIDDEN),
        Case("huge-answer-cell", submit(answered({"answer_gradient_check": with_gradient_check(HUGE_GRADIENT_CHECK)})),
             zero("relative_error"), {"oversized-cell"}, COLLECT_FORBIDDEN - {"tests-disagree"}),
        Case("breaks-own-tests", submit(answered(add_after={"answer_affine_forward": [BREAKS_OWN_TESTS]})),
             full(), {"tests-disagree"}, COLLECT_FORBIDDEN - {"tests-disagree"}),
    ]


# --------------------------------------------------------------------------- the judge's trust boundary
# Issue 11 items 1-4: tampering with the judge's channel, the nnlib ban read from outside,
# honest submissions that must lose nothing, hidden inputs from the course's secret.
# Graded with the reference in the same class by tests/test_grading_judge_trust.py.

# Finds the worker's reply pipe the way a student could (its number is random), or None.
FIND_CHANNEL = fn("""
    def _judge_channel():
        import fcntl, os
        for name in os.listdir("/proc/self/fd"):
            try:
                fd = int(name)
                is_pipe = os.readlink(f"/proc/self/fd/{name}").startswith("pipe:")
                flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            except (OSError, ValueError):
                continue
            if is_pipe and flags & os.O_ACCMODE == os.O_WRONLY:
                return fd
        return None


    def _write_frame(fd, payload):
        import struct
        import os
        os.write(fd, struct.pack(">Q", len(payload)) + payload)
""")
# At import time: a forged "all cells ran" reply before the worker's own.
FORGES_INIT_REPLY = FIND_CHANNEL + fn("""
    import json as _json
    _fd = _judge_channel()
    if _fd is not None:
        _write_frame(_fd, _json.dumps({"ok": True, "cells": [], "defined": [], "output_chars": 0,
                                       "arrays": 0}).encode())
""")
# Inside a call: a forged reply carrying the id of the judge's request (read off the stack).
FORGES_CALL_REPLY = FIND_CHANNEL + fn("""
    def affine_forward(x, W, b):
        import json, sys
        frame = sys._getframe(1)
        while frame is not None and "request" not in frame.f_locals:
            frame = frame.f_back
        fd = _judge_channel()
        if frame is not None and fd is not None:
            _write_frame(fd, json.dumps({"ok": True, "value": None, "post": None, "output_chars": 0,
                                         "re": frame.f_locals["request"].get("id"), "arrays": 0}).encode())
        return x @ W + b, (x, W)
""")
# A header nested two million brackets deep (2 MiB: under the size bound, over the depth bound).
DEEP_HEADER = FIND_CHANNEL + fn("""
    def relu_forward(x):
        fd = _judge_channel()
        if fd is not None:
            _write_frame(fd, b"[" * 2_000_000 + b"]" * 2_000_000)
        return np.maximum(x, 0.0), x
""")

# Guarded forwards delegate to nnlib: their own parts (and two_layer_net, which runs them
# under its own ban) score 0 and are flagged; the backward parts, which call a forward only
# for its cache, lose nothing.
FORWARDS_USE_NNLIB = fn("""
    from nnlib.activations import get_activation
    from nnlib.layers import Dense

    def affine_forward(x, W, b):
        layer = Dense(W.shape[0], W.shape[1], np.random.default_rng(0))
        layer.params["W"], layer.params["b"] = W, b
        return layer.forward(x), (x, W)

    def relu_forward(x):
        return get_activation("relu").value(x), x
""")
BACKWARDS_USE_NNLIB = fn("""
    import nnlib.layers as _layers
    from nnlib.activations import get_activation

    def affine_backward(dout, cache):
        x, W = cache
        layer = _layers.Dense(W.shape[0], W.shape[1], np.random.default_rng(0))
        layer.params["W"] = W
        layer.forward(x)
        dx = layer.backward(dout)
        return dx, layer.grads["W"].copy(), layer.grads["b"].copy()

    def relu_backward(dout, cache):
        return dout * get_activation("relu").derivative(cache)
""")
LOSS_AND_ERROR_USE_NNLIB = fn("""
    from nnlib import gradcheck, losses

    def softmax_cross_entropy(scores, y):
        return losses.softmax_cross_entropy(scores, y)

    def relative_error(analytic, numeric):
        return gradcheck.relative_error(analytic, numeric)
""")
# nnlib.gradcheck.relative_error pasted under new argument names, docstring dropped: correct,
# invisible to the worker's tripwire, flagged from the source for a human (not zeroed).
PASTED_RELATIVE_ERROR = fn("""
    def numerical_gradient(f, x, h=1e-5):
        grad = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            original = x[index]
            x[index] = original + h
            f_plus = f(x)
            x[index] = original - h
            f_minus = f(x)
            x[index] = original
            grad[index] = (f_plus - f_minus) / (2 * h)
        return grad


    def relative_error(a, n):
        a, n = np.asarray(a, float), np.asarray(n, float)
        if a.shape != n.shape:
            raise ValueError(f"analytic {a.shape} and numeric {n.shape} shapes differ")
        d = np.maximum(np.abs(a) + np.abs(n), 1e-12)
        return float(np.max(np.abs(a - n) / d, initial=0.0))
""")
# nnlib's code run with the tripwire sidestepped: the functions' code objects are saved at
# import time (by a computed module name) and run as new functions, which the tripwire does
# not patch. The worker reports nothing; the source shows dynamic code.
EVADES_TRIPWIRE = fn("""
    import importlib
    import types

    _activations = importlib.import_module("nn" + "lib.activations")
    _relu_value = _activations.ReLU.value.__code__

    def relu_forward(x):
        own = types.FunctionType(_relu_value, vars(_activations))
        return own(None, x), x
""")
# The channel is not where a convention would put it: no pipe below descriptor 300, no argv.
CONVENTIONAL_CHANNEL = spy("""
    import os, sys
    if len(sys.argv) > 1:
        leaks.append("argv")
    for fd in range(3, 300):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                leaks.append(fd)
        except OSError:
            pass
""")
SLOW_CELL = "import time\ntime.sleep(7)  # a slow exploration cell, well under the cell time limit\n"


def trust_cases():
    """Cases of issue 11 items 1-4, each to be graded with ``reference`` in the same class."""
    every = set(POINTS)
    nnlib_flags = {"nnlib-called", "nnlib-import"}
    honest = {"possibly-tampered", "internal-error", "tampering", "timeout", "nnlib-called", "nnlib-import",
              "nnlib-copy", "dynamic-code", "reads-course-files", "check-error"}
    return [
        Case("reference", submit(answered()), full(), set(), honest, about="the instructor's solution"),
        Case("forges-init-reply", submit(answered(add_after={"answer_affine_forward": [FORGES_INIT_REPLY]})),
             zero(*every), {"tampering"}, {"internal-error"}),
        Case("forges-call-reply", submit(answered({"answer_affine_forward": FORGES_CALL_REPLY})),
             zero("affine_forward", "affine_backward", "two_layer_net"), {"tampering"}, {"internal-error"}),
        Case("deep-header", submit(answered({"answer_relu_forward": DEEP_HEADER})),
             zero("relu_forward", "relu_backward", "two_layer_net"), {"tampering"}, {"internal-error"}),
        Case("forwards-use-nnlib", submit(answered({"answer_relu_forward": FORWARDS_USE_NNLIB})),
             zero("affine_forward", "relu_forward", "two_layer_net"), nnlib_flags, {"internal-error", "timeout"}),
        Case("backwards-use-nnlib", submit(answered({"answer_relu_backward": BACKWARDS_USE_NNLIB})),
             zero("affine_backward", "relu_backward", "two_layer_net"), nnlib_flags, {"internal-error", "timeout"}),
        Case("loss-and-error-use-nnlib", submit(answered({"answer_softmax_cross_entropy": LOSS_AND_ERROR_USE_NNLIB})),
             zero("softmax_cross_entropy", "relative_error", "two_layer_net"), nnlib_flags,
             {"internal-error", "timeout"}),
        Case("pasted-nnlib-copy", submit(answered({"answer_gradient_check": PASTED_RELATIVE_ERROR})), full(),
             {"nnlib-copy"}, {"internal-error", "nnlib-called", "tampering"}),
        Case("evades-tripwire", submit(answered({"answer_relu_forward": EVADES_TRIPWIRE})), full(),
             {"dynamic-code"}, {"internal-error", "nnlib-called", "tampering"}),
        Case("conventional-channel", submit(answered({"answer_relu_forward": CONVENTIONAL_CHANNEL})), full(),
             set(), {"internal-error", "tampering", "possibly-tampered"}),
        Case("slow-exploration-cells", submit(answered(add_after={"answer_relu_forward": [SLOW_CELL] * 3})),
             full(), set(), honest),
    ]
