"""Import-time costs of third-party libraries that this package defers.

``rfc3987_syntax`` (installed through ``jsonschema[format-nongpl]``, which
jupyter-events and nbformat require) compiles about 40 Lark grammars when it
is imported, and ``jsonschema._format`` imports it eagerly to register its
``iri`` / ``iri-reference`` format checkers: 1.5 s in every process that
imports ``nbformat`` or ``papermill`` (the command line, each worker,
``cae-impact report``), measured with ``python -X importtime`` on this
project's lock (jsonschema 4.26.0, rfc3987-syntax 1.1.0). No notebook or
Jupyter schema uses those formats. Upstream:
https://github.com/python-jsonschema/jsonschema/issues/1428.

:func:`defer_rfc3987_syntax` puts a stand-in module in ``sys.modules``
whose ``is_valid_syntax`` imports the real module at its first call, so the
checkers still validate exactly as before when something uses them.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

_NAME = "rfc3987_syntax"


class _Deferred(types.ModuleType):
    """``rfc3987_syntax`` until something uses it; then the real module."""

    def _load(self):
        real = sys.modules.get(_NAME)
        if real is self or real is None:
            sys.modules.pop(_NAME, None)
            try:
                real = importlib.import_module(_NAME)
            except BaseException:
                sys.modules[_NAME] = self
                raise
        return real

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(self._load(), name)


def _is_valid_syntax(term: str, value: str):
    """``rfc3987_syntax.is_valid_syntax``, imported at the first call."""
    mod = sys.modules.get(_NAME)
    if isinstance(mod, _Deferred):
        mod = mod._load()
    elif mod is None:
        mod = importlib.import_module(_NAME)
    return mod.is_valid_syntax(term, value)


def defer_rfc3987_syntax() -> bool:
    """Install the stand-in (see the module docstring) unless the module or
    jsonschema's format checkers are imported already, or the package is
    absent. Returns whether it was installed."""
    if _NAME in sys.modules or "jsonschema._format" in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(_NAME)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    stub = _Deferred(_NAME, __doc__)
    stub.__spec__ = spec
    stub.is_valid_syntax = _is_valid_syntax
    sys.modules[_NAME] = stub
    return True
