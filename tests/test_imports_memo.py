"""The import graph behind the code fingerprints is kept between runs
(``<processed>/_cache/imports.json``): a memo keyed on each source file's
SHA-256, so it can only skip parsing a file whose content it has seen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.pipeline import runner

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "notebooks"


@pytest.fixture
def fresh_memo(monkeypatch):
    monkeypatch.setattr(runner, "_IMPORTS_MEMO", {})
    monkeypatch.setattr(runner, "_IMPORTS_USED", set())


MODS = set().union(*(runner.notebook_imports(p) for p in sorted(NB.glob("*.ipynb"))))


def _closure():
    return runner.module_closure(MODS) | runner.module_closure({"analysis.reporting.export"}, lazy=False)


def test_a_saved_memo_gives_the_same_closure_without_parsing(tmp_path, fresh_memo, monkeypatch):
    parsed = _closure()
    memo = tmp_path / "_cache" / "imports.json"
    runner.save_imports_memo(memo)
    assert json.loads(memo.read_text(encoding="utf-8"))["entries"]

    monkeypatch.setattr(runner, "_IMPORTS_MEMO", {})
    runner.load_imports_memo(memo)

    def no_parse(*a, **k):
        raise AssertionError("a file was parsed although the memo knew it")

    monkeypatch.setattr(runner, "_imports_of", no_parse)
    assert _closure() == parsed


def test_an_entry_for_other_content_is_not_used(tmp_path, fresh_memo, monkeypatch):
    _closure()
    memo = tmp_path / "imports.json"
    runner.save_imports_memo(memo)
    data = json.loads(memo.read_text(encoding="utf-8"))
    for e in data["entries"]:  # as if every file had been edited since: the memo's hashes no longer match
        e[0] = "0" * 64
        e[4] = []
    memo.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(runner, "_IMPORTS_MEMO", {})
    runner.load_imports_memo(memo)
    calls = []
    real = runner._imports_of
    monkeypatch.setattr(runner, "_imports_of", lambda *a, **k: calls.append(a) or real(*a, **k))
    closure = _closure()
    assert calls and (ROOT / "analysis" / "qvt" / "models.py") in closure  # parsed again, full graph


@pytest.mark.parametrize("content", ["", "{not json", '{"entries": [["x"]]}', '{"entries": 3}'])
def test_an_unreadable_memo_is_ignored(tmp_path, fresh_memo, content):
    memo = tmp_path / "imports.json"
    memo.write_text(content, encoding="utf-8")
    runner.load_imports_memo(memo)
    runner.load_imports_memo(tmp_path / "absent.json")
    assert _closure()
