"""The hinge builder of "What networks compute", driven in Chromium as a reader would.

The page computes the hand-built network's forward pass itself. What it draws and the
error it reads out must be what nnlib.regions.hinge_network computes for the same
sliders, before and after the reader moves them with the keyboard, served and from disk.
"""
import re

import numpy as np
import pytest

import nnlib
from conftest import MODES
from nnlib import regions

pytestmark = pytest.mark.browser

PAGE = "book/11_what_networks_compute.html"
BUILDER = "#hinge-builder-plot"


def settings_on_screen(page):
    """The builder's sliders as hinge_network's keyword arguments."""
    values = page.eval_on_selector_all(
        f"{BUILDER} input[type=range]", "inputs => inputs.map(i => [i.name, Number(i.value)])")
    values = dict(values)
    count = sum(name.startswith("position_") for name in values)
    return {"start": values["start"], "start_slope": values["start_slope"],
            "positions": [values[f"position_{j}"] for j in range(count)],
            "slope_changes": [values[f"slope_change_{j}"] for j in range(count)]}


def mse_in_readout(page):
    text = page.inner_text(f"{BUILDER} p[aria-live]")
    return float(re.search(r"mean squared error (-?\d+\.\d+)", text)[1]), text


def drawn_sum(page):
    """The thick curve read back from the SVG in data units: (x, y) arrays."""
    box, data_range, points = page.eval_on_selector(f"{BUILDER} svg", """svg => [
        svg.dataset.plotBox, svg.dataset.range,
        svg.querySelector('[data-curve=sum]').getAttribute('points')]""")
    left, top, width, height = map(float, box.split())
    low, high, y_min, y_max = map(float, data_range.split())
    xy = np.array([[float(v) for v in pair.split(",")] for pair in points.split()])
    return (low + (xy[:, 0] - left) / width * (high - low),
            y_max - (xy[:, 1] - top) / height * (y_max - y_min))


def expected_mse(settings):
    x, y = nnlib.datasets.x_sin_x(num_points=2001)
    model = regions.hinge_network(low=-10.0, **settings)
    return nnlib.losses.mse(model(x), y)[0], model


@pytest.mark.parametrize("mode", MODES)
def test_the_hinge_builder_computes_what_nnlib_computes_and_follows_the_keyboard(open_site_page, mode):
    page, problems = open_site_page(PAGE, mode)
    assert not problems, problems.report()
    # Without JavaScript the reader has the picture; with it, the picture became the plot.
    assert page.locator(f"{BUILDER} svg[role=img] title").text_content().startswith("Plot of x sin(x)")
    assert page.locator(f"{BUILDER} img").count() == 0

    settings = settings_on_screen(page)
    assert len(settings["positions"]) == 6
    mse, text = mse_in_readout(page)
    expected, model = expected_mse(settings)
    assert mse == pytest.approx(expected, abs=0.005), text
    assert "7 ReLU units" in text

    # Move the first hinge 0.5 to the right by keyboard: the curve left of it stays, the readout follows.
    first = page.locator(f"{BUILDER} input[name=position_0]")
    first.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    moved = settings_on_screen(page)
    assert moved["positions"][0] == pytest.approx(settings["positions"][0] + 0.5)
    mse_after, text = mse_in_readout(page)
    expected_after, model_after = expected_mse(moved)
    assert mse_after == pytest.approx(expected_after, abs=0.005), text
    assert mse_after != mse
    x, y = drawn_sum(page)
    inside = (y > -11.5) & (y < 11.5)          # the drawn curve is clipped to the plot
    np.testing.assert_allclose(y[inside], model_after(x[inside, None])[:, 0], atol=0.1)

    # The trained network appears on request, with its own error in the readout.
    page.locator(f"{BUILDER} input[name=show_trained]").check()
    assert page.locator(f"{BUILDER} [data-curve=trained]").is_visible()
    assert re.search(r"the trained 1-16-1 network reaches \d+\.\d\d", mse_in_readout(page)[1])
    assert not problems, problems.report()
