"""Blank templates and the data dictionary, derived from the codebook.

``write_templates(dir)`` writes, per codebook table, an XLSX template (a
"Lisez-moi" sheet first; a header row of French labels, each commented with
its description, accepted codes and column code; on every column a
validation with its input prompt and its error alert switched on, drop-down
lists of French labels for coded and scale columns; date and number formats,
years without thousands separators; a "Dictionnaire" sheet) and a
CSV template (``;``, UTF-8 with BOM, header only), plus the commented
description file of the study profile (``cae.yml`` for the default profile). :func:`data_dictionary` is the annex table of the report.
Everything follows ``methodology/codebook.yml``; nothing here lists columns.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.intake import codebook as cbk
from analysis.intake.validation import TYPE_LABELS, fmt_num, profile_rules
from analysis.method import profile as profiles

#: Rows of the XLSX templates that get drop-down lists and formats.
TEMPLATE_ROWS = 1000

def _required_if(table: str) -> dict[str, str]:
    return {col: cond for t, col, cond in profile_rules()["obligatoire_si"] if t == table}


def _codes_text(spec: dict, codebook: dict) -> str:
    if spec.get("type") not in ("code", "scale"):
        return ""
    return " ; ".join(f"{code} = {label}" for code, label in cbk.codes(spec["codes"], codebook).items())


def _rule_text(table: str, name: str, spec: dict, codebook: dict) -> str:
    parts = []
    if spec.get("description"):
        parts.append(spec["description"].rstrip("."))
    kind = spec.get("type", "text")
    if kind == "date":
        parts.append("format JJ/MM/AAAA ou AAAA-MM-JJ (ou cellule date Excel)")
    elif kind == "number":
        parts.append("virgule ou point décimal, milliers séparés par une espace")
    elif kind in ("code", "scale"):
        parts.append("le code ou son intitulé (majuscules et accents indifférents)")
    if spec.get("unique"):
        parts.append("unique")
    grouped = kind != "integer"  # the codebook's integers are years: 1980, not 1 980
    if "min" in spec:
        parts.append(f"≥ {fmt_num(spec['min'], grouped)}")
    if "max" in spec:
        parts.append(f"≤ {fmt_num(spec['max'], grouped)}")
    if "warn_max" in spec:
        parts.append(f"avertissement au-delà de {fmt_num(spec['warn_max'])}")
    if "warn_min" in spec:
        parts.append(f"avertissement en deçà de {fmt_num(spec['warn_min'])}")
    if spec.get("references"):
        parts.append(f"doit exister dans {spec['references']}")
    ut = codebook["tables"][table].get("unique_together") or []
    if name in ut:
        parts.append("une seule ligne par (" + ", ".join(ut) + ")")
    if spec.get("drop"):
        parts.append("jamais copié au-delà de la lecture")
    elif spec.get("personal"):
        parts.append("pseudonymisé à la lecture" if kind == "text" else "remplacé par une tranche d'âge à la lecture")
    if spec.get("reverse"):
        parts.append("item formulé à l'envers (recodé avant calcul des scores)")
    return " ; ".join(parts) + ("." if parts else "")


def data_dictionary(codebook: dict | None = None) -> pd.DataFrame:
    """The data dictionary (French), one row per codebook column: table,
    colonne, libellé, type, obligatoire, codes acceptés, règle."""
    cb = codebook or cbk.load_codebook()
    rows = []
    for table in cb["tables"]:
        req_if = _required_if(table)
        for name, spec in cbk.columns(table, cb).items():
            if spec.get("required"):
                oblig = "oui"
            elif name in req_if:
                cond = cbk.columns(table, cb)[req_if[name]]
                oblig = f"si « {cond.get('label', req_if[name])} » est renseignée"
            else:
                oblig = "non"
            rows.append({
                "table": table,
                "colonne": name,
                "libellé": spec.get("label", name),
                "type": TYPE_LABELS.get(spec.get("type", "text"), spec.get("type")),
                "obligatoire": oblig,
                "codes acceptés": _codes_text(spec, cb),
                "règle": _rule_text(table, name, spec, cb),
            })
    return pd.DataFrame(rows, columns=["table", "colonne", "libellé", "type", "obligatoire", "codes acceptés", "règle"])


def _write_xlsx(path: Path, table: str, cb: dict, dictionary: pd.DataFrame) -> None:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    specs = cbk.columns(table, cb)
    wb = Workbook()
    ws = wb.active
    ws.title = table
    lists = wb.create_sheet("Listes")
    dico = wb.create_sheet("Dictionnaire")
    list_ranges: dict[str, str] = {}
    last = TEMPLATE_ROWS + 1
    readme = wb.create_sheet(README_SHEET, 0)
    _write_readme(readme, table, cb)
    for j, (name, spec) in enumerate(specs.items(), start=1):
        letter = get_column_letter(j)
        cell = ws.cell(row=1, column=j, value=spec.get("label", name))
        cell.font = Font(bold=True, color="FFFFFF" if spec.get("required") else "000000")
        cell.fill = PatternFill("solid", fgColor="1F4E79" if spec.get("required") else "D9E1F2")
        note = [spec.get("label", name)]
        if spec.get("description"):
            note.append(spec["description"])
        note.append("Obligatoire." if spec.get("required") else "Facultatif.")
        note.append(f"Code de la colonne (dictionnaire des données) : {name}")
        codes_txt = _codes_text(spec, cb)
        if codes_txt:
            note.append("Codes : " + codes_txt)
        cell.comment = Comment("\n".join(note), "CAE-IMPACT", width=320, height=160)
        ws.column_dimensions[letter].width = max(14, min(40, len(spec.get("label", name)) + 2))
        kind = spec.get("type", "text")
        rng = f"{letter}2:{letter}{last}"
        prompt = _prompt(table, name, spec, cb)
        if kind in ("code", "scale"):
            cname = spec["codes"]
            if cname not in list_ranges:
                col = len(list_ranges) + 1
                cl = get_column_letter(col)
                lists.cell(row=1, column=col, value=cname)
                labels = [str(v) for v in cbk.codes(cname, cb).values()]
                for i, lab in enumerate(labels, start=2):
                    lists.cell(row=i, column=col, value=lab)
                list_ranges[cname] = f"Listes!${cl}$2:${cl}${len(labels) + 1}"
            dv = DataValidation(type="list", formula1=f"={list_ranges[cname]}", allow_blank=True, showDropDown=False)
            dv.errorStyle = "warning"  # the code itself (or a number on a scale) is accepted too
            dv.error = "Choisissez une réponse de la liste (le code est aussi accepté)."
            dv.errorTitle = "Réponse non prévue"
        elif kind == "date":
            # Excel serials 1 (01/01/1900) to 73050 (31/12/2099): a typed 31/02/2019 is text, refused
            dv = DataValidation(type="date", operator="between", formula1="1", formula2="73050", allow_blank=True)
            dv.error = "Saisissez une date qui existe, au format JJ/MM/AAAA (par exemple 15/03/2019)."
            dv.errorTitle = "Date attendue"
            for r in range(2, last + 1):
                ws.cell(row=r, column=j).number_format = "DD/MM/YYYY"
        elif kind in ("number", "integer"):
            grouped = kind == "number"
            if "min" in spec and "max" in spec:
                dv = DataValidation(type="decimal" if grouped else "whole", operator="between",
                                    formula1=str(spec["min"]), formula2=str(spec["max"]), allow_blank=True)
                dv.error = f"Saisissez un nombre entre {fmt_num(spec['min'], grouped)} et {fmt_num(spec['max'], grouped)}."
            else:
                dv = DataValidation(type="decimal" if grouped else "whole", operator="greaterThanOrEqual",
                                    formula1=str(spec.get("min", -1e12)), allow_blank=True)
                dv.error = "Saisissez un nombre" + (f" supérieur ou égal à {fmt_num(spec['min'], grouped)}." if "min" in spec else ".")
            dv.errorTitle = "Nombre entier attendu" if kind == "integer" else "Nombre attendu"
            fmt = "0" if kind == "integer" else "#,##0.##"
            for r in range(2, last + 1):
                ws.cell(row=r, column=j).number_format = fmt
        else:
            dv = DataValidation(type="textLength", operator="lessThanOrEqual", formula1="1000", allow_blank=True)
            dv.error = "Texte trop long (1 000 caractères au plus)."
            dv.errorTitle = "Texte trop long"
        # alerts and prompts ON (openpyxl's defaults leave them off: Excel would accept anything silently)
        dv.showErrorMessage = True
        dv.showInputMessage = True
        dv.promptTitle = spec.get("label", name)[:32]
        dv.prompt = prompt
        dv.add(rng)
        ws.add_data_validation(dv)
    ws.freeze_panes = "A2"
    lists.sheet_state = "hidden"
    sub = dictionary[dictionary["table"] == table]
    for j, h in enumerate(sub.columns, start=1):
        c = dico.cell(row=1, column=j, value=h)
        c.font = Font(bold=True)
        dico.column_dimensions[get_column_letter(j)].width = [14, 22, 40, 10, 14, 50, 70][j - 1]
    for i, row in enumerate(sub.itertuples(index=False), start=2):
        for j, v in enumerate(row, start=1):
            dico.cell(row=i, column=j, value=v).alignment = Alignment(wrap_text=True, vertical="top")
    wb.properties.creator = "CAE-IMPACT"
    wb.save(path)


#: The first sheet of every XLSX template.
README_SHEET = "Lisez-moi"


def _prompt(table: str, name: str, spec: dict, cb: dict) -> str:
    """The input message Excel shows when a cell of the column is selected
    (Excel caps it at 255 characters)."""
    text = ("Obligatoire. " if spec.get("required") else "Facultatif. ") + _rule_text(table, name, spec, cb)
    return text if len(text) <= 255 else text[:252].rstrip() + "…"


def readme_lines(table: str, codebook: dict | None = None) -> list[str]:
    """The French instructions of a template's « Lisez-moi » sheet."""
    cb = codebook or cbk.load_codebook()
    label = cb["tables"][table].get("label", table)
    return [
        f"Modèle « {table} » : {label}",
        "",
        f"1. Remplissez l'onglet « {table} » : une ligne par enregistrement, à partir de la ligne 2.",
        "2. Ne modifiez pas la ligne 1 (les intitulés des colonnes) ; les colonnes en bleu foncé sont obligatoires.",
        "3. En sélectionnant une cellule, une bulle rappelle ce qui est attendu ; une réponse non prévue est signalée.",
        "4. Colonnes à liste : choisissez dans la liste déroulante (le code du dictionnaire est aussi accepté).",
        "5. Dates au format JJ/MM/AAAA ; années sur quatre chiffres ; montants en euros, sans unité.",
        "6. L'onglet « Dictionnaire » décrit chaque colonne : son code, son type, les réponses acceptées et la règle.",
        f"7. Enregistrez le fichier sous le nom {table}.xlsx dans data/raw/<nom-de-votre-cae>/,",
        "   puis vérifiez-le : .venv/bin/cae-impact validate data/raw/<nom-de-votre-cae>",
        "",
        "Les identifiants sont remplacés par des pseudonymes à la lecture ; aucune donnée personnelle ne quitte data/raw.",
    ]


def _write_readme(ws, table: str, cb: dict) -> None:
    from openpyxl.styles import Font

    for i, line in enumerate(readme_lines(table, cb), start=1):
        c = ws.cell(row=i, column=1, value=line)
        if i == 1:
            c.font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 110


def description_template(codebook: dict | None = None) -> str:
    """A commented description file to fill in (profile ``description.fichier``):
    the required then optional keys of the profile's codebook section, empty,
    each with its French comment and example (profile ``description.aide``)."""
    cb = codebook or cbk.load_codebook()
    prof = profiles.current()
    rules = cb[prof.description_section]
    helps = {k: tuple(v) for k, v in (prof.get("description.aide") or {}).items()}
    lines = [
        f"# Description {prof.term('structure.du')} (fichier obligatoire, à déposer dans data/raw/<{prof.term('structure.dossier')}>/).",
        "# Complétez chaque valeur après les deux-points. Les lignes commençant par # sont",
        "# des commentaires. Dates au format AAAA-MM-JJ ; nombres sans espace, point décimal.",
        "",
    ]

    def line(key: str, indent: str = "") -> str:
        help_, example = helps.get(key, (key, None))
        short = key.split(".")[-1]
        comment = f"# {help_}"
        codes_key = f"{short}_codes"
        if codes_key in rules:
            comment += " : " + ", ".join(f"{c} ({lab})" for c, lab in rules[codes_key].items())
        if example:
            comment += f" ; par exemple {example}"
        if key == prof.get("description.cle_profil"):
            return f"{indent}{short}: {prof.id}".ljust(36) + comment  # the study this folder belongs to
        return f"{indent}{short}:".ljust(36) + comment

    for key in list(rules["required"]) + list(rules.get("optional") or []):
        lines.append(line(key))
        if key == "periode":
            lines += [line("periode.debut", "  "), line("periode.fin", "  ")]
        elif key == "ressources":
            lines += [line(f"ressources.{k}", "  ") for k in rules["ressources_required"]]
    return "\n".join(lines) + "\n"


#: The default profile's name of :func:`description_template`.
cae_yml_template = description_template


def write_templates(dir: Path | str) -> list[Path]:
    """Write the templates into ``dir`` (created if needed): per table
    ``<table>.xlsx`` and ``<table>.csv``, then the description file and
    ``dictionnaire_des_donnees.csv``. Returns the paths written."""
    cb = cbk.load_codebook()
    out = Path(dir)
    out.mkdir(parents=True, exist_ok=True)
    dictionary = data_dictionary(cb)
    paths: list[Path] = []
    for table in cb["tables"]:
        x = out / f"{table}.xlsx"
        _write_xlsx(x, table, cb, dictionary)
        c = out / f"{table}.csv"
        c.write_text(";".join(cbk.columns(table, cb)) + "\r\n", encoding="utf-8-sig")
        paths += [x, c]
    y = out / profiles.current().description_file
    y.write_text(description_template(cb), encoding="utf-8")
    d = out / "dictionnaire_des_donnees.csv"
    dictionary.to_csv(d, sep=";", index=False, encoding="utf-8-sig")
    return paths + [y, d]
