"""Reader: encodings, separators, French numbers and dates, XLSX, garbage."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _intake_helpers import ACT_HEADER, ACT_ROWS, ENT_HEADER, ENT_ROWS, EXPECTED_ACT, EXPECTED_ENT, csv_bytes, make_cae, write_csv, write_xlsx
from analysis.intake import process as intake
from analysis.publication.formatting import fr_number
from analysis.intake.reading import (
    decode_text, parse_date, parse_integer, parse_number, read_table_bytes, read_table_file, sniff_separator,
)

FRENCH = "Crème brûlée à l’œuvre, ça coûte\u00a012 € — Noël"


# --- numbers ---------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("1 234,56", 1234.56),
    ("1\u00a0234,56", 1234.56),
    ("1\u202f234\u202f567,8", 1234567.8),
    ("1234.56", 1234.56),
    ("1.234,56", 1234.56),
    ("1,234.56", 1234.56),
    ("-12,5", -12.5),
    ("\u221212,5", -12.5),
    ("12,50 €", 12.5),
    ("80 %", 80.0),
    ("0", 0.0),
    ("  7  ", 7.0),
])
def test_parse_number_french_forms(text, expected):
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", ["douze", "1,2,3", "12 abc", "", "1.2.3,4,5", "--1", "1 23,4,5"])
def test_parse_number_rejects(text):
    with pytest.raises(ValueError):
        parse_number(text)


SEPS = st.sampled_from(["", " ", "\u00a0", "\u202f"])


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**12), st.text("0123456789", min_size=0, max_size=4), SEPS, st.sampled_from([",", "."]), st.booleans())
def test_french_number_roundtrip(intpart, frac, thousands, decimal, negative):
    """Format by hand the French way (grouped thousands, decimal comma) and
    read back: the value is float("<int>.<frac>")."""
    digits = f"{intpart:,}".replace(",", thousands)
    text = ("-" if negative else "") + digits + (decimal + frac if frac else "")
    expected = float(("-" if negative else "") + str(intpart) + ("." + frac if frac else ""))
    assert parse_number(text) == expected


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False), st.integers(0, 3))
def test_fr_number_output_reads_back(x, decimals):
    """The project's own French formatter (narrow no-break spaces, decimal
    comma) reads back to Python's rounding of the same value."""
    assert parse_number(fr_number(x, decimals)) == float(f"{x:.{decimals}f}")


def test_parse_integer():
    assert parse_integer("1 985") == 1985
    assert parse_integer("1985,0") == 1985
    assert parse_integer(1985.0) == 1985
    with pytest.raises(ValueError):
        parse_integer("1985,5")


# --- dates -----------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)), st.sampled_from(["fr", "fr_short", "iso", "fr_time"]))
def test_french_date_roundtrip(d, shape):
    text = {"fr": d.strftime("%d/%m/%Y"), "fr_short": f"{d.day}/{d.month}/{d.year}",
            "iso": d.isoformat(), "fr_time": d.strftime("%d/%m/%Y") + " 00:00"}[shape]
    assert parse_date(text) == pd.Timestamp(d)


def test_day_first_never_swapped():
    # 03/04/2019 is the 3rd of April in France, never March 4th.
    assert parse_date("03/04/2019") == pd.Timestamp(2019, 4, 3)
    with pytest.raises(ValueError):
        parse_date("04/13/2019")  # American order is refused, not swapped


@pytest.mark.parametrize("text", ["31/02/2019", "2019/02/01", "01-02-2019", "hier", "01/02/19", "20190201"])
def test_parse_date_rejects(text):
    with pytest.raises(ValueError):
        parse_date(text)


def test_excel_serial_only_from_xlsx():
    assert parse_date(43466, excel_serial=True) == pd.Timestamp(2019, 1, 1)  # Excel: 1 Jan 2019 = 43466
    with pytest.raises(ValueError):
        parse_date(43466)
    assert parse_date(dt.datetime(2019, 5, 6, 13, 45)) == pd.Timestamp(2019, 5, 6)


# --- encodings and separators ------------------------------------------------

@pytest.mark.parametrize("encoding, label", [("cp1252", "cp1252"), ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig")])
def test_accents_never_garbled(encoding, label):
    data = csv_bytes(["id", "secteur"], [["x", FRENCH]], encoding=encoding)
    res = read_table_bytes(data, "t.csv")
    assert res.problems == []
    assert res.info["encoding"] == label
    assert res.frame.loc[2, "secteur"] == FRENCH


def test_decode_prefers_utf8_and_falls_back():
    assert decode_text("é".encode("utf-8")) == ("é", "utf-8")
    assert decode_text("é".encode("cp1252")) == ("é", "cp1252")
    assert decode_text("\ufeffé".encode("utf-8")) == ("é", "utf-8-sig")


@pytest.mark.parametrize("line, sep", [
    ("a;b;c", ";"), ("a,b,c", ","), ('"x;y",b,c', ","), ('"1,5";b', ";"), ("a\tb\tc", "\t"), ("seul", ";"),
])
def test_sniff_separator(line, sep):
    assert sniff_separator(line + "\n1;2;3\n") == sep


def test_blank_rows_columns_and_line_numbers():
    text = ("\r\nID ;Date d'Entrée;;\r\n" "A1;01/02/2019;;\r\n" ";;;\r\n" "A2;02/02/2019;;\r\n" ";;;\r\n;;;\r\n").encode("cp1252")
    res = read_table_bytes(text, "entrepreneurs.csv")
    assert list(res.frame.columns) == ["ID", "Date d'Entrée"]
    assert list(res.frame.index) == [3, 5]  # header on line 2, blank line 4 kept in the numbering
    assert res.frame.loc[5, "ID"] == "A2"


def test_unnamed_column_with_values_warns():
    res = read_table_bytes("id;\r\nA1;oops\r\n".encode(), "t.csv")
    assert [(p.gravite, p.ligne) for p in res.problems] == [("avertissement", 2)]
    assert list(res.frame.columns) == ["id"]


# --- XLSX --------------------------------------------------------------------

def test_xlsx_sheet_named_like_table_wins(tmp_path):
    p = write_xlsx(tmp_path / "entrepreneurs.xlsx", ["id"], [["A1"]], sheet="Entrepreneurs", extra_first_sheet="Notes")
    res = read_table_file(p, "entrepreneurs")
    assert res.info["sheet"] == "Entrepreneurs"
    assert res.frame.loc[2, "id"] == "A1"


def test_xlsx_first_sheet_otherwise(tmp_path):
    p = write_xlsx(tmp_path / "entrepreneurs.xlsx", ["id"], [["A1"]], sheet="Export ERP")
    res = read_table_file(p, "entrepreneurs")
    assert res.info == {**res.info, "format": "xlsx", "sheet": "Export ERP", "rows": 1}


def test_xlsx_detected_by_content_not_extension(tmp_path):
    p = write_xlsx(tmp_path / "x.xlsx", ["id"], [["A1"]])
    data = p.read_bytes()
    res = read_table_bytes(data, "entrepreneurs.csv")
    assert res.info["format"] == "xlsx" and res.frame.loc[2, "id"] == "A1"


# --- garbage never raises ------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\xef\xbb\xbf"]), st.sampled_from(["t.csv", "t.xlsx"]))
def test_fuzz_reader_only_problems(data, prefix, name):
    res = read_table_bytes(prefix + data, name, "entrepreneurs")
    if res.frame is None:
        assert any(p.is_error for p in res.problems)
        assert all(p.message and p.correction for p in res.problems)


def test_corrupt_zip_members(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<not xml")
    res = read_table_bytes(buf.getvalue(), "entrepreneurs.xlsx")
    assert res.frame is None
    assert res.problems[0].message.startswith("Le classeur Excel est illisible")


# --- each valid shape gives the same typed table ------------------------------------

LABELS = {"F": "Femme", "H": "homme", "bac": "Baccalauréat", "bac_2": "BAC +2", "bac_5_plus": "bac +5 ou plus",
          "rsa": "Bénéficiaire du RSA", "de_indemnise": "demandeur d'emploi indemnise (ARE)", "salarie": "Salarié",
          "non": "Non", "oui": "OUI", "urbain": "Urbain", "rural": "rural", "periurbain": "Périurbain",
          "cesa": "CESA (entrepreneur salarié)", "cape": "CAPE (contrat d'appui)", "associe": "Entrepreneur salarié associé",
          "emploi_salarie": "Emploi salarié"}
HEADERS_FR = ["Identifiant", "Date d'entrée", "DATE DE SORTIE", "motif de sortie", "Sexe", "Année de naissance",
              "Diplôme", "Situation a l'entree", "Quartier prioritaire", "zone d'habitation", "Secteur d'activité",
              "Statut dans la CAE", "Date du CESA", "date de societariat"]


def _iso(text):
    return "" if not text else dt.datetime.strptime(text, "%d/%m/%Y").date().isoformat()


def _shape_rows(shape):
    ent, act = [], []
    for r in ENT_ROWS:
        r = list(r)
        if shape == "utf8_bom_comma":
            for j in (1, 2, 12, 13):
                r[j] = _iso(r[j])
        elif shape == "xlsx_labels":
            for j in (1, 2, 12, 13):
                r[j] = dt.datetime.strptime(r[j], "%d/%m/%Y") if r[j] else None
            r = [LABELS.get(v, v) if isinstance(v, str) and j not in (0, 10) else v for j, v in enumerate(r)]
            r[5] = int(r[5])
        ent.append(r)
    for r in ACT_ROWS:
        r = list(r)
        nums = [float(x.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace(",", ".")) if x else None for x in r[2:]]
        if shape == "utf8_bom_comma":
            r = r[:2] + ["" if x is None else repr(x) for x in nums]
        elif shape == "xlsx_labels":
            r = [r[0], int(r[1])] + nums
        act.append(r)
    return ent, act


@pytest.mark.parametrize("shape", ["french_csv", "utf8_bom_comma", "xlsx_labels"])
def test_valid_shapes_read_to_same_table(tmp_path, shape):
    ent, act = _shape_rows(shape)
    d = make_cae(tmp_path, ent=False, act=False)
    if shape == "french_csv":
        write_csv(d / "entrepreneurs.csv", HEADERS_FR, ent)
        write_csv(d / "activite.csv", ACT_HEADER, act)
    elif shape == "utf8_bom_comma":
        write_csv(d / "entrepreneurs.csv", ENT_HEADER, ent, sep=",", encoding="utf-8-sig", eol="\n")
        write_csv(d / "activite.csv", ACT_HEADER, act, sep=",", encoding="utf-8-sig", eol="\n")
    else:
        write_xlsx(d / "entrepreneurs.xlsx", HEADERS_FR, ent, sheet="Feuil1")
        write_xlsx(d / "activite.xlsx", ACT_HEADER, act, sheet="Feuil1")
    fd = intake.load_folder(d)
    assert fd.problems.errors == []
    pd.testing.assert_frame_equal(fd.tables["entrepreneurs"].frame, EXPECTED_ENT, check_index_type=False)
    pd.testing.assert_frame_equal(fd.tables["activite"].frame, EXPECTED_ACT, check_index_type=False)


def test_xlsx_numeric_ids_match_csv_ids(tmp_path):
    d = make_cae(tmp_path, ent=False)
    rows = [[1001.0 if j == 0 else v for j, v in enumerate(r)] for r in ENT_ROWS[:1]]
    write_xlsx(d / "entrepreneurs.xlsx", ENT_HEADER, rows)
    write_csv(d / "activite.csv", ACT_HEADER, [["1001", "2019", "1", "1", ""]])
    fd = intake.load_folder(d)
    assert fd.problems.errors == []
    assert fd.tables["entrepreneurs"].frame.loc[2, "id"] == "1001"


def test_numpy_scalars_parse_like_python_numbers():
    """Adapters (enDI) hand over numpy integers and floats."""
    import numpy as np

    from analysis.intake.reading import parse_integer, parse_number

    assert parse_number(np.int64(2019)) == 2019.0
    assert parse_number(np.float32(1.5)) == 1.5
    assert parse_integer(np.int64(2019)) == 2019
