"""One problem found in a CAE's data, as the person who feeds the data sees it.

Every reader, validator and adapter reports through this type so that the
console summary, ``validation.html`` and ``validation.csv`` stay uniform
(PROTOCOL §2, "Bad input"): file, spreadsheet line (header = line 1), column
as the user wrote it, value, what is wrong and how to fix it, in French.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Severity = Literal["erreur", "avertissement"]


@dataclass(frozen=True)
class Problem:
    fichier: str
    message: str
    correction: str = ""
    ligne: int | None = None
    colonne: str | None = None
    valeur: str | None = None
    gravite: Severity = "erreur"

    @property
    def is_error(self) -> bool:
        return self.gravite == "erreur"

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:  # one French line for the console
        where = self.fichier
        if self.ligne is not None:
            where += f", ligne {self.ligne}"
        if self.colonne:  # in cae.yml the "column" is a YAML key
            kind = "clé" if self.fichier.lower().endswith((".yml", ".yaml")) else "colonne"
            where += f", {kind} « {self.colonne} »"
        value = f" (valeur : « {self.valeur} »)" if self.valeur not in (None, "") else ""
        fix = f" → {self.correction}" if self.correction else ""
        return f"[{self.gravite}] {where} : {self.message}{value}{fix}"


@dataclass
class ProblemList:
    """Problems collected over a CAE's files; errors stop the CAE, warnings do not."""

    items: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        self.items.append(problem)

    def extend(self, problems) -> None:
        self.items.extend(problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if not p.is_error]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)
