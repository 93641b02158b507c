"""Run the study: intake then the stage notebooks for every CAE, in parallel,
then the national notebook.

Design choices (each measured in ``make bench``):

- **Isolation**: each CAE runs in its own worker process; a CAE that fails
  (bad data, a failing cell) is reported and the others finish. The run's
  exit status is non-zero if any CAE failed.
- **One warm kernel per CAE**: the stage notebooks of a CAE run one after
  the other in the same kernel (papermill forwards ``km=`` to nbclient, which
  leaves a kernel it does not own running). Between notebooks the namespace
  is wiped (``%reset -f``) and figures closed, so a notebook cannot silently
  rely on another's variables; only imported modules stay warm.
- **No port race** (papermill #511): kernels talk over IPC sockets in a
  private temporary directory per CAE, so parallel starts cannot collide on
  TCP ports. On Windows (no IPC) TCP is used with retries.
- **Incremental by content hash**: a CAE is re-executed only when the hash of
  its raw files, the methodology files, the notebooks, the package's source
  or the run's parameters changed (stamp in ``<out>/<cae>/.stamp.json``).
  Content hashes rather than Make timestamps, because a CAE's data arrives
  by copy (timestamps lie) and the method files change without touching
  data.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue as queue_mod
import re
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from analysis import config
from analysis.pipeline import registry

#: Per-CAE stage notebooks, in execution order (from the stage registry).
CAE_NOTEBOOKS = [s.carnet for s in registry.cae_stages()]
NATIONAL_NOTEBOOK = registry.national_stage().carnet
STAMP = ".stamp.json"
KERNEL_NAME = "cae-impact"


# --------------------------------------------------------------------------
# fingerprints
# --------------------------------------------------------------------------
def _hash_files(paths, root: Path, h=None):
    h = h or hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h


def dir_fingerprint(path: Path, patterns=("*",)) -> str:
    """sha256 over the names and bytes of the files under ``path`` matching
    ``patterns`` (recursive, hidden files and caches ignored)."""
    path = Path(path)
    files = set()
    for pat in patterns:
        files.update(
            p
            for p in path.rglob(pat)
            if p.is_file() and not any(part.startswith((".", "__pycache__")) for part in p.relative_to(path).parts)
        )
    return _hash_files(files, path).hexdigest()


def _profile_folder(methodology_dir: Path) -> Path:
    from analysis.method import profile as profiles

    return profiles.for_methodology(methodology_dir).folder


def code_fingerprint(notebooks_dir: Path, methodology_dir: Path) -> str:
    """What every CAE depends on besides its data: package source, notebooks, method."""
    h = hashlib.sha256()
    for d, pats in (
        (Path(__file__).resolve().parents[1], ("*.py", "*.j2", "*.css", "*.html")),
        (notebooks_dir, ("*.ipynb",)),
        (methodology_dir, ("*.yml", "*.yaml")),
        (_profile_folder(methodology_dir), ("profile.yml",)),  # the study's words (profiles/cae/ lives apart)
    ):
        h.update(dir_fingerprint(d, pats).encode())
    return h.hexdigest()


# --------------------------------------------------------------------------
# events and results
# --------------------------------------------------------------------------
@dataclass
class StageResult:
    stage: str
    ok: bool
    seconds: float
    error: str = ""


@dataclass
class CaeResult:
    cae: str
    ok: bool
    skipped: bool = False
    seconds: float = 0.0
    stages: list[StageResult] = field(default_factory=list)
    error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class Progress:
    """Console progress: one line per CAE and stage, with elapsed time, printed
    as it happens. A failure's detail (the French list of problems) goes to
    ``err_stream`` at that moment, and only then (the end of the run names
    the failed CAEs without repeating it)."""

    def __init__(self, stream=None, quiet: bool = False, err_stream=None):
        self.t0 = time.perf_counter()
        self.stream = stream or sys.stdout
        self.err_stream = err_stream or (stream if stream is not None else sys.stderr)
        self.quiet = quiet

    def __call__(self, cae: str, stage: str, status: str, seconds: float | None = None, detail: str = "") -> None:
        if self.quiet:
            return
        mark = {"début": "…", "ok": "✓", "échec": "✗", "à jour": "="}.get(status, "·")
        dur = f" ({seconds:.1f} s)" if seconds is not None else ""
        line = f"[{time.perf_counter() - self.t0:6.1f} s] {mark} {cae:<24} {stage:<16} {status}{dur}"
        print(line, file=self.stream, flush=True)
        if detail:
            print(detail, file=self.err_stream, flush=True)


# --------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------
def kernel_name() -> str:
    """The project's registered kernel if present (``make`` registers it in
    the venv), else the environment's ``python3`` kernel, which
    jupyter_client maps to the running interpreter."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        return KERNEL_NAME
    except NoSuchKernel:
        return "python3"


def start_kernel(workdir: Path, cwd: Path, attempts: int = 3):
    """Start a kernel over IPC in ``workdir`` (TCP with retries on Windows);
    return its manager once it answers."""
    from jupyter_client import KernelManager

    last = None
    for attempt in range(attempts):
        km = KernelManager(kernel_name=kernel_name())
        if os.name != "nt":
            km.transport = "ipc"
            km.ip = str(workdir / f"k{attempt}")
        try:
            km.start_kernel(cwd=str(cwd))
            _wait_ready(km)
            return km
        except Exception as exc:  # port race or slow start: retry, staggered
            last = exc
            try:
                km.shutdown_kernel(now=True)
            except Exception:
                pass
            time.sleep(0.5 * (attempt + 1))
    raise RuntimeError(f"Impossible de démarrer le noyau Jupyter : {last}")


_RESET = "%reset -f\nimport matplotlib.pyplot as _plt\n_plt.close('all')\ndel _plt"


def _wait_ready(km) -> None:
    """Block until the kernel answers (a short-lived client: a client must
    not outlive papermill's event loops, so none is kept)."""
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
    finally:
        kc.stop_channels()


@contextmanager
def kernel(cwd: Path):
    """A started kernel for the duration of the block, in a private IPC
    directory, always shut down and cleaned up."""
    workdir = Path(tempfile.mkdtemp(prefix="cae-impact-k-"))
    km = None
    try:
        km = start_kernel(workdir, cwd=cwd)
        yield km
    finally:
        if km is not None:
            try:
                km.shutdown_kernel(now=True)
            except Exception:
                pass
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------
# one CAE
# --------------------------------------------------------------------------
def _execute(nb_in: Path, nb_out: Path, params: dict, km, cwd: Path, reset: bool = False, methodology_dir: Path | None = None) -> None:
    """papermill on an already started kernel. With ``reset``, a first cell
    (tagged ``remove-cell``, so no export shows it) wipes the namespace left
    by the previous notebook: only imported modules stay warm."""
    import nbformat
    import papermill as pm

    from analysis.pipeline.notebooks import prepare
    from analysis.reporting import wording

    nb = prepare(nbformat.read(str(nb_in), as_version=4), methodology_dir)
    nb = wording.fill_notebook(nb)  # the study profile's words ({{structure.le}} ...)
    if reset:
        cell = nbformat.v4.new_code_cell(_RESET)
        cell.metadata["tags"] = ["remove-cell"]
        nb.cells.insert(0, cell)
    pm.execute_notebook(
        nb,
        str(nb_out),
        parameters=params,
        kernel_name=km.kernel_name,
        language="python",
        km=km,
        progress_bar=False,
        cwd=str(cwd),
    )


def _error_text(exc: BaseException) -> str:
    """The last meaningful line of a failure (a papermill cell error gives
    ename: evalue, which for data problems is the French summary)."""
    ename = getattr(exc, "ename", None)
    if ename:
        return f"{ename}: {getattr(exc, 'evalue', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def run_cae(
    cae: str,
    raw_dir: Path,
    processed_dir: Path,
    out_dir: Path,
    notebooks_dir: Path,
    stages: list[str] | None = None,
    events=None,
    export_html: bool = True,
    fingerprint: str = "",
    methodology_dir: Path | None = None,
) -> CaeResult:
    """Intake, then each stage notebook of one CAE in one kernel; HTML export."""
    from analysis.reporting import export
    from analysis.intake import process as intake

    emit = (lambda *a, **k: events.put(("event", a, k))) if events is not None else (lambda *a, **k: None)
    t0 = time.perf_counter()
    cae_out = Path(out_dir) / cae
    cae_out.mkdir(parents=True, exist_ok=True)
    (cae_out / STAMP).unlink(missing_ok=True)
    result = CaeResult(cae=cae, ok=False)

    emit(cae, "lecture", "début")
    t = time.perf_counter()
    try:
        res = intake.process_cae(cae, raw_dir, processed_dir, out_dir)
    except Exception as exc:  # a bug, not a data problem: still isolate the CAE
        res = None
        result.error = f"Erreur interne pendant la lecture : {_error_text(exc)}\n{traceback.format_exc()}"
    if res is None or not res.ok:
        if res is not None:
            result.error = res.summary_fr + f"\nRapport complet : {cae_out / 'validation.html'}"
        result.stages.append(StageResult("lecture", False, time.perf_counter() - t, result.error))
        emit(cae, "lecture", "échec", time.perf_counter() - t, result.error)
        result.seconds = time.perf_counter() - t0
        return result
    result.stages.append(StageResult("lecture", True, time.perf_counter() - t))
    emit(cae, "lecture", "ok", time.perf_counter() - t)

    params = {
        "cae": cae,
        "raw_dir": str(raw_dir),
        "processed_dir": str(processed_dir),
        "out_dir": str(out_dir),
    }
    try:
        with kernel(cae_out) as km:
            for i, name in enumerate(stages or CAE_NOTEBOOKS):
                emit(cae, name, "début")
                t = time.perf_counter()
                nb_out = cae_out / f"{name}.ipynb"
                try:
                    _execute(Path(notebooks_dir) / f"{name}.ipynb", nb_out, params, km, cae_out, reset=i > 0, methodology_dir=methodology_dir)
                    if export_html:
                        export.notebook_to_html(nb_out, cae_out / f"{name}.html")
                except Exception as exc:
                    err = _error_text(exc) + f"\nCarnet exécuté (pour diagnostic) : {nb_out}"
                    result.stages.append(StageResult(name, False, time.perf_counter() - t, err))
                    result.error = f"étape {name} : {err}"
                    emit(cae, name, "échec", time.perf_counter() - t, err)
                    return result
                result.stages.append(StageResult(name, True, time.perf_counter() - t))
                emit(cae, name, "ok", time.perf_counter() - t)
        if export_html:
            export.combine_html(
                [cae_out / f"{n}.ipynb" for n in (stages or CAE_NOTEBOOKS)],
                cae_out / "rapport.html",
                title=_cae_title(processed_dir, cae),
                first=f"{registry.book_stages()[0].carnet}.ipynb",
            )
        result.ok = True
        (cae_out / STAMP).write_text(json.dumps({"fingerprint": fingerprint, "time": time.time()}))
        return result
    except Exception as exc:
        result.error = f"Erreur d'exécution : {_error_text(exc)}"
        emit(cae, "noyau", "échec", None, result.error)
        return result
    finally:
        result.seconds = time.perf_counter() - t0


def _cae_title(processed_dir: Path, cae: str) -> str:
    try:
        from analysis.method import profile as profiles

        info = json.loads((Path(processed_dir) / cae / profiles.current().processed_description).read_text(encoding="utf-8"))
        return f"Mesure d'impact social — {info.get('nom', cae)}"
    except Exception:
        return f"Mesure d'impact social — {cae}"


def _worker(kwargs: dict, events) -> CaeResult:
    kwargs["events"] = events
    return run_cae(**kwargs)


# --------------------------------------------------------------------------
# national
# --------------------------------------------------------------------------
def run_national(caes: list[str], processed_dir, out_dir, notebooks_dir, progress, export_html=True) -> CaeResult:
    from analysis.reporting import export

    nat_out = Path(out_dir) / "national"
    nat_out.mkdir(parents=True, exist_ok=True)
    result = CaeResult(cae="national", ok=False)
    t0 = time.perf_counter()
    progress("national", NATIONAL_NOTEBOOK, "début")
    try:
        with kernel(nat_out) as km:
            nb_out = nat_out / f"{NATIONAL_NOTEBOOK}.ipynb"
            params = {"caes": ",".join(caes), "processed_dir": str(processed_dir), "out_dir": str(out_dir)}
            _execute(Path(notebooks_dir) / f"{NATIONAL_NOTEBOOK}.ipynb", nb_out, params, km, nat_out)
            if export_html:
                export.notebook_to_html(nb_out, nat_out / f"{NATIONAL_NOTEBOOK}.html")
        result.ok = True
    except Exception as exc:
        result.error = _error_text(exc)
    finally:
        result.seconds = time.perf_counter() - t0
    progress("national", NATIONAL_NOTEBOOK, "ok" if result.ok else "échec", result.seconds, result.error)
    return result


# --------------------------------------------------------------------------
# the whole run
# --------------------------------------------------------------------------
def suggest_slug(name: str) -> str:
    """A valid CAE folder name (:data:`analysis.config.SLUG_PATTERN`) close to
    ``name``: accents dropped, lowercase, every run of other characters
    turned into one hyphen.

    >>> suggest_slug("Ma CAE Occitanie")
    'ma-cae-occitanie'
    >>> suggest_slug("  Coopérative d'Émile_2019 ")
    'cooperative-d-emile-2019'
    """
    import unicodedata

    s = unicodedata.normalize("NFKD", str(name))
    s = "".join(c for c in s if not unicodedata.combining(c)).replace("œ", "oe").replace("Œ", "oe").lower()
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-") or "ma-cae"


def folder_name_problem(name: str) -> str | None:
    """French reason why ``name`` cannot be a CAE folder, or None if it can."""
    if re.match(config.SLUG_PATTERN, name):
        return None
    return (
        f"nom invalide ; renommez-le par exemple « {suggest_slug(name)} » "
        "(lettres minuscules sans accents, chiffres et tirets)"
    )


@dataclass
class RawScan:
    """What ``data/raw`` holds: the CAE folders, and every other entry with
    the French reason it is ignored (nothing is skipped silently)."""

    caes: list[str]
    ignored: list[tuple[str, str]]  # (name as written, French reason)
    invalid: list[str] = field(default_factory=list)  # folders holding files but misnamed

    def messages(self) -> list[str]:
        return [
            f"{'Dossier' if reason != FILE_REASON else 'Fichier'} « {name} » ignoré : {reason}."
            for name, reason in self.ignored
        ]


FILE_REASON = "les fichiers d'une CAE se déposent dans un dossier à son nom, data/raw/<nom-de-la-cae>/"


def scan_raw(raw_dir: Path) -> RawScan:
    """Classify every entry of ``raw_dir`` (hidden ones such as ``.gitkeep``
    aside): a folder with a valid name (PROTOCOL §2) holding files is a CAE;
    a misnamed folder, an empty folder or a loose file is reported."""
    raw_dir = Path(raw_dir)
    caes, ignored, invalid = [], [], []
    if not raw_dir.is_dir():
        return RawScan([], [])
    for p in sorted(raw_dir.iterdir(), key=lambda q: q.name):
        if p.name.startswith(".") or p.name == "__pycache__":
            continue
        if not p.is_dir():
            ignored.append((p.name, FILE_REASON))
            continue
        reason = folder_name_problem(p.name)
        empty = not any(q for q in p.iterdir() if not q.name.startswith("."))
        if reason:
            ignored.append((p.name, reason))
            if not empty:
                invalid.append(p.name)
        elif empty:
            ignored.append((p.name, "dossier vide (déposez-y cae.yml et les tables de la CAE)"))
        else:
            caes.append(p.name)
    return RawScan(caes, ignored, invalid)


def list_raw_caes(raw_dir: Path) -> list[str]:
    """CAE folders under ``raw_dir``: slug-named directories holding files
    (:func:`scan_raw` also says why every other entry is ignored)."""
    return scan_raw(raw_dir).caes


class UnknownCae(ValueError):
    """``--cae`` named a CAE that has no folder in ``data/raw``."""

    def __init__(self, unknown: list[str], present: list[str], raw_dir: Path):
        self.unknown, self.present, self.raw_dir = unknown, present, raw_dir
        names = ", ".join(f"« {c} »" for c in unknown)
        have = ", ".join(present) if present else "aucune"
        super().__init__(
            f"CAE inconnue{'s' if len(unknown) > 1 else ''} dans {raw_dir} : {names}. CAE présentes : {have}."
        )


def national_scope(selected_ok: list[str], others: dict[str, bool]) -> tuple[list[str], list[str]]:
    """The CAEs a national synthesis must cover after a run limited to some
    CAEs (``--cae``): the selected CAEs that succeeded plus every other CAE
    of ``data/raw`` whose results are up to date (``others``: slug → fresh).
    Returns (covered, stale): when ``stale`` is not empty the synthesis must
    be skipped, because it would cover fewer CAEs than ``data/raw`` holds.

    >>> national_scope(["b"], {"a": True, "c": True})
    (['a', 'b', 'c'], [])
    >>> national_scope(["b"], {"a": False})
    (['a', 'b'], ['a'])
    """
    covered = sorted(set(selected_ok) | set(others))
    return covered, sorted(c for c, fresh in others.items() if not fresh)


def _is_fresh(cae_out: Path, fingerprint: str) -> bool:
    stamp = cae_out / STAMP
    if not stamp.exists():
        return False
    try:
        return json.loads(stamp.read_text()).get("fingerprint") == fingerprint
    except Exception:
        return False


def run(
    caes: list[str] | None = None,
    raw_dir: Path | None = None,
    processed_dir: Path | None = None,
    out_dir: Path | None = None,
    jobs: int | None = None,
    notebooks_dir: Path | None = None,
    methodology_dir: Path | None = None,
    force: bool = False,
    national: bool = True,
    export_html: bool = True,
    progress: Progress | None = None,
    stages: list[str] | None = None,
) -> dict:
    """Run every CAE (or ``caes``) and the national notebook; return a summary
    dict {"ok", "caes": [CaeResult...], "national": CaeResult|None}. Also
    written to ``<out>/run_summary.json``."""
    raw_dir = Path(raw_dir or config.RAW_DIR).resolve()
    processed_dir = Path(processed_dir or config.PROCESSED_DIR).resolve()
    out_dir = Path(out_dir or config.OUT_DIR).resolve()
    notebooks_dir = Path(notebooks_dir or config.NOTEBOOKS_DIR).resolve()
    methodology_dir = Path(methodology_dir or config.METHODOLOGY_DIR).resolve()
    progress = progress or Progress()
    # every stage (intake here and in workers, each kernel) reads the run's method
    os.environ["CAE_IMPACT_METHODOLOGY"] = str(methodology_dir)
    config.METHODOLOGY_DIR = methodology_dir
    scan = scan_raw(raw_dir)
    all_caes = scan.caes
    if caes:
        unknown = sorted(set(caes) - set(all_caes))
        if unknown:
            raise UnknownCae(unknown, all_caes, raw_dir)
        selected = [c for c in all_caes if c in caes]
    else:
        selected = all_caes
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(selected) or 1))

    code_fp = code_fingerprint(notebooks_dir, methodology_dir)
    todo, results = [], {}
    def cae_fp(cae: str) -> str:
        return hashlib.sha256(f"{code_fp}|{dir_fingerprint(raw_dir / cae)}|{export_html}|{stages}".encode()).hexdigest()

    def fresh(cae: str, fp: str) -> bool:
        return _is_fresh(out_dir / cae, fp) and (processed_dir / cae / "manifest.json").exists()

    for cae in selected:
        fp = cae_fp(cae)
        if not force and fresh(cae, fp):
            results[cae] = CaeResult(cae=cae, ok=True, skipped=True)
            progress(cae, "tout", "à jour")
        else:
            todo.append(
                dict(
                    cae=cae,
                    raw_dir=raw_dir,
                    processed_dir=processed_dir,
                    out_dir=out_dir,
                    notebooks_dir=notebooks_dir,
                    export_html=export_html,
                    fingerprint=fp,
                    stages=stages,
                    methodology_dir=methodology_dir,
                )
            )

    if todo:
        if jobs == 1 or len(todo) == 1:
            live = _Live(progress)  # each stage's line printed as it happens
            for kw in todo:
                results[kw["cae"]] = run_cae(**kw, events=live)
        else:
            import multiprocessing as mp

            ctx = mp.get_context("spawn")
            with ctx.Manager() as manager:
                q = manager.Queue()
                with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                    futures = {}
                    for i, kw in enumerate(todo):
                        futures[pool.submit(_worker, kw, q)] = kw["cae"]
                    pending = set(futures)
                    while pending:
                        _drain(q, progress)
                        done = [f for f in pending if f.done()]
                        for f in done:
                            pending.discard(f)
                            cae = futures[f]
                            try:
                                results[cae] = f.result()
                            except Exception as exc:  # worker crash
                                results[cae] = CaeResult(cae=cae, ok=False, error=_error_text(exc))
                                progress(cae, "processus", "échec", None, results[cae].error)
                        time.sleep(0.05)
                    _drain(q, progress)

    ordered = [results[c] for c in selected]
    ok_caes = [r.cae for r in ordered if r.ok]
    nat, nat_skipped = None, ""
    if national and ok_caes and len(selected) < len(all_caes):
        # --cae: the synthesis covers every CAE of data/raw, or is not redone
        others = {c: fresh(c, cae_fp(c)) for c in all_caes if c not in selected}
        ok_caes, stale = national_scope(ok_caes, others)
        if stale:
            names = ", ".join(f"« {c} »" for c in stale)
            nat_skipped = (
                f"Synthèse nationale non refaite : elle doit couvrir toutes les CAE de {raw_dir}, "
                f"et {names} n'{'est' if len(stale) == 1 else 'sont'} pas à jour. "
                "Lancez « make report » (ou « cae-impact run » sans --cae) pour la refaire."
            )
            ok_caes = []
    if national and ok_caes:
        nat_fp = hashlib.sha256(
            (code_fp + "|" + "|".join(_stamp_of(out_dir / c) for c in ok_caes) + f"|{export_html}").encode()
        ).hexdigest()
        nat_dir = out_dir / "national"
        if not force and _is_fresh(nat_dir, nat_fp):
            nat = CaeResult(cae="national", ok=True, skipped=True)
            progress("national", "tout", "à jour")
        else:
            (nat_dir / STAMP).unlink(missing_ok=True)
            nat = run_national(ok_caes, processed_dir, out_dir, notebooks_dir, progress, export_html)
            if nat.ok:
                (nat_dir / STAMP).write_text(json.dumps({"fingerprint": nat_fp, "time": time.time()}))

    summary = {
        "ok": all(r.ok for r in ordered) and (nat is None or nat.ok),
        "caes": [r.as_dict() for r in ordered],
        "national": nat.as_dict() if nat else None,
        "national_skipped": nat_skipped,
        "ignored": scan.messages(),
        "invalid_folders": scan.invalid,
    }
    (out_dir / "run_summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return summary


def _stamp_of(cae_out: Path) -> str:
    try:
        return json.loads((cae_out / STAMP).read_text()).get("fingerprint", "")
    except Exception:
        return ""


class _Live:
    """An event sink for an in-process run: each event is shown at once
    (the queue of a parallel run is drained by the parent instead)."""

    def __init__(self, progress):
        self.progress = progress

    def put(self, item) -> None:
        kind, args, kwargs = item
        if kind == "event":
            self.progress(*args, **kwargs)


def _drain(q, progress) -> None:
    while True:
        try:
            kind, args, kwargs = q.get_nowait()
        except (queue_mod.Empty, EOFError, OSError):
            return
        except Exception:
            return
        if kind == "event":
            progress(*args, **kwargs)
