"""Tests of the demo data generator (analysis.intake.demo).

The files are read back here with plain pandas/openpyxl and the codebook YAML
(the specification), never with the project's intake reader, and every
expected value is a published network figure or a rule of PROTOCOL §2.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import yaml

from analysis.intake import demo

CODEBOOK = yaml.safe_load((Path(__file__).resolve().parents[1] / "methodology" / "codebook.yml").read_text("utf-8"))
TABLES = ("entrepreneurs", "activite", "questionnaire")
DATE_COLS = {"date_entree", "date_sortie", "date_cesa", "date_societariat"}
NUM_COLS = {"annee", "annee_naissance", "chiffre_affaires", "remuneration_brute", "heures_remunerees",
            "part_cae", "revenu_avant"}


# ------------------------------------------------------------ independent reader
def _label_to_name(table: str) -> dict[str, str]:
    cols = CODEBOOK["tables"][table]["columns"]
    out = {name: name for name in cols}
    out.update({spec["label"]: name for name, spec in cols.items() if "label" in spec})
    return out


def _code_maps(table: str) -> dict[str, dict[str, object]]:
    """column -> {code or label as written: code} from the codebook YAML."""
    out = {}
    for name, spec in CODEBOOK["tables"][table]["columns"].items():
        if spec["type"] in ("code", "scale"):
            m = {}
            for code, label in CODEBOOK["codes"][spec["codes"]].items():
                m[str(code)] = code
                m[str(label)] = code
            out[name] = m
    return out


def _fr_to_float(s: pd.Series) -> pd.Series:
    s = s.str.replace("\u00a0", "", regex=False).str.replace(" ", "", regex=False).str.replace(",", ".")
    return pd.to_numeric(s.replace("", None))


def read_table(d: Path, table: str) -> pd.DataFrame | None:
    """Read a demo table with plain pandas into codes/datetimes/floats."""
    xlsx, csv = d / f"{table}.xlsx", d / f"{table}.csv"
    if xlsx.exists():
        with pd.ExcelFile(xlsx) as book:
            sheets = book.sheet_names
        df = pd.read_excel(xlsx, sheet_name=table if table in sheets else 0, dtype=object)
        df = df.rename(columns=_label_to_name(table))
        for c in df.columns:
            if c in DATE_COLS:
                df[c] = pd.to_datetime(df[c])
            elif c in NUM_COLS:
                df[c] = pd.to_numeric(df[c])
    elif csv.exists():
        raw = csv.read_bytes()
        french = not raw.startswith(b"\xef\xbb\xbf")
        df = pd.read_csv(csv, sep=";" if french else ",", encoding="cp1252" if french else "utf-8-sig",
                         dtype=str, keep_default_na=False)
        df = df.apply(lambda s: s.str.strip())
        df = df[(df != "").any(axis=1)].rename(columns=_label_to_name(table))
        for c in df.columns:
            if c in DATE_COLS:
                df[c] = pd.to_datetime(df[c].replace("", None), format="%d/%m/%Y" if french else "%Y-%m-%d")
            elif c in NUM_COLS:
                df[c] = _fr_to_float(df[c]) if french else pd.to_numeric(df[c].replace("", None))
    else:
        return None
    for c, m in _code_maps(table).items():
        if c in df.columns:
            df[c] = df[c].map(lambda v: None if pd.isna(v) or v == "" else m[str(v).strip()])
    if "id" in df.columns:
        df["id"] = df["id"].map(lambda v: None if pd.isna(v) or v == "" else str(v))
    return df.reset_index(drop=True)


def read_all(raw: Path) -> dict[str, dict]:
    out = {}
    for d in sorted(p for p in raw.iterdir() if p.is_dir()):
        out[d.name] = {t: read_table(d, t) for t in TABLES}
        out[d.name]["info"] = yaml.safe_load((d / "cae.yml").read_text("utf-8"))
    return out


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    slugs = demo.generate(raw)
    return raw, slugs, read_all(raw)


@pytest.fixture(scope="module")
def pooled(full):
    _, _, data = full
    ent = pd.concat([v["entrepreneurs"].assign(cae=k) for k, v in data.items()], ignore_index=True)
    act = pd.concat([v["activite"].assign(cae=k) for k, v in data.items()], ignore_index=True)
    q = pd.concat([v["questionnaire"].assign(cae=k) for k, v in data.items() if v["questionnaire"] is not None],
                  ignore_index=True)
    return ent, act, q


# ------------------------------------------------------------ determinism and interface
def test_same_seed_gives_identical_bytes_and_other_seed_differs(full, tmp_path):
    raw, _, _ = full
    again = tmp_path / "again"
    demo.generate(again)
    assert _digest(again) == _digest(raw)
    other = tmp_path / "other"
    demo.generate(other, seed=7)
    d_other = _digest(other)
    assert d_other.keys() == _digest(raw).keys()
    assert all(d_other[k] != v for k, v in _digest(raw).items() if not k.endswith("cae.yml"))


def test_xlsx_metadata_is_fixed(full):
    raw, _, _ = full
    wb = openpyxl.load_workbook(raw / "demo-nord" / "entrepreneurs.xlsx", read_only=False)
    assert wb.properties.modified.year == 2020 and wb.properties.created.year == 2020
    # ZIP entry times are fixed too (a same-second rerun would hide a live clock).
    for path in raw.rglob("*.xlsx"):
        with zipfile.ZipFile(path) as z:
            assert {i.date_time for i in z.infolist()} == {(2020, 1, 15, 9, 0, 0)}, path


def test_slugs_profiles_and_survey_presence(full, tmp_path):
    raw, slugs, data = full
    assert slugs == [p["slug"] for p in demo.PROFILES] and len(slugs) == 7
    assert all(re.fullmatch(r"[a-z0-9-]+", s) for s in slugs)
    no_survey = [s for s in slugs if data[s]["questionnaire"] is None]
    assert len(no_survey) == 1 and no_survey[0] not in slugs[:2]
    assert {p["type"] for p in demo.PROFILES} == set(CODEBOOK["description"]["type_codes"])
    # The first two: small, one XLSX and one French CSV, both with a survey.
    assert 30 <= len(data[slugs[0]]["entrepreneurs"]) <= 60 and 30 <= len(data[slugs[1]]["entrepreneurs"]) <= 60
    assert (raw / slugs[0] / "entrepreneurs.xlsx").exists() and (raw / slugs[1] / "entrepreneurs.csv").exists()
    sizes = [len(v["entrepreneurs"]) for v in data.values()]
    assert min(sizes) >= 30 and max(sizes) == 300
    two = demo.generate(tmp_path / "two", n_cae=2)
    assert two == slugs[:2] and sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(slugs[:2])
    with pytest.raises(ValueError):
        demo.generate(tmp_path / "none", n_cae=0)


def test_scale_shrinks_sizes_but_not_below_25(full, tmp_path):
    _, _, data = full
    demo.generate(tmp_path, scale=0.2)
    small = read_all(tmp_path)
    for slug, v in small.items():
        n_small, n_full = len(v["entrepreneurs"]), len(data[slug]["entrepreneurs"])
        assert n_small >= 25
        assert n_small == max(25, round(0.2 * n_full))  # sizes at scale 1 are the profile sizes
    assert len(small["demo-metropole"]["entrepreneurs"]) == 60


# ------------------------------------------------------------ formats as written
def test_french_csv_bytes(full):
    raw, _, _ = full
    path = raw / "demo-batisseurs-ouest" / "entrepreneurs.csv"
    data = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # accents are single Windows-1252 bytes, not UTF-8
    text = data.decode("cp1252")
    header = text.split("\r\n")[0].split(";")
    assert "Date d'entrée" in header and "Identifiant" in header
    rows = [line.split(";") for line in text.split("\r\n")[1:] if line]
    j = header.index("Date d'entrée")
    assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4}", r[j]) for r in rows)
    assert "Femme" in {r[header.index("Genre")] for r in rows}
    act = (raw / "demo-batisseurs-ouest" / "activite.csv").read_bytes().decode("cp1252")
    amounts = [line.split(";")[2] for line in act.split("\r\n")[1:] if line]
    assert all(re.fullmatch(r"\d{1,3}(\u00a0\d{3})*,\d{2}", a) for a in amounts)
    assert any("\u00a0" in a for a in amounts)  # thousands with a non-breaking space
    q = (raw / "demo-batisseurs-ouest" / "questionnaire.csv").read_bytes().decode("cp1252")
    assert "Plutôt d'accord" in q
    # A second French CSV uses a plain space and ends with Excel's blank rows.
    srv = (raw / "demo-services-est" / "activite.csv").read_bytes().decode("cp1252")
    assert re.search(r";\d{1,3} \d{3},\d{2};", srv)
    assert srv.endswith("\r\n;;;\r\n;;;\r\n")  # 4 columns: no heures_remunerees in this CAE


def test_utf8_bom_csv_with_iso_dates(full):
    raw, _, _ = full
    data = (raw / "demo-terres-centre" / "entrepreneurs.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("id,date_entree,")
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", ln.split(",")[1]) for ln in lines[1:])


def test_xlsx_has_real_date_cells_and_labels(full):
    raw, _, _ = full
    ws = openpyxl.load_workbook(raw / "demo-nord" / "entrepreneurs.xlsx").active
    header = [c.value for c in ws[1]]
    j = header.index("Date d'entrée") + 1
    cells = [row[0] for row in ws.iter_rows(min_row=2, min_col=j, max_col=j)]
    assert cells and all(c.is_date for c in cells)
    genres = {row[0].value for row in ws.iter_rows(min_row=2, min_col=header.index("Genre") + 1,
                                                   max_col=header.index("Genre") + 1)}
    assert "Femme" in genres and "F" not in genres
    # The large XLSX has a notice sheet first and the data in the sheet named like the file.
    wb = openpyxl.load_workbook(raw / "demo-metropole" / "entrepreneurs.xlsx")
    assert wb.sheetnames == ["Lisez-moi", "entrepreneurs"]


def test_cae_yml_has_the_protocol_keys_and_plausible_resources(full):
    _, _, data = full
    for slug, v in data.items():
        info = v["info"]
        assert set(CODEBOOK["description"]["required"]) <= set(info)
        assert set(CODEBOOK["description"]["ressources_required"]) <= set(info["ressources"])
        assert info["type"] in CODEBOOK["description"]["type_codes"]
        assert info["territoire"] in CODEBOOK["description"]["territoire_codes"]
        assert str(info["periode"]["debut"]) == "2019-01-01" and str(info["periode"]["fin"]) == "2019-12-31"
        e, a = v["entrepreneurs"], v["activite"]
        supported = int((e["date_sortie"].isna() | (e["date_sortie"] >= "2019-01-01")).sum())
        per_person = info["ressources"]["subventions_publiques"] / supported
        assert 1900 <= per_person <= 4100, slug  # 2-4 k€ per person supported (rounded to the k€)
        ca_2019 = a.loc[a["annee"] == 2019, "chiffre_affaires"].sum()
        assert 0.085 <= info["ressources"]["contribution_entrepreneurs"] / ca_2019 <= 0.115, slug
        assert info["equipe_appui_etp"] > 0 and info["ressources"]["benevolat_heures"] >= 0


def test_fake_identifiers_and_free_text(full):
    raw, _, data = full
    ids = data["demo-arts-sud"]["entrepreneurs"]["id"]
    assert ids.str.endswith("@exemple.invalid").all()
    names = data["demo-terres-centre"]["entrepreneurs"]["id"]
    assert names.str.fullmatch(r"\S+ [A-ZÉÈ]+").all()
    comments = pd.concat([v["questionnaire"]["commentaire"] for v in data.values() if v["questionnaire"] is not None])
    assert comments.str.contains("06 00 00 00 00", regex=False).any()
    assert comments.str.contains("Camille Exemple", regex=False).any()


# ------------------------------------------------------------ PROTOCOL §2 rules
def test_tables_follow_protocol_rules(full):
    _, _, data = full
    for slug, v in data.items():
        e, a = v["entrepreneurs"], v["activite"]
        assert e["id"].notna().all() and e["id"].is_unique, slug
        assert set(a["id"]) <= set(e["id"]) and not a.duplicated(["id", "annee"]).any()
        assert (a[["chiffre_affaires", "remuneration_brute"]] >= 0).all().all()
        assert ((e["date_sortie"] >= e["date_entree"]) | e["date_sortie"].isna()).all()
        assert (e["date_sortie"].notna() == e["motif_sortie"].notna()).all()
        age = e["date_entree"].dt.year - e["annee_naissance"]
        assert age.between(15, 90).all()
        salaried = e["statut"].isin(["cesa", "associe"])
        assert e.loc[salaried, "date_cesa"].notna().all() and e.loc[~salaried, "date_cesa"].isna().all()
        assert (e.loc[salaried, "date_cesa"] >= e.loc[salaried, "date_entree"]).all()
        members = e["statut"] == "associe"
        assert e.loc[members, "date_societariat"].notna().all()
        assert (e.loc[members, "date_societariat"] >= e.loc[members, "date_cesa"]).all()
        assert e["date_entree"].dt.year.between(2010, 2019).all()
        # one row per person supported in the period (cae.yml periode)
        debut, fin = (pd.Timestamp(v["info"]["periode"][k]) for k in ("debut", "fin"))
        assert (e["date_entree"] <= fin).all() and (e["date_sortie"].dropna() >= debut).all()
        # activity rows only for years the person was present
        m = a.merge(e[["id", "date_entree", "date_sortie"]], on="id")
        assert (m["annee"] >= m["date_entree"].dt.year).all()
        assert (m["date_sortie"].isna() | (m["annee"] <= m["date_sortie"].dt.year)).all()
        assert a["annee"].between(2017, 2019).all()
        q = v["questionnaire"]
        if q is not None:
            assert set(q["id"].dropna()) <= set(e["id"]) and q["id"].dropna().is_unique
            assert q["part_cae"].dropna().between(0, 100).all()
            assert 0 < q["id"].isna().mean() < 0.3  # some anonymous rows


# ------------------------------------------------------------ pooled distributions
def test_pooled_shares_near_network_figures(pooled):
    ent, _, _ = pooled
    n = len(ent)
    assert n == sum(p["size"] for p in demo.PROFILES)
    assert abs((ent["genre"] == "F").mean() - 0.55) <= 0.05
    jobless = ent["situation_entree"].isin(["de_indemnise", "de_non_indemnise", "rsa"]).mean()
    assert abs(jobless - 0.56) <= 0.05
    dip = ent["diplome"]
    assert abs(dip.isin(["aucun", "cap_bep", "bac"]).mean() - 0.31) <= 0.05
    assert abs((dip == "bac_2").mean() - 0.25) <= 0.05
    assert abs(dip.isin(["bac_3_4", "bac_5_plus"]).mean() - 0.45) <= 0.05
    assert abs((ent["statut"] == "associe").mean() - 0.24) <= 0.05
    exits = ent["motif_sortie"].dropna()
    assert len(exits) >= 100
    for motif in ("emploi_salarie", "creation_entreprise", "formation"):
        assert 0.22 <= (exits == motif).mean() <= 0.38, motif
    assert exits.isin(["emploi_salarie", "creation_entreprise", "formation"]).mean() >= 0.75


def test_mean_monthly_pay_of_paid_person_years(pooled):
    """Monthly pay = yearly gross pay / months paid in the year, the months
    counted from the CESA (or 1 January) to the exit (or 31 December)."""
    ent, act, _ = pooled
    m = act.merge(ent[["cae", "id", "date_cesa", "date_sortie"]], on=["cae", "id"])
    m = m[m["remuneration_brute"] > 0]
    y0 = pd.to_datetime(m["annee"].astype(int).astype(str) + "-01-01")
    y1 = pd.to_datetime(m["annee"].astype(int).astype(str) + "-12-31")
    start = m["date_cesa"].where(m["date_cesa"] > y0, y0)
    stop = m["date_sortie"].where(m["date_sortie"] < y1, y1).fillna(y1)
    ndays = np.where(m["annee"] % 4 == 0, 366, 365)
    months = ((stop - start).dt.days + 1) / ndays * 12
    monthly = m["remuneration_brute"] / months
    assert abs(monthly.mean() / 1138 - 1) <= 0.10
    assert (monthly > 0).all()


def test_turnover_skewed_and_growing_with_seniority(pooled):
    ent, act, _ = pooled
    m = act.merge(ent[["cae", "id", "date_entree"]], on=["cae", "id"])
    m = m[m["chiffre_affaires"] > 0]
    assert m["chiffre_affaires"].mean() > 1.1 * m["chiffre_affaires"].median()  # right-skewed
    seniority = m["annee"] - m["date_entree"].dt.year
    assert np.corrcoef(seniority, np.log(m["chiffre_affaires"]))[0, 1] > 0.15
    # pay goes with turnover
    paid = m[m["remuneration_brute"] > 0]
    assert np.corrcoef(np.log(paid["chiffre_affaires"]), np.log(paid["remuneration_brute"]))[0, 1] > 0.5


def test_survey_response_and_answers(full, pooled):
    _, _, data = full
    ent, _, q = pooled
    for slug, v in data.items():
        if v["questionnaire"] is not None:
            rate = len(v["questionnaire"]) / len(v["entrepreneurs"])
            assert 0.40 <= rate <= 0.80, (slug, rate)
    assert abs((q["sans_cae"].dropna() == "pas_cree").mean() - 0.375) <= 0.06
    assert abs((q["eff_droits"].dropna() >= 4).mean() - 0.75) <= 0.07
    assert abs((q["eff_accompagnement"].dropna() >= 4).mean() - 0.85) <= 0.06
    assert abs((q["droit_protection"].dropna() == "oui").mean() - 0.70) <= 0.07
    assert abs((q["formation_suivie"].dropna() == "oui").mean() - 0.65) <= 0.07
    assert abs(q["echanges_pairs"].dropna().isin(["mensuel", "hebdomadaire"]).mean() - 0.52) <= 0.07
    items = [c for c in q.columns if c.startswith(("eff_", "qvt_", "who5_"))]
    missing = q[items].isna().mean()
    assert missing.between(0.01, 0.10).all() and abs(missing.mean() - 0.05) <= 0.02
    assert q["revenu_avant"].notna().mean() > 0.3 and (q["revenu_avant"].dropna() >= 0).all()
    assert q["part_cae"].dropna().nunique() > 5


def test_qvt_and_who5_correlated_and_linked_to_seniority_and_status(pooled):
    ent, _, q = pooled
    q = q.copy()
    reverse = [c for c, s in CODEBOOK["tables"]["questionnaire"]["columns"].items() if s.get("reverse")]
    qvt = [c for c in q.columns if c.startswith("qvt_")]
    recoded = q[qvt].astype(float).copy()
    recoded[reverse] = 6 - recoded[reverse]  # reverse-worded items: 1..5 -> 5..1
    # A reverse-worded item correlates negatively with its dimension's other item.
    assert q[["qvt_sante_1", "qvt_sante_2"]].astype(float).corr().iloc[0, 1] < -0.2
    q["qvt"] = recoded.mean(axis=1)
    q["who5"] = q[[f"who5_{i}" for i in range(1, 6)]].astype(float).mean(axis=1) * 20  # raw × 4, 0-100
    assert q[["qvt", "who5"]].corr().iloc[0, 1] > 0.3
    linked = q.dropna(subset=["id"]).merge(ent[["cae", "id", "date_entree", "date_sortie", "statut"]],
                                           on=["cae", "id"])
    seniority = (pd.Timestamp("2019-12-31") - linked["date_entree"]).dt.days / 365.25
    assert np.corrcoef(seniority, linked["who5"].fillna(linked["who5"].mean()))[0, 1] > 0.1
    by_status = linked.groupby("statut")["qvt"].mean()
    assert by_status["associe"] > by_status["cape"]
