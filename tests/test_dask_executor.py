"""The optional Dask executor (``cae-impact run --executeur dask``) gives the
same result tables as the default local process pool."""

from __future__ import annotations

import pytest

pytest.importorskip("dask.distributed")

from tests.backtests.freeze import canonical, result_tables  # noqa: E402

pytestmark = pytest.mark.e2e


def test_dask_localcluster_results_identical_to_the_local_pool(e2e_run, tmp_path):
    from analysis.pipeline import runner

    summary = runner.run(raw_dir=e2e_run["raw"], processed_dir=tmp_path / "processed", out_dir=tmp_path / "out",
                         jobs=2, executor="dask", national=False, export_html=False,
                         progress=runner.Progress(quiet=True))
    assert summary["ok"] and sorted(c["cae"] for c in summary["caes"]) == sorted(e2e_run["slugs"])
    local = {k: v for k, v in result_tables(e2e_run["processed"]).items() if not k.startswith("_national/")}
    dask = result_tables(tmp_path / "processed")
    assert sorted(dask) == sorted(local) and len(local) > 10
    assert [k for k in local if canonical(local[k]) != canonical(dask[k])] == []
