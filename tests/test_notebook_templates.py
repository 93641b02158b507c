"""Notebooks driven by the method files: a result family added to
indicators.yml appears in the executed notebook with no code change."""

from __future__ import annotations

import shutil

import nbformat
import pytest
import yaml

from analysis import config
from analysis.pipeline.notebooks import expand_families

NB = config.NOTEBOOKS_DIR / "02_indicateurs.ipynb"


def _spec():
    return {
        "families": {
            "A": {"label": "Alpha"},
            "Q": {"label": "Qualité", "note": "Voir l'étape QVT."},
            "B": {"label": "Bêta", "titre": "Résultats bêta", "figure": {"unite": "part", "legende": "avis"}},
        },
        "indicators": [{"id": "a1", "family": "A"}, {"id": "b1", "family": "B"}],
    }


def test_templates_are_repeated_per_family_in_yaml_order():
    nb = expand_families(nbformat.read(NB, as_version=4), _spec(), "95 %")
    src = [c.source for c in nb.cells]
    headings = [s for s in src if s.startswith("## ") and s[3:] in ("A — Alpha", "Q — Qualité\n\nVoir l'étape QVT.", "Résultats bêta")]
    assert headings == ["## A — Alpha", "## Q — Qualité\n\nVoir l'étape QVT.", "## Résultats bêta"]
    joined = "\n".join(src)
    # written by hand: one table and one figure label per family that has indicators, none for Q
    assert "#| label: tbl-ind-a\n" in joined and "#| label: fig-ind-b\n" in joined
    assert "tbl-ind-q" not in joined and "-famille" not in joined
    assert '#| tbl-cap: "Alpha : indicateurs"' in joined
    assert '#| fig-cap: "Bêta : avis"' in joined
    assert '#| fig-cap: "Alpha : valeur, intervalle à 95 % et référence nationale"' in joined
    assert joined.count('FAMILLE = "A"') == 1 and joined.count('FAMILLE = "Q"') == 0
    assert len({c["id"] for c in nb.cells}) == len(nb.cells)
    nbformat.validate(nb)


def test_a_notebook_without_templates_is_unchanged():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    assert expand_families(nb, _spec(), "95 %") is nb


@pytest.mark.e2e
def test_a_family_added_to_the_yaml_is_computed_and_shown(tmp_path, pseudonym_key):
    from analysis.intake import demo
    from analysis.pipeline import runner
    from analysis.pipeline.results import read_result

    meth = tmp_path / "methode"
    shutil.copytree(config.METHODOLOGY_DIR, meth)
    spec = yaml.safe_load((meth / "indicators.yml").read_text("utf-8"))
    spec["families"]["F9"] = {"label": "Une famille ajoutée par l'évaluateur"}
    women = next(i for i in spec["indicators"] if i["id"] == "f1_femmes")
    spec["indicators"].append({**women, "id": "f9_femmes", "family": "F9", "label": "Part de femmes (famille ajoutée)"})
    (meth / "indicators.yml").write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), "utf-8")
    raw, processed, out = tmp_path / "raw", tmp_path / "processed", tmp_path / "out"
    (slug,) = demo.generate(raw, n_cae=1, seed=2019, scale=0.3)
    summary = runner.run(raw_dir=raw, processed_dir=processed, out_dir=out, jobs=1, methodology_dir=meth,
                         national=False, export_html=False, progress=runner.Progress(quiet=True),
                         stages=["01_nettoyage", "02_indicateurs"])
    assert summary["ok"], summary
    table = read_result(processed / slug / "indicateurs")
    added = table[table["family"] == "F9"]
    base = table[table["indicator"] == "f1_femmes"]
    assert list(added["indicator"]) == ["f9_femmes"]
    assert added["value"].tolist() == base["value"].tolist()  # same definition, same value
    nb = nbformat.read(out / slug / "02_indicateurs.ipynb", as_version=4)
    heading = [c for c in nb.cells if c.source == "## F9 — Une famille ajoutée par l'évaluateur"]
    assert heading
    tbl = [c for c in nb.cells if c.source.startswith("#| label: tbl-ind-f9\n")]
    assert tbl and tbl[0].outputs, "the new family's table cell has output"
