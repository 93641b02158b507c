"""The national step's cache (analysis.pipeline.cache): identical results,
and only what changed is recomputed."""

from __future__ import annotations

import dataclasses
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from analysis.indicators import compute as indicators
from analysis.intake import demo, processed
from analysis.intake import process as intake
from analysis.pipeline.cache import NationalCache, data_fingerprint
from analysis.qvt import compute as qvt
from analysis.sroi import valuation as sroi


def deep_equal(a, b, path="r"):
    """Exact equality of results: frames with their dtypes, dataclasses field by field, NaN == NaN."""
    if isinstance(a, (pd.DataFrame, pd.Series)):
        assert type(a) is type(b) and a.equals(b), path
        if isinstance(a, pd.DataFrame):
            assert list(a.dtypes) == list(b.dtypes), path
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            deep_equal(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            deep_equal(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            deep_equal(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), path
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), path
    else:
        assert a == b, (path, a, b)


@pytest.fixture(scope="module")
def datas(tmp_path_factory, pseudonym_key):
    root = tmp_path_factory.mktemp("cache")
    slugs = demo.generate(root / "raw", n_cae=3, seed=2019, scale=0.5)
    for s in slugs:
        assert intake.process_cae(s, root / "raw", root / "processed", root / "out").ok
    return [processed.load_cae(s, root / "processed") for s in slugs]


def national(datas, memo=None):
    spec = indicators.load_spec()
    call = memo.call if memo else (lambda f, *a, **k: f(*a, **k))
    return (call(indicators.compute_national, datas, spec), call(sroi.evaluate_national, datas),
            call(qvt.summarise_national, datas, anonymise=None))


def test_cached_results_are_identical_and_only_the_changed_cae_is_recomputed(datas, tmp_path):
    direct = national(datas)
    cold = NationalCache(tmp_path)
    deep_equal(national(datas, cold), direct)
    # each CAE's contribution to each of the three syntheses is computed once
    cae_of = {slot.split("|")[1] for level, slot in cold.recomputed if level == "cae"}
    assert cae_of == {d.slug for d in datas}
    # cold: the only hits are each surveyed CAE's scores, reused by its rows of the matrix
    assert cold.stats["national"] == [0, 3] and cold.stats["cae"][0] == sum(d.has_survey for d in datas)

    warm = NationalCache(tmp_path)
    deep_equal(national(datas, warm), direct)
    assert warm.stats["national"] == [3, 0] and warm.stats["cae"] == [0, 0]

    # a real change in the activity of one CAE: its two or three contributions only; QVT models untouched
    changed = [dataclasses.replace(d) for d in datas]
    i = next(k for k, d in enumerate(datas) if d.has_survey)
    act = changed[i].activite.copy()
    act.loc[act.index[0], "chiffre_affaires"] = act["chiffre_affaires"].iloc[0] + 1000.0
    changed[i] = dataclasses.replace(changed[i], activite=act)
    assert data_fingerprint(changed[i]) != data_fingerprint(datas[i])
    memo = NationalCache(tmp_path)
    deep_equal(national(changed, memo), national(changed))
    recomputed = [slot for level, slot in memo.recomputed if level == "cae"]
    assert {s.split("|")[1] for s in recomputed} == {datas[i].slug}
    # its indicator tables (prepared and raw), SROI model, QVT scores, items and matrix rows: nothing else
    assert {s.split("|")[0].rsplit(".", 1)[1] for s in recomputed} == {"_prepare", "compute", "_build", "score_cae",
                                                                   "cae_items", "cae_dimension_table"}
    # every other CAE reuses at least its pooled tables, raw table and SROI model (the raw table
    # wraps its own _prepare call: reused whole, that inner call is not even made)
    assert memo.stats["cae"][0] >= 3 * (len(datas) - 1)
    assert memo.stats["model"][1] == 0 and memo.stats["model"][0] > 0


def test_contributions_prefilled_per_cae_are_all_the_national_step_reuses(datas, tmp_path):
    """What each CAE's worker stores (prefill) is exactly what the national
    notebook's calls ask for: no per-CAE contribution is computed again."""
    direct = national(datas)
    for d in datas:
        NationalCache(tmp_path).prefill(d)
    memo = NationalCache(tmp_path)
    deep_equal(national(datas, memo), direct)
    assert memo.stats["cae"][1] == 0 and memo.stats["cae"][0] >= 4 * len(datas) - 1, memo.stats
    assert memo.stats["national"] == [0, 3]  # the pooled work itself is still done


def test_fingerprint_ignores_the_manifest_but_not_values(datas):
    d = datas[0]
    assert data_fingerprint(dataclasses.replace(d, manifest={"date": "autre"})) == data_fingerprint(d)
    ent = d.personnes.copy()
    ent = ent.iloc[::-1]
    assert data_fingerprint(dataclasses.replace(d, personnes=ent)) != data_fingerprint(d)


def test_keys_follow_the_values_of_settings_and_frames(tmp_path):
    """The key of a call: equal for equal values, whatever the objects;
    different as soon as one setting or one cell differs, also for a frame
    held inside the settings (digested by content, not pickled)."""
    memo = NationalCache(tmp_path)
    spec = {"familles": {"F1": {"label": "Diversité", "seuil": 0.5}}, "niveaux": [0.9, 0.95]}
    same = {"familles": {"F1": {"label": "Diversité", "seuil": 0.5}}, "niveaux": [0.9, 0.95]}
    other = {"familles": {"F1": {"label": "Diversité", "seuil": 0.6}}, "niveaux": [0.9, 0.95]}
    key = lambda *a: memo._key("f", a, {})
    assert key(spec) == key(same) and key(spec) != key(other)
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    assert key({"t": frame}) == key({"t": frame.copy()})
    changed = frame.copy()
    changed.loc[1, "x"] = 2.5
    assert key({"t": frame}) != key({"t": changed})
    assert key([spec, {"t": frame}]) != key([other, {"t": frame}])


def test_national_parts_computed_in_workers_are_what_the_notebook_reads(tmp_path, pseudonym_key):
    """The runner computes the national notebook's three results side by
    side in its pool workers (``_national_part_worker``) before the
    notebook runs; the notebook, asking through ``national_part`` with the
    same arguments, must find each one stored (and equal to a direct
    computation), not compute it again."""
    from analysis.pipeline import runner
    from analysis.pipeline.cache import NATIONAL_PARTS, national_part

    slugs = demo.generate(tmp_path / "raw", n_cae=2, seed=2020, scale=0.5)
    for s in slugs:
        assert intake.process_cae(s, tmp_path / "raw", tmp_path / "processed", tmp_path / "out").ok
    for part in NATIONAL_PARTS:
        seconds, ok = runner._national_part_worker({"processed_dir": str(tmp_path / "processed"), "caes": slugs,
                                                    "part": part}, None)
        assert ok and seconds > 0
    datas = [processed.load_cae(s, tmp_path / "processed") for s in slugs]
    direct = (indicators.compute_national(datas, indicators.load_spec()), sroi.evaluate_national_published(datas),
              qvt.summarise_national(datas, anonymise=None))
    memo = NationalCache(tmp_path / "processed" / "_cache")
    got = tuple(national_part(memo, p, datas) for p in NATIONAL_PARTS)
    assert memo.stats["national"] == [3, 0]  # three stored results read, none computed
    deep_equal(got, direct)
    with pytest.raises(ValueError, match="partie nationale inconnue"):
        national_part(memo, "autre", datas)


def test_a_national_part_started_during_the_last_caes_reads_their_staged_data(tmp_path, pseudonym_key):
    """The run starts the national parts once every CAE is read, while the
    last CAEs' notebooks run: those CAEs' new processed data is then in
    their staging folder (swapped in only when their last notebook
    succeeded). The part must read it there, and its stored result must be
    the one the notebook finds once the data is swapped in."""
    from analysis.intake.process import _swap_in
    from analysis.pipeline import runner
    from analysis.pipeline.cache import national_part

    slugs = demo.generate(tmp_path / "raw", n_cae=2, seed=2021, scale=0.5)
    proc = tmp_path / "processed"
    first, last = slugs
    assert intake.process_cae(first, tmp_path / "raw", proc, tmp_path / "out").ok
    staging = proc / f"{runner.STAGING}{last}"  # what run_cae builds before the swap-in
    assert intake.process_cae(last, tmp_path / "raw", staging, tmp_path / "out").ok
    assert not (proc / last).exists()
    seconds, ok = runner._national_part_worker({"processed_dir": str(proc), "caes": slugs, "part": "sroi",
                                                "staged": [last]}, None)
    assert ok and seconds > 0
    _swap_in(staging / last, proc / last)  # the last CAE's notebooks succeeded
    datas = [processed.load_cae(s, proc) for s in slugs]
    memo = NationalCache(proc / "_cache")
    got = national_part(memo, "sroi", datas)
    assert memo.stats["national"] == [1, 0]  # stored by the part, not computed again
    deep_equal(got, sroi.evaluate_national_published(datas))
    # without being told the CAE is staged, the part cannot find its data: a failure the notebook makes up for
    shutil.rmtree(proc / last)
    assert runner._national_part_worker({"processed_dir": str(proc), "caes": slugs, "part": "sroi"}, None)[1] is False


def test_the_national_notebook_asks_for_its_results_through_national_part():
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "10_national.ipynb").read_text("utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "national_part(memo, part, datas, anonymise=anon) for part in NATIONAL_PARTS" in code
    assert "memo.call(" not in code  # any other call would not share the workers' entries
