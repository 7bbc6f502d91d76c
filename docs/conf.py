"""Sphinx configuration for guestpoll's documentation (./dev docs).

Built with warnings as errors and nitpicky cross-references (-W -n
--keep-going), so a broken internal link, a missing page in a toctree or a
C function without a page fails the build.  The C reference is generated
from man/ at build time (_ext/gpdocs.py); the Python reference from the
docstrings of the installed package (./dev docs installs it into the docs
virtual environment).
"""

import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.dirname(here)
sys.path.insert(0, os.path.join(here, "_ext"))

with open(os.path.join(top, "include", "guestpoll.h"), encoding="utf-8") as f:
    release = re.search(r'#define GUESTPOLL_VERSION_STRING "(.*)"', f.read()).group(1)
version = release

project = "guestpoll"
author = "The guestpoll authors"
copyright = "2026, the guestpoll authors"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "myst_parser",
    "gpdocs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_ext", "pypi.md", "requirements.txt"]
root_doc = "index"
gp_topdir = top

nitpicky = True
# int64_t & co. are C's; outcome.Outcome is the outcome package's (it has
# no inventory this build could use offline).
nitpick_ignore = [
    ("c:identifier", "int64_t"),
    ("c:identifier", "uintptr_t"),
    ("c:identifier", "uint8_t"),
    ("c:identifier", "size_t"),
    ("py:class", "outcome.Outcome"),
    ("py:class", "Outcome"),
    ("py:class", "outcome.Value"),
    ("py:class", "outcome.Error"),
    # The type alias typeshed and selectors use for "an int or an object
    # with fileno()"; not documented by Python.
    ("py:class", "selectors._FileObject"),
]

# Python's own inventory comes from Debian's python3-doc (./dev installs it):
# the build stays offline, the links go to docs.python.org.
_pyinv = "/usr/share/doc/python3/html/objects.inv"
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", _pyinv if os.path.exists(_pyinv) else None),
}

# Pages of other projects named in the manual pages, e.g. epoll(7).
manpages_url = "https://man7.org/linux/man-pages/man{section}/{page}.{section}.html"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}

myst_heading_anchors = 3

html_theme = "alabaster"
html_title = f"guestpoll {release}"
html_theme_options = {
    "description": "asyncio as a guest of another event loop; a portable poller with a split wait",
    "github_user": "guestpoll",
    "github_repo": "guestpoll",
    "github_button": False,
    "fixed_sidebar": True,
}
html_static_path = []
