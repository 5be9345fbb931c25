"""What the built website (_build/html, made by `make book`) must never contain."""
import pytest

from book_toc import SITE

LEAK_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
TEXT_SUFFIXES = {".html", ".ipynb", ".md", ".txt", ".js", ".json"}


@pytest.fixture(scope="module")
def site_files():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site in {SITE}: run `make book` first")
    return [path for path in SITE.rglob("*") if path.is_file()]


def test_no_page_comes_from_solutions_or_exercises(site_files):
    leaked = [
        path.relative_to(SITE).as_posix()
        for path in site_files
        if {"solutions", "exercises"} & set(path.relative_to(SITE).parts)
    ]
    assert not leaked, f"files from solutions/ or exercises/ on the site: {leaked}"


def test_no_solution_or_hidden_test_reaches_the_site(site_files):
    leaked = [
        path.relative_to(SITE).as_posix()
        for path in site_files
        if path.suffix in TEXT_SUFFIXES
        and any(marker in path.read_text(encoding="utf-8", errors="replace") for marker in LEAK_MARKERS)
    ]
    assert not leaked, f"solution or hidden-test markers in: {leaked}"
