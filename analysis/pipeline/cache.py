"""Incremental national step: reuse what did not change between two runs.

The national synthesis pools every CAE, so a rerun after one CAE changed
used to recompute everything. :class:`NationalCache` memoises, on disk
under ``<processed>/_cache/``, three levels of work, each keyed by a
content hash of its inputs (never by file dates):

1. **a whole national result** (``compute_national``, ``evaluate_national``,
   ``summarise_national``), keyed on the data fingerprint of every CAE
   passed (:func:`data_fingerprint`: the processed tables' values, not their
   bytes or the raw files), the other arguments, the methodology files and
   the package source. A CAE rerun whose processed tables came out
   identical (a re-exported file, a trailing blank line) reuses all three;
2. **per-CAE contributions to the pooled tables**, one entry per CAE: the
   prepared indicator tables with survey weights
   (``indicators.compute._prepare``) and the CAE's raw indicator table
   (``indicators.compute.compute``, unsuppressed), the SROI model of the CAE
   (``sroi.valuation._build``), its QVT scores
   (``qvt.compute.score_cae``), its recoded QVT items
   (``qvt.compute.cae_items``) and its rows of the dimension × CAE matrix
   (``qvt.compute.cae_dimension_table``). After a real change in one CAE,
   only that CAE's contribution is recomputed;
3. **pooled models** (``qvt.models.fit_score_ols`` and
   ``fit_item_ordinal``), keyed on a content hash of the pooled frame they
   are fitted on: a model is refitted only when its input rows changed (a
   CAE without questionnaire changing leaves every QVT model as it was).

Levels 2 and 3 are installed for the duration of :meth:`NationalCache.call`
by rebinding those module attributes to memoised wrappers, and restored
afterwards; the computing functions themselves are unchanged, so results
are identical with or without the cache (``tests/test_cache.py``). Each
entry is one pickle file per (function, CAE or model, other arguments),
replaced when its key changes, so the cache stays the size of one run
(until the method's settings change). A cache that cannot be
read or written is skipped silently: the result is then computed.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import os
import pickle
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

__all__ = ["NATIONAL_MODULES", "NATIONAL_PARTS", "NationalCache", "data_fingerprint", "frame_digest", "national_part"]

#: The national synthesis' three results, independent of each other: the
#: national notebook asks for each through :func:`national_part`, and with a
#: process pool the runner computes them side by side first (one worker each).
NATIONAL_PARTS = ("indicateurs", "sroi", "qvt")

#: The modules the three parts compute with (imported, then frozen, before
#: a part runs in a pool worker: :func:`analysis.pipeline.kernelpool.import_and_freeze`).
NATIONAL_MODULES = ("analysis.indicators.compute", "analysis.sroi.valuation", "analysis.qvt.compute",
                    "analysis.qvt.models", "statsmodels.stats.multitest")

#: Per-CAE contributions (level 2): (module, attribute). Their first argument is a CaeData.
PER_CAE = [
    ("analysis.indicators.compute", "_prepare"),
    ("analysis.indicators.compute", "compute"),  # the raw per-CAE table of the linked suppression
    ("analysis.sroi.valuation", "_build"),
    ("analysis.qvt.compute", "score_cae"),
    ("analysis.qvt.compute", "cae_items"),  # its rows of the pooled item frame (ordinal models)
    ("analysis.qvt.compute", "cae_dimension_table"),  # its rows of the dimension × CAE matrix
]
#: Pooled models (level 3): (module, attribute). Argument 0 is the pooled frame, 1 the outcome or item.
POOLED_MODELS = [
    ("analysis.qvt.models", "fit_score_ols"),
    ("analysis.qvt.models", "fit_item_ordinal"),
]


def frame_digest(df, h=None):
    """sha256 (updated into ``h`` when given) over a DataFrame or Series's
    column names, dtypes, index and values (``pandas.util.hash_pandas_object``)."""
    h = h or hashlib.sha256()
    if df is None:
        h.update(b"<none>")
        return h
    if isinstance(df, pd.Series):
        df = df.to_frame()
    h.update(repr(list(df.columns)).encode())
    h.update(repr([str(t) for t in df.dtypes]).encode())
    h.update(str(len(df)).encode())
    if len(df):
        h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h


def data_fingerprint(data) -> str:
    """Content hash of one CAE's processed data (a
    :class:`~analysis.intake.processed.CaeData`): slug, ``cae.json`` and the
    values of its three tables. The manifest (dates, checksums of the raw
    files) is left out: no computation reads it."""
    h = hashlib.sha256(data.slug.encode() + b"\0")
    h.update(pickle.dumps(data.info, protocol=4))
    for name in data.TABLE_FIELDS:
        h.update(name.encode())
        frame_digest(getattr(data, name), h)
    return h.hexdigest()


def _tree_digest(root: Path, patterns) -> str:
    h = hashlib.sha256()
    files = sorted({p for pat in patterns for p in Path(root).rglob(pat) if p.is_file() and "__pycache__" not in p.parts})
    for p in files:
        h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def environment_fingerprint(methodology_dir=None) -> str:
    """Hash of the package source and of the methodology files in force:
    any change to either invalidates every entry."""
    from analysis import config

    package = Path(__file__).resolve().parents[1]
    method = Path(methodology_dir or os.environ.get("CAE_IMPACT_METHODOLOGY") or config.METHODOLOGY_DIR)
    return hashlib.sha256(
        (_tree_digest(package, ("*.py", "*.yml")) + _tree_digest(method, ("*.yml", "*.yaml"))).encode()
    ).hexdigest()


class _NotPlain(Exception):
    pass


class _PlainPickler(pickle.Pickler):
    """A pickler that refuses pandas objects and processed data (digested
    by content instead, :meth:`NationalCache._digest_arg`). Its
    ``reducer_override`` is not called for exact dicts, lists, tuples,
    strings and numbers (Python's pickle documentation), so a container
    of those pickles at C speed."""

    def reducer_override(self, obj):
        from analysis.intake.processed import CaeData

        if isinstance(obj, (pd.DataFrame, pd.Series, pd.Index, CaeData)):
            raise _NotPlain
        return NotImplemented


def _plain_pickle(v) -> bytes | None:
    """The pickle of ``v`` when it holds no DataFrame, Series, Index or
    CaeData, else None. Pickle round-trips, so equal bytes mean equal
    values: as a key it can only miss, never hit wrongly. The leaf-by-leaf
    walk over the method settings passed with each CAE's contribution it
    replaces was 1.3 s of the pooled indicators' 4.5 s under cProfile at 77
    CAEs, but within the noise of their 3.3–3.7 s without the profiler."""
    buf = io.BytesIO()
    try:
        _PlainPickler(buf, protocol=4).dump(v)
    except _NotPlain:
        return None
    return buf.getvalue()


class NationalCache:
    """Memo of the national step under ``root`` (``<processed>/_cache``).

    ``call(fn, *args, **kwargs)`` returns ``fn(*args, **kwargs)``, from the
    cache when the same inputs were seen before. ``stats`` counts hits and
    misses per level (for the bench)."""

    def __init__(self, root, methodology_dir=None):
        self.root = Path(root)
        self.env = environment_fingerprint(methodology_dir)
        self._fp: dict[int, tuple] = {}  # id -> (object kept alive, fingerprint)
        self.stats = {"national": [0, 0], "cae": [0, 0], "model": [0, 0]}  # [hits, misses]
        self.recomputed: list[tuple[str, str]] = []  # (level, "function|CAE or model") of each miss

    # ---------------------------------------------------------------- keys
    def _digest_arg(self, v, h) -> None:
        from analysis.intake.processed import CaeData

        if isinstance(v, (list, tuple, dict)):
            plain = _plain_pickle(v)  # a method file's settings: one C-speed pickle, not a walk over its leaves
            if plain is not None:
                h.update(b"plain:" + plain)
                return
        if isinstance(v, CaeData):
            if id(v) not in self._fp:
                self._fp[id(v)] = (v, data_fingerprint(v))
            h.update(b"cae:" + self._fp[id(v)][1].encode())
        elif isinstance(v, (pd.DataFrame, pd.Series)):
            frame_digest(v, h)
        elif isinstance(v, (list, tuple)):
            h.update(f"seq{len(v)}(".encode())
            for x in v:
                self._digest_arg(x, h)
            h.update(b")")
        elif isinstance(v, dict):
            h.update(b"dict(")
            for k in v:
                h.update(repr(k).encode())
                self._digest_arg(v[k], h)
            h.update(b")")
        else:
            h.update(pickle.dumps(v, protocol=4))

    def _key(self, name: str, args, kwargs) -> str:
        h = hashlib.sha256((self.env + "|" + name).encode())
        self._digest_arg(list(args), h)
        self._digest_arg(dict(sorted(kwargs.items())), h)
        return h.hexdigest()

    # ---------------------------------------------------------------- storage
    def _memo(self, level: str, slot: str, name: str, fn, args, kwargs):
        try:
            key = self._key(name, args, kwargs)
        except Exception:  # an argument we cannot hash: compute
            return fn(*args, **kwargs)
        path = self.root / level / (hashlib.sha256(slot.encode()).hexdigest()[:24] + ".pkl")
        try:
            with open(path, "rb") as fh:
                stored_key, value = pickle.load(fh)
            if stored_key == key:
                self.stats[level][0] += 1
                return value
        except Exception:
            pass
        self.stats[level][1] += 1
        self.recomputed.append((level, slot.rsplit("|", 1)[0] if level == "cae" else slot))
        value = fn(*args, **kwargs)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump((key, value), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except Exception:
            pass
        return value

    @contextmanager
    def _installed(self):
        """Rebind the per-CAE and pooled-model functions to memoised wrappers."""
        saved = []

        def wrap(level, mod, attr, original):
            qual = f"{mod.__name__}.{attr}"

            def memoised(*args, **kwargs):
                if level == "cae":  # one entry per CAE and per set of other arguments (a helper may be called twice)
                    h = hashlib.sha256()
                    self._digest_arg([list(args[1:]), dict(sorted(kwargs.items()))], h)
                    slot = f"{qual}|{getattr(args[0], 'slug', '?')}|{h.hexdigest()[:16]}"
                else:
                    slot = f"{qual}|{args[1] if len(args) > 1 else kwargs.get('outcome', kwargs.get('item', ''))}"
                return self._memo(level, slot, qual, original, args, kwargs)

            memoised.__wrapped__ = original
            memoised.__doc__ = original.__doc__
            return memoised

        try:
            for level, table in (("cae", PER_CAE), ("model", POOLED_MODELS)):
                for modname, attr in table:
                    mod = importlib.import_module(modname)
                    original = getattr(mod, attr, None)
                    if original is None:  # renamed upstream: no reuse at this level, never an error
                        continue
                    saved.append((mod, attr, original))
                    setattr(mod, attr, wrap(level, mod, attr, original))
            yield
        finally:
            for mod, attr, original in reversed(saved):
                setattr(mod, attr, original)

    def prefill(self, data) -> None:
        """Compute and store the level-2 contributions of one CAE (a
        :class:`~analysis.intake.processed.CaeData`) as the national
        notebook's calls will ask for them (default method files and
        arguments: ``compute_national(datas, load_spec())``,
        ``evaluate_national_published(datas)``, ``summarise_national(datas)``).
        The runner calls it in each CAE's worker once the CAE succeeded, so
        that this per-CAE work runs in parallel and the national step, which
        runs alone, finds it done. Should those calls change, the entries
        simply miss: the national step then computes them as before."""
        from analysis.indicators import compute as indicators
        from analysis.qvt import compute as qvt
        from analysis.qvt import scores as qvt_scores
        from analysis.sroi import valuation as sroi

        with self._installed():  # the module attributes are the memoised wrappers here
            spec = indicators.load_spec()
            indicators._prepare(data, spec, prefix_ids=True)  # the pooled tables
            indicators.compute(data, spec, suppress=False)  # the CAE's raw table, for the linked suppression
            vm = sroi.load_value_map(None)
            st = sroi._settings(vm, None, None, None)
            sroi._build(data, vm, st["seed"], st["level"])
            if data.has_survey:
                qspec = qvt_scores.load_spec(None)
                qvt.score_cae(data, qspec)
                qvt.cae_items(data, qspec)
                qvt.cae_dimension_table(data, qspec)

    def call(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``, reusing the whole result, the per-CAE
        contributions and the pooled models that did not change."""
        name = f"{fn.__module__}.{fn.__qualname__}"
        with self._installed():
            return self._memo("national", name, name, fn, args, kwargs)


def national_part(memo: NationalCache, part: str, datas, anonymise=None):
    """One of :data:`NATIONAL_PARTS` over the CAEs ``datas`` through
    ``memo`` (the one home of these calls: the national notebook and the
    runner's precompute must ask with the same arguments to share the
    entry): the pooled indicators
    (:func:`analysis.indicators.compute.compute_national` with the default
    referential), the network SROI
    (:func:`analysis.sroi.valuation.evaluate_national_published`) or the
    pooled QVT summary (:func:`analysis.qvt.compute.summarise_national`)."""
    from analysis.indicators import compute as indicators
    from analysis.qvt import compute as qvt
    from analysis.sroi import valuation as sroi

    if part == "indicateurs":
        return memo.call(indicators.compute_national, datas, indicators.load_spec())
    if part == "sroi":
        return memo.call(sroi.evaluate_national_published, datas)
    if part == "qvt":
        return memo.call(qvt.summarise_national, datas, anonymise=anonymise)
    raise ValueError(f"partie nationale inconnue : {part!r} (attendu : {', '.join(NATIONAL_PARTS)})")
