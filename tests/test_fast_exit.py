"""Shorter process lives (issue 18): what each shortcut skips, and what it
must not.

- A warm kernel freezes the objects its imports allocated (``gc.freeze``),
  so that the full collections statsmodels runs on every Holm correction
  no longer walk pandas, SciPy and matplotlib.
- A pool worker leaves with ``os._exit`` after its finalizers: its warm
  kernel must still be shut down, and its exit code is 0.
- The ``cae-impact`` command leaves with ``os._exit`` after ``main``: what
  it printed must still all reach a pipe, and its exit codes are those of
  the usual exit (``python -m analysis.cli``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / ".venv" / "bin" / "cae-impact"


def _freeze_count(km) -> int:
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        out: list[str] = []
        kc.execute_interactive("import gc; print(gc.get_freeze_count())", timeout=60,
                               output_hook=lambda m: out.append(m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
    finally:
        kc.stop_channels()
    return int("".join(out).strip())


def test_a_prestarted_kernel_has_frozen_its_imports_and_a_plain_one_has_not(tmp_path):
    from analysis.pipeline import kernelpool
    from analysis.pipeline.runner import kernel

    scope = uuid.uuid4().hex
    try:
        kernelpool.prestart(scope, 1, ["json"])
        with kernelpool.lease(tmp_path, scope) as km:
            frozen = _freeze_count(km)
    finally:
        kernelpool.shutdown()
    with kernel(tmp_path) as km:
        plain = _freeze_count(km)
    assert plain == 0  # nothing in a plain IPython kernel freezes
    assert frozen > 10_000  # IPython and ipykernel alone allocate far more objects than that


def _warm_kernel_pid(kwargs, events) -> tuple[int, int]:
    """Runs in a pool worker: the pid of its (pre)started warm kernel."""
    from analysis.pipeline import kernelpool

    with kernelpool.lease(Path(kwargs["cwd"]), kwargs["scope"]) as km:
        return os.getpid(), km.provisioner.pid


def _gone(pid: int, within: float = 10.0) -> bool:
    import psutil

    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_a_pool_worker_shuts_its_kernel_down_then_exits_with_code_0(tmp_path):
    from analysis.pipeline import runner

    scope = uuid.uuid4().hex
    pool = runner._Pool(1, scope, ROOT / "notebooks")
    try:
        worker_pid, kernel_pid = pool.submit(_warm_kernel_pid, {"cwd": str(tmp_path), "scope": scope}).result(timeout=120)
        procs = dict(pool.pool._processes)
    finally:
        pool.close()
    assert list(procs) == [worker_pid]
    assert procs[worker_pid].exitcode == 0
    assert _gone(kernel_pid), "the worker's kernel outlived it"


def _two_ways(*args: str, env=None) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    # block-buffered stdout, as on a user's machine (PYTHONUNBUFFERED would hide a missing flush)
    env = {k: v for k, v in (env or os.environ).items() if k != "PYTHONUNBUFFERED"}
    kw = dict(capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    fast = subprocess.run([str(CLI), *args], **kw)
    usual = subprocess.run([sys.executable, "-m", "analysis.cli", *args], **kw)
    return fast, usual


@pytest.mark.skipif(not CLI.exists(), reason="la commande cae-impact n'est pas installée dans .venv (make install)")
@pytest.mark.parametrize("args", [
    ("run", "--help"),  # exit 0, stdout only (a pipe: block-buffered)
    ("run", "--option-inconnue"),  # argparse: exit 2, French message on stderr
    ("validate", "/dossier/qui/n/existe/pas"),  # a French error, exit 2
])
def test_the_command_prints_and_exits_as_the_usual_exit_does(args):
    fast, usual = _two_ways(*args)
    assert (fast.returncode, fast.stdout, fast.stderr) == (usual.returncode, usual.stdout, usual.stderr)
    assert fast.stdout or fast.stderr


@pytest.mark.skipif(not CLI.exists(), reason="la commande cae-impact n'est pas installée dans .venv (make install)")
def test_a_french_message_given_to_system_exit_reaches_stderr_with_code_1(tmp_path):
    from analysis.intake import demo

    demo.generate(tmp_path / "raw", n_cae=1, seed=7, scale=0.3)
    env = dict(os.environ, CAE_IMPACT_KEY="pas-une-cle")
    args = ("run", "--raw", str(tmp_path / "raw"), "--processed", str(tmp_path / "p"), "--out", str(tmp_path / "o"))
    fast, usual = _two_ways(*args, env=env)
    assert fast.returncode == usual.returncode == 1
    assert "Clé de pseudonymisation" in fast.stderr
    assert fast.stderr == usual.stderr


_ORPHAN = """\
import json, sys, time, uuid
from pathlib import Path
from analysis.pipeline import runner
from tests.test_fast_exit import _warm_kernel_pid

scope = uuid.uuid4().hex
pool = runner._Pool(1, scope, Path(sys.argv[1]))
worker, kernel = pool.submit(_warm_kernel_pid, {"cwd": sys.argv[2], "scope": scope}).result(timeout=120)
print(json.dumps({"worker": worker, "kernel": kernel, "manager": pool.manager._process.pid}), flush=True)
time.sleep(600)
"""


def test_a_killed_run_leaves_no_worker_kernel_or_manager_behind(tmp_path):
    """SIGKILL the run's main process: its pool worker shuts its kernel down
    and leaves, and so does the pool's manager (they wait on the parent)."""
    import json
    import signal

    proc = subprocess.Popen([sys.executable, "-c", _ORPHAN, str(ROOT / "notebooks"), str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        pids = json.loads(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    left = [name for name, pid in pids.items() if not _gone(pid, within=20)]
    for name in left:  # do not leave them running for the rest of the suite
        os.kill(pids[name], signal.SIGKILL)
    assert not left, f"still running after the run was killed: {left}"
