"""Sphinx extension for guestpoll's documentation.

The C API reference is generated from the manual pages in man/ at build
time, so that the pages and the site say the same thing (man/ is the one
source).  This module holds:

- a small man(7) to reStructuredText converter that knows the macros the
  pages use (an unknown request or escape is a build warning, so it cannot
  drop text silently);
- ``.. gp-function:: NAME``: the C declaration of NAME, taken from
  include/guestpoll.h, then the manual page that documents it, converted;
  a build warning if the page's SYNOPSIS does not declare NAME as the
  header does;
- ``.. gp-manpage:: man/PAGE``: a whole page (guestpoll(7) and
  guestpoll-python(7));
- checks at the end of reading: every function the header exports has a
  page, and docs/benchmarks.md shows the newest bench/results file.
"""

from __future__ import annotations

import glob
import os
import re

from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList
from sphinx.util import logging

logger = logging.getLogger(__name__)

# Pages outside man/ that .BR name (N) may name: the overview pages become
# documents of this site, others link to man7.org (manpages_url).
LOCAL_PAGES = {("guestpoll", "7"): "/man/guestpoll", ("guestpoll-python", "7"): "/man/guestpoll-python"}

CHARS = {
    "-": "-", "em": "\u2014", "en": "\u2013", "dq": '"', "lq": "\u201c",
    "rq": "\u201d", "oq": "\u2018", "cq": "\u2019", "aq": "'", "bu": "\u2022",
    "mu": "\u00d7", "->": "\u2192", "<=": "\u2264", ">=": "\u2265",
    "ti": "~", "ha": "^", "co": "\u00a9", "*m": "\u00b5",
}


# Names of <guestpoll.h> documented on docs/c/types.rst, and their roles:
# bold mentions of them in the manual pages become links.
KNOWN: dict[str, str] = {}


def load_known(path: str) -> None:
    """Reads the C declarations of types.rst into KNOWN."""
    KNOWN.clear()
    with open(path, encoding="utf-8") as f:
        for m in re.finditer(r"^\s*\.\. c:(macro|type|struct|enumerator|enum):: (.*)$", f.read(), re.M):
            role, decl = m.groups()
            name = re.findall(r"[A-Za-z_]\w*", decl.replace("(*", " "))
            name = [n for n in name if n not in ("void", "int", "unsigned", "arg", "struct")]
            if name:
                KNOWN[name[0]] = {"macro": "macro", "type": "type", "struct": "struct",
                                  "enumerator": "enumerator", "enum": "enum"}[role]


class ManError(Exception):
    pass


def _escapes(text: str, where: str) -> str:
    """Replaces troff escapes (not font changes) with characters."""
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == '"':  # comment to the end of the line
            break
        if nxt == "(":
            name = text[i + 2 : i + 4]
            if name not in CHARS:
                raise ManError(f"{where}: unknown character \\({name}")
            out.append(CHARS[name])
            i += 4
            continue
        simple = {"-": "-", "e": "\\", "&": "", "|": "", "^": "", " ": " ",
                  "~": "\u00a0", "0": " ", "c": "", "\\": "\\", ".": "."}
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
            continue
        if nxt == "f":  # font change: kept for _fonts
            out.append(text[i : i + 3])
            i += 3
            continue
        raise ManError(f"{where}: unknown escape \\{nxt}")
    return "".join(out)


def _segments(text: str, font: str = "R") -> list[tuple[str, str]]:
    """Splits text with \\fB \\fI \\fR \\fP into (font, text) pieces."""
    segs: list[tuple[str, str]] = []
    prev = "R"
    for i, part in enumerate(re.split(r"\\f([BIRP])", text)):
        if i % 2:
            prev, font = font, (prev if part == "P" else part)
        elif part:
            segs.append((font, part))
    return segs


def _rst_escape(text: str) -> str:
    return re.sub(r"([\\*`|_])", r"\\\1", text)


def _render(segs: list[tuple[str, str]]) -> str:
    """reStructuredText for font pieces; name(N) references become links."""
    pieces: list[tuple[bool, str]] = []  # (is markup, text)
    i = 0
    while i < len(segs):
        font, text = segs[i]
        nxt = segs[i + 1] if i + 1 < len(segs) else None
        m = re.fullmatch(r"([A-Za-z_][\w.-]*)", text.strip())
        ref = None
        if font in "BI" and m and nxt and nxt[0] == "R":
            r = re.match(r"\((\d)\)", nxt[1])
            if r:
                name, sect = m.group(1), r.group(1)
                if sect == "3" and name.startswith("gp_"):
                    ref = f":c:func:`{name}`"
                elif (name, sect) in LOCAL_PAGES:
                    ref = f":doc:`{name}({sect}) <{LOCAL_PAGES[name, sect]}>`"
                else:
                    ref = f":manpage:`{name}({sect})`"
                segs[i + 1] = ("R", nxt[1][r.end() :])
        if not ref and font == "B" and text.strip() in KNOWN:
            ref = f":c:{KNOWN[text.strip()]}:`{text.strip()}`"
        if ref:
            pieces.append((True, ref))
        elif font == "R":
            pieces.append((False, _rst_escape(text)))
        else:
            lead = text[: len(text) - len(text.lstrip())]
            trail = text[len(text.rstrip()) :]
            core = text.strip()
            mark = "**" if font == "B" else "*"
            if lead:
                pieces.append((False, lead))
            if core:
                pieces.append((True, mark + _rst_escape(core) + mark))
            if trail:
                pieces.append((False, trail))
        i += 1
    out = ""
    prev_markup = False
    for markup, text in pieces:
        if not text:
            continue
        if out and not out[-1].isspace() and (markup or prev_markup) and not text[0].isspace():
            out += "\\ "
        out += text
        prev_markup = markup
    return out


def _plain(segs: list[tuple[str, str]]) -> str:
    return "".join(t for _, t in segs)


def _args(line: str) -> list[str]:
    """A request's arguments, with troff's double-quote rules."""
    args = []
    i = 0
    n = len(line)
    while i < n:
        while i < n and line[i] == " ":
            i += 1
        if i >= n:
            break
        if line[i] == '"':
            i += 1
            cur = []
            while i < n:
                if line[i] == '"':
                    if line[i + 1 : i + 2] == '"':
                        cur.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                cur.append(line[i])
                i += 1
            args.append("".join(cur))
        else:
            j = i
            while j < n and line[j] != " ":
                j += 1
            args.append(line[i:j])
            i = j
    return args


FONT_MACROS = {"B": "B", "I": "I", "BR": "BR", "RB": "RB", "IR": "IR", "RI": "RI", "BI": "BI", "IB": "IB"}
IGNORED = {"nr", "nh", "hy", "ad", "na", "in", "ne", "sp", "br", "TH", ""}


def _macro_segs(name: str, args: list[str], where: str) -> list[tuple[str, str]]:
    if name in ("B", "I"):
        return [(font, t) for font, t in _segments(_escapes(" ".join(args), where), name)]
    fonts = FONT_MACROS[name]
    segs = []
    for k, a in enumerate(args):
        segs += _segments(_escapes(a, where), fonts[k % 2])
    return segs


def _c_or_text(lines: list[str]) -> str:
    """The highlighting language: C if Pygments lexes it without errors."""
    try:
        from pygments.lexers import CLexer
        from pygments.token import Error
    except ImportError:
        return "text"
    for tok, _ in CLexer().get_tokens("\n".join(lines)):
        if tok in Error:
            return "text"
    return "c"


def man_to_rst(path: str, *, skip_name: bool = False) -> tuple[list[str], str]:
    """Converts one manual page; returns (reST lines, SYNOPSIS text)."""
    with open(path, encoding="utf-8") as f:
        src = f.read().splitlines()
    out: list[str] = []
    synopsis: list[str] = []
    section = ""
    base = ""  # indentation of the current .RS level
    indent = ""  # indentation of body text
    stack: list[tuple[str, str]] = []
    para: list[str] = []  # inline reST of the paragraph being built
    marker = ""  # list marker for the next paragraph (bullet, number)
    marker_base = ""
    term_pending = False  # a .TP/.IP tag is waiting for its definition
    want_tag = False  # the next line is a .TP tag
    literal: list[str] | None = None
    literal_end = ""
    pending_font = ""

    def blank() -> None:
        nonlocal term_pending
        if term_pending:
            term_pending = False
            return
        if out and out[-1] != "":
            out.append("")

    def flush() -> None:
        nonlocal para, marker
        text = " ".join(p for p in para if p).strip()
        para = []
        if not text:
            return
        if re.match(r"([-+*#]|\d+[.)]|\.\.)(\s|$)", text) and not marker:
            text = "\\" + text
        blank()
        if marker:
            out.append(marker_base + marker + text)
            marker = ""
        else:
            out.append(indent + text)

    def tag(text: str) -> None:
        nonlocal term_pending, indent, marker
        flush()
        if term_pending:
            # Two tags in a row: one term.
            out[-1] = out[-1] + ", " + text
            return
        blank()
        out.append(base + text)
        term_pending = True
        indent = base + "    "
        marker = ""

    for lineno, raw in enumerate(src, 1):
        where = f"{path}:{lineno}"
        if literal is not None:
            if raw.startswith(".") and raw[1:].split(" ")[0] in (literal_end, "fi", "EE"):
                if section == "SYNOPSIS":
                    synopsis.extend(literal)
                while literal and not literal[-1].strip():
                    literal.pop()
                if literal:
                    flush()
                    blank()
                    lang = _c_or_text(literal)
                    out.append(indent + f".. code-block:: {lang}")
                    out.append("")
                    out.extend((indent + "   " + ln).rstrip() for ln in literal)
                literal = None
                continue
            if raw.startswith("."):
                name, _, rest = raw[1:].partition(" ")
                if name in FONT_MACROS:
                    literal.append(_plain(_macro_segs(name, _args(rest), where)))
                elif name in ("PP", "P", "LP"):
                    literal.append("")
                elif name in IGNORED or name.startswith('\\"'):
                    pass
                else:
                    raise ManError(f"{where}: unknown request .{name} in a literal block")
            else:
                literal.append(_plain(_segments(_escapes(raw, where))))
            continue
        if raw.startswith(".") or raw.startswith("'"):
            name, _, rest = raw[1:].strip().partition(" ")
            rest = rest.strip()
            if name.startswith('\\"') or name in IGNORED:
                continue
            if name in ("SH", "SS"):
                flush()
                title = " ".join(_args(rest))
                title = _escapes(title, where)
                section = title if name == "SH" else section
                base = indent = marker = ""
                stack = []
                if name == "SH" and title == "NAME" and skip_name:
                    continue
                if name == "SH":
                    title = title[:1] + title[1:].lower()
                blank()
                title = _rst_escape(title)
                out.append(title)
                out.append(("-" if name == "SH" else "^") * max(len(title), 3))
                continue
            if name in ("PP", "P", "LP"):
                flush()
                indent = base
                marker = ""
                continue
            if name == "TP":
                flush()
                want_tag = True
                continue
            if name == "IP":
                flush()
                args = _args(rest)
                t = _escapes(args[0], where) if args else ""
                if t == "\u2022":
                    marker, marker_base, indent = "- ", base, base + "  "
                elif re.fullmatch(r"\d+\.", t):
                    marker, marker_base = t + " ", base
                    indent = base + " " * len(marker)
                elif t:
                    tag(_render(_segments(t)))
                # An .IP without a tag continues the item's indentation.
                continue
            if name == "RS":
                flush()
                stack.append((base, indent))
                base = indent = indent + "   "
                continue
            if name == "RE":
                flush()
                if stack:
                    base, indent = stack.pop()
                continue
            if name in ("nf", "EX"):
                flush()
                literal = []
                literal_end = "fi" if name == "nf" else "EE"
                continue
            if name in ("fi", "EE"):
                continue
            if name == "so":
                raise ManError(f"{where}: .so link page; convert the page it names")
            if name in FONT_MACROS:
                args = _args(rest)
                if not args and name in ("B", "I"):
                    pending_font = name
                    continue
                text = _render(_macro_segs(name, args, where))
                if want_tag:
                    want_tag = False
                    tag(text)
                else:
                    para.append(text)
                continue
            raise ManError(f"{where}: unknown request .{name}")
        # A text line.
        segs = _segments(_escapes(raw, where), pending_font or "R")
        pending_font = ""
        if section == "SYNOPSIS":
            synopsis.append(_plain(segs))
        text = _render(segs)
        if want_tag:
            want_tag = False
            tag(text)
        elif not raw.strip():
            flush()
        else:
            para.append(text)
    flush()
    return out, "\n".join(synopsis)


def _norm(decl: str) -> str:
    return re.sub(r"\s+", "", decl)


def header_functions(topdir: str) -> dict[str, str]:
    """name -> declaration (without GP_API and ';') from the public header."""
    with open(os.path.join(topdir, "include", "guestpoll.h"), encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"^\s*#.*(\\\n.*)*$", " ", text, flags=re.M)
    funcs = {}
    for m in re.finditer(r"\bGP_API\s+([^;]*?)\s*;", text):
        decl = re.sub(r"\s+", " ", m.group(1)).strip()
        name = re.search(r"(\w+)\s*\(", decl).group(1)
        funcs[name] = decl
    return funcs


def man_page_for(topdir: str, func: str) -> str:
    """The page in man/ that documents func: its own, or the page whose
    NAME line lists it (functions that share a page)."""
    own = os.path.join(topdir, "man", func + ".3")
    if os.path.exists(own):
        return own
    for page in sorted(glob.glob(os.path.join(topdir, "man", "*.3"))):
        with open(page, encoding="utf-8") as f:
            lines = f.read().splitlines()
        for k, line in enumerate(lines):
            if line.startswith(".SH") and "NAME" in line and k + 1 < len(lines):
                names = lines[k + 1].split("\\-")[0]
                if func in re.split(r"[,\s]+", names):
                    return page
    raise ManError(f"no page in man/ documents {func}")


class _Base(Directive):
    def topdir(self) -> str:
        env = self.state.document.settings.env
        types = os.path.join(env.srcdir, "c", "types.rst")
        if not KNOWN and os.path.exists(types):
            load_known(types)
            env.note_dependency(types)
        return env.config.gp_topdir

    def insert(self, lines: list[str], source: str) -> list:
        self.state_machine.insert_input(StringList(lines, source=source), source)
        return []


class GpFunction(_Base):
    """.. gp-function:: NAME -- the declaration, then the manual page."""

    required_arguments = 1
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        name = self.arguments[0]
        top = self.topdir()
        funcs = header_functions(top)
        if name not in funcs:
            raise self.error(f"{name} is not declared in include/guestpoll.h")
        try:
            page = man_page_for(top, name)
            lines, synopsis = man_to_rst(page, skip_name=False)
        except ManError as e:
            raise self.error(str(e))
        env.note_dependency(page)
        env.note_dependency(os.path.join(top, "include", "guestpoll.h"))
        env.domaindata.setdefault("gp_functions", {})[name] = env.docname
        if _norm(funcs[name]) not in _norm(synopsis):
            logger.warning(
                "%s: the SYNOPSIS does not declare %s as include/guestpoll.h does (%s)",
                os.path.relpath(page, top), name, funcs[name],
                location=(env.docname, self.lineno))
        rel = os.path.relpath(page, top)
        pagename = os.path.basename(page)[:-2]
        head = [
            f".. c:function:: {funcs[name]}",
            "",
            f"   Declared in ``<guestpoll.h>``; link with ``-lguestpoll``.",
            "",
        ]
        if pagename != name:
            head += [
                f".. note:: :c:func:`{name}` is documented together with the other functions of "
                f"the manual page {pagename}(3) (``{rel}``), shown in full below.",
                "",
            ]
        else:
            head += [f"From the manual page {name}(3) (``{rel}``):", ""]
        return self.insert(head + lines, page)


class GpManpage(_Base):
    """.. gp-manpage:: man/PAGE -- a whole manual page."""

    required_arguments = 1
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        page = os.path.join(self.topdir(), self.arguments[0])
        try:
            lines, _ = man_to_rst(page)
        except ManError as e:
            raise self.error(str(e))
        env.note_dependency(page)
        return self.insert(lines, page)


def _check(app, env) -> None:
    top = app.config.gp_topdir
    documented = env.domaindata.get("gp_functions", {})
    for name in header_functions(top):
        if name not in documented:
            logger.warning("include/guestpoll.h declares %s, which has no gp-function page", name)
    results = sorted(glob.glob(os.path.join(top, "bench", "results", "*.md")))
    if results:
        newest = os.path.basename(results[-1])
        with open(os.path.join(app.srcdir, "benchmarks.md"), encoding="utf-8") as f:
            if newest not in f.read():
                logger.warning("docs/benchmarks.md does not show the newest results, %s", newest)


# Names under which annotations reach autodoc, and the documented name of the
# same object in Python's inventory.
ALIASES = {"_asyncio.Task": "asyncio.Task", "asyncio.tasks.Task": "asyncio.Task"}


def _alias(app, env, node, contnode):
    target = node.get("reftarget")
    if node.get("refdomain") != "py" or target not in ALIASES:
        return None
    from sphinx.ext import intersphinx

    node["reftarget"] = ALIASES[target]
    return intersphinx.missing_reference(app, env, node, contnode)


def _purge(app, env, docname) -> None:
    funcs = env.domaindata.get("gp_functions", {})
    for name in [n for n, d in funcs.items() if d == docname]:
        del funcs[name]


def setup(app):
    app.add_config_value("gp_topdir", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")), "env")
    app.add_directive("gp-function", GpFunction)
    app.add_directive("gp-manpage", GpManpage)
    app.connect("env-check-consistency", _check)
    app.connect("env-purge-doc", _purge)
    app.connect("missing-reference", _alias)
    return {"version": "1", "parallel_read_safe": False, "env_version": 1}
