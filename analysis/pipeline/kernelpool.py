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

A process may hold several warm kernels (``slot`` 0, 1, …): a run with a
single CAE to redo and idle cores runs that CAE's independent notebooks side
by side, one kernel each (:func:`analysis.pipeline.registry.cae_waves`).
:func:`prestart` starts a slot's kernel in a thread and imports the modules
the stage notebooks import in it, while the runner does intake; the next
:func:`lease` of that slot waits for it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["MAX_USES", "discard", "exit_with_parent", "lease", "pool_worker_start", "prestart", "reset", "shutdown"]

#: CAEs served by one warm kernel before it is replaced by a fresh one.
MAX_USES = 25

_WARM: dict[int, dict] = {}  # this process's warm kernels by slot: km, workdir, key, uses
_PENDING: dict[int, object] = {}  # slot -> thread starting its kernel (prestart)
_USED = "_cae_impact_used"  # attribute set on a kernel manager once a notebook ran in it
_STARTED_IN = "_cae_impact_started_in"  # the working folder a warm kernel was started in

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


def _wait_pending() -> None:
    for slot in list(_PENDING):
        th = _PENDING.pop(slot, None)
        if th is not None:
            th.join()


def _drop(slot: int) -> None:
    w = _WARM.pop(slot, None)
    if w is not None:
        _stop(w["km"], w["workdir"])


def shutdown() -> None:
    """Shut this process's warm kernels down (end of a run, worker exit)."""
    _wait_pending()
    for slot in list(_WARM):
        _drop(slot)


def discard(km=None) -> None:
    """Give the warm kernel up after a failure: the one that is ``km``, or
    every warm kernel when ``km`` is not given."""
    if km is None:
        shutdown()
        return
    for slot, w in list(_WARM.items()):
        if w["km"] is km:
            _drop(slot)


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


def _fresh(slot: int, cwd: Path | None, scope: str) -> bool:
    """Make sure ``slot`` holds a live kernel for ``scope``, started in
    ``cwd`` (None: in its own temporary folder, which lives as long as the
    kernel); True when it was started now."""
    from analysis.pipeline.runner import start_kernel

    key = _key(scope)
    w = _WARM.get(slot)
    if w and (w["key"] != key or w["uses"] >= MAX_USES or not _alive(w["km"])):
        _drop(slot)
    if slot in _WARM:
        return False
    workdir = Path(tempfile.mkdtemp(prefix="cae-impact-k-"))
    cwd = workdir if cwd is None else cwd
    try:
        km = start_kernel(workdir, cwd=cwd)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    setattr(km, _STARTED_IN, str(cwd))
    _WARM[slot] = dict(km=km, workdir=workdir, key=key, uses=0)
    _hook_exit()
    return True


def _warm_kernel(cwd: Path, scope: str, slot: int = 0):
    th = _PENDING.pop(slot, None)
    if th is not None:
        th.join()  # prestart: its failure is not fatal, the kernel is (re)started below
    _fresh(slot, cwd, scope)
    _WARM[slot]["uses"] += 1
    return _WARM[slot]["km"]


def import_and_freeze(names) -> None:
    """Import the modules ``names`` (a name that fails to import is tried
    without its last component), then ``gc.freeze()``: the objects those
    modules allocated (about 200,000 for pandas, SciPy, matplotlib and
    statsmodels) move to the permanent generation, which no later
    collection walks. A full collection then costs microseconds instead of
    0.1–0.15 s, and libraries call it themselves (statsmodels' Holm
    correction, ``multipletests``, runs ``gc.collect()`` on every call:
    0.45 s per CAE in 04_qvt, measured with ``benchmarks/profile_cae.py`` on
    2026-12-01). Only what exists now is frozen; what is allocated later is
    collected as before. Called in each warm kernel (:func:`prestart`) and
    in a pool worker before a national part (:mod:`analysis.pipeline.runner`)."""
    import gc
    import importlib

    for name in names:
        while name:
            try:
                importlib.import_module(name)
                break
            except Exception:  # noqa: BLE001 - a module that does not import is the notebook's error to show
                name = name.rpartition(".")[0]
    gc.collect()
    gc.freeze()


# Run in a fresh kernel by :func:`prestart`; no name is left behind.
_WARM_UP = """\
from analysis.pipeline.kernelpool import import_and_freeze as _cae_impact_warm
_cae_impact_warm({names!r})
del _cae_impact_warm
"""


def prestart(scope: str, slots: int = 1, modules: list[str] | tuple = ()) -> None:
    """Start the warm kernels of slots ``0 … slots − 1`` for ``scope`` in
    background threads (those already warm are left as they are) and import
    ``modules`` in each new one, so that the first notebook finds pandas,
    matplotlib and the analysis modules loaded. They start in a folder of
    their own (a CAE's staging folder may be gone before they are up: its
    intake failed); :func:`reset` moves them to the notebook's. Whatever
    fails here is left to :func:`lease`, which starts the kernel again and
    reports the error."""
    import threading

    for slot in range(slots):
        if slot in _PENDING:
            continue

        def target(slot=slot):
            try:
                if _fresh(slot, None, scope) and modules:
                    km = _WARM[slot]["km"]
                    kc = km.client()
                    kc.start_channels()
                    try:
                        kc.wait_for_ready(timeout=60)
                        kc.execute_interactive(_WARM_UP.format(names=list(modules)), silent=True, store_history=False,
                                               timeout=120, output_hook=lambda msg: None)
                    finally:
                        kc.stop_channels()
            except Exception:  # noqa: BLE001 - lease() starts the kernel again and says why
                _drop(slot)

        th = threading.Thread(target=target, name=f"cae-impact-prestart-{slot}", daemon=True)
        _PENDING[slot] = th
        th.start()


def _exit_now() -> None:
    """The last exit finalizer of a pool worker: flush stdio and leave
    without the interpreter's teardown (see :func:`pool_worker_start`)."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed stream has nothing to flush
            pass
    os._exit(0)


def pool_worker_start(scope: str, modules: list[str] | tuple = ()) -> None:
    """A local pool worker's initializer (:class:`analysis.pipeline.runner._Pool`).

    Its first act is :func:`prestart`: this module imports only the standard
    library, so the kernel starts while the worker goes on to import the
    runner (pandas through the stage registry, 0.6 s) for its first task,
    instead of after it.

    It also makes the worker's exit short. When the pool shuts down, the
    worker's finalizers run as usual, the warm kernel's shutdown first
    (:func:`_hook_exit`, priority 100), queues flushed (priority −5); the
    last one (priority −1000) then ends the process with ``os._exit(0)``,
    skipping the interpreter's teardown of pandas, SciPy and matplotlib,
    which took 0.6 s per worker and delayed the end of every run (two
    workers: ``pool.shutdown`` 0.53–0.64 s over five runs, 0.05–0.12 s with
    this; measured on 2026-12-01). Every task has returned by then: the pool
    sends the exit sentinel only after the results.
    """
    prestart(scope, 1, modules)
    from multiprocessing import util

    util.Finalize(None, _exit_now, exitpriority=-1000)
    exit_with_parent(shutdown)


def exit_with_parent(cleanup=None) -> None:
    """In a child process of the run (a pool worker, the pool's manager):
    when the run's main process dies without closing the pool (killed, out
    of memory), run ``cleanup`` (a worker shuts its warm kernels down) and
    leave, instead of waiting forever for tasks that will not come, with
    kernels of a dead run still holding memory. A daemon thread waits on
    the parent's sentinel; a normal run never wakes it (the parent outlives
    its pool)."""
    import multiprocessing
    import threading

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch():
        from multiprocessing.connection import wait

        wait([parent.sentinel])
        try:
            if cleanup is not None:
                cleanup()
        finally:
            os._exit(1)

    threading.Thread(target=watch, name="cae-impact-parent-watch", daemon=True).start()


@contextmanager
def lease(cwd: Path, scope: str | None = None, slot: int = 0):
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
    km = _warm_kernel(Path(cwd), scope, slot)
    try:
        yield km
    except BaseException:
        discard(km)
        raise


def reset(km, cwd: Path, timeout: float = 120) -> None:
    """Make ``km`` ready for the next notebook, run in ``cwd``: nothing to
    do for a kernel that has not run one yet and was started in ``cwd``,
    else the namespace is wiped out of band and the working folder set
    (see :data:`_RESET`)."""
    if not getattr(km, _USED, False):
        setattr(km, _USED, True)
        if getattr(km, _STARTED_IN, str(cwd)) == str(cwd):
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
