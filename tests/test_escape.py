"""One escaping helper per medium (analysis.publication.escape), checked on
classes of hostile strings generated here, each against an independent
parser of that medium (html.parser, yaml, csv, the Markdown rules)."""

from __future__ import annotations

import csv
import html.parser
import io
import itertools
import random
import re
import string

import pandas as pd
import pytest
import yaml

from analysis.publication import escape

rng = random.Random(19)
PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "Coop {{< env CAE_IMPACT_KEY >}}",
    "x\n{{< include /etc/passwd >}}",
    "x\r\n# Titre injecté\n\n::: {.callout}\n",
    "`code` $x^2$ @cite [lien](http://x) ![i](x.png) *a* _b_ ~~c~~ <!-- c -->",
    "{{{< var x >}}}", "\u2028# ligne", "a | b | c", "&amp; &lt;", "\"'\\",
]
RANDOM = ["".join(rng.choice(string.printable + "éà«»\u00a0") for _ in range(rng.randint(1, 40))) for _ in range(300)]


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        self.tags.append("/" + tag)

    def handle_comment(self, data):
        self.tags.append("!--")

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.parametrize("s", PAYLOADS + RANDOM)
def test_html_text_is_inert_text_that_reads_back(s):
    p = _Collector()
    p.feed(f"<p title=\"{escape.html_text(s)}\">{escape.html_text(s)}</p>")
    p.close()
    assert p.tags == ["p", "/p"]
    assert "".join(p.text) == s


def _unescape_md(s: str) -> str:
    """Pandoc: a backslash before ASCII punctuation gives the character."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in string.punctuation:
            out.append(s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out).replace(escape.WORD_JOINER, "")


@pytest.mark.parametrize("s", PAYLOADS + RANDOM)
def test_markdown_text_opens_nothing(s):
    md = escape.markdown_text(s)
    assert "\n" not in md and "\r" not in md and "\u2028" not in md
    # every punctuation character but the apostrophe (no Markdown meaning; Pandoc makes it ’) is escaped
    for i, ch in enumerate(md):
        if ch in string.punctuation and ch not in "\\'":
            assert md[i - 1] == "\\", (s, md, i)
    # no shortcode opener/closer survives even after Markdown unescaping
    plain = _unescape_md(md).replace(escape.WORD_JOINER, "")
    assert "{{" not in md.replace("\\", "") and "}}" not in md.replace("\\", "")
    # and the visible text is the input with line breaks folded
    expected = " ".join(re.sub(r"[\x00-\x08\x0e-\x1f\x7f]", "", s).split())
    assert " ".join(plain.split()) == expected


@pytest.mark.parametrize("s", PAYLOADS + RANDOM + ["*alias", "&anchor x", "!!python/object:os.system", "- a", "? k", "---", "...", "a: b"])
def test_yaml_scalar_reads_back_as_the_same_string(s):
    assert yaml.safe_load(f"k: {escape.yaml_scalar(s)}\n") == {"k": s}


FORMULAS = ["=HYPERLINK(\"http://x\",\"clic\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1", "=1", "-", "+", "@"]
NUMBERS = ["-12,5", "+3", "-1 234,50 €", "-0.25", "-5 %", "-1e3", "12", "abc", "", "Coop = bien"]


@pytest.mark.parametrize("s", FORMULAS)
def test_csv_formula_cells_are_quoted_as_text(s):
    out = escape.csv_cell(s)
    assert out == "'" + s
    assert not out.startswith(escape.CSV_FORMULA_STARTS)


@pytest.mark.parametrize("s", NUMBERS)
def test_csv_numbers_and_plain_text_are_kept(s):
    assert escape.csv_cell(s) == s


def test_csv_frame_neutralises_every_text_cell_and_header_but_not_numbers():
    cells = [a + b for a, b in itertools.product(escape.CSV_FORMULA_STARTS, ["SUM(1)", "x", "1+1"])]
    df = pd.DataFrame({"=col": cells, "n": range(len(cells)), "s": pd.Series(cells, dtype="string")})
    out = escape.csv_frame(df)
    buf = io.StringIO()
    out.to_csv(buf, sep=";", index=False)
    rows = list(csv.reader(io.StringIO(buf.getvalue(), newline=""), delimiter=";"))
    assert rows[0][0] == "'=col"
    assert len(rows) == len(cells) + 1
    for row in rows[1:]:
        assert row[0].startswith("'") and row[2].startswith("'")
        assert row[1].isdigit()
    assert df.equals(pd.DataFrame({"=col": cells, "n": range(len(cells)), "s": pd.Series(cells, dtype="string")}))  # input untouched


def test_stable_table_ids_are_numbered_in_order():
    a = pd.DataFrame({"x": [1, 2]}).style.to_html() + pd.DataFrame({"y": [3]}).style.to_html()
    b = pd.DataFrame({"x": [1, 2]}).style.to_html() + pd.DataFrame({"y": [3]}).style.to_html()
    assert a != b  # random uuids
    sa, sb = escape.stable_table_ids(a), escape.stable_table_ids(b)
    assert sa == sb
    assert 'id="T_t1"' in sa and 'id="T_t2"' in sa


def test_configure_pandas_makes_styler_escape_cells_and_headers():
    escape.configure_pandas()
    df = pd.DataFrame({"<img src=x onerror=alert(1)>": ["<script>alert(1)</script>"]}, index=["<b>i</b>"])
    out = df.style.to_html()
    p = _Collector()
    p.feed(out)
    assert "script" not in p.tags and "img" not in p.tags and "b" not in p.tags
