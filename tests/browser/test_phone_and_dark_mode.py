"""Figures on a phone (375 px wide) and in the theme's dark mode, measured in Chromium.

One load per chapter, at 375 px in dark mode, screenshot into test-artifacts/phone-dark/:
- text in every figure is drawn at least MIN_TEXT_PX tall: the figures' font
  size and resolution come from nnlib.plotting's style, scaled by the width the
  browser gives the image against the width it was drawn at;
- the page itself does not scroll sideways (a wide figure scrolls in its own box);
- every figure reads as a card in dark mode: its background, measured in the
  screenshot, is not glaring white, and its dark text stands out from it.
"""
import io

import matplotlib as mpl
import numpy as np
import pytest
from PIL import Image

from book_toc import ROOT, source_of, toc_docnames
from conftest import PHONE

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts" / "phone-dark"
MIN_TEXT_PX = 9.0          # the course style's base text, rendered on the phone
MAX_CARD_LUMINANCE = 0.75  # white paper is 1.0; the dark page around it about 0.01
MIN_CONTRAST = 7.0         # WCAG AAA for text
FIGURE_PAGES = [
    f"{docname}.html" for docname in toc_docnames()
    if source_of(docname) and source_of(docname).suffix == ".ipynb"
    and '"image/png"' in source_of(docname).read_text(encoding="utf-8")
]


def base_text_px():
    """Height in image pixels of the course style's base font (nnlib.plotting.use_style)."""
    from nnlib import plotting

    with mpl.rc_context():
        plotting.use_style()
        return mpl.rcParams["font.size"] * mpl.rcParams["figure.dpi"] / 72


def luminance(rgb):
    """WCAG relative luminance of sRGB colours, rgb in 0-255 (..., 3)."""
    c = np.asarray(rgb, dtype=float) / 255
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return c @ np.array([0.2126, 0.7152, 0.0722])


def card_and_text(png_bytes):
    """(background luminance, contrast of the darkest text against it) of a figure's screenshot."""
    pixels = np.asarray(Image.open(io.BytesIO(png_bytes)).convert("RGB")).reshape(-1, 3)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    background = luminance(colours[counts.argmax()])
    text = np.percentile(luminance(pixels), 0.5)
    return background, (background + 0.05) / (text + 0.05)


@pytest.fixture(scope="module")
def phone_visits(load_site_page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base_px = base_text_px()
    visits = {}

    def visit(path):
        if path in visits:
            return visits[path]
        context, page, problems = load_site_page(path, "http", viewport=PHONE, color_mode="dark")
        try:
            page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
            page.screenshot(path=ARTIFACTS / f"{path.replace('/', '__')}.png", full_page=True)
            images = page.locator(".cell_output img")
            figures = []
            for index in range(images.count()):
                image = images.nth(index)
                image.scroll_into_view_if_needed()
                drawn = image.evaluate("""img => {
                    const style = getComputedStyle(img);
                    const inner = img.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
                    return {src: img.getAttribute('src'), scale: inner / img.naturalWidth};
                }""")
                # A figure wider than the screen scrolls in its box: measure what the box shows.
                scrolls = image.evaluate("img => img.parentElement.classList.contains('nn-figure-scroll')")
                shown = image.locator("xpath=..") if scrolls else image
                background, contrast = card_and_text(shown.screenshot())
                figures.append({**drawn, "text_px": base_px * drawn["scale"],
                                "background": background, "contrast": contrast})
            visits[path] = {
                "figures": figures,
                "page_width": page.evaluate("() => document.scrollingElement.scrollWidth"),
                "problems": problems.report(),
            }
            return visits[path]
        finally:
            context.close()

    return visit


@pytest.mark.parametrize("path", FIGURE_PAGES)
def test_figure_text_is_legible_on_a_phone(phone_visits, path):
    figures = phone_visits(path)["figures"]
    assert figures, f"no figure found on {path}"
    small = [(f["src"], round(f["text_px"], 1)) for f in figures if f["text_px"] < MIN_TEXT_PX]
    assert not small, f"figure text under {MIN_TEXT_PX} px on a 375 px screen: {small}"


@pytest.mark.parametrize("path", FIGURE_PAGES)
def test_page_does_not_scroll_sideways_on_a_phone(phone_visits, path):
    visit = phone_visits(path)
    assert visit["page_width"] <= PHONE["width"], visit["page_width"]
    assert not visit["problems"], visit["problems"]


@pytest.mark.parametrize("path", FIGURE_PAGES)
def test_figures_read_as_cards_in_dark_mode(phone_visits, path):
    bad = [
        (f["src"], round(f["background"], 2), round(f["contrast"], 1))
        for f in phone_visits(path)["figures"]
        if f["background"] > MAX_CARD_LUMINANCE or f["contrast"] < MIN_CONTRAST
    ]
    assert not bad, f"(figure, background luminance, text contrast) outside the limits: {bad}"
