"""The French parameter annex of the book, the Méthode chapter's split into
body and annex, and French typography of published text. Expected strings
are written out by hand from the methodology files and the typographic
rules, not copied from the code's output."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from analysis.publication.formatting import fr_number, fr_typography
from analysis.reporting import annexes, book

ROOT = Path(__file__).resolve().parents[1]
NBSP, NNBSP, MINUS = "\u00a0", "\u202f", "\u2212"


def test_negative_numbers_print_the_minus_sign_and_zero_has_none():
    assert fr_number(-2.5, 1) == MINUS + "2,5"
    assert fr_number(-1234, 0) == MINUS + "1" + NNBSP + "234"
    assert fr_number(-0.004, 2) == "0,00"  # rounds to zero: no sign
    assert fr_number(3.25, 2) == "3,25"


def test_french_spacing_before_double_punctuation_and_inside_guillemets():
    assert fr_typography("Note : voir « ici » ; fini ? oui !") == (
        f"Note{NBSP}: voir «{NBSP}ici{NBSP}»{NNBSP}; fini{NNBSP}? oui{NNBSP}!")
    # nothing to do without a space: URLs, clock times, Markdown definition markers
    for text in ("https://insee.fr", "12:30", "Terme\n:   définition"):
        assert fr_typography(text) == text


def test_parameter_annex_gives_each_parameter_in_french_with_value_and_source():
    sroi = yaml.safe_load((ROOT / "methodology" / "sroi.yml").read_text(encoding="utf-8"))
    pub = yaml.safe_load((ROOT / "methodology" / "publication.yml").read_text(encoding="utf-8"))
    md = annexes.parameters_annex()
    # 0.035 in sroi.yml is 3,5 %, with its source beside it
    assert sroi["parametres"]["taux_actualisation"] == 0.035
    assert f"| Taux d'actualisation | 3,5{NBSP}% | {sroi['parametres']['taux_actualisation_source']} |" in md
    assert pub["seuil_effectif"] == 5
    assert "| Plus petit effectif publié (en deçà, la valeur est masquée, sauf zéro) | 5 |" in md
    # a coefficient: central value and range in percent, from its own label
    c = sroi["coefficients"]["attribution_cae"]
    assert (c["valeur"], c["min"], c["max"], c["plage"]) == (0.42, 0.15, 0.42, "interquartile")
    assert f"| {c['libelle']} | 42{NBSP}% | 15{NBSP}% à 42{NBSP}% (écart interquartile) |" in md
    # a proxy: 6 716,88 € rounded to the euro, its year of euros
    assert f"| 6{NNBSP}717{NBSP}€ | 3{NNBSP}358{NBSP}€ à 6{NNBSP}717{NBSP}€ (bornes) |" in md
    # no YAML key reaches the reader
    for key in ("taux_actualisation", "seuil_effectif", "min_repondants", "poids_mort_reponses", "meme_activite",
                "n_min_groupe", "part_min_items", "heures_manquantes", "True", "False", "None", "nan"):
        assert not re.search(rf"\b{key}\b", md), key
    assert annexes.unlabelled() == []


def test_a_parameter_without_french_label_is_reported(monkeypatch):
    """The methodology files are validated (unknown keys refused), so a new
    setting comes with a schema change; the annex must then get its label:
    a setting missing from LABELS is listed instead of printed as its key."""
    labels = {name: dict(d) for name, d in annexes.LABELS.items()}
    del labels["sroi"]["parametres.tirages_monte_carlo"]
    monkeypatch.setattr(annexes, "LABELS", labels)
    assert annexes.unlabelled() == ["sroi.yml : parametres.tirages_monte_carlo"]


def test_method_tables_move_to_the_annex_and_no_heading_is_left_empty():
    md = (
        "## Indicateurs {#sec-m-ind}\n\n_Fichier x._\n\n### F1. Publics\n\n| A | B |\n|---|---|\n| 1 | 2 |\n\n"
        "### F6. QVT\n\nVoir l'étape QVT.\n\n"
        "## SROI {#sec-m-sroi}\n\nLe guide.\n\n### Coefficients\n\n| C |\n|---|\n| 3 |\n\nTexte après.\n\n"
        "## Limites {#sec-m-lim}\n\n- une limite\n"
    )
    body, annex = book.split_method(md)
    assert "|" not in body
    assert "### F1. Publics" not in body and "### F6. QVT" in body and "Voir l'étape QVT." in body
    assert "### Coefficients" in body and "Texte après." in body  # prose stays, its table is in the parameter annex
    assert body.count("@sec-annexe-methode") == 2  # the two sections that lost a table say where it went
    assert "Limites" in body and body.index("une limite") > body.index("## Limites")
    assert annex.startswith("## Détail de la méthode {#sec-annexe-methode}")
    assert "### Indicateurs\n\n#### F1. Publics\n\n| A | B |" in annex
    assert "Coefficients" not in annex and "{#sec-m-ind}" not in annex


def test_output_headings_sit_one_level_below_the_embedding_section():
    """A summary cell printing '### Les principaux résultats' under a book
    section '## L'essentiel' must become level 3 (not 4: "4.1.0.1")."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("#| label: txt-x\nx")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "### Titre\n\ntexte\n\n#### Sous-titre\n"})]
    nb.cells = [cell]
    for level, want in ((3, "### Titre\n\ntexte\n\n#### Sous-titre\n"), (2, "## Titre\n\ntexte\n\n### Sous-titre\n")):
        out = book.prepare_notebook(nb, "k", heading_level=level).cells[0].outputs[0]["data"]["text/markdown"]
        assert out == want


def test_a_note_printed_beside_a_figure_joins_its_caption():
    """Two outputs in a figure cell make Quarto draw "(a)"/"(b)" sub-figures
    with an empty caption; the note must end up in the one caption."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('#| label: fig-x\n#| fig-cap: "Score moyen"\nplot()')
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
        nbformat.v4.new_output("display_data", data={"text/markdown": "La médiane du réseau n'est pas tracée.", "text/plain": "<Markdown>"}),
    ]
    nb.cells = [cell]
    out = book.prepare_notebook(nb, "k").cells[0]
    assert len(out.outputs) == 1 and "image/png" in out.outputs[0]["data"]
    assert '#| fig-cap: "Score moyen. La médiane du réseau n\'est pas tracée."' in out.source
    assert "#| label: fig-x-k" in out.source
