"""Backtest: the 7-CAE demo's result tables equal the frozen ones
(``tests/backtests/demo``, made by ``python -m tests.backtests.freeze``).

A restructuring must leave every value and dtype unchanged; a change of
method that moves results regenerates the fixture in a commit that says why.
"""

from __future__ import annotations

import json

import pytest

from tests.backtests.freeze import FIXTURE, canonical, result_tables, run_demo

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_tables(tmp_path_factory, pseudonym_key):
    return result_tables(run_demo(tmp_path_factory.mktemp("backtest")))


def test_the_same_result_tables_are_written(demo_tables):
    frozen = set(json.loads((FIXTURE / "dtypes.json").read_text("utf-8")))
    assert sorted(set(demo_tables) - frozen) == [], "new result tables: refreeze and say why"
    assert sorted(frozen - set(demo_tables)) == [], "result tables no longer written"


def test_every_result_table_is_identical_to_the_frozen_one(demo_tables):
    dtypes = json.loads((FIXTURE / "dtypes.json").read_text("utf-8"))
    changed = []
    for key, df in demo_tables.items():
        if key not in dtypes:
            continue
        text, types = canonical(df)
        if types != dtypes[key] or text != (FIXTURE / f"{key}.csv").read_text("utf-8"):
            changed.append(key)
    assert changed == []
