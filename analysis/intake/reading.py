"""Read what CAEs really export: French CSV and XLSX, without help (PROTOCOL §2).

Two layers:

* **File reading** (:func:`read_table_file`): detect the file type from its
  first bytes (``PK\\x03\\x04`` is an XLSX zip, ``D0 CF 11 E0`` an old ``.xls``
  or an encrypted workbook), the encoding (BOM, then strict UTF-8, then
  Windows-1252) and the separator (``;``, ``,`` or tab counted on the header
  line outside quotes). Every cell is kept as written (strings for CSV, the
  cell value for XLSX) in a DataFrame whose index is the spreadsheet line
  (header = line 1) and whose columns are the headers as the user wrote them.
  Blank rows and unnamed empty columns are dropped; the line numbers of the
  remaining rows do not move.
* **Value parsing** (:func:`parse_number`, :func:`parse_date`,
  :func:`parse_integer`): explicit French formats only. Dates are
  ``JJ/MM/AAAA`` or ``AAAA-MM-JJ`` (never ``dayfirst`` guessing, which swaps
  day and month silently, pandas #12585); numbers take a decimal comma or
  point and thousands separated by spaces, no-break spaces or narrow no-break
  spaces.

Nothing here raises on bad input: problems come back as French
:class:`~analysis.intake.problems.Problem` objects.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from analysis.intake.codebook import normalize_name
from analysis.intake.problems import Problem

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, or an encrypted .xlsx
TABLE_SUFFIXES = {".csv", ".txt", ".xlsx", ".xlsm", ".xls"}
_SPACES = "\u0020\u00a0\u202f\u2009\u2007"  # space, NBSP, NNBSP, thin, figure space

# ---------------------------------------------------------------------------
# Value parsing
# ---------------------------------------------------------------------------

_NUMBER_BODY = re.compile(r"^[+-]?(\d+(?:[.,]\d+)*)(?:[eE][+-]?\d+)?$")


def is_blank(value: Any) -> bool:
    """True for None, NaN/NaT/NA and strings made only of (no-break) spaces."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip(_SPACES + "\t\r\n") == ""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def parse_number(value: Any) -> float:
    """Parse a number written the French (or English) way; raise ``ValueError``.

    Rules (PROTOCOL §2): spaces, no-break spaces (U+00A0) and narrow no-break
    spaces (U+202F) are thousands separators and are removed; a trailing
    ``€`` or ``%`` is ignored; ``−`` (U+2212) is a minus sign. Then, with
    both ``,`` and ``.`` present, the last one is the decimal mark and the
    other must group thousands by three (``1.234,5``); a single ``,`` or
    ``.`` is the decimal mark (``12,5`` and ``12.5`` are 12.5); a mark
    repeated (``1.234.567``) groups thousands. The result is
    ``float("<digits>.<decimals>")``, so a value written with up to 15
    significant digits reads back exactly.

    >>> parse_number("1\u202f234,50 €")
    1234.5
    >>> parse_number("-0.25")
    -0.25
    """
    if isinstance(value, bool):
        raise ValueError("booléen")
    if isinstance(value, numbers.Real):  # Python and numpy scalars alike (adapters hand over numpy ints)
        if not math.isfinite(float(value)):
            raise ValueError("non fini")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("type")
    s = value.strip(_SPACES + "\t\r\n")
    for ch in "€%":
        s = s.rstrip(_SPACES).removesuffix(ch)
    s = s.replace("\u2212", "-")
    for ch in _SPACES:
        s = s.replace(ch, "")
    if not _NUMBER_BODY.match(s):
        raise ValueError("pas un nombre")
    mantissa, _, exponent = s.replace("E", "e").partition("e")
    sign = ""
    if mantissa[:1] in "+-":
        sign, mantissa = mantissa[0], mantissa[1:]
    commas, dots = mantissa.count(","), mantissa.count(".")
    if commas and dots:
        dec = "," if mantissa.rfind(",") > mantissa.rfind(".") else "."
        thou = "." if dec == "," else ","
        if mantissa.count(dec) > 1:
            raise ValueError("ambigu")
        int_part, frac = mantissa.split(dec)
        _check_groups(int_part, thou)
        int_part = int_part.replace(thou, "")
    elif commas + dots == 1:
        int_part, frac = re.split(r"[.,]", mantissa)
    elif commas + dots > 1:
        thou = "," if commas else "."
        _check_groups(mantissa, thou)
        int_part, frac = mantissa.replace(thou, ""), ""
    else:
        int_part, frac = mantissa, ""
    text = f"{sign}{int_part}" + (f".{frac}" if frac else "") + (f"e{exponent}" if exponent else "")
    out = float(text)
    if not math.isfinite(out):
        raise ValueError("non fini")
    return out


def _check_groups(text: str, sep: str) -> None:
    groups = text.split(sep)
    if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
        raise ValueError("séparateur de milliers mal placé")


def parse_integer(value: Any) -> int:
    """Parse a whole number (``1 985``, ``1985,0``, an Excel number); raise ``ValueError``."""
    x = parse_number(value)
    if not x.is_integer():
        raise ValueError("pas un entier")
    return int(x)


#: Accepted date layouts, tried in order. Day first only in the explicit
#: ``JJ/MM/AAAA`` layout; ISO is year first. A time part (``00:00``) that
#: spreadsheets add on export is tolerated.
DATE_FORMATS = (
    "%d/%m/%Y",
    "%Y-%m-%d",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
)
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def parse_date(value: Any, excel_serial: bool = False) -> pd.Timestamp:
    """Parse a date given as ``JJ/MM/AAAA``, ``AAAA-MM-JJ`` or an Excel date
    cell; raise ``ValueError``. The time of day is dropped.

    With ``excel_serial`` (values from an XLSX cell), a bare number is read as
    an Excel serial date (days since 1899-12-30, the 1900 system) when it
    falls between 1900 and 2100.

    >>> parse_date("03/04/2019")
    Timestamp('2019-04-03 00:00:00')
    >>> parse_date("2019-04-03")
    Timestamp('2019-04-03 00:00:00')
    """
    if isinstance(value, pd.Timestamp):
        return value.normalize()
    if isinstance(value, dt.datetime):
        return pd.Timestamp(value.date())
    if isinstance(value, dt.date):
        return pd.Timestamp(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if excel_serial and 1 <= value <= 73050:
            return pd.Timestamp((_EXCEL_EPOCH + dt.timedelta(days=int(value))).date())
        raise ValueError("nombre")
    if not isinstance(value, str):
        raise ValueError("type")
    s = value.strip(_SPACES + "\t\r\n")
    for fmt in DATE_FORMATS:
        try:
            d = dt.datetime.strptime(s, fmt)
        except ValueError:
            continue
        if d.year < 1000:
            break
        return pd.Timestamp(d.date())
    raise ValueError("pas une date")


def looks_like_two_digit_year(value: Any) -> bool:
    """``01/02/19``: a year on two digits, which we refuse rather than guess."""
    return isinstance(value, str) and re.fullmatch(r"\s*\d{1,2}/\d{1,2}/\d{2}\s*", value) is not None


# ---------------------------------------------------------------------------
# File reading
# ---------------------------------------------------------------------------


@dataclass
class ReadResult:
    """A file read as written: ``frame`` (or None when unreadable), how it was
    read (``info``) and the problems found on the way."""

    frame: pd.DataFrame | None
    info: dict = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode CSV bytes: UTF-8 with BOM, else strict UTF-8, else Windows-1252.

    Strict UTF-8 practically never accepts Windows-1252 accented text (an
    ``é`` is the lone byte 0xE9, an invalid UTF-8 lead sequence), so trying
    it first cannot garble ``é, è, à, ç, œ, ’`` or a no-break space. Raises
    ``UnicodeDecodeError`` when neither applies (bytes undefined in
    Windows-1252, such as 0x81).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252"), "cp1252"


def looks_binary(data: bytes, text: str | None = None) -> bool:
    """Heuristic: NUL bytes, or more than 2 % control characters other than
    tab/CR/LF, mark a file that is not text (a binary saved as ``.csv``)."""
    if b"\x00" in data[:65536]:
        return True
    sample = text[:65536] if text is not None else ""
    if not sample:
        return False
    ctrl = sum(1 for c in sample if (ord(c) < 32 and c not in "\t\r\n") or 0x7F <= ord(c) < 0xA0)
    return ctrl / len(sample) > 0.02


def sniff_separator(text: str) -> str:
    """Pick ``;``, ``,`` or tab by counting each on the first non-blank line,
    outside double quotes; ``;`` wins ties (the French Excel export)."""
    for line in text.splitlines():
        if line.strip(_SPACES + "\t"):
            break
    else:
        return ";"
    counts = {";": 0, ",": 0, "\t": 0}
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts.values())
    if best == 0:
        return ";"
    for sep in (";", ",", "\t"):
        if counts[sep] == best:
            return sep
    return ";"  # pragma: no cover


class LimitExceeded(Exception):
    """A file goes beyond a limit of the codebook's ``limites`` (French message)."""

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


def _limits(limits: dict | None) -> dict:
    if limits is not None:
        return limits
    from analysis.intake.codebook import load_codebook

    return load_codebook()["limites"]


def _too_many_rows(fichier: str, max_rows: int) -> Problem:
    return Problem(fichier, f"Le tableau dépasse la limite de {max_rows:,} lignes de données : il n'est pas lu.".replace(",", "\u202f"),
                   "Vérifiez qu'il s'agit du bon fichier (une ligne par personne ou par personne et par année) ; "
                   "sinon découpez-le ou demandez à l'équipe du projet de relever la limite (methodology/codebook.yml, limites).")


def _frame_from_rows(rows, fichier: str, max_rows: int | None = None, block: int = 100_000,
                     progress: Callable[[int], None] | None = None, text: bool = False) -> ReadResult:
    """Rows as (spreadsheet line, cells), any iterable -> DataFrame of cells
    with the line as index and the header (first non-blank row) as columns.

    Rows are consumed in blocks of ``block``: each block becomes a small
    frame of text cells (pandas' compact string dtype for CSV text) before
    the next is read (with ``text``, CSV cells, as pandas' compact ``str``
    dtype), so memory stays near the size of the final frame;
    ``progress(rows read so far)`` is called after each block. More than
    ``max_rows`` data rows raise :class:`LimitExceeded` (without reading on)."""
    problems: list[Problem] = []
    header_line, header = None, None
    blocks: list[pd.DataFrame] = []
    cur_lines: list[int] = []
    cur_rows: list[list[Any]] = []
    width = 0
    filled_first: dict[int, int] = {}  # column position -> first line with a value
    n_body = 0

    def flush():
        nonlocal cur_lines, cur_rows
        if not cur_rows:
            return
        w = width
        frame = pd.DataFrame([r + [None] * (w - len(r)) for r in cur_rows], index=pd.Index(cur_lines, dtype="int64"), dtype=object)
        blocks.append(frame.astype("str") if text else frame)
        cur_lines, cur_rows = [], []
        if progress is not None:
            progress(n_body)

    for n, cells in rows:
        if not any(cells) or not any(not is_blank(c) for c in cells):
            continue
        if header is None:
            header_line, header = n, list(cells)
            width = len(header)
            continue
        cells = list(cells)
        n_body += 1
        if max_rows is not None and n_body > max_rows:
            raise LimitExceeded(_too_many_rows(fichier, max_rows))
        if len(cells) > width:
            width = len(cells)
        if len(filled_first) < len(cells):  # only until every column has shown a value
            for j, c in enumerate(cells):
                if c is not None and c != "" and j not in filled_first and not is_blank(c):
                    filled_first[j] = n
        cur_lines.append(n)
        cur_rows.append(cells)
        if len(cur_rows) >= block:
            flush()
    flush()
    if header is None:
        return ReadResult(None, {}, [Problem(fichier, "Le fichier est vide.", "Enregistrez le tableau avec sa ligne d'en-tête et au moins une ligne de données.")])
    header = [("" if is_blank(h) else str(h).strip(_SPACES + "\t\r\n")) for h in header] + [""] * (width - len(header))
    keep: list[int] = []
    for j, name in enumerate(header):
        if name:
            keep.append(j)
        elif j in filled_first:
            problems.append(Problem(
                fichier, f"Une colonne sans en-tête contient des valeurs (colonne n° {j + 1}) ; elle est ignorée.",
                "Donnez-lui un nom de colonne du modèle ou supprimez-la.", ligne=filled_first[j], gravite="avertissement"))
    cols = pd.Index([header[j] for j in keep], dtype=object)
    if blocks:
        parts = [b.reindex(columns=range(width)).iloc[:, keep] for b in blocks]
        frame = pd.concat(parts) if len(parts) > 1 else parts[0]
        frame.columns = cols
        frame.index.name = "ligne"
    else:
        frame = pd.DataFrame(columns=cols, index=pd.Index([], name="ligne", dtype="int64"), dtype=object)
    return ReadResult(frame, {"header_line": header_line}, problems)


def _csv_records(text_stream, sep: str, fichier: str, stats: dict):
    """``(record number, cells)`` from a CSV text stream, checking that no
    row is lost to a stray quote: a quoted field running over several
    physical lines whose continuation holds the separator (rows swallowed
    into one cell) raises :class:`LimitExceeded` with the line where the
    quote opens. ``stats`` gets ``lines`` (physical lines read)."""
    reader = csv.reader(text_stream, delimiter=sep, quotechar='"')
    last = 0
    for i, row in enumerate(reader, start=1):
        start, end = last + 1, reader.line_num
        last = end
        if end > start:
            for cell in row:
                if "\n" in cell or "\r" in cell:
                    rest = cell.splitlines()[1:]
                    if any(line.count(sep) >= 1 for line in rest) or end - start > 50:
                        raise LimitExceeded(Problem(
                            fichier, f"Guillemet non refermé : à partir de la ligne {start} du fichier, {end - start + 1} lignes ont été lues comme une seule cellule.",
                            "Ouvrez le fichier dans un éditeur de texte et retirez ou doublez (\"\") le guillemet isolé de cette ligne, "
                            "ou enregistrez à nouveau le tableau depuis votre tableur.", ligne=i))
        yield i, row
    stats["lines"] = last


#: Share of NUL bytes above which a file is binary data, not a text file with a stray NUL.
_NUL_BINARY_SHARE = 0.01
#: A UTF-8 multi-byte sequence (RFC 3629 §4 lead and continuation bytes).
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
#: Lines named in a message before "and N others".
_LINES_SHOWN = 5


def _line_and_column(data: bytes, pos: int, sep: str) -> tuple[int, int]:
    """Physical line (1-based) of byte ``pos`` and its column number
    (separators counted outside double quotes from the start of the line)."""
    start = data.rfind(b"\n", 0, pos) + 1
    line = data.count(b"\n", 0, start) + 1
    col, quoted, s = 1, False, sep.encode()
    for b in data[start:pos]:
        if b == 0x22:
            quoted = not quoted
        elif not quoted and bytes([b]) == s:
            col += 1
    return line, col


def _lines_text(lines: list[int]) -> str:
    """« la ligne 4 », « les lignes 4, 9 et 12 », « les lignes 4, 9, 12, 20, 31 et 3 autres »."""
    shown = [str(n) for n in lines[:_LINES_SHOWN]]
    rest = len(lines) - len(shown)
    if len(lines) == 1:
        return f"la ligne {shown[0]}"
    if rest:
        return "les lignes " + ", ".join(shown) + f" et {rest} autre{'s' if rest > 1 else ''}"
    return "les lignes " + ", ".join(shown[:-1]) + " et " + shown[-1]


def nul_byte_problem(data: bytes, fichier: str) -> Problem | None:
    """A text file holding NUL bytes (``0x00``), which no spreadsheet writes
    in a CSV and which would end up inside a cell: an error naming the
    physical line and column of the first one and how many lines hold one.
    A file with more than :data:`_NUL_BINARY_SHARE` NULs, or otherwise
    :func:`looks_binary`, is binary data (an
    export saved under a ``.csv`` name): the binary-file error instead.
    UTF-16 files (BOM) are made of NULs and are not checked here."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    pos = data.find(b"\x00")
    if pos < 0:
        return None
    n = data.count(b"\x00")
    head = data[:65536].replace(b"\x00", b"").decode("utf-8", errors="ignore")
    if n > _NUL_BINARY_SHARE * len(data) or looks_binary(b"", head):
        return Problem(fichier, "Le fichier contient des données binaires : ce n'est pas un CSV.",
                       "Ouvrez le tableau dans votre tableur et enregistrez-le en « CSV (séparateur : point-virgule) » ou en .xlsx.")
    line, col = _line_and_column(data, pos, sniff_separator(head))
    lines, k, prev, ln = [], pos, 0, 1
    while k >= 0:  # one pass: newlines counted between consecutive NULs
        ln += data.count(b"\n", prev, k)
        prev = k
        if not lines or lines[-1] != ln:
            lines.append(ln)
        k = data.find(b"\x00", k + 1)
    where = (f"Caractère nul (octet 0x00) dans la colonne n° {col}" if len(lines) == 1 else
             f"Caractères nuls (octet 0x00) sur {_lines_text(lines)} du fichier (le premier dans la colonne n° {col})")
    return Problem(
        fichier, f"{where} ; le fichier n'est pas lu.",
        "Ouvrez le fichier dans votre tableur et enregistrez-le à nouveau en « CSV (séparateur : point-virgule) » ; "
        "ou, dans un éditeur de texte, supprimez le caractère invisible à cet endroit.", ligne=line)


def mixed_encoding(data: bytes, sep_hint: str | None = None) -> tuple[str, list[Problem]] | None:
    """A file that is not valid UTF-8 but holds valid UTF-8 accented lines
    too: lines saved in two encodings (a Windows-1252 line pasted into a
    UTF-8 file, or the reverse). Decoding the whole file as Windows-1252
    would turn every UTF-8 ``é`` into ``Ã©`` (mojibake) without a word.
    Returns the text with each physical line decoded in its own encoding
    (strict UTF-8 when valid, else Windows-1252; exact for French text,
    where a Windows-1252 line is practically never valid UTF-8) and one
    warning naming the lines in the minority encoding (file line, column
    of their first accented character); None when the file is in one
    encoding. Raises ``UnicodeDecodeError`` for a line undefined in both."""
    if _UTF8_MULTIBYTE.search(data) is None:
        return None
    parts = data.split(b"\n")
    utf8_lines, cp_lines, texts = [], [], []
    for i, raw in enumerate(parts, start=1):
        try:
            texts.append(raw.decode("utf-8"))
            if not raw.isascii():
                utf8_lines.append(i)
        except UnicodeDecodeError:
            texts.append(raw.decode("cp1252"))
            cp_lines.append(i)
    if not utf8_lines or not cp_lines:
        return None
    odd, odd_enc, main_enc = (cp_lines, "Windows-1252", "UTF-8") if len(cp_lines) <= len(utf8_lines) else (utf8_lines, "UTF-8", "Windows-1252")
    first = odd[0]
    raw = parts[first - 1]
    offset = sum(len(p) + 1 for p in parts[:first - 1]) + next(j for j, b in enumerate(raw) if b >= 0x80)
    sep = sep_hint or sniff_separator(texts[0] if texts else "")
    _, col = _line_and_column(data, offset, sep)
    which = (f"cette ligne est en {odd_enc} (accent dans la colonne n° {col})" if len(odd) == 1 else
             f"{_lines_text(odd)} du fichier sont en {odd_enc} (premier accent de la ligne {first} dans la colonne n° {col})")
    problem = Problem(
        "", f"Le fichier mélange deux encodages : {which}, le reste du fichier en {main_enc}. "
        f"Chaque ligne a été lue dans son propre encodage ; vérifiez les accents de {'cette ligne' if len(odd) == 1 else 'ces lignes'}.",
        "Ouvrez le fichier dans votre tableur et enregistrez-le à nouveau en « CSV UTF-8 (délimité par des points-virgules) » : "
        "l'avertissement disparaîtra.", ligne=first, gravite="avertissement")
    return "\n".join(texts), [problem]


def _read_csv_bytes(data: bytes, fichier: str, limits: dict | None = None, progress=None) -> ReadResult:
    nul = nul_byte_problem(data, fichier)
    if nul is not None:
        return ReadResult(None, {}, [nul])
    lim = _limits(limits)
    try:
        encoding = _detect_encoding(data)
    except UnicodeDecodeError:
        return ReadResult(None, {}, [Problem(
            fichier, "Le fichier n'est pas un texte lisible (ni UTF-8 ni Windows-1252) : ce n'est sans doute pas un CSV.",
            "Ouvrez le tableau dans votre tableur et enregistrez-le en « CSV (séparateur : point-virgule) » ou en .xlsx.")])
    head = data[:65536].decode(encoding if encoding != "utf-8-sig" else "utf-8", errors="ignore")
    if encoding == "utf-8-sig":
        head = head.lstrip("\ufeff")
    if looks_binary(data, head):
        return ReadResult(None, {}, [Problem(
            fichier, "Le fichier contient des données binaires : ce n'est pas un CSV.",
            "Ouvrez le tableau dans votre tableur et enregistrez-le en « CSV (séparateur : point-virgule) » ou en .xlsx.")])
    sep = sniff_separator(head)
    mixed_warnings: list[Problem] = []
    stream = None
    bom = encoding == "utf-8-sig"
    if encoding == "cp1252" or (bom and not _valid_utf8(data[3:])):
        try:
            mixed = mixed_encoding(data[3:] if bom else data, sep)
        except UnicodeDecodeError:
            mixed = None  # left to the reader's own error below
        if mixed is not None:
            text, found = mixed
            mixed_warnings = [dataclasses.replace(p, fichier=fichier) for p in found]
            encoding = "utf-8+cp1252"
            stream = io.StringIO(text, newline="")
    if stream is None:
        stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    stats: dict = {}
    try:
        res = _frame_from_rows(_csv_records(stream, sep, fichier, stats), fichier, max_rows=lim["lignes_max"],
                               block=int(lim["csv_bloc_lignes"]), progress=progress, text=True)
    except LimitExceeded as exc:
        return ReadResult(None, {}, [exc.problem])
    except csv.Error as exc:
        return ReadResult(None, {}, [Problem(
            fichier, f"Le fichier CSV est mal formé ({exc}).",
            "Vérifiez les guillemets dans le fichier, ou enregistrez-le à nouveau depuis votre tableur.")])
    res.info.update({"format": "csv", "encoding": encoding, "separator": sep, "physical_lines": stats.get("lines")})
    res.problems = mixed_warnings + res.problems
    return res


def _valid_utf8(data: bytes) -> bool:
    """Strict UTF-8, checked 1 MB at a time (no decoded copy kept)."""
    import codecs

    dec = codecs.getincrementaldecoder("utf-8")("strict")
    step = 1 << 20
    try:
        for k in range(0, len(data), step):
            dec.decode(data[k:k + step], final=k + step >= len(data))
        return True
    except UnicodeDecodeError:
        return False


def _detect_encoding(data: bytes) -> str:
    """The encoding :func:`decode_text` would pick, without keeping a decoded
    copy of the whole file: BOM, else strict UTF-8 (checked by an incremental
    decoder, 1 MB at a time), else Windows-1252 (raises ``UnicodeDecodeError``
    when a byte is undefined there, such as 0x81)."""
    import codecs

    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    dec = codecs.getincrementaldecoder("utf-8")("strict")
    step = 1 << 20
    try:
        for k in range(0, len(data), step):
            dec.decode(data[k:k + step], final=k + step >= len(data))
        return "utf-8"
    except UnicodeDecodeError:
        dec = codecs.getincrementaldecoder("cp1252")("strict")
        for k in range(0, len(data), step):
            dec.decode(data[k:k + step], final=k + step >= len(data))
        return "cp1252"


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip(_SPACES + "\t\r\n")
    return value


def xlsx_size_problem(data: bytes, fichier: str, limits: dict) -> Problem | None:
    """Check an XLSX (a zip) before parsing it, from its central directory
    only: the declared uncompressed size of all parts at most
    ``xlsx_decompresse_max_mo`` MB and at most ``xlsx_taux_max`` times the
    file size (a "zip bomb" inflates a few kB into gigabytes). None when fine;
    an unreadable zip is left to the parser's own French error."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = sum(max(0, i.file_size) for i in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        return None
    max_bytes = float(limits["xlsx_decompresse_max_mo"]) * 1e6
    ratio = total / max(1, len(data))
    if total > max_bytes or ratio > float(limits["xlsx_taux_max"]):
        return Problem(
            fichier, f"Le classeur Excel se décompresse en {total / 1e6:.0f} Mo pour un fichier de {len(data) / 1e6:.1f} Mo "
            f"(limites : {limits['xlsx_decompresse_max_mo']} Mo, {limits['xlsx_taux_max']} fois la taille du fichier) : il n'est pas lu.".replace(".", ","),
            "Ouvrez-le dans votre tableur, gardez seulement le tableau du modèle et enregistrez-le à nouveau en .xlsx (ou en CSV).")
    return None


def _read_xlsx_bytes(data: bytes, fichier: str, table: str | None, table_label: str | None, limits: dict | None = None, progress=None) -> ReadResult:
    import warnings

    import openpyxl

    unreadable = Problem(
        fichier, "Le classeur Excel est illisible (fichier abîmé, protégé par mot de passe ou d'un autre format).",
        "Ouvrez-le dans votre tableur, retirez la protection éventuelle et enregistrez-le à nouveau en .xlsx (ou en CSV).")
    lim = _limits(limits)
    bomb = xlsx_size_problem(data, fichier, lim)
    if bomb is not None:
        return ReadResult(None, {}, [bomb])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any failure of a corrupt zip/xml is one French error
        return ReadResult(None, {}, [unreadable])
    try:
        names = wb.sheetnames
        wanted = {normalize_name(x) for x in (table, table_label) if x}
        sheet_name = next((n for n in names if normalize_name(n) in wanted), names[0] if names else None)
        if sheet_name is None:
            return ReadResult(None, {}, [Problem(fichier, "Le classeur ne contient aucune feuille.", "Mettez le tableau dans la première feuille du classeur.")])
        ws = wb[sheet_name]
        rows = ((i, [_xlsx_cell(v) for v in row]) for i, row in enumerate(ws.iter_rows(values_only=True), start=1))
        res = _frame_from_rows(rows, fichier, max_rows=lim["lignes_max"], block=int(lim["csv_bloc_lignes"]), progress=progress)
    except LimitExceeded as exc:
        return ReadResult(None, {}, [exc.problem])
    except Exception:  # noqa: BLE001
        return ReadResult(None, {}, [unreadable])
    finally:
        wb.close()
    res.info.update({"format": "xlsx", "sheet": sheet_name})
    return res


def read_table_bytes(data: bytes, fichier: str, table: str | None = None, table_label: str | None = None,
                     limits: dict | None = None, progress: Callable[[int], None] | None = None) -> ReadResult:
    """Read one table file's bytes (see module docstring). Never raises on bad
    input: an unreadable file gives ``frame=None`` and one French error.
    ``limits`` (default: the codebook's ``limites``) bound the file size, the
    rows and an XLSX's decompressed size; ``progress(rows)`` is called after
    each block of rows read."""
    info_base = {"sha256": sha256_bytes(data), "bytes": len(data)}
    lim = _limits(limits)
    try:
        if len(data) > float(lim["taille_max_mo"]) * 1e6:
            res = ReadResult(None, {}, [_too_big(fichier, len(data), lim)])
        elif not data.strip():
            res = ReadResult(None, {}, [Problem(fichier, "Le fichier est vide.", "Enregistrez le tableau avec sa ligne d'en-tête et au moins une ligne de données.")])
        elif data.startswith(XLSX_MAGIC):
            res = _read_xlsx_bytes(data, fichier, table, table_label, lim, progress)
        elif data.startswith(OLE_MAGIC):
            res = ReadResult(None, {}, [Problem(
                fichier, "Ce classeur est au format Excel 97-2003 (.xls) ou protégé par mot de passe : il ne peut pas être lu.",
                "Retirez la protection éventuelle et enregistrez-le en « Classeur Excel (.xlsx) » ou en CSV.")])
        elif fichier.lower().endswith((".xlsx", ".xlsm")) and looks_binary(data):
            res = ReadResult(None, {}, [Problem(
                fichier, "Le classeur Excel est illisible (fichier abîmé, protégé par mot de passe ou d'un autre format).",
                "Ouvrez-le dans votre tableur, retirez la protection éventuelle et enregistrez-le à nouveau en .xlsx (ou en CSV).")])
        else:
            res = _read_csv_bytes(data, fichier, lim, progress)
    except Exception as exc:  # noqa: BLE001 - last resort: never a traceback for the user
        res = ReadResult(None, {}, [Problem(fichier, f"Le fichier n'a pas pu être lu ({type(exc).__name__}).",
                                            "Enregistrez-le à nouveau depuis votre tableur, en .xlsx ou en CSV.")])
    res.info = {**info_base, **res.info}
    if res.frame is not None:
        res.info["rows"] = int(len(res.frame))
    return res


def _too_big(fichier: str, size: int, lim: dict) -> Problem:
    return Problem(fichier, f"Le fichier pèse {size / 1e6:.0f} Mo, au-delà de la limite de {lim['taille_max_mo']} Mo : il n'est pas lu.",
                   "Vérifiez qu'il s'agit du bon fichier ; gardez seulement le tableau du modèle, ou demandez à l'équipe du projet "
                   "de relever la limite (methodology/codebook.yml, limites).")


def read_table_file(path: Path | str, table: str | None = None, table_label: str | None = None,
                    limits: dict | None = None, progress: Callable[[int], None] | None = None) -> ReadResult:
    """Read one table file from disk (see :func:`read_table_bytes`); a file
    over the size limit is refused before it is read."""
    path = Path(path)
    lim = _limits(limits)
    try:
        size = path.stat().st_size
        if size > float(lim["taille_max_mo"]) * 1e6:
            return ReadResult(None, {"bytes": size}, [_too_big(path.name, size, lim)])
        data = path.read_bytes()
    except OSError as exc:
        return ReadResult(None, {}, [Problem(path.name, f"Le fichier ne peut pas être ouvert ({exc.strerror}).",
                                             "Vérifiez qu'il n'est pas ouvert dans un autre logiciel et que vous avez le droit de le lire.")])
    return read_table_bytes(data, path.name, table, table_label, lim, progress)
