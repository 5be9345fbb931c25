"""Copy the front-end files the site serves itself from node_modules/ into book/_vendor/.

The book's pages load MathJax, require.js and the Jupyter widget manager from
the site, never from a CDN, so they work offline. `make book` runs `npm ci`
(versions locked in package-lock.json) and then this script:

- book/_vendor/static/ is in Sphinx's html_static_path: it lands in _static/.
- book/_vendor/extra/ is in html_extra_path: it lands at the site root. The
  widget manager's stylesheet asks for ../webfonts/fa-*.woff2 relative to the
  page, which for the pages in book/ is the site root.

Usage: python scripts/vendor_assets.py
"""
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "book" / "_vendor"

# (source under node_modules/, destination under book/_vendor/); a folder is copied whole.
# Fonts are copied as woff2 only: every current browser picks woff2 first.
ASSETS = [
    # tex-chtml.js, plus what it loads on demand: TeX extensions (autoload),
    # its fonts, and the accessibility tools offered in its right-click menu.
    ("mathjax/es5/tex-chtml.js", "static/mathjax/tex-chtml.js"),
    ("mathjax/es5/input/tex/extensions", "static/mathjax/input/tex/extensions"),
    ("mathjax/es5/output/chtml/fonts/woff-v2", "static/mathjax/output/chtml/fonts/woff-v2"),
    ("mathjax/es5/a11y", "static/mathjax/a11y"),
    ("mathjax/es5/sre", "static/mathjax/sre"),
    ("mathjax/es5/ui", "static/mathjax/ui"),
    ("requirejs/require.js", "static/requirejs/require.js"),
    ("@jupyter-widgets/html-manager/dist/embed-amd.js", "static/html-manager/embed-amd.js"),
    ("@fortawesome/fontawesome-free/webfonts/fa-brands-400.woff2", "extra/webfonts/fa-brands-400.woff2"),
    ("@fortawesome/fontawesome-free/webfonts/fa-regular-400.woff2", "extra/webfonts/fa-regular-400.woff2"),
    ("@fortawesome/fontawesome-free/webfonts/fa-solid-900.woff2", "extra/webfonts/fa-solid-900.woff2"),
]


def copy(source, destination):
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination)
    else:
        shutil.copy2(source, destination)


def main():
    if not NODE_MODULES.is_dir():
        raise SystemExit("node_modules/ is missing: run `npm ci` first (make book does).")
    shutil.rmtree(VENDOR, ignore_errors=True)
    for source, destination in ASSETS:
        copy(NODE_MODULES / source, VENDOR / destination)
    # embed-amd.js also loads fonts under hashed names from its own folder.
    for font in sorted((NODE_MODULES / "@jupyter-widgets/html-manager/dist").glob("*.woff2")):
        copy(font, VENDOR / "static/html-manager" / font.name)
    print(f"vendored front-end assets into {VENDOR.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
