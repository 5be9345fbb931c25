"""The nnlib ban, read from outside: what the submitted source shows about guarded functions.

A part's ``guarded`` functions must be the student's own code, not nnlib's. The worker's
tripwire (``checks.base.nnlib_tripwire``) runs inside the student's process, which the
student's code controls, so its report is a second signal only. This module reads the
student's cells (answer cells and added cells; never the instructor's set-up) with
``ast`` in the judge and gives evidence for a human, never a score:

- ``nnlib-import``: a guarded function (or a function of the student's it calls, or a
  module-level alias it uses) refers to a name imported from ``nnlib``, or imports it;
- ``nnlib-copy``: a guarded function (or one it calls) is an nnlib function with only
  names, docstrings, comments and annotations changed (normalised ASTs compared; nnlib
  functions under ``MIN_COPY_NODES`` nodes are too small to prove anything);
- ``dynamic-code``: the student's cells import by computed name (``__import__``,
  ``importlib``), run built strings (``exec``/``eval``/``compile`` of anything but a
  literal), reach into ``sys.modules``, the call stack or the garbage collector, or
  define a guarded function by anything but a ``def``;
- ``reads-course-files``: the cells open or list files by a path naming the course's
  folders (``solutions``, ``submitted``, ``.nbgrader``, ...).
"""
import ast
import dataclasses
import functools
import importlib.util
import re
from pathlib import Path

COURSE_WORDS = re.compile(r"(^|[/\\])(solutions|submitted|autograded|feedback|source|release|\.nbgrader)"
                          r"([/\\]|$)|gradebook\.db|grading-secret|nbgrader_config\.py")
FILE_CALLS = {"open", "read_text", "read_bytes", "listdir", "scandir", "glob", "rglob", "iterdir", "walk",
              "loadtxt", "load", "genfromtxt", "connect", "Path", "PurePath"}
# Builtins that run or fetch code by a value: evidence unless the value is a literal
# (the code for exec/eval/compile, the attribute name for getattr/setattr).
BUILTIN_DYNAMIC = {"exec": 0, "eval": 0, "compile": 0, "__import__": 0, "getattr": 1, "setattr": 1}
# Functions (module attributes) that import by name or reach into the interpreter.
ATTRIBUTE_DYNAMIC = {"import_module", "reload", "_getframe", "currentframe", "get_referrers", "get_objects"}
NAMESPACES = {"globals", "vars", "locals"}   # evidence only when subscripted with a computed key
MODULE_WORDS = {"importlib", "gc", "inspect", "ctypes"}
MIN_COPY_NODES = 30   # an nnlib body smaller than this (a one-liner like max(z, 0)) proves nothing


@dataclasses.dataclass(frozen=True)
class Evidence:
    kind: str
    detail: str


def _parse(source):
    """The module AST of a cell, IPython magics and shell lines blanked; None if it is not Python."""
    lines = [("" if line.lstrip().startswith(("%", "!")) else line) for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


class _Normaliser(ast.NodeTransformer):
    """Names become their order of first appearance, docstrings and annotations vanish."""

    def __init__(self):
        self.names = {}

    def _name(self, name):
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(id=self._name(node.id), ctx=ast.Load()), node)

    def visit_arg(self, node):
        return ast.copy_location(ast.arg(arg=self._name(node.arg), annotation=None), node)

    def visit_FunctionDef(self, node):
        node.returns = None
        node.decorator_list = []
        node.name = self._name(node.name)
        node.body = _strip_docstring(node.body)
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Expr(self, node):
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None  # comments written as strings
        self.generic_visit(node)
        return node


def _strip_docstring(body):
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body or [ast.Pass()]


def _statement_keys(function):
    """The normalised dump of each statement of ``function``'s body (names shared across them)."""
    import copy

    node = copy.deepcopy(function)
    normaliser = _Normaliser()
    for argument in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
        normaliser._name(argument.arg)
    body = [normaliser.visit(statement) for statement in _strip_docstring(node.body)]
    return tuple(ast.dump(statement, annotate_fields=False) for statement in body if statement is not None)


def _size(function):
    return sum(1 for _ in ast.walk(function))


@functools.lru_cache(maxsize=1)
def nnlib_bodies():
    """{normalised body (tuple of statement dumps): qualified name} of every nnlib function."""
    spec = importlib.util.find_spec("nnlib")
    folder = Path(spec.origin).parent
    bodies = {}
    for path in sorted(folder.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        module = f"nnlib.{path.stem}" if path.stem != "__init__" else "nnlib"
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _size(node) >= MIN_COPY_NODES:
                bodies.setdefault(_statement_keys(node), f"{module}.{node.name}")
    return bodies


def _call_name(node):
    function = node.func
    if isinstance(function, ast.Name):
        return function.id
    if isinstance(function, ast.Attribute):
        return function.attr
    return None


def _literal(node):
    return isinstance(node, ast.Constant)


def _strings(node):
    return [child.value for child in ast.walk(node) if isinstance(child, ast.Constant) and isinstance(child.value, str)]


class Scan:
    """The parsed student cells: ``evidence(guarded)`` for a part's guarded functions and
    ``cell_evidence()`` for the cells as a whole list what a human should look at."""

    def __init__(self, cells):
        self.cells = []
        for number, cell in enumerate(cells, 1):
            label, source = cell if isinstance(cell, tuple) else (f"cell {number}", cell)
            tree = _parse(source) if isinstance(source, str) else None
            if tree is not None:
                self.cells.append((label, tree))
        self.functions = {}     # name -> (label, FunctionDef): the last def wins, as in the notebook
        self.nnlib_names = {}   # module-level name -> what of nnlib it stands for
        self.assigned = {}      # module-level name -> label of a non-def binding
        for label, tree in self.cells:
            for node in tree.body:
                self._module_statement(label, node)
        self._aliases()

    # --------------------------------------------------------------- module level
    def _module_statement(self, label, node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.functions[node.name] = (label, node)
            self.assigned.pop(node.name, None)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for name, target in _nnlib_imports(node):
                self.nnlib_names[name] = target
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for child in ast.walk(target):
                    if isinstance(child, ast.Name):
                        self.assigned[child.id] = (label, node)
                        self.functions.pop(child.id, None)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    self._module_statement(label, child)
            for handler in getattr(node, "handlers", []):
                for child in handler.body:
                    self._module_statement(label, child)

    def _aliases(self):
        """Module-level names bound to an expression that uses an nnlib name are nnlib names too."""
        changed = True
        while changed:
            changed = False
            for name, (_, node) in self.assigned.items():
                if name in self.nnlib_names or node.value is None:
                    continue
                used = [child.id for child in ast.walk(node.value) if isinstance(child, ast.Name)]
                found = next((self.nnlib_names[use] for use in used if use in self.nnlib_names), None)
                if found:
                    self.nnlib_names[name] = f"{found} (through {name})"
                    changed = True

    # --------------------------------------------------------------- evidence
    def evidence(self, guarded):
        found = []
        for name in guarded:
            if name in self.assigned and name not in self.functions:
                label, _ = self.assigned[name]
                found.append(Evidence("dynamic-code", f"{name} is bound by an assignment in {label}, not by a def"))
                target = self.nnlib_names.get(name)
                if target:
                    found.append(Evidence("nnlib-import", f"{name} is {target} ({label})"))
                continue
            if name not in self.functions and not any(name in text for _, tree in self.cells
                                                      for text in _strings(tree)):
                continue  # not written yet (the stub) or defined nowhere: the check reports it
            if name not in self.functions:
                found.append(Evidence("dynamic-code", f"{name} is not defined by a def statement in the "
                                                      "student's cells (built from a string?)"))
                continue
            for reached, (label, function) in self._reached(name):
                found += self._function_evidence(name, reached, label, function)
        unique = []
        for item in found:
            if item not in unique:
                unique.append(item)
        return unique

    def _reached(self, name):
        """``name``'s def and the defs of the student's functions it calls, transitively."""
        seen, order, queue = set(), [], [name]
        while queue:
            current = queue.pop(0)
            if current in seen or current not in self.functions:
                continue
            seen.add(current)
            label, function = self.functions[current]
            order.append((current, (label, function)))
            queue += [child.id for child in ast.walk(function) if isinstance(child, ast.Name)]
        return order

    def _function_evidence(self, guarded, name, label, function):
        found = []
        via = "" if name == guarded else f" (through {name}, which it calls)"
        local = {child.id for child in ast.walk(function) if isinstance(child, ast.Name)
                 and isinstance(child.ctx, ast.Store)} | {arg.arg for arg in ast.walk(function)
                                                         if isinstance(arg, ast.arg)}
        for child in ast.walk(function):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for _, target in _nnlib_imports(child):
                    found.append(Evidence("nnlib-import", f"{guarded} imports {target}{via} ({label}, line "
                                                          f"{child.lineno})"))
            elif isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load) and \
                    child.id in self.nnlib_names and child.id not in local:
                found.append(Evidence("nnlib-import", f"{guarded} uses {child.id}, which is "
                                                      f"{self.nnlib_names[child.id]}{via} ({label}, line "
                                                      f"{child.lineno})"))
        qualname = nnlib_bodies().get(_statement_keys(function))
        if qualname:
            found.append(Evidence("nnlib-copy", f"{guarded}{via} is a copy of {qualname} with names "
                                                f"changed ({label}, line {function.lineno})"))
        return found

    def cell_evidence(self):
        """Evidence anywhere in the student's cells, whichever function it serves."""
        found = []
        for label, tree in self.cells:
            for child in ast.walk(tree):
                where = f"{label}, line {getattr(child, 'lineno', '?')}"
                if isinstance(child, ast.Call):
                    name = _call_name(child)
                    builtin = isinstance(child.func, ast.Name) and name in BUILTIN_DYNAMIC
                    if builtin:
                        position = BUILTIN_DYNAMIC[name]
                        if len(child.args) > position and not _literal(child.args[position]):
                            found.append(Evidence("dynamic-code", f"{name}() of a computed value ({where})"))
                    elif isinstance(child.func, ast.Attribute) and name in ATTRIBUTE_DYNAMIC:
                        found.append(Evidence("dynamic-code", f"{name}() ({where})"))
                    if name in FILE_CALLS and any(COURSE_WORDS.search(text) for text in _strings(child)):
                        found.append(Evidence("reads-course-files", f"{name}() of a path naming the course's "
                                                                    f"folders ({where})"))
                elif isinstance(child, ast.Subscript) and isinstance(child.value, ast.Call) and \
                        _call_name(child.value) in NAMESPACES and not _literal(child.slice):
                    found.append(Evidence("dynamic-code", f"{_call_name(child.value)}()[...] with a computed "
                                                          f"key ({where})"))
                elif isinstance(child, ast.Attribute) and child.attr == "modules" and \
                        isinstance(child.value, ast.Name) and child.value.id == "sys":
                    found.append(Evidence("dynamic-code", f"sys.modules ({where})"))
                elif isinstance(child, (ast.Import, ast.ImportFrom)):
                    names = [alias.name for alias in child.names] + [getattr(child, "module", None) or ""]
                    hit = sorted({name.split(".")[0] for name in names} & MODULE_WORDS)
                    if hit:
                        found.append(Evidence("dynamic-code", f"imports {', '.join(hit)} ({where})"))
        return list(dict.fromkeys(found))


def _nnlib_imports(node):
    """(bound name, what it stands for) for each nnlib name an import statement binds."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == "nnlib" or alias.name.startswith("nnlib."):
                yield (alias.asname or alias.name.split(".")[0]), alias.name
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
            (node.module == "nnlib" or node.module.startswith("nnlib.")):
        for alias in node.names:
            yield (alias.asname or alias.name), f"{node.module}.{alias.name}"

