"""Warm kernels: one Jupyter kernel per worker process, reused by the CAEs of
one run, the stage notebooks executed one after the other in it.

Measured before this module (``benchmarks/profile_cae.py``, 2026-12-01, demo
CAE, 2 cores): a fresh kernel took about 1 s to start and 3.3 s importing
pandas, matplotlib, scipy.stats, statsmodels, pandera and the analysis
modules before the first notebook computed anything, once per CAE; and the
``%reset -f`` between two notebooks cost 0.3–0.5 s, most of it one
``gc.collect()`` over everything those modules allocated. With a warm
kernel a worker pays the start and the imports once per run, and the wipe
between notebooks costs about 10 ms.

What stays isolated:

- **between notebooks** (of one CAE or of two CAEs): every name a notebook
  defined, the output cache and the figures are wiped, the history counter
  restarts at 1 and the working folder is set to the notebook's own
  (:func:`reset`); only imported modules stay warm, as they did between the
  notebooks of one CAE before;
- **after a failure**: a CAE whose notebook failed or whose kernel died
  gives its kernel up (:func:`discard`), so the next CAE starts a fresh one
  and nothing a failing notebook left behind (a module attribute, an
  option) reaches another CAE;
- **between runs**: a kernel is reused only under the same ``scope`` (one
  token per run) and the same environment variables (the run's methodology
  folder, the key); anything else starts a fresh kernel. A kernel serves at
  most :data:`MAX_USES` CAEs, then is replaced, so memory cannot creep
  over a large network.

``scope=None`` keeps the former behaviour, one kernel for the block, shut
down at its end (a direct :func:`analysis.pipeline.runner.run_cae` call).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["MAX_USES", "discard", "lease", "reset", "shutdown"]

#: CAEs served by one warm kernel before it is replaced by a fresh one.
MAX_USES = 25

_WARM: dict = {}  # this process's warm kernel: km, workdir, key, uses
_USED = "_cae_impact_used"  # attribute set on a kernel manager once a notebook ran in it

# Runs out of band (not a notebook cell) before every notebook but a fresh
# kernel's first. ``reset(new_session=True)`` is what ``%reset -f`` does
# (names, output cache, history) with a new history session so that the
# counter restarts at 1; the output cache is dropped by hand instead of by
# ``displayhook.flush()``, whose ``gc.collect()`` is the slow part.
_RESET = """\
def _cae_impact_reset(cwd):
    import os
    import sys
    if 'matplotlib.pyplot' in sys.modules:
        sys.modules['matplotlib.pyplot'].close('all')
    ip = get_ipython()
    dh = ip.displayhook
    full, dh.do_full_cache = dh.do_full_cache, False
    try:
        ip.reset(new_session=True)
    finally:
        dh.do_full_cache = full
    dh._, dh.__, dh.___ = '', '', ''
    os.chdir(cwd)
_cae_impact_reset({cwd!r})
"""


def _key(scope: str) -> tuple:
    return (scope, os.getpid(), tuple(sorted(os.environ.items())))


def _alive(km) -> bool:
    try:
        return bool(km.is_alive())
    except Exception:  # noqa: BLE001 - a manager that cannot tell is not trusted
        return False


def _stop(km, workdir) -> None:
    try:
        km.shutdown_kernel(now=True)
    except Exception:  # noqa: BLE001 - already gone
        pass
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


def shutdown() -> None:
    """Shut this process's warm kernel down (end of a run, worker exit)."""
    if _WARM:
        w = dict(_WARM)
        _WARM.clear()
        _stop(w["km"], w["workdir"])


def discard(km=None) -> None:
    """Give the warm kernel up after a failure (only if it is ``km``, when given)."""
    if _WARM and (km is None or _WARM["km"] is km):
        shutdown()


_exit_hooked = False


def _hook_exit() -> None:
    """Shut the warm kernel down when this process ends: pool workers end
    through multiprocessing (its finalizers run, not ``atexit``), the main
    process through ``atexit``."""
    global _exit_hooked
    if _exit_hooked:
        return
    _exit_hooked = True
    atexit.register(shutdown)
    try:
        from multiprocessing import util

        util.Finalize(None, shutdown, exitpriority=100)
    except Exception:  # noqa: BLE001
        pass


def _warm_kernel(cwd: Path, scope: str):
    from analysis.pipeline.runner import start_kernel

    key = _key(scope)
    if _WARM and (_WARM["key"] != key or _WARM["uses"] >= MAX_USES or not _alive(_WARM["km"])):
        shutdown()
    if not _WARM:
        workdir = Path(tempfile.mkdtemp(prefix="cae-impact-k-"))
        try:
            km = start_kernel(workdir, cwd=cwd)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        _WARM.update(km=km, workdir=workdir, key=key, uses=0)
        _hook_exit()
    _WARM["uses"] += 1
    return _WARM["km"]


@contextmanager
def lease(cwd: Path, scope: str | None = None):
    """A started kernel for the block. With a ``scope``, this process's warm
    kernel for it (started if needed, kept afterwards; given up if the block
    raises); without, a fresh kernel shut down at the end of the block. Call
    :func:`reset` before each notebook and :func:`discard` after a failure
    the block handles itself."""
    if scope is None:
        from analysis.pipeline.runner import kernel

        with kernel(cwd) as km:
            yield km
        return
    km = _warm_kernel(Path(cwd), scope)
    try:
        yield km
    except BaseException:
        discard(km)
        raise


def reset(km, cwd: Path, timeout: float = 120) -> None:
    """Make ``km`` ready for the next notebook, run in ``cwd``: nothing to
    do for a kernel that has not run one yet (it was started in ``cwd``),
    else the namespace is wiped out of band (see :data:`_RESET`)."""
    if not getattr(km, _USED, False):
        setattr(km, _USED, True)
        return
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(_RESET.format(cwd=str(cwd)), store_history=False, timeout=timeout,
                                       output_hook=lambda msg: None)
    finally:
        kc.stop_channels()
    content = reply.get("content", {})
    if content.get("status") != "ok":
        raise RuntimeError(f"Remise à zéro du noyau impossible : {content.get('ename', '')} {content.get('evalue', '')}".strip())
