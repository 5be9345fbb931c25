"""The build's log (_build/build.log, written by scripts/build_book.py) holds no unexplained warning.

`make book` prints the log less the lines that scripts/build_book.py lists as
known noise, each with its reason. Any other warning or error, from Sphinx,
Jupyter Book, a notebook's kernel or a library, must be fixed or explained there.
"""
import importlib.util
import re

import pytest

from book_toc import ROOT

LOG = ROOT / "_build" / "build.log"
WARNING = re.compile(r"\b(WARNING|ERROR|CRITICAL|Warning|Error|Traceback|DeprecationWarning)\b")


def load_build_script():
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "scripts" / "build_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def build_book():
    return load_build_script()


@pytest.fixture(scope="module")
def log_lines():
    if not LOG.is_file():
        pytest.fail(f"no build log at {LOG}: run `make book` first")
    return LOG.read_text(encoding="utf-8").splitlines(keepends=True)


def test_the_build_succeeded(build_book, log_lines):
    text = build_book.ANSI.sub("", "".join(log_lines))
    assert "build succeeded" in text, text[-2000:]


def test_no_warning_in_the_log_except_the_explained_noise(build_book, log_lines):
    unexplained = [
        line.rstrip() for line in log_lines
        if WARNING.search(build_book.ANSI.sub("", line)) and not build_book.is_noise(line)
    ]
    assert not unexplained, "warnings not explained in scripts/build_book.py:\n" + "\n".join(unexplained)


def test_the_noise_filter_keeps_real_warnings(build_book):
    # Real messages of the kinds a build prints must reach the reader.
    real = [
        "/work/book/01_neuron.ipynb:5: WARNING: undefined label: 'fig-step'\n",
        "\x1b[91m/work/book/bibliography.md: WARNING: could not find bibtex key \"lecun98\"\x1b[39;49;00m\n",
        "[IPKernelApp] WARNING | Unknown error in handling startup files\n",
        "RuntimeWarning: overflow encountered in exp\n",
    ]
    assert [line for line in real if build_book.is_noise(line)] == []


def test_the_noise_filter_drops_each_known_message(build_book):
    noise = [
        "[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All communication ...\n",
        "\x1b[01mmyst v3.0.1: MdParserConfig(commonmark_only=False)\x1b[39;49;00m\n",
        "copying images... [ 3%] _build/jupyter_execute/abc.png\n",
    ]
    assert all(build_book.is_noise(line) for line in noise)
    assert all(reason.strip() for _, reason in build_book.KNOWN_NOISE)
