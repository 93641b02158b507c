"""Deferred third-party imports (``analysis._imports``): the command line and
the workers do not pay rfc3987_syntax's grammar compilation, and jsonschema's
IRI format checkers still validate as RFC 3987 says."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("rfc3987_syntax")


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_importing_nbformat_after_analysis_compiles_no_grammar():
    out = _run("import analysis, nbformat, papermill, sys; print('lark' in sys.modules)")
    assert out == "False"
    # without the package first, jsonschema imports it (and lark) eagerly: the test can tell the difference
    assert _run("import nbformat, sys; print('lark' in sys.modules)") == "True"


def test_iri_checkers_still_validate():
    # RFC 3987 §2.2: a space is not allowed in an IRI; non-ASCII letters are (ucschar); "%%" is not a pct-encoded
    code = ("import analysis, jsonschema; c = jsonschema.FormatChecker(); "
            "print(c.conforms('http://a.b/c d', 'iri'), c.conforms('http://exa.mple/é', 'iri'), "
            "c.conforms('%%', 'iri-reference'), c.conforms('../x', 'iri-reference'))")
    assert _run(code) == "False True False True"
