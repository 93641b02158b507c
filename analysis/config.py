"""Project paths, resolved from the package location so that notebooks,
tests and the CLI agree whatever the working directory
(cookiecutter-data-science v2 convention).

Two layouts:

- **checkout** (``methodology/`` beside the package: editable install, tests,
  ``make``): every path is under the checkout, :data:`PROJ_ROOT`.
- **installed from a wheel** (``pip install .``): the read-only resources
  (method files, notebooks, Quarto sources) are the copies shipped in
  ``analysis/_share/``; the writable roots (``data/raw``, ``data/processed``,
  ``outputs``, ``report``) are under the current working directory
  (``CAE_IMPACT_HOME``, set at import for the processes a run starts).

Every root can be overridden by an environment variable (``CAE_IMPACT_RAW``,
``CAE_IMPACT_PROCESSED``, ``CAE_IMPACT_OUT``, ``CAE_IMPACT_REPORT``,
``CAE_IMPACT_METHODOLOGY``) or by the CLI's options, because CAEs and tests
keep data anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
#: The resources a wheel ships (setup.py maps the checkout's folders here).
SHARE_DIR = _PACKAGE / "_share"
#: Running from a source checkout (not from an installed wheel).
IN_CHECKOUT = (_PACKAGE.parent / "methodology").is_dir() and not SHARE_DIR.is_dir()
if not IN_CHECKOUT:
    # the working directory of the first process (the CLI), inherited by its workers and kernels
    os.environ.setdefault("CAE_IMPACT_HOME", str(Path.cwd().resolve()))
#: Where the writable roots live by default: the checkout, or (wheel) ``CAE_IMPACT_HOME``,
#: the working directory of the command that started the run.
PROJ_ROOT = _PACKAGE.parent if IN_CHECKOUT else Path(os.environ["CAE_IMPACT_HOME"]).expanduser().resolve()
_RESOURCES = PROJ_ROOT if IN_CHECKOUT else SHARE_DIR


def _root(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser().resolve() if value else default


RAW_DIR = _root("CAE_IMPACT_RAW", PROJ_ROOT / "data" / "raw")
PROCESSED_DIR = _root("CAE_IMPACT_PROCESSED", PROJ_ROOT / "data" / "processed")
OUT_DIR = _root("CAE_IMPACT_OUT", PROJ_ROOT / "outputs")
NOTEBOOKS_DIR = _RESOURCES / "notebooks"
#: The Quarto project the book is assembled and rendered in (written to).
REPORT_DIR = _root("CAE_IMPACT_REPORT", PROJ_ROOT / "report")
#: The book's sources (``_quarto.base.yml``, ``*.qmd``, ``_typst/``), read-only;
#: the same folder as :data:`REPORT_DIR` in a checkout.
REPORT_SOURCES_DIR = _RESOURCES / "report"
#: Which files of :data:`REPORT_SOURCES_DIR` are sources (glob patterns, the
#: rest is generated); pyproject.toml's package-data ships the same list.
REPORT_SOURCE_PATTERNS = ("_quarto.base.yml", "*.qmd", "*.css", "*.scss", "_typst/**/*")
#: The study profiles (``profiles/<name>/``), read-only, once the folder exists.
PROFILES_DIR = _RESOURCES / "profiles"
TEMPLATES_DIR = Path(__file__).resolve().parent / "intake" / "assets"

#: Where the pseudonymisation key lives unless ``CAE_IMPACT_KEY`` is set:
#: outside the repository, in the user's config directory.
KEY_FILE = Path(
    os.environ.get("CAE_IMPACT_KEY_FILE", Path.home() / ".config" / "cae-impact" / "pseudonym.key")
)



def methodology_dir() -> Path:
    """The methodology folder, read at call time: ``CAE_IMPACT_METHODOLOGY``
    (set by the runner for a run on a copy of the method) or ``methodology/``
    (the checkout's, or the copy shipped in the wheel)."""
    return _root("CAE_IMPACT_METHODOLOGY", _RESOURCES / "methodology")


def __getattr__(name: str):
    # ``config.METHODOLOGY_DIR`` is computed on each access, not frozen at import.
    if name == "METHODOLOGY_DIR":
        return methodology_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: A CAE folder name: lowercase letters, digits and hyphens (PROTOCOL §2).
SLUG_PATTERN = r"^[a-z0-9-]+$"
