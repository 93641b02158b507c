"""A network too large for one point per structure: the national report
shows the spread of the structures' published values instead
(analysis.stats.spread, plot_family_spread, plot_dimension_spread,
indicators_spread_fr, publication.yml: structures_max_par_figure).

Expected quartiles are worked out by hand with Hyndman & Fan's definition 7
(h = (n − 1)·p + 1, interpolate between x₍⌊h⌋₎ and the next order statistic).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from analysis.indicators import compute as ind  # noqa: E402
from analysis.method import loader  # noqa: E402
from analysis.method.loader import MethodError  # noqa: E402
from analysis.qvt.compute import QvtNational, plot_dimension_spread  # noqa: E402
from analysis.reporting import book, plotting, synthesis  # noqa: E402
from analysis.stats.spread import five_numbers, spread_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_five_numbers_by_hand():
    # n = 5: h = 2, 3, 4 land on order statistics
    assert five_numbers([10, 1, 3, 2, 4]) == {"n": 5, "min": 1.0, "q1": 2.0, "median": 3.0, "q3": 4.0, "max": 10.0}
    # n = 4: q1 at h = 1.75 -> 1 + 0.75·(2 − 1); median h = 2.5 -> 2.5; q3 h = 3.25 -> 3 + 0.25·(4 − 3)
    f = five_numbers([4.0, None, 2.0, 1.0, float("nan"), 3.0])
    assert f == {"n": 4, "min": 1.0, "q1": 1.75, "median": 2.5, "q3": 3.25, "max": 4.0}
    empty = five_numbers([None, float("nan")])
    assert empty["n"] == 0 and all(math.isnan(empty[k]) for k in ("min", "q1", "median", "q3", "max"))


def test_spread_table_keeps_the_groups_in_order():
    long = pd.DataFrame({"k": ["b", "a", "b", "b"], "value": [1.0, 5.0, 3.0, 2.0]})
    t = spread_table(long, ["k"])
    assert list(t["k"]) == ["b", "a"]
    assert t.loc[0, ["n", "min", "median", "max"]].tolist() == [3, 1.0, 2.0, 3.0]
    assert t.loc[1, "n"] == 1 and t.loc[1, "q1"] == 5.0


def _per_cae(values, hidden=()):
    """One indicator (a share) in len(values) CAEs; the CAEs in ``hidden`` have it suppressed."""
    rows = []
    for i, v in enumerate(values):
        name = f"CAE {i + 1}"
        rows.append({"cae": name, "family": "F1", "indicator": "f1_femmes", "label": "Part de femmes",
                     "breakdown": None, "unit": "part", "value": None if name in hidden else v,
                     "ci_low": v - 0.05, "ci_high": v + 0.05, "reference": 0.42,
                     "suppressed": name in hidden})
    return pd.DataFrame(rows)


def _national(value, suppressed=False):
    return pd.DataFrame([{"cae": "national", "family": "F1", "indicator": "f1_femmes", "label": "Part de femmes",
                          "breakdown": None, "unit": "part", "value": None if suppressed else value,
                          "ci_low": value - 0.02, "ci_high": value + 0.02, "reference": 0.42, "suppressed": suppressed}])


def test_spread_leaves_hidden_values_out():
    # CAE 5's 0.95 is hidden: the five published values are 0.1, 0.2, 0.3, 0.4, 0.9
    t = ind.spread_by_indicator(_per_cae([0.1, 0.2, 0.3, 0.4, 0.95, 0.9], hidden={"CAE 5"}))
    r = t.iloc[0]
    assert (r["n"], r["min"], r["q1"], r["median"], r["q3"], r["max"]) == (5, 0.1, 0.2, 0.3, 0.4, 0.9)


def test_spread_table_in_french():
    per_cae = [g for _, g in _per_cae([0.2, 0.4, 0.5, 0.9], hidden={"CAE 4"}).groupby("cae")]
    out = synthesis.indicators_spread_fr(per_cae, _national(0.37))
    row = out.iloc[0]
    # published 0.2, 0.4, 0.5: median 0.4, q1 at h = 1.5 -> 0.3, q3 at h = 2.5 -> 0.45
    assert row["Médiane"] == ind.fmt_value(0.4, "part")
    assert row["Quartiles"] == f"{ind.fmt_value(0.3, 'part')} à {ind.fmt_value(0.45, 'part')}"
    assert row["Extrêmes"] == f"{ind.fmt_value(0.2, 'part')} à {ind.fmt_value(0.5, 'part')}"
    assert row["CAE avec une valeur publiée"] == "3"
    assert row["Réseau"] == ind.fmt_value(0.37, "part")
    hidden = synthesis.indicators_spread_fr(per_cae, _national(0.37, suppressed=True)).iloc[0]
    assert hidden["Réseau"] == ind.SECRET
    none = synthesis.indicators_spread_fr([_per_cae([0.2], hidden={"CAE 1"})], _national(0.37)).iloc[0]
    assert none["Médiane"] == synthesis.ABSENT and none["CAE avec une valeur publiée"] == "0"


def _box(ax):
    """(whisker low, median, whisker high) x positions of the first box drawn."""
    xs = sorted({round(float(x), 9) for line in ax.lines for x in line.get_xdata()
                 if len(set(map(float, line.get_xdata()))) == 1})  # vertical segments: caps and medians
    return xs


def test_family_spread_draws_published_values_only():
    ax = ind.plot_family_spread(_per_cae([0.1, 0.2, 0.3, 0.4, 0.95, 0.9], hidden={"CAE 5"}), _national(0.35), "F1")
    xs = _box(ax)
    # caps at the extremes of the published values, the median between; never the hidden 0.95
    assert 0.1 in xs and 0.9 in xs and 0.3 in xs and 0.95 not in xs
    dots = [c for c in ax.collections if len(c.get_offsets()) == 5]
    assert dots and sorted(round(x, 9) for x, _ in dots[0].get_offsets()) == [0.1, 0.2, 0.3, 0.4, 0.9]
    plt.close("all")


def test_dimension_spread_leaves_suppressed_means_out():
    matrix = pd.DataFrame({"cae": list("abcde"), "dimension": "sante", "label": "Santé",
                           "mean": [3.0, 3.5, 4.0, 4.5, 1.2], "suppressed": [False, False, False, False, True]})
    dims = pd.DataFrame({"dimension": ["sante"], "label": ["Santé"], "mean": [3.6], "ci_low": [3.4], "ci_high": [3.8],
                         "suppressed": [False]})
    ax = plot_dimension_spread(QvtNational(available=True, n_cae=5, matrix=matrix, dimensions=dims))
    xs = _box(ax)
    # published 3.0, 3.5, 4.0, 4.5: median 3.75; whiskers 3.0 and 4.5; the hidden 1.2 nowhere
    assert {3.0, 3.75, 4.5} <= set(xs) and 1.2 not in xs
    plt.close("all")


@pytest.fixture
def method_with(tmp_path):
    def make(n: int) -> Path:
        d = tmp_path / f"methode-{n}"
        shutil.copytree(ROOT / "methodology", d)
        p = d / "publication.yml"
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
        data["structures_max_par_figure"] = n
        p.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return d
    return make


def test_threshold_is_read_from_the_method(method_with):
    shipped = yaml.safe_load((ROOT / "methodology" / "publication.yml").read_text(encoding="utf-8"))
    limit = shipped["structures_max_par_figure"]
    assert plotting.shows_each_structure(limit) and not plotting.shows_each_structure(limit + 1)
    three = method_with(3)
    assert plotting.shows_each_structure(3, three) and not plotting.shows_each_structure(4, three)
    with pytest.raises(MethodError, match="structures_max_par_figure"):
        loader.load("publication", method_with(0))


def _shown(nb) -> dict[str, str | None]:
    return book.cell_outputs(nb)


def test_small_network_shows_each_structure(e2e_run):
    """The 2-CAE run, under the shipped threshold: one column and point per CAE."""
    shown = _shown(nbformat.read(e2e_run["out"] / "national" / "10_national.ipynb", as_version=4))
    assert shown["tbl-nat-indicateurs"] == "table" and shown["fig-nat-indicateurs"] == "figure"
    assert shown["fig-nat-qvt-heatmap"] == "figure"
    assert shown["tbl-nat-indicateurs-repartition"] is None and shown["fig-nat-indicateurs-repartition"] is None
    assert shown["fig-nat-qvt-repartition"] is None


def test_past_the_threshold_the_national_notebook_shows_the_spread(e2e_run, method_with, tmp_path, monkeypatch):
    """The same 2 CAEs with structures_max_par_figure: 1: the spread cells
    show, the per-structure ones are empty (the book embeds only cells with
    output), and the opening paragraph says why."""
    from analysis import config
    from analysis.pipeline import runner

    proc, out = tmp_path / "processed", tmp_path / "out"
    shutil.copytree(e2e_run["processed"], proc)
    shutil.copytree(e2e_run["out"], out)
    meth = method_with(1)
    monkeypatch.setenv("CAE_IMPACT_METHODOLOGY", str(meth))
    res = runner.run_national(e2e_run["slugs"], proc, out, config.NOTEBOOKS_DIR, lambda *a, **k: None, export_html=False)
    assert res.ok, res.error
    nb = nbformat.read(out / "national" / "10_national.ipynb", as_version=4)
    shown = _shown(nb)
    assert shown["tbl-nat-indicateurs-repartition"] == "table" and shown["fig-nat-indicateurs-repartition"] == "figure"
    assert shown["fig-nat-qvt-repartition"] == "figure"
    assert shown["tbl-nat-indicateurs"] is None and shown["fig-nat-indicateurs"] is None
    assert shown["fig-nat-qvt-heatmap"] is None
    model = next(c for c in nb.cells if "tbl-nat-qvt-modele" in c.source)
    html = "".join(o["data"].get("text/html", "") for o in model.outputs if "data" in o)
    notes = "".join(o["data"].get("text/markdown", "") for o in model.outputs if "data" in o)
    assert "CAE :" not in html  # no row per CAE (this small run fits no model: its table is empty either way)
    assert "Les effets fixes des 2 CAE" in notes
    intro = next(c for c in nb.cells if "txt-nat-effets" in c.source)
    text = "".join(o["data"]["text/markdown"] for o in intro.outputs if "text/markdown" in o.get("data", {}))
    assert "Le réseau compte 2 CAE" in text and "médiane" in text

    # the book: the spread in the national chapter, the tables of one row per CAE in its annex
    report = tmp_path / "report"
    report.mkdir()
    for p in (ROOT / "report").iterdir():
        if p.suffix in (".qmd", ".yml") and p.name != "_quarto.yml":
            shutil.copy(p, report / p.name)
    book.assemble(proc, out, report, methodology_dir=meth, anonymise=False)
    body = (report / "_generated" / "national.md").read_text(encoding="utf-8")
    annex = (report / "_generated" / "annexe-nationale.md").read_text(encoding="utf-8")
    assert "#fig-nat-indicateurs-repartition-nat" in body and "#fig-nat-qvt-repartition-nat" in body
    for label in ("tbl-nat-totaux", "tbl-nat-sroi-cae", "tbl-nat-indicateurs-repartition"):
        assert f"#{label}-nat " in annex and f"#{label}-nat " not in body, label


def test_tables_of_one_row_per_structure_go_to_the_annex_past_the_threshold(method_with):
    three = method_with(3)
    assert "tbl-nat-totaux" not in book.national_in_annex(3, three)
    assert {"tbl-nat-totaux", "tbl-nat-sroi-cae"} <= set(book.national_in_annex(4, three))
    assert "tbl-nat-qvt-modele" in book.national_in_annex(3, three)  # always in the annex


def test_the_national_tornado_names_a_cae_by_its_display_name_not_its_folder():
    """A CAE's own parameter in the national tornado (« … (demo-nord) ») is
    drawn with the name the report uses: « CAE 2 » when anonymised. Text in
    an image escapes the book's replacement of slugs."""
    from types import SimpleNamespace

    from analysis.sroi.valuation import plot_tornado

    tornado = pd.DataFrame({
        "libelle": ["Poids mort : activité qui aurait existé (demo-nord)", "Érosion annuelle des effets sur l'emploi",
                    "Attribution (demo-nord-2)"],
        "ecart": [0.2, 0.1, 0.05], "ratio_min": [0.9, 0.95, 0.97], "ratio_max": [1.1, 1.05, 1.02]})
    ax = plot_tornado(SimpleNamespace(tornado=tornado, ratio=1.0), names={"demo-nord": "CAE 2", "demo-nord-2": "CAE 3"})
    ticks = [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]
    assert "Poids mort : activité qui aurait existé (CAE 2)" in ticks and "Attribution (CAE 3)" in ticks
    assert "Érosion annuelle des effets sur l'emploi" in ticks
    assert not any("demo-nord" in t for t in ticks)
    plt.close("all")


def test_model_table_leaves_the_structure_effects_out_on_demand():
    from analysis.qvt.compute import format_coefficients

    t = pd.DataFrame({"outcome": ["sante"] * 3, "factor": ["const", "statut", "cae"], "level": ["", "cesa", "b"],
                      "reference": ["", "", "a"], "coef": [3.1, 0.2, -0.4], "ci_low": [2.9, 0.0, -0.8],
                      "ci_high": [3.3, 0.4, 0.0], "p": [0.001, 0.04, 0.05], "n": [120, 120, 120]})
    every = format_coefficients(t)
    assert len(every) == 3 and every["Terme"].str.startswith("CAE :").sum() == 1
    left = format_coefficients(t, structure_effects=False)
    assert len(left) == 2 and not left["Terme"].str.startswith("CAE").any()
