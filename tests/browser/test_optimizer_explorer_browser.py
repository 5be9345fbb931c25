"""The optimizer explorer in Chromium: its in-page trajectories are nnlib's, and the keyboard drives it.

The page is the explorer's own static HTML (explorers.optimizer()._repr_html_()) in a
folder laid out like the site (book/ and _static/), opened from disk (file://) and
served over http on 127.0.0.1, so this needs no book build. The site's pages that
show the explorer are covered with the others by test_explorers_browser.py.
"""
import shutil

import numpy as np
import pytest

import explorers
from explorers import optimization, precompute
from conftest import MODES

pytestmark = pytest.mark.browser

STATIC = precompute.DATA_DIR.parent
HOST_JS = "document.querySelector('.nn-explorer')"


@pytest.fixture(scope="module")
def page_folder(tmp_path_factory, ):
    folder = tmp_path_factory.mktemp("optimizer_site")
    (folder / "book").mkdir()
    shutil.copytree(STATIC, folder / "_static")
    mp = pytest.MonkeyPatch()
    mp.delenv("JPY_SESSION_NAME", raising=False)
    snippet = explorers.optimizer()._repr_html_()
    mp.undo()
    (folder / "book" / "optimizer.html").write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Optimizer explorer</title></head>'
        f"<body><main>{snippet}</main></body></html>", encoding="utf-8")
    return folder


@pytest.fixture(params=MODES)
def explorer_page(request, page_folder, load_url, serve_directory):
    if request.param == "file":
        context, page, problems = load_url((page_folder / "book" / "optimizer.html").as_uri())
        yield page, problems
        context.close()
    else:
        with serve_directory(page_folder) as url:
            context, page, problems = load_url(url + "book/optimizer.html")
            yield page, problems
            context.close()


def js_trajectory(page, name, lr):
    """The page's path, with inf and nan sent back as strings (JSON has neither)."""
    return page.evaluate("""([name, lr]) => nnOptimizer.trajectory(nnExplorersData.optimizer.state.data, name, lr)
        .map((point) => point.map((v) => (Number.isFinite(v) ? v : String(v))))""", [name, lr])


def as_array(path):
    return np.array([[float(v) for v in point] for point in path])


def test_the_pages_trajectory_is_nnlibs_for_every_optimizer_and_rate(explorer_page):
    page, problems = explorer_page
    page.wait_for_function(f"() => {HOST_JS}.querySelector('svg')")
    checked = 0
    for name in optimization.OPTIMIZER_NAMES:
        for lr in optimization.LEARNING_RATES:
            expected = optimization.trajectory(name, lr)
            got = as_array(js_trajectory(page, name, lr))
            assert got.shape == expected.shape
            finite = np.isfinite(expected)
            assert (np.isfinite(got) == finite).all(), (name, lr)
            np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-12, atol=0, err_msg=f"{name} {lr}")
            checked += 1
    assert checked == len(optimization.OPTIMIZER_NAMES) * len(optimization.LEARNING_RATES)
    assert not problems, problems.report()


def drawn_points(page):
    """The trajectory's dots read back from the SVG, in data units."""
    data = optimization.RAVINE["view"]
    return page.evaluate(f"""() => [...{HOST_JS}.querySelectorAll('circle')]
        .map((c) => [Number(c.getAttribute('cx')), Number(c.getAttribute('cy'))])"""), data


def test_the_keyboard_moves_the_rate_and_the_optimizer_and_the_picture_follows(explorer_page):
    page, problems = explorer_page
    page.wait_for_function(f"() => {HOST_JS}.querySelector('svg')")
    host = page.locator(".nn-explorer")
    readout = host.locator("[aria-live=polite]")
    assert host.locator("svg").get_attribute("role") == "img"
    for control in host.locator("input, select").all():
        assert control.evaluate("node => node.labels.length") == 1
    default = optimization.DEFAULTS
    assert readout.inner_text().lower().startswith(
        f"{optimization.OPTIMIZER_LABELS[default['optimizer']]}, learning rate {default['lr']}:".lower())
    # The default's dots are the page's trajectory drawn: as many as nnlib's path has points.
    assert host.locator("circle").count() == optimization.RAVINE["steps"] + 1

    slider = host.locator("input[name=lr]")
    before = host.locator("svg").inner_html(), readout.inner_text(), host.locator("svg title").text_content()
    slider.focus()
    page.keyboard.press("ArrowLeft")
    lower = optimization.LEARNING_RATES[optimization.LEARNING_RATES.index(default["lr"]) - 1]
    after = host.locator("svg").inner_html(), readout.inner_text(), host.locator("svg title").text_content()
    assert all(a != b for a, b in zip(before, after))
    assert f"learning rate {lower}:" in after[1]
    assert f"learning rate {lower})" in after[1], "the loss curve's readout names another setting"

    select = host.locator("select[name=optimizer]")
    select.focus()
    page.keyboard.press("ArrowDown")
    following = optimization.OPTIMIZER_NAMES[optimization.OPTIMIZER_NAMES.index(default["optimizer"]) + 1]
    assert readout.inner_text().lower().startswith(
        f"{optimization.OPTIMIZER_LABELS[following]}, learning rate {lower}:".lower())
    stored = precompute.load("optimizer")["fits"][f"{following}|{precompute.js_str(lower)}"]
    if stored["diverged_at"] is None:
        assert f"train MSE" in readout.inner_text()
    assert not problems, problems.report()


def test_no_serious_accessibility_violation(explorer_page):
    from conftest import axe_report, run_axe

    page, problems = explorer_page
    page.wait_for_function(f"() => {HOST_JS}.querySelector('svg')")
    violations = run_axe(page, impacts=("serious", "critical"))
    assert not violations, axe_report(violations)
