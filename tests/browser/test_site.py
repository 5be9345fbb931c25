"""Every page of the built site, opened in headless Chromium as a reader would, both ways.

Each page is opened served over http and as a file (conftest's MODES). Loading
a page takes seconds on a small machine, so each page is loaded once per way,
by the `inspect` fixture (which also runs axe-core and takes a screenshot), and
the tests below check what that visit recorded.
"""
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urljoin

import pytest

from book_toc import ROOT, SITE, toc_docnames
from conftest import MODES, axe_report, run_axe

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
RAW_TEX = ["\\frac", "\\sum", "\\begin{", "\\(", "\\[", "$$"]
MATHJAX_TIMEOUT_MS = 15_000
# axe-core impacts that fail a page; "moderate" and "minor" findings are checked
# against MINOR_FINDINGS_ALLOWED below.
BLOCKING_IMPACTS = ("serious", "critical")
# Moderate or minor axe findings the site still has, each with the reason it stays.
MINOR_FINDINGS_ALLOWED = {}
# The text a reader sees as prose: code and maths left out.
PROSE_TEXT_JS = """() => {
    const body = document.body.cloneNode(true);
    body.querySelectorAll("pre, code, script, style, .math").forEach((node) => node.remove());
    return body.textContent;
}"""
IMAGES_JS = "images => images.map(image => [image.getAttribute('src'), image.getAttribute('alt')])"


def built_pages():
    """Every HTML page of the site, relative to its root (theme snippets in _static/ excluded).

    Without a built site this returns the home page alone, so the tests fail with
    "run `make book` first" rather than silently collecting nothing.
    """
    pages = sorted(
        path.relative_to(SITE).as_posix()
        for path in SITE.rglob("*.html")
        if not path.relative_to(SITE).parts[0].startswith("_")
    )
    return pages or ["index.html"]


PAGES = built_pages()
TOC_PAGES = [f"{docname}.html" for docname in toc_docnames()]


@dataclass
class Visit:
    """What one load of a page showed; `problems` is empty when nothing went wrong."""

    url: str
    problems: str
    display_maths_typeset: int
    untypeset_maths: list
    raw_tex_in_prose: list
    images: list
    next_link: str | None
    axe_violations: list


def visit(load_site_page, path, mode):
    context, page, problems = load_site_page(path, mode)
    try:
        maths = page.locator(".math")
        if maths.count():
            page.wait_for_function("() => window.MathJax?.startup?.promise", timeout=MATHJAX_TIMEOUT_MS)
            page.evaluate("() => MathJax.startup.promise")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{mode}__{path.replace('/', '__')}.png", full_page=True)
        axe_violations = run_axe(page)
        prose = page.evaluate(PROSE_TEXT_JS)
        next_link = page.locator("a.right-next")
        return Visit(
            url=page.url,
            problems=problems.report(),
            display_maths_typeset=page.locator('mjx-container[display="true"]').count(),
            untypeset_maths=page.locator(".math:not(:has(mjx-container))").all_text_contents(),
            raw_tex_in_prose=[marker for marker in RAW_TEX if marker in prose],
            images=page.eval_on_selector_all("img", IMAGES_JS),
            next_link=next_link.evaluate("link => link.href") if next_link.count() == 1 else None,
            axe_violations=axe_violations,
        )
    finally:
        context.close()


@pytest.fixture(scope="session")
def inspect(load_site_page):
    """inspect(path, mode="http") -> Visit, loading each page once per way per session."""
    visits = {}

    def inspect_(path, mode="http"):
        if (path, mode) not in visits:
            visits[path, mode] = visit(load_site_page, path, mode)
        return visits[path, mode]

    return inspect_


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", PAGES)
def test_page_loads_without_errors_or_outside_requests(inspect, path, mode):
    problems = inspect(path, mode).problems
    assert not problems, problems


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", PAGES)
def test_no_serious_or_critical_accessibility_violation(inspect, path, mode):
    blocking = [v for v in inspect(path, mode).axe_violations if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, "axe-core found:\n" + axe_report(blocking)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", PAGES)
def test_moderate_and_minor_accessibility_findings_are_only_the_explained_ones(inspect, path, mode):
    others = [
        v for v in inspect(path, mode).axe_violations
        if v["impact"] not in BLOCKING_IMPACTS and v["id"] not in MINOR_FINDINGS_ALLOWED
    ]
    assert not others, "axe-core found:\n" + axe_report(others)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", PAGES)
def test_maths_is_typeset_and_no_raw_tex_is_left(inspect, path, mode):
    page = inspect(path, mode)
    assert not page.untypeset_maths, f"maths left raw: {page.untypeset_maths[:3]}"
    assert not page.raw_tex_in_prose, f"raw TeX in the page's text: {page.raw_tex_in_prose}"


@pytest.mark.parametrize("mode", MODES)
def test_intro_shows_its_equation_typeset(inspect, mode):
    assert inspect(TOC_PAGES[0], mode).display_maths_typeset >= 1


@pytest.mark.parametrize("path", PAGES)
def test_every_image_has_alt_text(inspect, path):
    # Sphinx writes the file name as alt when a figure has none: that describes nothing.
    missing = [
        src for src, alt in inspect(path).images
        if not (alt or "").strip() or alt in (src, PurePosixPath(src).name)
    ]
    assert not missing, f"images without alt text: {missing}"


@pytest.mark.parametrize("index", range(len(TOC_PAGES)), ids=TOC_PAGES)
def test_next_link_leads_to_the_next_page_in_the_toc(inspect, site_url, index):
    next_link = inspect(TOC_PAGES[index]).next_link
    if index == len(TOC_PAGES) - 1:
        assert next_link is None, f"the last page of the toc links on to {next_link}"
        return
    expected = TOC_PAGES[index + 1]
    assert next_link == urljoin(site_url, expected), f"next link goes to {next_link}, not {expected}"
    target = inspect(expected)
    assert target.url == next_link and not target.problems, target.problems
