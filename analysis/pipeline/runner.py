"""Run the study: intake then the stage notebooks for every CAE, in parallel,
then the national notebook.

Design choices (each measured in ``make bench``):

- **Isolation**: each CAE runs in its own worker process; a CAE that fails
  (bad data, a failing cell) is reported and the others finish. The run's
  exit status is non-zero if any CAE failed.
- **One warm kernel per worker**: the stage notebooks of a CAE, and the
  CAEs a worker process takes one after the other, run in the same kernel
  (papermill forwards ``km=`` to nbclient, which leaves a kernel it does not
  own running), and so does the national step, kept in the pool after the
  CAEs (:mod:`analysis.pipeline.kernelpool`). Between notebooks the
  namespace is wiped and figures closed, so a notebook cannot silently rely
  on another's variables; only imported modules stay warm. A CAE whose
  stage failed gives its kernel up; the next one starts a fresh kernel.
- **National work in parallel**: each CAE's worker stores its contributions
  to the national synthesis in the national step's cache once the CAE
  succeeded, so that the national step, which runs alone, only pools them.
- **No port race** (papermill #511): kernels talk over IPC sockets in a
  private temporary directory per CAE, so parallel starts cannot collide on
  TCP ports. On Windows (no IPC) TCP is used with retries.
- **Incremental by content hash, per stage**: each stage has its own
  fingerprint (:func:`cae_stage_components`): its notebook, the methodology
  files it reads (``lit`` in the stage registry), the package source its
  notebook imports (static import graph), the fingerprints of the stages
  whose tables it uses, and the CAE's raw files for intake. A stage reruns
  only when its fingerprint changed, and the run says why (« méthode
  modifiée : sroi.yml »); the others keep their executed notebook and
  results (stamp in ``<out>/<cae>/.stamp.json``). When none of the stages
  the national synthesis uses reruns (a change to ``sroi.yml``: it reads
  intake and the indicators), it starts at once, beside the CAEs. Content hashes rather than
  Make timestamps, because a CAE's data arrives by copy (timestamps lie) and
  the method files change without touching data.
- **Runs kept by method fingerprint**: a successful run copies its result
  tables to ``<out>/runs/<method fingerprint>/`` (:mod:`analysis.pipeline.runs`)
  so that ``cae-impact compare`` compares methods without recomputing.
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
from analysis.method import loader
from analysis.pipeline import registry, runs

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
# per-stage fingerprints (what each stage reads, from the stage registry)
# --------------------------------------------------------------------------
PACKAGE_DIR = Path(__file__).resolve().parents[1]
_DATA_SUFFIXES = (".yml", ".yaml", ".j2", ".css", ".html")


def _module_file(module: str) -> Path | None:
    """The source file of ``analysis.x.y`` (module or package), or None."""
    parts = module.split(".")
    if parts[0] != PACKAGE_DIR.name:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _imports_of(source: str, module: str = "", is_package: bool = False, lazy: bool = True) -> set[str]:
    """Modules of the package imported in ``source``: anywhere (``lazy``,
    function-level imports included) or at module level only;
    ``import a.b``, ``from a import b`` (b may be a module)."""
    import ast

    out: set[str] = set()
    tree = ast.parse(source)
    nodes = ast.walk(tree) if lazy else (n for top in tree.body for n in ast.walk(top)
                                         if not isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join(pkg + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in out if m.split(".")[0] == PACKAGE_DIR.name}


_IMPORTS_MEMO: dict[tuple, frozenset] = {}
_IMPORTS_USED: set[tuple] = set()  # the memo's entries this process used (what save_imports_memo keeps)
IMPORTS_MEMO_FILE = "imports.json"  # under <processed>/_cache/


def _file_imports(f: Path, name: str, lazy: bool) -> frozenset:
    """:func:`_imports_of` of source file ``f``, memoised on its content:
    the closures of the stages share most files, and parsing them again for
    every stage and CAE took about 5 s of a no-op run (2026-12-01); kept
    between runs by :func:`load_imports_memo` (the key is the file's SHA-256,
    so an edited file is parsed again)."""
    source = f.read_text(encoding="utf-8")
    key = (hashlib.sha256(source.encode()).hexdigest(), name, f.name == "__init__.py", lazy)
    if key not in _IMPORTS_MEMO:
        _IMPORTS_MEMO[key] = frozenset(_imports_of(source, name, f.name == "__init__.py", lazy))
    _IMPORTS_USED.add(key)
    return _IMPORTS_MEMO[key]


def load_imports_memo(path: Path) -> None:
    """Add the import lists a previous run saved in ``path`` to this
    process's memo (the 0.6 s of parsing the package's sources at every
    command, measured 2026-12-01). Anything unreadable is ignored: the
    sources are parsed instead."""
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))["entries"]
        for sha, name, is_init, lazy, mods in entries:
            _IMPORTS_MEMO.setdefault((str(sha), str(name), bool(is_init), bool(lazy)), frozenset(map(str, mods)))
    except (OSError, ValueError, KeyError, TypeError):
        pass


def save_imports_memo(path: Path) -> None:
    """Write the memo entries this process used to ``path`` (so the file
    stays the size of one package version); a folder that cannot be written
    is skipped."""
    entries = sorted([*k, sorted(_IMPORTS_MEMO[k])] for k in _IMPORTS_USED if k in _IMPORTS_MEMO)
    try:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"entries": entries}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def module_closure(modules, lazy: bool = True) -> set[Path]:
    """Every package source file ``modules`` depend on: the modules, the
    packages above them, what they import, transitively (static import
    graph, :mod:`ast`; with ``lazy=False`` module-level imports only), plus
    the data files (YAML, templates) of each package reached."""
    seen: set[Path] = set()
    todo = [m for m in modules]
    while todo:
        mod = todo.pop()
        parts = mod.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b
            name = ".".join(parts[:i])
            f = _module_file(name)
            if f is None or f in seen:
                continue
            seen.add(f)
            todo.extend(_file_imports(f, name, lazy))
    data: set[Path] = set()
    for d in {f.parent for f in seen}:
        for p in d.rglob("*"):
            # data files of this package: its own folder and non-package subfolders (assets/)
            inner = p.parent.relative_to(d).parts
            if (p.is_file() and p.suffix in _DATA_SUFFIXES and "__pycache__" not in inner
                    and not any((d.joinpath(*inner[: i + 1]) / "__init__.py").exists() for i in range(len(inner)))):
                data.add(p)
    return seen | data


def notebook_imports(nb_path: Path) -> set[str]:
    """Package modules a notebook's code cells import (magics skipped)."""
    nb = json.loads(Path(nb_path).read_text(encoding="utf-8"))
    out: set[str] = set()
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = "".join(cell.get("source", ""))
        src = "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            out |= _imports_of(src)
        except SyntaxError:
            # unreadable cell: depend on the package as a whole
            out |= {".".join((PACKAGE_DIR.name, *p.relative_to(PACKAGE_DIR).with_suffix("").parts))
                    for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts}
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _code_components(modules, cache: dict | None = None, runner_side=()) -> dict[str, str]:
    """Hashes of the package source ``modules`` depend on. ``runner_side``
    modules (what the runner itself calls on a notebook: preparation, HTML
    export) count with their module-level imports only: their lazy imports
    (the book, for the combined report) do not change a notebook's results."""
    key = (tuple(sorted(modules)), tuple(sorted(runner_side)))
    if cache is not None and key in cache:
        return cache[key]
    root = PACKAGE_DIR.parent
    files = module_closure(modules) | module_closure(runner_side, lazy=False)
    comps = {f"code:{p.relative_to(root).as_posix()}": _sha(p) for p in sorted(files)}
    if cache is not None:
        cache[key] = comps
    return comps


def _fp(components: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(components, sort_keys=True).encode()).hexdigest()


def _writer_of(table: str, before: str) -> str:
    """The per-CAE stage, earlier than ``before``, that writes ``table``."""
    names = [s.name for s in registry.cae_stages()]
    earlier = names[: names.index(before)] if before in names else names
    for s in registry.cae_stages():
        if s.name in earlier and table in s.ecrit:
            return s.name
    raise KeyError(f"{registry.REGISTRY_FILE.name}: no stage before {before} writes {table}")


def cae_stage_components(
    raw_cae_dir: Path, notebooks_dir: Path, methodology_dir: Path, settings: str = "", cache: dict | None = None
) -> dict[str, dict[str, str]]:
    """{stage: {component: hash}} for one CAE, in execution order. A stage's
    components: its notebook, the methodology files it reads (``lit``), the
    package source its notebook imports (and the HTML export), the
    fingerprints of the stages whose tables it uses (intake for every
    notebook; the writers of ``utilise``), the CAE's raw data for intake."""
    from analysis.method import loader

    meth = lambda names: {f"méthode:{loader.FILES[n]}": _sha(loader.path_of(n, methodology_dir))
                          for n in names if loader.path_of(n, methodology_dir).exists()}
    out: dict[str, dict[str, str]] = {}
    fps: dict[str, str] = {}
    lec = registry.stages("lecture")[0]
    c = {"données": dir_fingerprint(raw_cae_dir), **meth(lec.lit), **_code_components({"analysis.intake.process"}, cache)}
    out[lec.name], fps[lec.name] = c, _fp(c)
    # the runner prepares each notebook (analysis.pipeline.notebooks) and exports it to HTML
    export_mod = {"analysis.pipeline.notebooks"} | ({"analysis.reporting.export"} if "html=True" in settings else set())
    for s in registry.cae_stages():
        nb = Path(notebooks_dir) / f"{s.carnet}.ipynb"
        c = {f"carnet:{nb.name}": _sha(nb), **meth(s.lit), "réglages": settings}
        c.update(_code_components(notebook_imports(nb), cache, export_mod))
        for up in [lec.name] + [_writer_of(t, s.name) for t in s.utilise]:
            c[f"amont:{up}"] = fps[up]
        out[s.name], fps[s.name] = c, _fp(c)
    return out


def national_components(
    cae_stamps: dict[str, dict], notebooks_dir: Path, methodology_dir: Path, settings: str = "", cache: dict | None = None
) -> dict[str, str]:
    """Components of the national stage: its notebook, methodology files,
    package source, and for every CAE the fingerprints of intake and of the
    stages writing the tables it uses."""
    from analysis.method import loader

    nat = registry.national_stage()
    nb = Path(notebooks_dir) / f"{nat.carnet}.ipynb"
    c = {f"carnet:{nb.name}": _sha(nb), "réglages": settings, "caes": ",".join(sorted(cae_stamps))}
    c.update({f"méthode:{loader.FILES[n]}": _sha(loader.path_of(n, methodology_dir))
              for n in nat.lit if loader.path_of(n, methodology_dir).exists()})
    # the runner prepares each notebook (analysis.pipeline.notebooks) and exports it to HTML
    export_mod = {"analysis.pipeline.notebooks"} | ({"analysis.reporting.export"} if "html=True" in settings else set())
    c.update(_code_components(notebook_imports(nb), cache, export_mod))
    ups = ["lecture"] + sorted({_writer_of(t, nat.name) for t in nat.utilise})
    for cae, st in sorted(cae_stamps.items()):
        for up in ups:
            c[f"amont:{cae}/{up}"] = st.get(up, {}).get("fp", "")
    return c


def rerun_reasons(old: dict | None, new: dict[str, str], rerun_upstream: set[str] = frozenset()) -> list[str]:
    """Why a stage reruns, in French, from its old and new components
    (empty list: it is up to date)."""
    if old is None:
        return ["première exécution (ou exécution précédente incomplète)"]
    if _fp(old) == _fp(new):
        return []
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    groups: dict[str, list[str]] = {}
    for k in changed:
        kind, _, what = k.partition(":")
        groups.setdefault(kind, []).append(what)
    labels = {"méthode": "méthode modifiée", "carnet": "carnet modifié", "code": "code modifié", "amont": "étape amont relancée"}
    out = []
    for kind in ("méthode", "données", "carnet", "code", "amont", "réglages", "caes"):
        items = groups.get(kind)
        if not items:
            continue
        if kind == "données":
            out.append("données brutes modifiées")
        elif kind == "réglages":
            out.append("réglages d'exécution modifiés")
        elif kind == "caes":
            out.append(f"liste des {_words().term('structure.pluriel')} modifiée")
        else:
            shown = items if len(items) <= 3 else items[:3] + [f"… ({len(items)} en tout)"]
            out.append(f"{labels[kind]} : {', '.join(shown)}")
    return out


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
    fingerprint: str = ""  # of the inputs its published notebooks were made from (the book checks it)

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
    try:
        _run_watched(km, lambda: pm.execute_notebook(
            nb,
            str(nb_out),
            parameters=params,
            kernel_name=km.kernel_name,
            language="python",
            km=km,
            progress_bar=False,
            # written once at the end (and on error), not at every cell's start and end
            request_save_on_cell_execute=False,
            # no cwd= here: papermill would chdir the whole process (threads and staging folders
            # make that unsafe); the kernel was started in its working folder already
        ))
    except KernelDied:
        _keep_input(nb, nb_out)
        raise


class KernelDied(RuntimeError):
    """The kernel process ended while a notebook was running."""


def _keep_input(nb, nb_out: Path) -> None:
    """When the kernel died, papermill wrote nothing (the output notebook is
    written at the end): keep the notebook that was being run for diagnosis."""
    import nbformat

    try:
        if not Path(nb_out).exists():
            nbformat.write(nb, str(nb_out))
    except Exception:  # noqa: BLE001 - diagnosis only
        pass


def _run_watched(km, execute, every: float = 1.0, grace: float = 5.0) -> None:
    """Run ``execute()`` (papermill) in a thread and fail fast when the
    kernel dies: with a blocking kernel client nbclient waits on the kernel's
    socket forever once the kernel is gone (its own liveness poll cannot run
    while the loop is blocked there, and pyzmq retries the poll on signals).
    The calling thread checks ``km.is_alive()`` every ``every`` seconds; when
    the kernel is dead and the execution has not ended within ``grace``
    seconds, :class:`KernelDied` is raised (the blocked daemon thread is
    abandoned: it holds only a socket to the dead kernel). A failure inside
    the execution is re-raised as is."""
    import threading

    box: dict = {}

    def target():
        try:
            execute()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["exc"] = exc

    th = threading.Thread(target=target, name="cae-impact-execute", daemon=True)
    th.start()
    while th.is_alive():
        th.join(every)
        if th.is_alive():
            try:
                alive = km.is_alive()
            except Exception:  # noqa: BLE001 - cannot tell: keep waiting
                alive = True
            if not alive:
                th.join(grace)
                if th.is_alive():
                    raise KernelDied("Le noyau Jupyter s'est arrêté pendant l'exécution.")
    if "exc" in box:
        raise box["exc"]


def _error_text(exc: BaseException) -> str:
    """The last meaningful line of a failure (a papermill cell error gives
    ename: evalue, which for data problems is the French summary)."""
    ename = getattr(exc, "ename", None)
    if ename:
        return f"{ename}: {getattr(exc, 'evalue', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


STAGING = ".en-cours-"
FAILED_DIR = ".echecs"
RUN_MARKER = ".run-en-cours.json"


def _staging(root: Path, cae: str) -> Path:
    """``<root>/.en-cours-<cae>/``: where a CAE's run is built before it is
    swapped in; a leftover of a killed run is wiped first."""
    d = Path(root) / f"{STAGING}{cae}"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


def _copy_validation(src_dir: Path, dest_dir: Path) -> None:
    """The validation report is shown whatever happens next: copied (by
    replacement, never half-written) from the staging folder."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    for name in ("validation.html", "validation.csv"):
        src = src_dir / name
        if src.exists():
            tmp = dest_dir / f".{name}.tmp"
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest_dir / name)


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
    network_dir: Path | None = None,
    with_intake: bool = True,
    stamp: dict | None = None,
    kernel_scope: str | None = None,
    kernels: int = 1,
) -> CaeResult:
    """Intake, then each stage notebook of one CAE in one kernel; HTML export.

    A transaction: everything is built in staging folders
    (``<processed>/.en-cours-<cae>/`` and ``<out>/.en-cours-<cae>/``) and
    swapped into ``<processed>/<cae>`` and ``<out>/<cae>`` only when every
    stage succeeded, so a failing notebook, a dead kernel or a killed run
    leave the CAE's previous results in place (the validation report is
    always updated). A failed run's notebooks are kept for diagnosis in
    ``<out>/.echecs/<cae>/``. ``network_dir`` holds the other CAEs' results
    the QVT comparison may read (a snapshot of the current run's CAEs).

    ``stages`` limits the notebooks run (the others keep their executed
    notebook and results, copied into the staging folder); ``with_intake=False``
    skips intake (its processed data is up to date). ``stamp`` (the per-stage
    fingerprints) is written with the results when every stage succeeded.
    ``kernel_scope`` (one token per run): the notebooks run in this process's
    warm kernel for that run (:mod:`analysis.pipeline.kernelpool`), given up
    if a stage fails; without it, in a kernel of their own. With a scope and
    ``kernels`` > 1, the notebooks of one wave of
    :func:`analysis.pipeline.registry.cae_waves` (those that read none of each
    other's tables) run side by side in that many warm kernels."""
    from analysis.intake import process as intake
    from analysis.pipeline import kernelpool
    from analysis.reporting import export

    emit = (lambda *a, **k: events.put(("event", a, k))) if events is not None else (lambda *a, **k: None)
    t0 = time.perf_counter()
    processed_dir, out_dir = Path(processed_dir), Path(out_dir)
    cae_out = out_dir / cae
    result = CaeResult(cae=cae, ok=False, fingerprint=fingerprint)
    stage_proc = stage_out = None
    try:
        stage_proc, stage_out = _staging(processed_dir, cae), _staging(out_dir, cae)
        work_out = stage_out / cae
        work_out.mkdir()

        if kernel_scope is not None:  # the kernels start and import while intake runs
            kernels = max(1, min(kernels, max(map(len, _waves(stages or CAE_NOTEBOOKS, kernels)))))
            kernelpool.prestart(kernel_scope, kernels, _warm_modules(notebooks_dir))
        if not with_intake:  # intake is up to date: start from the CAE's current results, rerun some notebooks
            shutil.copytree(processed_dir / cae, stage_proc / cae)
            shutil.copytree(cae_out, work_out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(STAMP))
        else:
            emit(cae, "lecture", "début")
            t = time.perf_counter()
            try:
                res = intake.process_cae(cae, raw_dir, stage_proc, stage_out,
                                         progress=lambda f, n: emit(cae, "lecture", "en cours", None, f"  {f} : {n:,} lignes lues".replace(",", "\u202f")))
            except Exception as exc:  # a bug, not a data problem: still isolate the CAE
                res = None
                result.error = f"Erreur interne pendant la lecture : {_error_text(exc)}\n{traceback.format_exc()}"
            _copy_validation(work_out, cae_out)
            if res is None or not res.ok:
                if res is not None:
                    result.error = res.summary_fr + f"\nRapport complet : {cae_out / 'validation.html'}"
                result.stages.append(StageResult("lecture", False, time.perf_counter() - t, result.error))
                emit(cae, "lecture", "échec", time.perf_counter() - t, result.error)
                return result
            result.stages.append(StageResult("lecture", True, time.perf_counter() - t))
            emit(cae, "lecture", "ok", time.perf_counter() - t)

        params = {
            "cae": cae,
            "raw_dir": str(raw_dir),
            "processed_dir": str(stage_proc),
            "out_dir": str(stage_out),
            "network_dir": str(network_dir or ""),
        }
        failed_dir = out_dir / FAILED_DIR / cae
        exporter = _prebuild_exporter() if export_html else None
        failure = _run_notebooks(stages or CAE_NOTEBOOKS, cae, params, notebooks_dir, work_out, failed_dir, result,
                                 emit, exporter, kernel_scope, kernels, methodology_dir)
        if failure:
            return result
        if export_html:
            export.combine_html(
                [work_out / f"{n}.ipynb" for n in CAE_NOTEBOOKS if (work_out / f"{n}.ipynb").exists()],
                work_out / "rapport.html",
                title=_cae_title(stage_proc, cae),
                first=f"{registry.book_stages()[0].carnet}.ipynb",
            )
        (work_out / STAMP).write_text(json.dumps({**(stamp or {}), "fingerprint": fingerprint, "time": time.time()}))
        from analysis.intake.process import _swap_in

        _swap_in(stage_proc / cae, processed_dir / cae)
        _swap_in(work_out, cae_out)
        shutil.rmtree(failed_dir, ignore_errors=True)
        result.ok = True
        return result
    except OSError as exc:  # read-only folder, full disk: one French line, previous results kept
        result.error = f"Écriture impossible ({exc.strerror or exc}{' : ' + str(exc.filename) if getattr(exc, 'filename', None) else ''}) ; les résultats précédents de cette CAE sont conservés."
        emit(cae, "écriture", "échec", None, result.error)
        return result
    except Exception as exc:
        result.error = f"Erreur d'exécution : {_error_text(exc)}"
        emit(cae, "noyau", "échec", None, result.error)
        return result
    finally:
        for d in (stage_proc, stage_out):
            if d is not None:
                shutil.rmtree(d, ignore_errors=True)
        result.seconds = time.perf_counter() - t0


def _warm_modules(notebooks_dir: Path) -> list[str]:
    """What the stage notebooks import (imported in a kernel while intake runs)."""
    from analysis.pipeline import notebooks as nb_tools

    return nb_tools.imported_modules(Path(notebooks_dir) / f"{n}.ipynb" for n in CAE_NOTEBOOKS)


def _waves(names, kernels: int) -> list[list[str]]:
    """The notebooks ``names`` in waves to run side by side (registry
    order, one wave, with a single kernel or notebooks the registry does
    not know)."""
    names = list(names)
    if kernels <= 1 or not set(names) <= set(CAE_NOTEBOOKS):
        return [names]
    return registry.cae_waves(names)


def _run_notebooks(names, cae, params, notebooks_dir, work_out, failed_dir, result, emit, exporter, kernel_scope,
                   kernels, methodology_dir) -> bool:
    """Run the stage notebooks ``names`` of one CAE, wave after wave, in
    ``kernels`` kernels (1: one after the other, in registry order).
    Appends each stage's result to ``result.stages`` in registry order;
    returns True when one failed (``result.error`` says which, its notebooks
    are kept in ``failed_dir``)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from analysis.pipeline import kernelpool

    kernels = kernels if kernel_scope is not None else 1  # side by side only in warm kernels
    order = {n: i for i, n in enumerate(names)}
    waves = _waves(names, kernels)
    exports_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cae-impact-export")
    failures: list[tuple[int, str, StageResult]] = []
    done: list[StageResult] = []

    def exported(name: str, t: float, fut) -> None:
        """A stage is done once its HTML is written."""
        exc = fut.exception()
        if exc is not None:
            err = f"Export HTML impossible : {_error_text(exc)}"
            failures.append((order[name], f"étape {name} : {err}", StageResult(name, False, time.perf_counter() - t, err)))
            emit(cae, name, "échec", time.perf_counter() - t, err)
            return
        done.append(StageResult(name, True, time.perf_counter() - t))
        emit(cae, name, "ok", time.perf_counter() - t)

    def one(name: str, km) -> bool:
        emit(cae, name, "début")
        t = time.perf_counter()
        nb_out = work_out / f"{name}.ipynb"
        try:
            nb_in = Path(notebooks_dir) / f"{name}.ipynb"
            nb_params = params if "network_dir" in nb_in.read_text(encoding="utf-8") else {k: v for k, v in params.items() if k != "network_dir"}
            kernelpool.reset(km, work_out)  # the previous notebook's names wiped, out of band
            _execute(nb_in, nb_out, nb_params, km, work_out, methodology_dir=methodology_dir)
            if exporter is not None:  # in a thread of this process while the kernel runs the next notebook
                exports_pool.submit(_export_one, exporter, nb_out).add_done_callback(lambda fut: exported(name, t, fut))
        except Exception as exc:
            err = _error_text(exc)
            dead = not km.is_alive()
            kernelpool.discard(km)  # what a failing notebook left in its kernel reaches no other CAE
            if dead:
                err = ("Le noyau Jupyter s'est arrêté pendant l'exécution (mémoire épuisée ou arrêt forcé ?) ; "
                       f"les résultats précédents de {_words().term('structure.ce')} sont conservés.")
            err += f"\nCarnet exécuté (pour diagnostic) : {failed_dir / nb_out.name}"
            failures.append((order[name], f"étape {name} : {err}", StageResult(name, False, time.perf_counter() - t, err)))
            emit(cae, name, "échec", time.perf_counter() - t, err)
            return False
        if exporter is None:
            done.append(StageResult(name, True, time.perf_counter() - t))
            emit(cae, name, "ok", time.perf_counter() - t)
        return True

    def worker(slot: int, todo: queue_mod.Queue) -> None:
        try:
            with kernelpool.lease(work_out, kernel_scope, slot) as km:
                while not failures:
                    try:
                        name = todo.get_nowait()
                    except queue_mod.Empty:
                        return
                    if not one(name, km):
                        return
        except Exception as exc:  # the kernel would not start
            failures.append((len(order), f"Erreur d'exécution : {_error_text(exc)}", None))

    for wave in waves:
        todo: queue_mod.Queue = queue_mod.Queue()
        for name in wave:
            todo.put(name)
        n = max(1, min(kernels, len(wave)))
        if n == 1:
            worker(0, todo)
        else:
            threads = [threading.Thread(target=worker, args=(slot, todo), name=f"cae-impact-stage-{slot}", daemon=True)
                       for slot in range(n)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
        if failures:
            break
    exports_pool.shutdown(wait=True)
    result.stages.extend(sorted(done, key=lambda r: order[r.stage]))
    if not failures:
        return False
    _, error, stage_result = min(failures, key=lambda f: f[0])
    result.error = error
    if stage_result is None:  # a kernel that would not start: no notebook to keep
        emit(cae, "noyau", "échec", None, error)
        return True
    result.stages.append(stage_result)
    _keep_failed(work_out, failed_dir)
    return True


def _export_one(exporter, nb_out: Path) -> None:
    """The HTML export of one executed notebook (once the exporter is built)."""
    from analysis.reporting import export

    exporter.join()
    export.notebook_to_html(nb_out, nb_out.with_suffix(".html"))


def _prebuild_exporter():
    """Build the HTML exporter (nbconvert, its templates: about 2.6 s, once
    per process) in a thread while the first notebook runs in its kernel;
    ``.join()`` it before exporting. Built already: a finished thread."""
    import threading

    from analysis.reporting import export

    th = threading.Thread(target=export._exporter, name="cae-impact-exporter", daemon=True)
    th.start()  # lru_cache: returns at once when built already
    return th


def _keep_failed(work_out: Path, failed_dir: Path) -> None:
    try:
        shutil.rmtree(failed_dir, ignore_errors=True)
        failed_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(work_out, failed_dir)
    except OSError:
        pass


def _cae_title(processed_dir: Path, cae: str) -> str:
    try:
        from analysis.method import profile as profiles

        info = json.loads((Path(processed_dir) / cae / profiles.current().processed_description).read_text(encoding="utf-8"))
        return f"Mesure d'impact social — {info.get('nom', cae)}"
    except Exception:
        return f"Mesure d'impact social — {cae}"


def _worker(kwargs: dict, events) -> CaeResult:
    prefill = kwargs.pop("prefill_national", False)
    kwargs["events"] = events
    res = run_cae(**kwargs)
    if res.ok and prefill:
        _prefill_national(Path(kwargs["processed_dir"]), kwargs["cae"])
    return res


def _prefill_national(processed_dir: Path, cae: str) -> None:
    """This CAE's contributions to the national synthesis, computed now in
    its worker, in parallel with the other CAEs, and stored in the national
    step's cache (:meth:`analysis.pipeline.cache.NationalCache.prefill`),
    which then only pools them. Optional: any problem leaves the national
    step to compute them."""
    try:
        from analysis.intake import processed
        from analysis.pipeline.cache import NationalCache

        NationalCache(processed_dir / "_cache").prefill(processed.load_cae(cae, processed_dir))
    except Exception:  # noqa: BLE001 - the cache is an optimisation only
        pass


def _national_worker(kwargs: dict, events) -> CaeResult:
    """The national step in a pool worker, its progress sent as events."""
    return run_national(progress=lambda *a, **k: events.put(("event", a, k)), **kwargs)


def _current_data(cae: str, processed_dir: Path, staged: bool, attempts: int = 5):
    """This run's processed data of ``cae``. A CAE whose run is still going
    (``staged``: its intake ran in this run) has it in its staging folder
    (:func:`_staging`) until its last notebook succeeded, then in its own
    folder; the two renames of the swap-in (:func:`analysis.intake.process._swap_in`)
    may leave neither for an instant, hence the retries. Either copy has the
    same content, and the national cache's keys are content hashes."""
    from analysis.intake import processed

    roots = ([Path(processed_dir) / f"{STAGING}{cae}"] if staged else []) + [Path(processed_dir)]
    for i in range(attempts):
        for root in roots:
            try:
                if (root / cae / "manifest.json").exists():
                    return processed.load_cae(cae, root)
            except (OSError, ValueError):  # renamed or removed while read
                pass
        time.sleep(0.05 * (i + 1))
    return processed.load_cae(cae, processed_dir)


def national_part_stage(part: str) -> str:
    """The name, in a run summary's national stages, of one of
    :data:`analysis.pipeline.cache.NATIONAL_PARTS` (the notebook's stage is
    :data:`NATIONAL_NOTEBOOK`)."""
    return f"calcul {part}"


_PART_IMPORTS_FROZEN = False


def _national_part_worker(kwargs: dict, events) -> tuple[float, bool]:
    """One of :data:`analysis.pipeline.cache.NATIONAL_PARTS` computed in a
    pool worker into the national cache (the notebook then reads it);
    returns its seconds and whether it succeeded. ``kwargs["staged"]``: the
    CAEs whose run may still be going (read by :func:`_current_data`). A
    failure is left to the notebook, which then computes the part itself
    and reports what went wrong."""
    from analysis.pipeline import kernelpool
    from analysis.pipeline.cache import NATIONAL_MODULES, NationalCache, national_part

    t = time.perf_counter()
    global _PART_IMPORTS_FROZEN
    if not _PART_IMPORTS_FROZEN:  # once per worker: statsmodels' gc.collect() calls then skip the import-time objects
        kernelpool.import_and_freeze(NATIONAL_MODULES)
        _PART_IMPORTS_FROZEN = True
    try:
        proc = Path(kwargs["processed_dir"])
        staged = set(kwargs.get("staged", ()))
        datas = [_current_data(c, proc, c in staged) for c in kwargs["caes"]]
        national_part(NationalCache(proc / "_cache"), kwargs["part"], datas)
        ok = True
    except Exception:  # noqa: BLE001 - the notebook computes it again and shows the error
        ok = False
    return time.perf_counter() - t, ok


# --------------------------------------------------------------------------
# national
# --------------------------------------------------------------------------
def run_national(caes: list[str], processed_dir, out_dir, notebooks_dir, progress, export_html=True,
                 kernel_scope: str | None = None) -> CaeResult:
    """The national notebook (``kernel_scope``: in this process's warm kernel, see :func:`run_cae`)."""
    from analysis.pipeline import kernelpool
    from analysis.reporting import export

    final = Path(out_dir) / "national"
    result = CaeResult(cae="national", ok=False)
    t0 = time.perf_counter()
    progress("national", NATIONAL_NOTEBOOK, "début")
    stage = None
    try:
        stage = _staging(out_dir, "national")  # swapped in only when complete (see run_cae)
        nat_out = stage / "national"
        nat_out.mkdir()
        exporter = _prebuild_exporter() if export_html else None
        with kernelpool.lease(nat_out, kernel_scope) as km:
            nb_out = nat_out / f"{NATIONAL_NOTEBOOK}.ipynb"
            params = {"caes": ",".join(caes), "processed_dir": str(processed_dir), "out_dir": str(out_dir)}
            kernelpool.reset(km, nat_out)
            _execute(Path(notebooks_dir) / f"{NATIONAL_NOTEBOOK}.ipynb", nb_out, params, km, nat_out)
            if export_html:
                exporter.join()
                export.notebook_to_html(nb_out, nat_out / f"{NATIONAL_NOTEBOOK}.html")
        from analysis.intake.process import _swap_in

        _swap_in(nat_out, final)
        result.ok = True
    except Exception as exc:
        result.error = _error_text(exc)
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
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
        from analysis.reporting import wording

        return [
            f"{'Dossier' if reason != FILE_REASON else 'Fichier'} « {name} » ignoré : {wording.fill(reason, _words())}."
            for name, reason in self.ignored
        ]


def _words():
    """The run's study profile (its French words)."""
    from analysis.method import profile as profiles

    return profiles.current()


#: Why a loose file under data/raw is ignored (profile words filled in by RawScan.messages).
FILE_REASON = "les fichiers d'{{structure.un}} se déposent dans un dossier à son nom, data/raw/<{{structure.dossier}}>/"


#: The note on ``data/raw`` the repository ships (a clone's data/raw holds it and nothing else).
RAW_README = "README.md"


def scan_raw(raw_dir: Path) -> RawScan:
    """Classify every entry of ``raw_dir`` (hidden ones such as ``.gitkeep``
    and the folder's own :data:`RAW_README`, shipped with the repository,
    aside): a folder with a valid name (PROTOCOL §2) holding files is a CAE;
    a misnamed folder, an empty folder or a loose file is reported."""
    raw_dir = Path(raw_dir)
    caes, ignored, invalid = [], [], []
    if not raw_dir.is_dir():
        return RawScan([], [])
    for p in sorted(raw_dir.iterdir(), key=lambda q: q.name):
        if p.name.startswith(".") or p.name == "__pycache__" or (p.name == RAW_README and p.is_file()):
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
            ignored.append((p.name, f"dossier vide (déposez-y {_words().description_file} et les tables {_words().term('structure.du')})"))
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
            f"Dossier{'s' if len(unknown) > 1 else ''} introuvable{'s' if len(unknown) > 1 else ''} dans {raw_dir} : {names}. "
            f"Dossiers présents : {have}."
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


def run(*args, **kwargs) -> dict:
    """Run every CAE (or ``caes``) and the national notebook; return a summary
    dict {"ok", "caes": [CaeResult...], "national": CaeResult|None}, also
    written to ``<out>/run_summary.json``. Arguments: see :func:`_run`. The
    run's methodology folder is given to every stage through
    ``CAE_IMPACT_METHODOLOGY`` and the variable is restored afterwards, so
    one run never changes the method of the next one in the same process."""
    from contextlib import ExitStack

    from analysis.pipeline import kernelpool

    old = os.environ.get("CAE_IMPACT_METHODOLOGY")
    try:
        with ExitStack() as resources:  # the process pool, this process's warm kernel: closed whatever happens
            resources.callback(kernelpool.shutdown)
            return _run(*args, _resources=resources, **kwargs)
    finally:
        if old is None:
            os.environ.pop("CAE_IMPACT_METHODOLOGY", None)
        else:
            os.environ["CAE_IMPACT_METHODOLOGY"] = old


def _run(
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
    new_key: bool = False,
    executor: str = "local",
    dask_address: str | None = None,
    _resources=None,
) -> dict:
    """The body of :func:`run`.

    The pseudonymisation key is resolved first
    (:func:`analysis.intake.pseudonymise.resolve_key`): a key that would
    silently differ from the processed data's stops the run (``SystemExit``,
    French) unless ``new_key``. While the run lasts, ``<out>/.run-en-cours.json``
    marks it incomplete (the book refuses to assemble then). ``executor``:
    "local" (process pool, the default) or "dask" (:func:`_run_dask`, on the
    cluster at ``dask_address`` or a LocalCluster). ``_resources`` (an
    :class:`contextlib.ExitStack` given by :func:`run`) closes the process pool."""
    raw_dir = Path(raw_dir or config.RAW_DIR).resolve()
    processed_dir = Path(processed_dir or config.PROCESSED_DIR).resolve()
    out_dir = Path(out_dir or config.OUT_DIR).resolve()
    notebooks_dir = Path(notebooks_dir or config.NOTEBOOKS_DIR).resolve()
    methodology_dir = Path(methodology_dir or config.METHODOLOGY_DIR).resolve()
    progress = progress or Progress()
    # every stage (intake here and in workers, each kernel) reads the run's method
    os.environ["CAE_IMPACT_METHODOLOGY"] = str(methodology_dir)
    # an invalid methodology file stops the run before any CAE: MethodError, shown in French by the CLI
    loader.check_all(methodology_dir)
    scan = scan_raw(raw_dir)
    all_caes = scan.caes
    if caes:
        unknown = sorted(set(caes) - set(all_caes))
        if unknown:
            raise UnknownCae(unknown, all_caes, raw_dir)
        selected = [c for c in all_caes if c in caes]
    else:
        selected = all_caes
    from analysis.intake.pseudonymise import KeyProblem, key_fingerprint, resolve_key

    try:
        key_fp = key_fingerprint(resolve_key(processed_dir, new_key=new_key))
    except (KeyProblem, OSError) as exc:
        raise SystemExit(f"Clé de pseudonymisation : {exc}") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    marker = out_dir / RUN_MARKER
    marker.write_text(json.dumps({"pid": os.getpid(), "time": time.time(), "caes": selected}))
    from analysis.intake.process import clean_stale_temporaries

    for cae in selected:  # what a killed run left (dead pid only), even for a CAE that is up to date
        for parent in (Path(processed_dir), out_dir):
            clean_stale_temporaries(parent, cae)
    cores = max(1, jobs or os.cpu_count() or 1)  # also what one CAE's notebooks may use side by side
    jobs = max(1, min(cores, len(selected) or 1))

    settings = f"html={export_html}|cle={key_fp}"  # a new key reruns every stage
    import uuid

    scope = uuid.uuid4().hex  # warm kernels serve this run only (analysis.pipeline.kernelpool)
    notebooks = [n for n in CAE_NOTEBOOKS if stages is None or n in stages]
    cache: dict = {}
    imports_memo = processed_dir / "_cache" / IMPORTS_MEMO_FILE
    load_imports_memo(imports_memo)
    network_dir = _network_snapshot(processed_dir, selected)
    todo, results, stamps = [], {}, {}
    rerun_units: set[str] = set()  # "<cae>/<stage>" rerun in this run
    alerts = runs.version_alerts(methodology_dir, out_dir)
    for a in alerts:
        progress("méthode", a["file"], "alerte", None, "  " + a["message"])
    for cae in selected:
        comps = cae_stage_components(raw_dir / cae, notebooks_dir, methodology_dir, settings, cache)
        old = {} if force else _read_stamp(out_dir / cae).get("stages", {})
        if not (processed_dir / cae / "manifest.json").exists():
            old = {}
        reasons: dict[str, list[str]] = {}
        for name, c in comps.items():
            carnet = registry.stage(name).carnet
            if carnet and carnet not in notebooks:
                continue
            why = ["relance demandée (--force)"] if force else rerun_reasons(old.get(name, {}).get("components"), c)
            if not why and carnet and not (out_dir / cae / f"{carnet}.ipynb").exists():
                why = ["carnet exécuté absent"]
            # a stage rerun rewrites what its dependants read (intake rewrites the whole folder)
            ups = [k.partition(":")[2] for k in c if k.startswith("amont:") and k.partition(":")[2] in reasons]
            if ups and why != rerun_reasons(None, {}) and not any(w.startswith("étape amont") for w in why):
                why.append(f"étape amont relancée : {', '.join(ups)}")
            if why:
                reasons[name] = why
        considered = [n for n in comps if registry.stage(n).carnet in notebooks + [None]]
        stamp = {"stages": {**{n: v for n, v in old.items() if n in comps and n not in considered},
                            **{n: {"fp": _fp(comps[n]), "components": comps[n]} for n in considered}}}
        rerun_units |= {f"{cae}/{n}" for n in reasons}
        stamps[cae] = stamp
        fp = _fp({n: _fp(c) for n, c in comps.items() if registry.stage(n).carnet in notebooks + [None]})
        if not reasons:
            results[cae] = CaeResult(cae=cae, ok=True, skipped=True, fingerprint=fp)
            progress(cae, "tout", "à jour")
            continue
        first = rerun_reasons(None, {})
        if len(reasons) == len(considered) and all(w == first for w in reasons.values()):
            progress(cae, "tout", "à exécuter : " + first[0])
        else:
            for name, why in reasons.items():
                progress(cae, name, "à relancer : " + " ; ".join(why))
        fresh = [n for n in comps if n not in reasons and (registry.stage(n).carnet in notebooks + [None])]
        if fresh:
            progress(cae, "à jour", ", ".join(fresh))
        if "lecture" not in reasons:
            runs.refresh_manifest_method(processed_dir / cae, methodology_dir)
        todo.append(
            dict(
                cae=cae,
                raw_dir=raw_dir,
                processed_dir=processed_dir,
                out_dir=out_dir,
                notebooks_dir=notebooks_dir,
                export_html=export_html,
                fingerprint=fp,
                stages=[registry.stage(n).carnet for n in reasons if registry.stage(n).carnet],
                with_intake="lecture" in reasons,
                stamp=stamp,
                methodology_dir=methodology_dir,
                network_dir=network_dir,
                kernel_scope=scope,
            )
        )

    # The national step reads intake and the writers of the tables it uses
    # (stages.yml): when none of those reruns, it starts now, beside the CAEs.
    nat_dir = out_dir / "national"
    early = None
    if national and todo and jobs > 1 and len(selected) == len(all_caes):
        comps = national_components({c: stamps[c]["stages"] for c in selected}, notebooks_dir, methodology_dir, settings, cache)
        why = ["relance demandée (--force)"] if force else rerun_reasons(_read_stamp(nat_dir).get("components"), comps)
        if why and not ({k.partition(":")[2] for k in comps if k.startswith("amont:")} & rerun_units):
            progress("national", "national", "à relancer : " + " ; ".join(why) + " (en parallèle des CAE : ce qu'elle lit est à jour)")
            (nat_dir / STAMP).unlink(missing_ok=True)
            early = {"comps": comps, "result": None,
                     "kw": dict(caes=selected, processed_dir=processed_dir, out_dir=out_dir, notebooks_dir=notebooks_dir,
                                export_html=export_html, kernel_scope=scope)}

    pool = None  # the local process pool, kept open for the national step (its workers' kernels are warm)
    if todo and executor == "dask":
        early = None  # the early national step is a local-pool feature: with Dask it runs after the CAEs
        results.update(_run_dask(todo, jobs, progress, dask_address))
    elif todo:
        if jobs == 1 or (len(todo) == 1 and early is None):
            live = _Live(progress)  # each stage's line printed as it happens
            for kw in todo:  # one CAE and idle cores: its independent notebooks side by side
                results[kw["cae"]] = run_cae(**kw, events=live, kernels=cores if len(todo) == 1 else 1)
        else:
            # the early national step gets its own worker: the CAEs keep their `jobs`
            pool = _Pool(jobs + (early is not None), scope, notebooks_dir)
            if _resources is not None:
                _resources.callback(pool.close)
            futures = {}
            if early is not None:
                futures[pool.submit(_national_worker, early["kw"])] = "national"
            for kw in todo:  # a CAE's share of the national work is done in its worker, unless it already runs
                futures[pool.submit(_worker, {**kw, "prefill_national": national and early is None})] = kw["cae"]
            # The national parts read only processed data: once every CAE's
            # intake is done, they are queued behind the CAEs and fill the
            # cores the last CAEs leave idle (the notebook waits for them).
            # (A CAE whose intake failed stays in `reading`: the national step
            # would cover other CAEs, so its parts are left for later.)
            staged = [kw["cae"] for kw in todo if kw["with_intake"]]
            reading = set(staged)

            def seen(cae, stage, status, *a, **k):
                progress(cae, stage, status, *a, **k)
                if stage == "lecture" and status == "ok":
                    reading.discard(cae)

            def tick():
                if not reading:
                    pool.start_parts(processed_dir, selected, progress, " (pendant les dernières structures)", staged)

            early_parts = national and early is None and len(selected) == len(all_caes)
            for cae, res, crashed in pool.results(futures, seen, on_tick=tick if early_parts else None):
                if cae == "national":
                    early["result"] = res
                    continue
                results[cae] = res
                if crashed:
                    progress(cae, "processus", "échec", None, res.error)

    ordered = [results[c] for c in selected]
    ok_caes = [r.cae for r in ordered if r.ok]
    nat, nat_skipped = None, ""
    if national and ok_caes and len(selected) < len(all_caes):
        # --cae: the synthesis covers every CAE of data/raw, or is not redone
        others = {}
        for c in all_caes:
            if c not in selected:
                comps = cae_stage_components(raw_dir / c, notebooks_dir, methodology_dir, settings, cache)
                old = _read_stamp(out_dir / c).get("stages", {})
                stamps[c] = {"stages": old}
                others[c] = (processed_dir / c / "manifest.json").exists() and all(
                    not rerun_reasons(old.get(n, {}).get("components"), comps[n]) for n in comps)
        ok_caes, stale = national_scope(ok_caes, others)
        if stale:
            names = ", ".join(f"« {c} »" for c in stale)
            nat_skipped = (
                f"Synthèse nationale non refaite : elle doit couvrir tous les dossiers de {raw_dir}, "
                f"et {names} n'{'est' if len(stale) == 1 else 'sont'} pas à jour. "
                "Lancez « make report » (ou « cae-impact run » sans --cae) pour la refaire."
            )
            ok_caes = []
    if early is not None and early["result"] is not None and ok_caes == selected:
        nat = early["result"]
        if nat.ok:
            (nat_dir / STAMP).write_text(json.dumps({"fingerprint": _fp(early["comps"]), "components": early["comps"], "time": time.time()}))
    elif national and ok_caes:
        comps = national_components({c: stamps[c]["stages"] for c in ok_caes}, notebooks_dir, methodology_dir, settings, cache)
        old = _read_stamp(nat_dir).get("components")
        why = ["relance demandée (--force)"] if force else rerun_reasons(old, comps)
        ups = sorted({k.partition(":")[2] for k in comps if k.startswith("amont:")} & rerun_units)
        if ups and why != rerun_reasons(None, {}) and not any(w.startswith("étape amont") for w in why):
            why.append(f"étape amont relancée : {', '.join(ups)}")
        if not why:
            nat = CaeResult(cae="national", ok=True, skipped=True)
            progress("national", "tout", "à jour")
        else:
            progress("national", "national", "à relancer : " + " ; ".join(why))
            (nat_dir / STAMP).unlink(missing_ok=True)
            if pool is not None:  # in a pool worker, whose kernel is warm
                nat = pool.national(dict(caes=ok_caes, processed_dir=processed_dir, out_dir=out_dir,
                                         notebooks_dir=notebooks_dir, export_html=export_html, kernel_scope=scope), progress)
            else:
                nat = run_national(ok_caes, processed_dir, out_dir, notebooks_dir, progress, export_html, kernel_scope=scope)
            if nat.ok:
                (nat_dir / STAMP).write_text(json.dumps({"fingerprint": _fp(comps), "components": comps, "time": time.time()}))

    if nat is not None and nat.ok:
        nat.fingerprint = _stamp_of(out_dir / "national")
    ok = all(r.ok for r in ordered) and (nat is None or nat.ok)
    saved = None
    if ok and ordered:
        saved = runs.save_run(out_dir, processed_dir, [r.cae for r in ordered], methodology_dir,
                              national=nat is not None, data={c: stamps[c]["stages"].get("lecture", {}).get("components", {}).get("données", "") for c in stamps})
    summary = {
        "ok": ok,
        "methode": runs.method_record(methodology_dir),
        "alertes_version": alerts,
        "execution_enregistree": str(saved) if saved else None,
        "caes": [r.as_dict() for r in ordered],
        "national": nat.as_dict() if nat else None,
        "national_skipped": nat_skipped,
        "ignored": scan.messages(),
        "invalid_folders": scan.invalid,
    }
    save_imports_memo(imports_memo)
    tmp = out_dir / ".run_summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, out_dir / "run_summary.json")
    shutil.rmtree(network_dir, ignore_errors=True)
    marker.unlink(missing_ok=True)
    return summary


class _Pool:
    """The run's local process pool (spawned workers) and the queue their
    progress events come back by. It stays open after the CAEs so that the
    national step runs in a worker whose kernel already imported the
    analysis modules (:mod:`analysis.pipeline.kernelpool`)."""

    def __init__(self, workers: int, scope: str | None = None, notebooks_dir: Path | None = None):
        import multiprocessing as mp

        from multiprocessing.managers import SyncManager

        from analysis.pipeline.kernelpool import exit_with_parent, pool_worker_start

        ctx = mp.get_context("spawn")
        self.manager = SyncManager(ctx=ctx)  # ctx.Manager(), its server leaving with a killed run
        self.manager.start(initializer=exit_with_parent)
        self.q = self.manager.Queue()

        init = {} if scope is None else {"initializer": pool_worker_start,
                                         "initargs": (scope, _warm_modules(notebooks_dir or config.NOTEBOOKS_DIR))}
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, **init)
        self.parts: tuple[list[str], list] | None = None  # (caes, [(part, future)]) of the national parts once started

    def submit(self, fn, kwargs: dict):
        return self.pool.submit(fn, kwargs, self.q)

    def start_parts(self, processed_dir: Path, caes: list[str], progress, detail: str = "", staged=()) -> None:
        """Submit the national step's three independent results
        (:data:`~analysis.pipeline.cache.NATIONAL_PARTS`) over ``caes`` to
        the pool; they run as workers free up. They read only the CAEs'
        processed data, so they may start as soon as every CAE's intake is
        done, while the last CAEs' notebooks run (:func:`_run`); ``staged``
        names the CAEs whose data may still be in their staging folder."""
        from analysis.pipeline.cache import NATIONAL_PARTS

        if self.parts is not None:
            return
        try:
            futures = [(p, self.submit(_national_part_worker, {"processed_dir": str(processed_dir), "caes": list(caes),
                                                               "part": p, "staged": list(staged)}))
                       for p in NATIONAL_PARTS]
        except Exception:  # noqa: BLE001 - broken pool: the notebook computes them
            futures = []
        self.parts = (list(caes), futures)
        if futures:
            progress("national", NATIONAL_NOTEBOOK, "en cours", None,
                     f"  calculs nationaux côte à côte{detail} : {', '.join(NATIONAL_PARTS)}")

    def results(self, futures: dict, progress, on_tick=None):
        """Yield (name, CaeResult, crashed) as each future ends, progress
        events shown meanwhile (then ``on_tick()``, if given); a crashed
        worker gives a failed result."""
        pending = set(futures)
        while pending:
            _drain(self.q, progress)
            if on_tick is not None:
                on_tick()
            for f in [f for f in pending if f.done()]:
                pending.discard(f)
                try:
                    res, crashed = f.result(), False
                except Exception as exc:  # worker crash
                    res, crashed = CaeResult(cae=futures[f], ok=False, error=_error_text(exc)), True
                yield futures[f], res, crashed
            time.sleep(0.05)
        _drain(self.q, progress)

    def national(self, kwargs: dict, progress) -> CaeResult:
        """:func:`run_national` in a worker; in this process if the pool is
        broken (a worker crashed). Its three independent results
        (:data:`~analysis.pipeline.cache.NATIONAL_PARTS`) are first computed
        side by side in the workers, into the national cache the notebook
        reads (at 35 CAEs they are about 60 % of the step): already started
        during the last CAEs when :func:`_run` could (:meth:`start_parts`),
        else now. Its seconds are those spent after the CAEs."""
        from concurrent.futures import wait

        t = time.perf_counter()
        if self.parts is not None and self.parts[0] != list(kwargs["caes"]):
            self.parts = None  # started over other CAEs (one failed since): computed again over these
        self.start_parts(kwargs["processed_dir"], list(kwargs["caes"]), progress)
        parts = []
        try:
            wait([f for _, f in self.parts[1]])
            for part, f in self.parts[1]:
                seconds, ok = f.result()
                parts.append(StageResult(national_part_stage(part), ok, seconds))
        except Exception:  # noqa: BLE001 - broken pool: the notebook computes them
            pass
        before = time.perf_counter() - t
        res = self._national_notebook(kwargs, progress)
        # the stages say what the step computed, each part's own seconds (some
        # ran during the last CAEs) and the notebook's; res.seconds is the
        # time the step took after the CAEs: the wait for the parts, then the notebook
        res.stages = [*parts, StageResult(NATIONAL_NOTEBOOK, res.ok, res.seconds, res.error)]
        res.seconds += before
        return res

    def _national_notebook(self, kwargs: dict, progress) -> CaeResult:
        try:
            future = self.submit(_national_worker, kwargs)
        except Exception:  # noqa: BLE001 - BrokenProcessPool, pool shut down
            return run_national(progress=progress, **kwargs)
        ((_, res, crashed),) = list(self.results({future: "national"}, progress))
        if crashed:
            progress("national", NATIONAL_NOTEBOOK, "échec", None, res.error)
        return res

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.manager.shutdown()


def _network_snapshot(processed_dir: Path, caes: list[str]) -> Path:
    """``<processed>/.reseau-en-cours/<cae>/qvt_dimensions.parquet`` for the
    CAEs of this run, copied before any of them runs: every CAE's network
    comparison reads the same results whatever the order the CAEs finish in,
    and never a CAE outside the run (nor the national results)."""
    d = Path(processed_dir) / ".reseau-en-cours"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    for c in caes:
        src = Path(processed_dir) / c / "qvt_dimensions.parquet"
        if src.exists():
            (d / c).mkdir()
            shutil.copyfile(src, d / c / src.name)
    return d


def _dask_task(kwargs: dict, methodology: str) -> CaeResult:
    """One CAE on a Dask worker: the run's methodology travels with the task
    (a remote worker does not inherit the client's environment)."""
    os.environ["CAE_IMPACT_METHODOLOGY"] = methodology
    return run_cae(**kwargs)


def _run_dask(todo: list[dict], jobs: int, progress, address: str | None = None) -> dict:
    """The optional executor: each CAE is a task on a Dask distributed
    cluster, the one at ``address`` (any scheduler, e.g. dask-jobqueue on
    SLURM; raw, processed and output folders must be on a filesystem the
    workers share) or by default a ``LocalCluster`` of ``jobs`` single-thread
    worker processes. Per-stage progress is not forwarded; each CAE is
    reported when it ends. Results are those of the local pool: the same
    ``run_cae`` runs on the worker."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # the optional extra is not installed
        raise SystemExit("L'exécuteur dask demande le module dask.distributed : pip install 'cae-impact[dask]'.") from exc

    results = {}
    cluster = None
    if address:
        client = Client(address)
    else:
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        methodology = os.environ.get("CAE_IMPACT_METHODOLOGY", str(config.METHODOLOGY_DIR))
        futures = {}
        for kw in todo:
            progress(kw["cae"], "tout", "début", None, "")
            futures[client.submit(_dask_task, kw, methodology, key=f"cae-impact-{kw['cae']}", pure=False)] = kw["cae"]
        for fut in as_completed(list(futures)):
            cae = futures[fut]
            try:
                results[cae] = res = fut.result()
                progress(cae, "tout", "ok" if res.ok else "échec", res.seconds, "" if res.ok else res.error)
            except Exception as exc:  # worker lost or task error
                results[cae] = CaeResult(cae=cae, ok=False, error=_error_text(exc))
                progress(cae, "processus", "échec", None, results[cae].error)
    finally:
        try:  # each worker's warm kernel (analysis.pipeline.kernelpool) is not left idle after the run
            from analysis.pipeline import kernelpool

            client.run(kernelpool.shutdown)
        except Exception:  # noqa: BLE001 - a lost worker took its kernel with it
            pass
        client.close()
        if cluster is not None:
            cluster.close()
    return results


def _stamp_of(cae_out: Path) -> str:
    return _read_stamp(cae_out).get("fingerprint", "")


def _read_stamp(cae_out: Path) -> dict:
    try:
        return json.loads((Path(cae_out) / STAMP).read_text())
    except Exception:
        return {}


class _Live:
    """An event sink for an in-process run: each event is shown at once
    (the queue of a parallel run is drained by the parent instead)."""

    def __init__(self, progress):
        import threading

        self.progress = progress
        self._lock = threading.Lock()  # the notebooks of one wave report from their threads

    def put(self, item) -> None:
        kind, args, kwargs = item
        if kind == "event":
            with self._lock:
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
