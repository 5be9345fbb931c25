"""A chapter opened in JupyterLab reads as it does on the site: MyST is rendered, not shown raw.

The test starts JupyterLab on 127.0.0.1 (a free port, a random token, its own
temporary Jupyter config, data and runtime folders, no browser), opens chapter 2
in headless Chromium and checks that its admonition, cross-references,
citation and figures render as HTML (jupyterlab-myst, in requirements.txt).
"""
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from book_toc import ROOT
from conftest import HOST

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHAPTER = "book/02_activations.ipynb"
STARTUP_TIMEOUT_S = 90
# Raw MyST that must not reach the reader: directive fences and roles.
RAW_MYST = [":::{", "```{", "{cite}`", "{ref}`", "{term}`", "{numref}`"]


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """Base URL and token of a JupyterLab serving the repository, stopped after the module."""
    home = tmp_path_factory.mktemp("jupyter")
    port, token = free_port(), secrets.token_hex(16)
    # Render every cell at once (JupyterLab 4 otherwise renders only those in view).
    tracker = home / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text('{"windowingMode": "none"}', encoding="utf-8")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    command = [
        str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser",
        f"--ServerApp.ip={HOST}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = (home / "server.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://{HOST}:{port}/"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                urllib.request.urlopen(f"{base}api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{(home / 'server.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_a_chapter_renders_its_myst_in_jupyterlab(jupyterlab, load_url):
    base, token = jupyterlab
    context, page, problems = load_url(f"{base}lab/tree/{CHAPTER}?token={token}")
    try:
        notebook = page.locator(".jp-NotebookPanel .jp-Notebook")
        notebook.wait_for(timeout=60_000)
        page.wait_for_selector(".jp-MarkdownCell .myst", timeout=60_000)
        page.wait_for_function(
            "() => document.querySelectorAll('.jp-MarkdownCell').length"
            " === document.querySelectorAll('.jp-MarkdownCell .myst').length"
        )
        page.wait_for_timeout(1000)
        markdown = page.locator(".jp-MarkdownCell .myst")
        texts = markdown.all_inner_texts()
        assert len(texts) > 10, f"only {len(texts)} markdown cells rendered"
        raw = sorted({marker for text in texts for marker in RAW_MYST if marker in text})
        assert not raw, f"raw MyST shown in JupyterLab: {raw}"
        rendered = page.evaluate("""() => {
            const myst = selector => [...document.querySelectorAll('.jp-MarkdownCell .myst ' + selector)];
            return {
                admonitions: myst('aside, details, .admonition').length,
                // Without the book's bibliography and its other chapters, jupyterlab-myst
                // shows a citation or a reference to another chapter as its key, marked
                // "not found": rendered, not raw, but unresolved (README, "JupyterLab").
                citations: myst('cite, [title="Citation Not Found"]').length,
                references: myst('[title="Cross Reference Not Found"], a[href^="#"]').length,
                maths: myst('.katex').length,
                figures: document.querySelectorAll('.jp-OutputArea-output img').length,
            };
        }""")
        assert rendered["admonitions"] >= 1, rendered
        assert rendered["citations"] >= 1, rendered
        assert rendered["references"] >= 1, rendered
        assert rendered["figures"] >= 1, rendered
        page.screenshot(path=ROOT / "test-artifacts" / "jupyterlab_chapter.png")
        assert not problems.outside_requests, problems.report()
    finally:
        context.close()
