"""The explorers on the built website, driven from the keyboard in headless Chromium.

For every page that shows an explorer, served over http and opened from disk
(file://, where ES modules and fetch are refused): the picture and the controls
are labelled for screen readers, and each control, moved one step with an arrow
key, changes the picture, its description and the text readout, with no console
error and no request to another host (the `open_page` fixture records both).
"""
import pytest

from book_toc import SITE
from conftest import MODES

pytestmark = pytest.mark.browser

ALL_DRAWN_JS = "() => [...document.querySelectorAll('.nn-explorer')].every((host) => host.querySelector('svg'))"
VISIBLE_CONTROLS = "input[type=range]:not([hidden] *), select:not([hidden] *)"


def explorer_pages():
    """Built pages holding an explorer; the explorers page alone if the site is not built yet."""
    pages = sorted(
        path.relative_to(SITE).as_posix()
        for path in (SITE / "book").glob("*.html")
        if 'class="nn-explorer"' in path.read_text(encoding="utf-8")
    ) if (SITE / "book").is_dir() else []
    return pages or ["book/explorers.html"]


def drawing(host):
    """What the explorer shows: its SVG's markup, its readout and its accessible title."""
    return {
        "svg": host.locator("svg").inner_html(),
        "readout": host.locator("[aria-live]").inner_text(),
        "title": host.locator("svg title").text_content(),
    }


def step(page, control):
    """Focus a control and move it one step, as a keyboard user would."""
    control.focus()
    page.keyboard.press("ArrowDown" if control.evaluate("node => node.tagName") == "SELECT" else "ArrowRight")


def assert_step_redraws(page, host, control):
    label = control.evaluate("node => node.labels[0].textContent")
    before = drawing(host)
    step(page, control)
    after = drawing(host)
    assert after["svg"] != before["svg"], f"{label}: the picture did not change"
    assert after["readout"] != before["readout"], f"{label}: the readout did not change"
    assert after["title"] != before["title"], f"{label}: the SVG's description did not change"


def assert_labelled_for_screen_readers(host):
    svg = host.locator("svg")
    assert svg.get_attribute("role") == "img"
    assert svg.get_attribute("aria-labelledby") == svg.locator("title").get_attribute("id")
    assert svg.locator("title").text_content().strip()
    assert host.locator("[aria-live=polite]").inner_text().strip()
    for control in host.locator("input, select").all():
        assert control.evaluate("node => node.labels.length") == 1, "a control without a label"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", explorer_pages())
def test_every_explorer_is_labelled_and_redraws_from_the_keyboard(open_site_page, path, mode):
    # One test per page and way of opening it: loading a chapter page is the slow part.
    page, problems = open_site_page(path, mode)
    page.wait_for_function(ALL_DRAWN_JS)
    hosts = page.locator(".nn-explorer").all()
    assert hosts, "no explorer on the page"
    for host in hosts:
        assert_labelled_for_screen_readers(host)
        for control in host.locator(VISIBLE_CONTROLS).all():
            assert_step_redraws(page, host, control)
        if host.get_attribute("data-explorer") == "activation":
            # The parameter slider appears for activations that have one: step to leaky ReLU.
            select, param = host.locator("select"), host.locator("input[name=param]")
            for _ in range(len(select.locator("option").all())):
                if param.is_visible():
                    break
                step(page, select)
            assert param.is_visible(), "no activation showed a parameter slider"
            assert_step_redraws(page, host, param)
    assert not problems, problems.report()


def test_an_explorer_whose_files_are_missing_says_so_in_words(load_url, serve_directory, tmp_path):
    """A site copied without its explorer data: the page says what is missing instead of staying blank."""
    page_path = explorer_pages()[0]
    (tmp_path / page_path).parent.mkdir(parents=True)
    (tmp_path / page_path).write_bytes((SITE / page_path).read_bytes())
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "explorers.js").write_bytes((SITE / "_static" / "explorers.js").read_bytes())
    with serve_directory(tmp_path) as url:
        context, page, _ = load_url(url + page_path)
        try:
            alert = page.locator(".nn-explorer[role=alert]").first
            alert.wait_for()
            assert "cannot be shown: could not load _static/explorers-data/" in alert.inner_text()
            assert "make book" in alert.inner_text()
        finally:
            context.close()


# Each explorer figure's labels, measured in the page: inside the figure's viewBox, and on a
# 375 px phone screen and in the site's dark mode still legible.
FIGURE_TEXT_JS = """() => [...document.querySelectorAll('.nn-explorer svg')].map((svg) => {
    const box = svg.viewBox.baseVal, scale = svg.getBoundingClientRect().width / box.width;
    const background = (node) => {
        for (; node; node = node.parentElement) {
            const colour = getComputedStyle(node).backgroundColor;
            if (!/rgba\\(.*, 0\\)$/.test(colour) && colour !== 'transparent') return colour;
        }
        return 'rgb(255, 255, 255)';
    };
    return [...svg.querySelectorAll('text')].filter((text) => text.textContent.trim()).map((text) => {
        const b = text.getBBox();
        const matrix = text.getCTM(), local = svg.getCTM();
        // The label's box in the viewBox's coordinates (rotated y-axis labels included).
        const corners = [[b.x, b.y], [b.x + b.width, b.y], [b.x, b.y + b.height], [b.x + b.width, b.y + b.height]]
            .map(([x, y]) => new DOMPoint(x, y).matrixTransform(local.inverse().multiply(matrix)));
        return {
            text: text.textContent,
            inside: corners.every((p) => p.x >= box.x - 0.5 && p.x <= box.x + box.width + 0.5
                                         && p.y >= box.y - 0.5 && p.y <= box.y + box.height + 0.5),
            px: parseFloat(getComputedStyle(text).fontSize) * scale,
            fill: getComputedStyle(text).fill,
            background: background(svg),
        };
    });
}).flat()"""


def luminance(css_colour):
    channels = [int(float(v)) / 255 for v in css_colour[css_colour.index("(") + 1:].rstrip(")").split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a, b):
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("path", explorer_pages())
def test_explorer_labels_fit_their_figure_and_stay_legible_on_a_phone_and_in_dark_mode(open_page, path):
    page, problems = open_page(path)
    page.wait_for_function(ALL_DRAWN_JS)
    labels = page.evaluate(FIGURE_TEXT_JS)
    assert labels, "no labels in the explorers' figures"
    clipped = [label["text"] for label in labels if not label["inside"]]
    assert not clipped, f"labels cut off by the figure's edge: {clipped}"

    page.set_viewport_size({"width": 375, "height": 800})
    page.wait_for_timeout(200)
    small = sorted({(label["text"], round(label["px"], 1)) for label in page.evaluate(FIGURE_TEXT_JS)
                    if label["px"] < 9})
    assert not small, f"figure labels under 9 px tall on a 375 px screen: {small[:5]}"

    page.evaluate("() => document.documentElement.dataset.theme = 'dark'")
    page.wait_for_timeout(200)
    faint = sorted({(label["text"], label["fill"], label["background"]) for label in page.evaluate(FIGURE_TEXT_JS)
                    if contrast(label["fill"], label["background"]) < 4.5})
    assert not faint, f"figure labels below 4.5:1 contrast in dark mode: {faint[:5]}"
    assert not problems, problems.report()
