"""Every measured number the book's prose states is printed by a cell a reader can see.

The convention (CONTRIBUTING.md, "Numbers in prose"): in a page's Markdown, a number written
with a decimal point, or followed by %, ×, "x" or "-fold", is a measured number. It must equal,
at the precision the prose writes it, a number printed in one of the same page's stored outputs
or written in one of its code cells (a setting the reader can see, such as a learning rate).
Exempt are numbers inside maths (``$...$``: definitions and arithmetic), inside code spans, and
in a sentence that cites its source with ``{cite}`` (a figure quoted from the literature).
Whole numbers without a unit (sizes, counts, epochs, years) are not checked.
"""
import json
import re

import pytest

from book_toc import ROOT, source_of, toc_docnames

MEASURED = re.compile(
    r"(?<![\w.])(?P<sign>[-−](?=\d))?(?P<value>\d[\d,]*(?:\.\d+)?)(?P<unit>\s?%|×|x\b|-fold)?")
PRINTED = re.compile(r"(?<![\d.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")  # also "x4.55", "W2"
NOT_PROSE = [
    re.compile(r"```.*?```", re.S),        # fenced code and directives' bodies of code
    re.compile(r"\$\$.*?\$\$", re.S),      # display maths
    re.compile(r"\$[^$\n]*\$"),            # inline maths
    re.compile(r"`[^`]*`"),                # code spans and roles' targets ({doc}`...`)
    re.compile(r"\]\([^)]*\)"),            # link targets
    re.compile(r"<[^>]+>"),                # HTML tags and their attributes
    re.compile(r"^:[\w-]+:.*$", re.M),     # directive options such as :width: 80%
]
SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


def prose(markdown):
    """``markdown`` with maths, code and markup replaced by spaces."""
    for pattern in NOT_PROSE:
        markdown = pattern.sub(" ", markdown)
    return markdown


def visible_numbers(cells):
    """Every number printed in a stored output or written in a code cell of ``cells``."""
    texts = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        texts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            for kind, data in output.get("data", {}).items():
                if kind.startswith("text/"):
                    texts.append(data if isinstance(data, str) else "".join(data))
    text = "\n".join(texts).replace(",", "")
    return {float(token) for token in PRINTED.findall(text)}


def measured_numbers(markdown):
    """(number as written, its sentence) for each measured number of ``markdown``'s prose."""
    for sentence in SENTENCE_END.split(prose(markdown)):
        if "{cite" in sentence:
            continue
        for match in MEASURED.finditer(sentence):
            if "." in match["value"] or match["unit"]:
                yield match, " ".join(sentence.split())


def is_printed(match, numbers):
    """Whether some printed number, rounded to the prose's digits, is the prose's number.

    A percentage may be printed as a percentage or as a fraction (6.25 % as 0.0625). A
    number the prose writes without a sign matches a printed one of either sign.
    """
    written = match["value"].replace(",", "")
    value = -float(written) if match["sign"] else float(written)
    decimals = len(written.split(".")[1]) if "." in written else 0
    targets = [(value, 0.5 * 10 ** -decimals)]
    if match["unit"] and "%" in match["unit"]:
        targets.append((value / 100, 0.5 * 10 ** -(decimals + 2)))
    if not match["sign"]:  # a number written without a sign is a size: "largest in magnitude (0.30)"
        numbers = {abs(number) for number in numbers}
    return any(abs(number - target) <= half + 1e-12 for number in numbers for target, half in targets)


def chapter_notebooks():
    return [path for path in map(source_of, toc_docnames()) if path is not None and path.suffix == ".ipynb"]


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda path: path.stem)
def test_every_measured_number_in_the_prose_is_printed_by_a_cell(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    numbers = visible_numbers(cells)
    missing = [f"cell {index}: {match.group(0)!r} in: {sentence[:160]}"
               for index, cell in enumerate(cells) if cell["cell_type"] == "markdown"
               for match, sentence in measured_numbers("".join(cell["source"]))
               if not is_printed(match, numbers)]
    assert not missing, "numbers in the prose that no output prints:\n" + "\n".join(missing)


def test_the_check_tells_a_printed_number_from_a_stated_one():
    cells = [{"cell_type": "code", "source": "fit(lr=0.05)",
              "outputs": [{"output_type": "stream", "text": "cost 5.2714 after 500 epochs\nshare 0.0625\nslope -0.30, shrink x4.55\n"}]}]
    numbers = visible_numbers(cells)
    found = {match.group(0): is_printed(match, numbers) for match, _ in measured_numbers(
        "The cost fell to 5.27 (not 5.50), a 6.25 % share, at a rate of 0.05 and $2/2^5 = 12.5\\%$, to -0.0625; "
        "the slope's size is 0.30, it shrinks 4.5-fold; "
        "it ran 500 epochs. Others report 25% {cite}`krizhevsky2012`.")}
    assert found == {"5.27": True, "5.50": False, "6.25 %": True, "0.05": True, "-0.0625": False,
                     "0.30": True, "4.5-fold": True}
