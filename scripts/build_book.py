"""Build the website (`make book`) and print only what a reader of the log needs.

Runs `jupyter-book build . -W -n --keep-going` (every Sphinx warning of the
book's own is an error, and all of them are reported in one run), keeps the
whole output in _build/build.log, and prints it less the lines listed in
KNOWN_NOISE: messages that are printed on every build, say nothing about the
book, and need no action. tests/test_build_log.py checks that the log holds no
warning other than those.

Usage: python scripts/build_book.py [extra jupyter-book arguments]
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "_build" / "build.log"
COMMAND = ["jupyter-book", "build", ".", "-W", "-n", "--keep-going"]

# (pattern, why it is noise). A line matching a pattern is kept in the log, not printed.
KNOWN_NOISE = [
    (r"^\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption\.",
     "ipykernel 7 says this for every kernel that nbclient starts on 127.0.0.1 to "
     "execute a notebook; the kernel is reached from this machine only."),
    (r"^myst(-nb)? v[\d.]+: (Md|Nb)ParserConfig\(",
     "MyST and MyST-NB print their whole configuration on every build."),
    (r"^(Running Jupyter-Book|Source Folder|Config Path|Output Path|Running Sphinx)\b",
     "Jupyter Book's banner."),
    (r"^\[etoc\] (Changing master_doc|missing index\.html written as redirect)",
     "sphinx-external-toc reporting its normal work."),
    (r"^sphinx-multitoc-numbering v[\d.]+: Loaded$", "An extension announcing itself."),
    (r"^(=+|Finished generating HTML for book\.|Your book's HTML pages are here:|\s+_build/html/"
     r"|You can look at your book by opening this file in a browser:|\s+_build/html/index\.html"
     r"|Or paste this line directly into your browser bar:|\s+file://\S+)\s*$",
     "Jupyter Book's closing banner; the last line printed says where the site is."),
    (r"^copying images\.\.\. \[", "One line per figure copied."),
    (r"^$", "Blank lines."),
]
NOISE = re.compile("|".join(f"(?:{pattern})" for pattern, _ in KNOWN_NOISE))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def is_noise(line):
    return bool(NOISE.search(ANSI.sub("", line).rstrip("\n")))


def main(arguments):
    executable = shutil.which("jupyter-book") or str(Path(sys.executable).with_name("jupyter-book"))
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [executable, *COMMAND[1:], *arguments], cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        for line in process.stdout:
            log.write(line)
            if not is_noise(line):
                sys.stdout.write(line if sys.stdout.isatty() else ANSI.sub("", line))
                sys.stdout.flush()
        returncode = process.wait()
    print(f"The site is in {(ROOT / '_build' / 'html').relative_to(ROOT)}/ "
          f"(open index.html); the full log is {LOG.relative_to(ROOT)}.")
    return returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
