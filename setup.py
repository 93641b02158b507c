"""Package list for setuptools (the rest of the metadata is in pyproject.toml).

Besides the ``analysis*`` packages, the wheel ships the read-only resources
of a run, mapped from the checkout's folders into data-only subpackages of
``analysis._share`` (their files are listed by ``package-data`` in
pyproject.toml): the method files, the notebooks and the Quarto sources.
``analysis.config`` reads them there when the package is not run from a
checkout. A mapping cannot be expressed next to ``packages.find`` in
pyproject.toml, hence this file.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
#: checkout folder -> subpackage of the wheel (profiles/ only once it exists)
SHARED = {name: f"analysis._share.{name}" for name in ("methodology", "notebooks", "report", "profiles") if (HERE / name).is_dir()}

setup(
    packages=find_packages(include=["analysis", "analysis.*"]) + list(SHARED.values()),
    package_dir={package: folder for folder, package in SHARED.items()},
)
