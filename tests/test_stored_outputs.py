"""Stored chapter outputs hold on every processor: what nbval may skip, and how.

nbval compares every text output of every chapter with the stored one. The README's
table "Cells whose output is not compared" lists the only cells exempt from that
comparison; each must check the claim its text makes with a visible assertion. And no
sanitizer may rewrite numbers, or a digit that differs between processors would hide.
"""
import ast
import configparser
import json
import re

import pytest

from book_toc import ROOT

IGNORE_TAG = "nbval-ignore-output"
# Markers that would hide a cell from nbval altogether, or that nbval reads from a comment.
FORBIDDEN_TAGS = {"nbval-skip", "nbval-check-output"}
COMMENT_MARKERS = re.compile(r"#\s*NBVAL_\w+")
ROW = re.compile(r"^\|\s*`(?P<notebook>book/[^`]+\.ipynb)`\s*\|\s*`(?P<cell_id>[^`]+)`\s*\|", re.MULTILINE)


def chapter_cells():
    """(notebook path relative to the root, cell) for every code cell of every notebook in book/."""
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                yield path.relative_to(ROOT).as_posix(), cell


def readme_exempt_cells():
    """The (notebook, cell id) pairs of the README's table of cells whose output is not compared."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    heading = "### Cells whose output is not compared"
    assert heading in readme, f"README.md has no section {heading!r}"
    section = readme.split(heading, 1)[1].split("\n#", 1)[0]
    return {(match["notebook"], match["cell_id"]) for match in ROW.finditer(section)}


def tagged_exempt_cells():
    return {(notebook, cell["id"]): cell for notebook, cell in chapter_cells()
            if IGNORE_TAG in cell.get("metadata", {}).get("tags", [])}


def python_source(cell):
    """The cell's code with IPython magics and shell escapes blanked out, so ``ast`` can parse it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in "".join(cell["source"]).splitlines())


def test_readme_lists_exactly_the_cells_nbval_does_not_compare():
    listed, tagged = readme_exempt_cells(), set(tagged_exempt_cells())
    assert listed == tagged, (
        f"tagged {IGNORE_TAG} but missing from the README's table: {sorted(tagged - listed)}; "
        f"in the table but not tagged (or gone): {sorted(listed - tagged)}"
    )


def test_every_uncompared_cell_asserts_its_claim():
    without = [key for key, cell in tagged_exempt_cells().items()
               if not any(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(python_source(cell))))]
    assert not without, f"cells whose output nbval skips but that check no claim with `assert`: {without}"


def test_no_cell_hides_from_nbval_another_way():
    hidden = []
    for notebook, cell in chapter_cells():
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & FORBIDDEN_TAGS or COMMENT_MARKERS.search("".join(cell["source"])):
            hidden.append((notebook, cell["id"]))
    assert not hidden, f"cells skipped or marked by comment instead of the {IGNORE_TAG} tag: {hidden}"


def sanitizer_rules():
    config = configparser.RawConfigParser()
    config.read(ROOT / "tests" / "nbval_sanitize.cfg", encoding="utf-8")
    return {name: (section["regex"], section["replace"]) for name, section in config.items() if "regex" in section}


@pytest.mark.parametrize("text", [
    "train MSE 0.79   test MSE 11.34", "seed 0: final cost 0.094", "relative error 5.2e-10",
    "loss = 1.2044", "0.123456789", "[1.007 2.027 3.003 4.02 ]", "4353 parameters, 99.5%",
])
def test_no_sanitizer_rule_rewrites_numbers(text):
    rules = sanitizer_rules()
    assert rules, "tests/nbval_sanitize.cfg defines no rule: is the file still read?"
    for name, (regex, replace) in rules.items():
        assert re.sub(regex, replace, text) == text, f"sanitizer rule [{name}] rewrites {text!r}"


def test_sanitizer_still_masks_what_is_not_reproducible():
    # The rules that remain must do their job, or the guard above would pass vacuously.
    rules = sanitizer_rules()
    samples = {"<Figure at 0x7f3a2b1c>": "0x7f3a2b1c", "CPU times: user 3 ms": "3 ms",
               " 45%|████▌     | 45/100 [00:01<00:02]": "45/100"}
    for sample, volatile in samples.items():
        masked = sample
        for regex, replace in rules.values():
            masked = re.sub(regex, replace, masked)
        assert volatile not in masked, f"no sanitizer rule masks {volatile!r} in {sample!r}"
