"""An attacker's view of a run: what can be recovered from the published outputs.

Written independently of the suppression code (nothing from
``analysis.publication`` is imported): the attacker reads only what a run
publishes — the result CSVs under ``<processed>/<cae>/``, the HTML and the
Quarto/Markdown sources under ``<out>/`` — and the public method
(``methodology/publication.yml`` for the threshold, ``methodology/sroi.yml``
for the discount rate). Each attack returns findings ``(where, how, count)``
for every count from 1 to threshold − 1 it recovers:

* ``direct``: a count column, or an SROI person quantity, shows a small count;
  a hidden count given back by a shown share × its base;
* ``partition``: a base minus the shown counts of its categories (one hidden
  category, or hidden categories all flagged small whose sum pins them, or a
  small remainder); the population margins against the published headcount;
* ``complement``: base − count of a two-category share;
* ``national``: the national count minus the CAEs' shown counts;
* ``test sizes``: two published sizes of tests (or of a test and its score's
  table) on the same respondents; group sizes in the test labels;
* ``sroi``: a value divided by the published proxy, coefficients and
  discounting; a total or a stakeholder subtotal minus the shown outcomes,
  divided the same way (integer search when several outcomes are hidden);
  a tornado row of a proxy used by one hidden outcome;
* ``sentence``: a small count written next to a word for people in the HTML
  or the Quarto/Markdown sources.
"""

from __future__ import annotations

import html as _html
import itertools
import math
import re
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
COUNT_COLUMN = re.compile(r"^(n|n_.*|denominator|total_resp|share_n|n_complete|n_resp|n_pop)$")
PEOPLE_WORDS = (r"personnes?|répondants?|répondantes?|entrepreneurs?|entrepreneures?|événements?|sorties?|hommes?|"
                r"femmes?|bénéficiaires?|salariés?|associés?|réponses?")


def threshold() -> int:
    return int(yaml.safe_load((ROOT / "methodology" / "publication.yml").read_text("utf-8"))["seuil_effectif"])


def read_csv(path: Path) -> pd.DataFrame:
    """A published CSV with its columns under their machine names: the CSV
    shows French headers, and the stage registry says which column each is
    (an attacker reads the published data dictionary the same way)."""
    from analysis.pipeline.registry import table
    from analysis.pipeline.results import header_fr

    df = pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig")
    try:
        names = {header_fr(c): c for c in table(path.stem).columns}
    except KeyError:
        return df
    return df.rename(columns=names)


def published_tables(processed: Path) -> dict[str, dict[str, pd.DataFrame]]:
    """{cae dir name: {table stem: DataFrame}} of every published CSV."""
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for p in sorted(Path(processed).glob("*/*.csv")):
        out.setdefault(p.parent.name, {})[p.stem] = read_csv(p)
    return out


class Attack:
    def __init__(self, processed: Path, out: Path | None = None):
        self.se = threshold()
        self.tables = published_tables(processed)
        self.out = Path(out) if out else None
        self.findings: list[tuple[str, str, int]] = []

    # ------------------------------------------------------------- helpers
    def small(self, v, tol: float = 1e-6) -> bool:
        if v is None or (isinstance(v, float) and math.isnan(v)) or pd.isna(v):
            return False
        r = round(float(v))
        return abs(float(v) - r) < tol * max(1.0, abs(float(v))) and 1 <= r < self.se

    def found(self, where: str, how: str, v) -> None:
        self.findings.append((where, how, int(round(float(v)))))

    def check(self, where: str, how: str, v, tol: float = 1e-6) -> None:
        if self.small(v, tol):
            self.found(where, how, v)

    @staticmethod
    def num(x) -> float:
        v = pd.to_numeric(pd.Series([x]), errors="coerce").iloc[0]
        return float(v) if not pd.isna(v) else math.nan

    def run(self) -> list[tuple[str, str, int]]:
        for cae, tabs in self.tables.items():
            self.direct(cae, tabs)
            self.partitions(cae, tabs)
            self.test_sizes(cae, tabs)
            self.sroi(cae, tabs)
            self.missing(cae, tabs)
        self.national()
        if self.out is not None:
            self.sentences()
        return self.findings

    # ------------------------------------------------------------- direct
    def direct(self, cae: str, tabs: dict[str, pd.DataFrame]) -> None:
        for name, t in tabs.items():
            for c in t.columns:
                if COUNT_COLUMN.match(str(c)):
                    for i, v in enumerate(pd.to_numeric(t[c], errors="coerce")):
                        self.check(f"{cae}/{name}[{i}].{c}", "direct", v)
        ind = tabs.get("indicateurs")
        if ind is not None and "denominator" in ind.columns:
            for i, r in ind.iterrows():  # a hidden count given back by a shown share × its base
                if pd.isna(r["n"]) and r.get("unit") == "part" and not pd.isna(r["value"]) and not pd.isna(r["denominator"]):
                    self.check(f"{cae}/indicateurs[{i}]", "share × base", r["value"] * r["denominator"], 1e-3)

    # ------------------------------------------------------------- partitions and complements
    def _line(self, where: str, total: float, shown: list[float], hidden_flags: list[str]) -> None:
        if math.isnan(total) or not hidden_flags:
            return
        rest = total - sum(shown)
        k = len(hidden_flags)
        if k == 1:
            self.check(where, "partition: total − shown", rest)
            return
        if self.small(rest):
            self.check(where, "partition: hidden categories sum to a small count", rest)
        elif all(f == "effectif" for f in hidden_flags) and (abs(rest - k * (self.se - 1)) < 1e-6 or abs(rest - k) < 1e-6):
            self.found(where, "partition: hidden small cells pinned by their sum", rest / k)

    def partitions(self, cae: str, tabs: dict[str, pd.DataFrame]) -> None:
        ind = tabs.get("indicateurs")
        if ind is not None and "partition" in ind.columns:
            for key, g in ind[ind["partition"].notna()].groupby("partition"):
                den = pd.to_numeric(g["denominator"], errors="coerce").dropna()
                if den.empty:
                    continue
                n = pd.to_numeric(g["n"], errors="coerce")
                self._line(f"{cae}/indicateurs partition {key}", float(den.iloc[0]), list(n.dropna()),
                           [str(f) for f in g.loc[n.isna(), "suppression"].fillna("")])
            alone = ind[ind["partition"].isna() & (ind["unit"] == "part")]
            for i, r in alone.iterrows():  # two-category share: the others
                n, d = self.num(r["n"]), self.num(r["denominator"])
                if not math.isnan(n) and not math.isnan(d):
                    self.check(f"{cae}/indicateurs[{i}] {r['indicator']}", "complement: base − count", d - n)
        rep = tabs.get("representativite")
        if rep is not None:
            head = self.headcount(tabs)
            for var, g in rep.groupby("variable"):
                n = pd.to_numeric(g["n_resp"], errors="coerce")
                tot = pd.to_numeric(g["total_resp"], errors="coerce").dropna()
                if len(tot):
                    self._line(f"{cae}/representativite {var} répondants", float(tot.iloc[0]), list(n.dropna()),
                               [str(f) for f in g.loc[n.isna(), "suppression"].fillna("")])
                for i, r in g.iterrows():
                    if pd.isna(r["n_resp"]) and not pd.isna(r["share_resp"]) and len(tot):
                        self.check(f"{cae}/representativite[{i}]", "share × base", r["share_resp"] * float(tot.iloc[0]), 1e-3)
                p = pd.to_numeric(g["n_pop"], errors="coerce")
                if not math.isnan(head):
                    self._line(f"{cae}/representativite {var} population vs headcount", head, list(p.dropna()),
                               ["" for _ in range(int(p.isna().sum()))])
                    for i, r in g.iterrows():
                        if pd.isna(r["n_pop"]) and not pd.isna(r["share_pop"]):
                            self.check(f"{cae}/representativite[{i}]", "share × headcount", r["share_pop"] * head, 1e-3)
        dims = tabs.get("qvt_dimensions")
        if dims is not None:
            for i, r in dims.iterrows():
                n, x = self.num(r["n"]), self.num(r["share_n"])
                if not math.isnan(n) and not math.isnan(x):
                    self.check(f"{cae}/qvt_dimensions[{i}]", "complement: n − agree", n - x)
                if not math.isnan(n) and math.isnan(x) and not pd.isna(r["share_agree"]):
                    self.check(f"{cae}/qvt_dimensions[{i}]", "share × n", r["share_agree"] * n, 1e-3)

        who5 = tabs.get("qvt_who5")
        if who5 is not None:
            for i, r in who5.iterrows():
                n = self.num(r["n"])
                for c in [c for c in who5.columns if str(c).startswith("n_le_")]:
                    x = self.num(r[c])
                    if not math.isnan(n) and not math.isnan(x):
                        self.check(f"{cae}/qvt_who5[{i}].{c}", "complement: n − below threshold", n - x)

    # ------------------------------------------------------------- the cleaning report's missing values
    def rows_written(self, tabs: dict[str, pd.DataFrame]) -> dict[str, float]:
        """{table: rows written} from the cleaning report, its French table
        labels read against the public codebook."""
        lignes = tabs.get("nettoyage_lignes")
        if lignes is None:
            return {}
        cb = yaml.safe_load((ROOT / "methodology" / "codebook.yml").read_text("utf-8"))
        label = {v.get("label", t): t for t, v in cb["tables"].items()}
        return {label.get(str(r["Table"]), str(r["Table"])): self.num(r["Lignes écrites"]) for _, r in lignes.iterrows()}

    def missing(self, cae: str, tabs: dict[str, pd.DataFrame]) -> None:
        """A column's missing share × its table's rows gives the people
        without that value (and the rest, those with it: the exits behind a
        leaving date); against the population margins, the headcount minus a
        variable's missing values is the total its categories sum to."""
        miss = tabs.get("nettoyage_manquants")
        if miss is None:
            return
        rows = self.rows_written(tabs)
        by_col: dict[tuple[str, str], float] = {}
        for i, r in miss.iterrows():
            n, share = rows.get(str(r["table"]), math.nan), self.num(r["part_manquante"])
            if math.isnan(n) or math.isnan(share):
                continue
            if n * 5e-4 >= 0.5:  # a share printed with 3 decimals pins the count below 1,000 rows
                continue
            m = round(share * n)
            by_col[(str(r["table"]), str(r["colonne"]))] = m
            self.check(f"{cae}/nettoyage_manquants[{i}] {r['colonne']}", "share × rows: missing", m)
            self.check(f"{cae}/nettoyage_manquants[{i}] {r['colonne']}", "share × rows: given", n - m)
        rep, head = tabs.get("representativite"), self.headcount(tabs)
        if rep is None or math.isnan(head):
            return
        for var, g in rep.groupby("variable"):
            m = by_col.get(("entrepreneurs", str(var)))
            p = pd.to_numeric(g["n_pop"], errors="coerce")
            if m and p.isna().any():
                self._line(f"{cae}/representativite {var} population vs headcount − missing", head - m, list(p.dropna()),
                           ["" for _ in range(int(p.isna().sum()))])

    def headcount(self, tabs: dict[str, pd.DataFrame]) -> float:
        lignes = tabs.get("nettoyage_lignes")
        if lignes is None:
            return math.nan
        row = lignes[lignes["Table"].astype(str).str.startswith("Entrepreneurs")]
        return float(row["Lignes écrites"].iloc[0]) if len(row) else math.nan

    # ------------------------------------------------------------- national minus the CAEs
    def national(self) -> None:
        nat = self.tables.get("_national", {}).get("indicateurs")
        if nat is None:
            return
        keys = ["family", "indicator", "breakdown"]
        per = {c: t["indicateurs"] for c, t in self.tables.items() if c != "_national" and "indicateurs" in t}

        def keyed(df):
            return df.assign(_k=df[keys].astype("string").fillna("").agg("|".join, axis=1)).set_index("_k")

        natk = keyed(nat)
        perk = {c: keyed(t) for c, t in per.items()}
        for col in ("n", "denominator"):
            additive = {}
            for k, r in natk.iterrows():  # is this statistic additive? judge on keys where every CAE is shown
                vals = [self.num(p.loc[k, col]) if k in p.index else 0.0 for p in perk.values()]
                if not any(math.isnan(v) for v in vals) and not math.isnan(self.num(r[col])):
                    additive.setdefault(r["indicator"], []).append(abs(sum(vals) - self.num(r[col])) < 1e-6)
            for k, r in natk.iterrows():
                total = self.num(r[col])
                if math.isnan(total) or not all(additive.get(r["indicator"], [True])):
                    continue
                vals = [self.num(p.loc[k, col]) if k in p.index else 0.0 for p in perk.values()]
                hidden = [v for v in vals if math.isnan(v)]
                shown = [v for v in vals if not math.isnan(v)]
                if len(hidden) == 1:
                    self.check(f"_national/indicateurs {k}.{col}", "national − other CAEs", total - sum(shown))
                elif len(hidden) > 1 and self.small(total - sum(shown)):
                    self.check(f"_national/indicateurs {k}.{col}", "national − other CAEs (sum of hidden)", total - sum(shown))
        natq = self.tables.get("_national", {}).get("qvt_dimensions")
        if natq is not None:
            for i, r in natq.iterrows():
                for col in ("n", "share_n"):
                    vals = []
                    for c, t in self.tables.items():
                        q = t.get("qvt_dimensions")
                        if c == "_national" or q is None or q.empty:
                            continue
                        m = q[q["dimension"] == r["dimension"]]
                        vals.append(self.num(m[col].iloc[0]) if len(m) else 0.0)
                    hidden = [v for v in vals if math.isnan(v)]
                    if len(hidden) == 1 and not math.isnan(self.num(r[col])):
                        self.check(f"_national/qvt_dimensions {r['dimension']}.{col}", "national − other CAEs",
                                   self.num(r[col]) - sum(v for v in vals if not math.isnan(v)))

    # ------------------------------------------------------------- test sizes on the same respondents
    def test_sizes(self, cae: str, tabs: dict[str, pd.DataFrame]) -> None:
        comp = tabs.get("qvt_comparisons")
        if comp is None or comp.empty:
            return
        dims = tabs.get("qvt_dimensions")
        who5 = tabs.get("qvt_who5")
        for dim, g in comp.groupby("dimension"):
            sizes = [self.num(v) for v in g["n"]]
            if dims is not None and dim in set(dims["dimension"]):
                sizes.append(self.num(dims.loc[dims["dimension"] == dim, "n"].iloc[0]))
            if dim == "who5" and who5 is not None and len(who5):
                sizes.append(self.num(who5["n"].iloc[0]))
            sizes = [s for s in sizes if not math.isnan(s)]
            for a, b in itertools.combinations(sizes, 2):
                self.check(f"{cae}/qvt_comparisons {dim}", "difference of test sizes", abs(a - b))
            for i, r in g.iterrows():
                groups = [int(x) for x in re.findall(r"\(n = (\d+)\)", str(r.get("groups", "")))]
                for x in groups:
                    self.check(f"{cae}/qvt_comparisons[{i}]", "group size", x)
                for s in sizes:
                    if groups:
                        self.check(f"{cae}/qvt_comparisons[{i}]", "score n − tested groups", s - sum(groups))

    # ------------------------------------------------------------- SROI: value ÷ published constants
    def _unit_values(self, vm: pd.DataFrame) -> pd.Series:
        spec = yaml.safe_load((ROOT / "methodology" / "sroi.yml").read_text("utf-8"))["parametres"]
        r, first = float(spec["taux_actualisation"]), bool(spec["actualiser_annee_1"])
        out = []
        for _, x in vm.iterrows():
            imp = x["proxy_valeur"] * (1 - x["poids_mort"]) * (1 - x["attribution"]) * (1 - x["deplacement"])
            ann = sum((1 - x["erosion"]) ** t / (1 + r) ** (t + 1 if first else t) for t in range(int(x["duree"])))
            out.append(imp * ann)
        return pd.Series(out, index=vm.index)

    def _solve(self, where: str, rest: float, units: list[float]) -> None:
        if abs(rest) < 0.5 or not units:
            return
        if len(units) == 1:
            self.check(where, "SROI: (total − shown) ÷ constants", rest / units[0], 1e-4)
            return
        if len(units) > 3:
            return
        sols = [c for c in itertools.product(range(0, 60), repeat=len(units))
                if abs(sum(a * u for a, u in zip(c, units)) - rest) < 0.5]
        if len(sols) == 1:
            for a in sols[0]:
                if 1 <= a < self.se:
                    self.found(where, "SROI: integer search on hidden outcomes", a)

    def sroi(self, cae: str, tabs: dict[str, pd.DataFrame]) -> None:
        vm, res = tabs.get("sroi_carte_valeur"), tabs.get("sroi_resume")
        if vm is None or vm.empty or res is None:
            return
        unit = self._unit_values(vm)
        people = vm["unite_quantite"] == "personnes"
        pv = pd.to_numeric(vm["valeur_actuelle"], errors="coerce")
        for i in vm.index[people]:
            self.check(f"{cae}/sroi_carte_valeur[{i}] {vm.loc[i, 'id']}", "SROI: quantity", round(self.num(vm.loc[i, "quantite"])) if not math.isnan(self.num(vm.loc[i, "quantite"])) else math.nan)
            if not math.isnan(pv[i]) and unit[i] > 0:
                self.check(f"{cae}/sroi_carte_valeur[{i}] {vm.loc[i, 'id']}", "SROI: value ÷ constants", round(pv[i] / unit[i], 6), 1e-4)
        hidden = list(vm.index[pv.isna() & people])
        total = float(res["valeur_actuelle"].iloc[0])
        self._solve(f"{cae}/sroi total", total - pv.sum(skipna=True), [unit[i] for i in hidden])
        st = tabs.get("sroi_parties_prenantes")
        if st is not None:
            for _, s in st.iterrows():
                sel = vm["code_partie_prenante"] == s["code"]
                h = [i for i in hidden if sel[i]]
                self._solve(f"{cae}/sroi partie prenante {s['code']}", float(s["valeur_actuelle"]) - pv[sel].sum(skipna=True),
                            [unit[i] for i in h])
        tor = tabs.get("sroi_tornado")
        if tor is not None and len(res):
            inputs = float(res["intrants"].iloc[0])
            for _, t in tor[tor["type"] == "Proxy financier"].iterrows():
                rows = vm.index[vm["proxy"] == t["libelle"]]
                if len(rows) == 1 and rows[0] in hidden and t["max"] != t["min"]:
                    i = rows[0]
                    pv_i = (t["ratio_max"] - t["ratio_min"]) * inputs / ((t["max"] - t["min"]) / t["valeur"])
                    self.check(f"{cae}/sroi_tornado {t['cle']}", "SROI: tornado ÷ constants", round(pv_i / unit[i], 6), 1e-4)

    # ------------------------------------------------------------- sentences
    def sentences(self) -> None:
        pat = re.compile(r"(?<![\d,.\u202f\u00a0\w−-])([1-9]\d*)[\u00a0\u202f ]+(?:" + PEOPLE_WORDS + r")\b")
        for p in sorted(self.out.rglob("*")):
            if p.suffix not in (".html", ".qmd", ".md") or not p.is_file():
                continue
            text = p.read_text("utf-8", errors="replace")
            if p.suffix == ".html":
                text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
                text = _html.unescape(re.sub(r"<[^>]+>", " ", text))
            for m in pat.finditer(text):
                self.check(f"{p.relative_to(self.out)}: «{text[max(0, m.start() - 40):m.end() + 10].strip()}»",
                           "sentence", int(m.group(1)))
