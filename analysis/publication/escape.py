"""Escape CAE text for the medium it goes to: one helper per medium.

Everything a CAE writes (its name, region, file names, column headers, cell
values, YAML keys) is data, never markup or code. Before such a string is
put into a generated document it goes through the helper of that medium:

- :func:`html_text`: HTML text and attribute values (``& < > " '`` as
  entities, WHATWG HTML §13.1.2.6 "character references").
- :func:`markdown_text`: one line of Pandoc/Quarto Markdown (a heading, a
  table cell, a sentence, a YAML ``title`` that Quarto parses as Markdown).
  Newlines and other line breaks become spaces (no new block, heading or
  list can start); every ASCII punctuation character is backslash-escaped,
  which Pandoc's Markdown defines as "treated literally" (Pandoc manual,
  "Backslash escapes": ``* _ ` # $ < > [ ] { } | @ :`` …), so no emphasis,
  code span, math, raw HTML, link, citation, div or attribute can open; and
  consecutive braces are separated by a WORD JOINER (U+2060, invisible),
  because Quarto resolves shortcodes in metadata *after* Markdown parsing,
  where ``\\{\\{<`` has become ``{{<`` again (checked on Quarto 1.9:
  ``title: '\\{\\{< env HOME >\\}\\}'`` renders the home folder).
- :func:`html_line`: one line of HTML text for places where Quarto pastes
  a string into its page templates as HTML without rendering Markdown
  (the book's sidebar entries, given as ``text:`` in ``_quarto.yml``, and
  from there the search index's breadcrumbs): control characters dropped,
  line breaks folded, consecutive braces kept apart, ``& < > "`` as
  entities; no Markdown backslashes (they would be shown as written).
- :func:`yaml_scalar`: a double-quoted YAML 1.2 scalar (JSON string syntax
  is a subset of YAML's double-quoted style, YAML 1.2 §7.3.1), so no tag,
  alias, anchor, key or document marker can be written by a CAE.
- :func:`csv_cell` / :func:`csv_frame`: the OWASP CSV-injection rule ("CSV
  Injection", OWASP): a text cell starting with ``=``, ``+``, ``-``, ``@``,
  tab or carriage return that is not a number is prefixed with ``'`` so a
  spreadsheet shows it as text instead of running it as a formula.

:func:`stable_table_ids` replaces the random ids pandas' Styler puts in its
HTML by ids numbered in order of appearance, so reruns give identical HTML;
:func:`configure_pandas` makes Styler escape HTML by default.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

#: Characters Pandoc's Markdown lets a backslash make literal (all ASCII punctuation), except the
#: apostrophe: it has no Markdown meaning, and left alone Pandoc's smart punctuation makes it the
#: French typographic ’ (« l’Ouest », not « l'Ouest »).
_MD_PUNCT = re.compile(r"([!-&(-/:-@\[-`{-~])")
#: Anything that starts a new line for Markdown or a terminal.
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x85\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
WORD_JOINER = "\u2060"

#: OWASP CSV injection: cells starting with these are formulas for spreadsheets.
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CSV_NUMBER = re.compile(r"^[+-]?(?:\d[\d\u0020\u00a0\u202f]*)?(?:[.,]\d+)?(?:[eE][+-]?\d+)?\s*[%€]?$")


def html_text(value: Any) -> str:
    """``value`` as HTML text or attribute content: ``& < > " '`` become
    character references (:func:`html.escape` with ``quote=True``).

    >>> html_text('<script>alert("x")</script>')
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
    """
    return html.escape("" if value is None else str(value), quote=True)


def _one_line(value: Any) -> str:
    s = "" if value is None else str(value)
    s = _CONTROL.sub("", s)
    return _LINE_BREAKS.sub(" ", s).replace("\t", " ").strip()


def _braces_apart(s: str, open_: str = "{", close: str = "}") -> str:
    """Put a WORD JOINER between every two consecutive ``open_`` (or
    ``close``) so that no ``{{`` (a shortcode opener) survives."""
    for a in (open_, close):
        pair = a + a
        while pair in s:
            s = s.replace(pair, a + WORD_JOINER + a)
    return s


def html_line(value: Any) -> str:
    """``value`` as one line of HTML text that Quarto may paste as HTML
    without rendering it as Markdown (a sidebar entry): one line, braces kept
    apart, ``& < > "`` as character references (``'`` kept: the text never
    goes into a single-quoted attribute, and an entity there would be read
    out as written by screen readers in Quarto's ``aria-label``).

    >>> html_line('Coop\\n{{< env HOME >}} <b>"x"</b> de l’Ouest') == (
    ...     'Coop {' + WORD_JOINER + '{&lt; env HOME &gt;}' + WORD_JOINER + '} &lt;b&gt;&quot;x&quot;&lt;/b&gt; de l’Ouest')
    True
    """
    return html.escape(_braces_apart(_one_line(value)), quote=False).replace('"', "&quot;")


def markdown_text(value: Any) -> str:
    """``value`` as one line of literal Pandoc/Quarto Markdown text (see the
    module docstring): control characters dropped, line breaks folded into
    one space, ASCII punctuation backslash-escaped, braces kept apart.

    >>> markdown_text("**Coop**\\n# 2")
    '\\\\*\\\\*Coop\\\\*\\\\* \\\\# 2'
    """
    s = "" if value is None else str(value)
    s = _CONTROL.sub("", s)
    s = _LINE_BREAKS.sub(" ", s).replace("\t", " ").strip()
    s = _MD_PUNCT.sub(r"\\\1", s)
    s = s.replace("\\{\\{", "\\{" + WORD_JOINER + "\\{").replace("\\}\\}", "\\}" + WORD_JOINER + "\\}")
    # a third brace in a row: ``{{{`` -> every pair separated
    while "\\{\\{" in s or "\\}\\}" in s:
        s = s.replace("\\{\\{", "\\{" + WORD_JOINER + "\\{").replace("\\}\\}", "\\}" + WORD_JOINER + "\\}")
    return s


def yaml_scalar(value: Any) -> str:
    """``value`` as a double-quoted YAML scalar (JSON string syntax).

    >>> yaml_scalar("a: *b\\n- c")
    '"a: *b\\\\n- c"'
    """
    return json.dumps("" if value is None else str(value), ensure_ascii=False)


def _is_number_text(s: str) -> bool:
    return any(c.isdigit() for c in s) and _CSV_NUMBER.match(s.strip()) is not None


def csv_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula: a string starting
    with ``= + - @``, tab or CR that is not a number gets a leading ``'``.
    Non-strings (numbers, dates, NA) are returned unchanged.

    >>> csv_cell("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> csv_cell("-12,5")
    '-12,5'
    """
    if not isinstance(value, str) or not value.startswith(CSV_FORMULA_STARTS):
        return value
    if value[0] in "+-" and _is_number_text(value):
        return value
    return "'" + value


def _csv_text(value: Any) -> Any:
    value = csv_cell(value)
    if isinstance(value, str) and "\r" in value:
        # pandas 3.1 leaves a lone CR unquoted with a "\n" line terminator:
        # a spreadsheet would start a new row there. CR LF and CR become LF,
        # which pandas quotes.
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def csv_frame(df):
    """A copy of ``df`` whose text cells and column names went through
    :func:`csv_cell` (numeric columns untouched); carriage returns inside a
    text cell become line feeds so that the cell stays quoted."""
    import pandas as pd

    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            out[col] = s.map(_csv_text, na_action="ignore")
    out.columns = [_csv_text(c) if isinstance(c, str) else c for c in out.columns]
    return out


_STYLER_ID = re.compile(r"\bT_([0-9a-f]{5})(?=[_\"'\s{.,:#>)]|$)")


def stable_table_ids(text: str, prefix: str = "") -> str:
    """Replace pandas Styler's random table ids (``T_3fa9c``, uuid4-based)
    by ``T_<prefix>t1``, ``T_<prefix>t2``… in order of first appearance
    (reruns identical; ``prefix`` keeps ids of pieces of one page apart)."""
    mapping: dict[str, str] = {}

    def repl(m: re.Match) -> str:
        uid = m.group(1)
        if uid not in mapping:
            mapping[uid] = f"{prefix}t{len(mapping) + 1}"
        return "T_" + mapping[uid]

    return _STYLER_ID.sub(repl, text)


def configure_pandas() -> None:
    """Make pandas' Styler escape HTML in every cell and header it renders,
    and give it ids that do not change from one run to the next:

    - ``styler.format.escape = "html"`` covers the cells; the option does not
      reach row and column labels (pandas 3.1), so every new Styler also gets
      ``format_index(escape="html")`` on both axes;
    - every new Styler without an explicit ``uuid`` gets a counter (five hex
      digits, so :func:`stable_table_ids` still finds it) instead of pandas'
      random ``uuid4().hex[:5]``: a kernel that renders the same tables in the
      same order writes the same ids, so executed notebooks are identical
      across reruns;
    - the HTML it writes keeps consecutive braces apart (WORD JOINER, as
      :func:`markdown_text`), so CAE text in a table never reads as a Quarto
      shortcode opener once Quarto turns the table into a PDF's.

    Idempotent; notebooks call it through :func:`analysis.reporting.plotting.setup`."""
    import itertools

    import pandas as pd
    from pandas.io.formats.style import Styler

    pd.set_option("styler.format.escape", "html")
    if getattr(Styler.__init__, "_cae_escapes_labels", False):
        return
    original = Styler.__init__
    counter = itertools.count(1)

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        for axis in (0, 1):
            self.format_index(escape="html", axis=axis)
        given = kwargs.get("uuid", args[3] if len(args) > 3 else None)  # Styler(data, precision, table_styles, uuid, ...)
        if given is None:
            self.set_uuid(f"{next(counter) % 0x100000:05x}")

    __init__._cae_escapes_labels = True
    Styler.__init__ = __init__
    to_html = Styler.to_html

    def to_html_braces_apart(self, *args, **kwargs):
        out = to_html(self, *args, **kwargs)
        return _braces_apart(out) if isinstance(out, str) else out

    Styler.to_html = to_html_braces_apart
