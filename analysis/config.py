"""Project paths, resolved from the package location so that notebooks,
tests and the CLI agree whatever the working directory
(cookiecutter-data-science v2 convention).

Every root can be overridden by an environment variable (``CAE_IMPACT_RAW``,
``CAE_IMPACT_PROCESSED``, ``CAE_IMPACT_OUT``, ``CAE_IMPACT_METHODOLOGY``) or
by the CLI's options, because CAEs and tests keep data anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJ_ROOT = Path(__file__).resolve().parents[1]


def _root(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser().resolve() if value else default


RAW_DIR = _root("CAE_IMPACT_RAW", PROJ_ROOT / "data" / "raw")
PROCESSED_DIR = _root("CAE_IMPACT_PROCESSED", PROJ_ROOT / "data" / "processed")
OUT_DIR = _root("CAE_IMPACT_OUT", PROJ_ROOT / "outputs")
NOTEBOOKS_DIR = PROJ_ROOT / "notebooks"
REPORT_DIR = PROJ_ROOT / "report"
TEMPLATES_DIR = Path(__file__).resolve().parent / "intake" / "assets"

#: Where the pseudonymisation key lives unless ``CAE_IMPACT_KEY`` is set:
#: outside the repository, in the user's config directory.
KEY_FILE = Path(
    os.environ.get("CAE_IMPACT_KEY_FILE", Path.home() / ".config" / "cae-impact" / "pseudonym.key")
)



def methodology_dir() -> Path:
    """The methodology folder, read at call time: ``CAE_IMPACT_METHODOLOGY``
    (set by the runner for a run on a copy of the method) or ``methodology/``."""
    return _root("CAE_IMPACT_METHODOLOGY", PROJ_ROOT / "methodology")


def __getattr__(name: str):
    # ``config.METHODOLOGY_DIR`` is computed on each access, not frozen at import.
    if name == "METHODOLOGY_DIR":
        return methodology_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: A CAE folder name: lowercase letters, digits and hyphens (PROTOCOL §2).
SLUG_PATTERN = r"^[a-z0-9-]+$"
